/**
 * Model repository layouts and their edge cases, checked through a real server: the repository index,
 * model metadata, readiness and inference over HTTP.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { availableVersions, selectVersions } from '../../src/repository/repository.js';
import { parseModelConfig } from '../../src/config/index.js';
import { http, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { addSubConfig, addSubJsonInputs, writeAddSub } from '../helpers/models.js';

describe('model repository edge cases', () => {
  let repo: string;
  let server: TestServer;

  before(async () => {
    repo = tempDir();
    writeAddSub(repo, 'good');
    // No version folder at all.
    fs.mkdirSync(path.join(repo, 'noversion'));
    fs.writeFileSync(path.join(repo, 'noversion', 'config.pbtxt'), addSubConfig('noversion'));
    // Non-numeric and zero-prefixed folders are not versions; only 2 is.
    writeAddSub(repo, 'oddfolders', [2]);
    for (const d of ['abc', '0', '01', 'v3']) fs.mkdirSync(path.join(repo, 'oddfolders', d));
    // Version policies.
    writeAddSub(repo, 'latest_default', [1, 2, 3]);
    writeAddSub(
      repo,
      'latest_two',
      [1, 2, 3],
      addSubConfig('latest_two', 'version_policy: { latest: { num_versions: 2 } }'),
    );
    writeAddSub(repo, 'all_versions', [1, 2, 3], addSubConfig('all_versions', 'version_policy: { all: {} }'));
    writeAddSub(
      repo,
      'specific',
      [1, 2, 3],
      addSubConfig('specific', 'version_policy: { specific: { versions: [1, 3] } }'),
    );
    // A version folder without its model file.
    writeAddSub(repo, 'nofile', [1]);
    fs.rmSync(path.join(repo, 'nofile', '1', 'model.onnx'));
    // Config name differs from the folder name.
    writeAddSub(repo, 'mismatch', [1], addSubConfig('other_name'));
    // default_model_filename.
    writeAddSub(repo, 'customfile', [1], addSubConfig('customfile', 'default_model_filename: "custom.onnx"'));
    fs.renameSync(
      path.join(repo, 'customfile', '1', 'model.onnx'),
      path.join(repo, 'customfile', '1', 'custom.onnx'),
    );
    // A config that does not parse.
    writeAddSub(repo, 'badconfig', [1], 'name: "badconfig"\nmax_batch_size: eight\n');
    // No config.pbtxt: auto-complete builds one from the model.
    writeAddSub(repo, 'noconfig', [1], null);
    // Config dims that disagree with the model.
    writeAddSub(
      repo,
      'wrongdims',
      [1],
      addSubConfig('wrongdims').replaceAll('dims: [ 16 ]', 'dims: [ 4, 4 ]'),
    );
    // Config datatype that disagrees with the model.
    writeAddSub(repo, 'wrongtype', [1], addSubConfig('wrongtype').replace('TYPE_INT32', 'TYPE_FP32'));
    // A file (not a folder) at the top level is ignored.
    fs.writeFileSync(path.join(repo, 'README.txt'), 'not a model');
    server = await serve([repo]);
  });

  after(() => server.stop());

  const index = async () =>
    (await http(server.url, 'POST', '/v2/repository/index')).body as Array<Record<string, string>>;
  const entry = async (name: string) => (await index()).filter((e) => e.name === name);

  test('a good model serves while bad ones fail alone', async () => {
    const r = await http(server.url, 'POST', '/v2/models/good/infer', { inputs: addSubJsonInputs(2) });
    assert.equal(r.status, 200);
    assert.deepEqual(
      r.body.outputs[0].data,
      Array.from({ length: 16 }, (_, i) => i + 2),
    );
    assert.deepEqual(server.failedModels, [
      'badconfig',
      'mismatch',
      'nofile',
      'noversion',
      'wrongdims',
      'wrongtype',
    ]);
  });

  test('no version folder → UNAVAILABLE with the reason', async () => {
    assert.deepEqual(await entry('noversion'), [
      { name: 'noversion', state: 'UNAVAILABLE', reason: 'No model version was found' },
    ]);
    const r = await http(server.url, 'POST', '/v2/models/noversion/infer', { inputs: addSubJsonInputs() });
    assert.equal(r.status, 404);
    assert.equal(r.body.error, "Request for unknown model: 'noversion' has no available versions");
  });

  test('non-numeric and 0-prefixed folders are not versions', async () => {
    assert.deepEqual(await entry('oddfolders'), [{ name: 'oddfolders', version: '2', state: 'READY' }]);
    assert.deepEqual(availableVersions(path.join(repo, 'oddfolders')), [2]);
  });

  test('version policy: latest 1 by default', async () => {
    assert.deepEqual(await entry('latest_default'), [
      { name: 'latest_default', version: '3', state: 'READY' },
    ]);
    const meta = await http(server.url, 'GET', '/v2/models/latest_default');
    assert.deepEqual(meta.body.versions, ['3']);
    const r = await http(server.url, 'POST', '/v2/models/latest_default/versions/1/infer', {
      inputs: addSubJsonInputs(),
    });
    assert.equal(r.status, 404);
    assert.equal(r.body.error, "Request for unknown model: 'latest_default' version 1 is not found");
  });

  test('version policy: latest 2, all, specific', async () => {
    assert.deepEqual(
      (await entry('latest_two')).map((e) => e.version),
      ['2', '3'],
    );
    assert.deepEqual(
      (await entry('all_versions')).map((e) => e.version),
      ['1', '2', '3'],
    );
    assert.deepEqual(
      (await entry('specific')).map((e) => e.version),
      ['1', '3'],
    );
    for (const v of ['1', '3']) {
      const r = await http(server.url, 'POST', `/v2/models/specific/versions/${v}/infer`, {
        inputs: addSubJsonInputs(),
      });
      assert.equal(r.status, 200);
      assert.equal(r.body.model_version, v);
    }
    const r = await http(server.url, 'POST', '/v2/models/specific/infer', { inputs: addSubJsonInputs() });
    assert.equal(r.body.model_version, '3', 'no version → highest ready version');
    assert.equal((await http(server.url, 'GET', '/v2/models/specific/versions/2/ready')).status, 400);
    assert.equal((await http(server.url, 'GET', '/v2/models/specific/versions/3/ready')).status, 200);
  });

  test('missing model file names the path', async () => {
    const [e] = await entry('nofile');
    assert.equal(e.state, 'UNAVAILABLE');
    assert.match(e.reason, /^Unavailable: unable to find '.*nofile\/1\/model\.onnx' for model 'nofile'$/);
  });

  test('config name must match the folder name', async () => {
    const [e] = await entry('mismatch');
    assert.equal(e.state, 'UNAVAILABLE');
    assert.match(e.reason, /name 'other_name' but the model folder is named 'mismatch'/);
  });

  test('default_model_filename is honoured', async () => {
    assert.deepEqual(await entry('customfile'), [{ name: 'customfile', version: '1', state: 'READY' }]);
  });

  test('a config parse error names file, line, column and field', async () => {
    const [e] = await entry('badconfig');
    assert.equal(e.state, 'UNAVAILABLE');
    assert.match(e.reason, /config\.pbtxt:2:\d+: max_batch_size/);
  });

  test('a model without config.pbtxt is auto-completed', async () => {
    const cfg = await http(server.url, 'GET', '/v2/models/noconfig/config');
    assert.equal(cfg.status, 200);
    assert.equal(cfg.body.max_batch_size, 4);
    assert.equal(cfg.body.backend, 'onnxruntime');
    assert.deepEqual(
      cfg.body.input.map((i: { name: string; data_type: string; dims: number[] }) => [
        i.name,
        i.data_type,
        i.dims,
      ]),
      [
        ['INPUT0', 'TYPE_INT32', [16]],
        ['INPUT1', 'TYPE_INT32', [16]],
      ],
    );
    assert.ok(cfg.body.dynamic_batching, 'auto-complete adds dynamic_batching when max_batch_size > 1');
  });

  test('config/model disagreements fail the load with a clear reason', async () => {
    const [d] = await entry('wrongdims');
    assert.match(d.reason, /input 'INPUT0' dims \[-1,16\] don't match configuration dims \[-1,4,4\]/);
    const [t] = await entry('wrongtype');
    assert.match(
      t.reason,
      /configuration expects datatype TYPE_FP32 for input 'INPUT0', model provides TYPE_INT32/,
    );
  });

  test('strict readiness: not ready while a model is unavailable', async () => {
    assert.equal((await http(server.url, 'GET', '/v2/health/ready')).status, 400);
    assert.equal((await http(server.url, 'GET', '/v2/health/live')).status, 200);
  });

  test('ready-only index', async () => {
    const r = await http(server.url, 'POST', '/v2/repository/index', { ready: true });
    assert.ok(r.body.every((e: { state: string }) => e.state === 'READY'));
    assert.ok(r.body.some((e: { name: string }) => e.name === 'good'));
  });
});

describe('repository options', () => {
  test('--strict-readiness=false: ready even with a failed model', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'good');
    fs.mkdirSync(path.join(repo, 'broken'));
    const server = await serve([repo], { strictReadiness: false });
    try {
      assert.equal((await http(server.url, 'GET', '/v2/health/ready')).status, 200);
    } finally {
      await server.stop();
    }
  });

  test('--exit-on-error=true refuses to start when a model fails', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'good');
    fs.mkdirSync(path.join(repo, 'broken'));
    await assert.rejects(serve([repo], { exitOnError: true }), /failed to load all models \(broken\)/);
  });

  test('--disable-auto-complete-config: a model without config fails', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'noconfig', [1], null);
    const server = await serve([repo], { autoComplete: false });
    try {
      assert.deepEqual(server.failedModels, ['noconfig']);
    } finally {
      await server.stop();
    }
  });

  test('a model name in two repositories is refused', async () => {
    const a = tempDir();
    const b = tempDir();
    writeAddSub(a, 'twice');
    writeAddSub(b, 'twice');
    writeAddSub(b, 'once');
    const server = await serve([a, b]);
    try {
      const idx = (await http(server.url, 'POST', '/v2/repository/index')).body;
      assert.deepEqual(idx.find((e: { name: string }) => e.name === 'twice').state, 'UNAVAILABLE');
      assert.equal(idx.find((e: { name: string }) => e.name === 'once').state, 'READY');
    } finally {
      await server.stop();
    }
  });

  test('selectVersions applies each policy', () => {
    const cfg = (p: string) => parseModelConfig(p);
    assert.deepEqual(selectVersions([1, 2, 5], cfg('')), [5]);
    assert.deepEqual(selectVersions([1, 2, 5], cfg('version_policy { latest { num_versions: 2 } }')), [2, 5]);
    assert.deepEqual(selectVersions([1, 2, 5], cfg('version_policy { all { } }')), [1, 2, 5]);
    assert.deepEqual(selectVersions([1, 2, 5], cfg('version_policy { specific { versions: [5, 7] } }')), [5]);
  });
});
