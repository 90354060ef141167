/**
 * Model management (server docs/user_guide/model_management.md, docs/protocol/
 * extension_model_repository.md) on real servers over real sockets:
 *
 * - poll mode: a new version folder is picked up while a client streams requests (none fails, the
 *   new version answers); a removed model unloads; a corrupted config.pbtxt leaves the old version
 *   serving with the failure as its reason in the index;
 * - explicit mode: the index lists models never loaded; load with a `config` override, with `file:`
 *   contents; unload while requests are in flight (they complete); gRPC load/unload; parameter
 *   errors; the load metrics of models loaded after start;
 * - mode none: the load/unload API answers Triton's error.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InferenceServerClient, InferenceServerError, InferInput } from '../../src/client/index.js';
import { simpleAddSubModel } from '../../src/examples/build.js';
import { defaultMetricsConfig } from '../../src/frontends/metrics/metrics.js';
import { addSubConfig, addSubJsonInputs, slowBody, writeAddSub, writeSlowModel } from '../helpers/models.js';
import { waitFor } from '../helpers/process.js';
import { http, inferBinary, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

type IndexEntry = { name: string; version?: string; state?: string; reason?: string };

async function index(server: TestServer, ready = false): Promise<IndexEntry[]> {
  const r = await http(server.url, 'POST', '/v2/repository/index', ready ? { ready: true } : undefined);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body as IndexEntry[];
}

function inferAddSub(server: TestServer, model: string) {
  return http(server.url, 'POST', `/v2/models/${model}/infer`, { inputs: addSubJsonInputs(2) });
}

/** Writes version `v` of the add/sub model into a hidden folder, then renames it into place. */
function addVersion(repo: string, name: string, v: number): void {
  const staging = path.join(repo, name, `.staging-${v}`);
  fs.mkdirSync(staging, { recursive: true });
  fs.writeFileSync(path.join(staging, 'model.onnx'), simpleAddSubModel());
  fs.renameSync(staging, path.join(repo, name, String(v)));
}

describe('model control mode POLL', () => {
  let server: TestServer;
  let repo: string;

  before(async () => {
    repo = tempDir();
    writeAddSub(repo, 'polled', [1]);
    writeAddSub(repo, 'doomed', [1]);
    server = await serve([repo], { modelControlMode: 'poll', repositoryPollSecs: 1, allowGrpc: false });
  });

  after(() => server?.stop());

  test('a new version folder is served while a client streams requests, without a failure', async () => {
    assert.equal((await inferAddSub(server, 'polled')).body.model_version, '1');
    let stop = false;
    const failures: string[] = [];
    const versions = new Map<string, number>();
    const client = async () => {
      while (!stop) {
        const r = await inferAddSub(server, 'polled').catch((e: Error) => ({ status: 0, body: e.message }));
        if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.body)}`);
        else versions.set(r.body.model_version, (versions.get(r.body.model_version) ?? 0) + 1);
      }
    };
    const clients = [client(), client()];
    await new Promise((r) => setTimeout(r, 300));
    addVersion(repo, 'polled', 2);
    try {
      await waitFor(async () => (versions.get('2') ?? 0) >= 20, 'version 2 to answer', 30_000);
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    assert.deepEqual(failures, []);
    assert.ok((versions.get('1') ?? 0) > 0, 'version 1 answered before the change');
    const entries = (await index(server)).filter((e) => e.name === 'polled');
    // version_policy latest 1: version 2 serves, version 1 was unloaded.
    assert.deepEqual(entries, [
      { name: 'polled', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
      { name: 'polled', version: '2', state: 'READY' },
    ]);
  });

  test('a removed model folder unloads the model', async () => {
    assert.equal((await inferAddSub(server, 'doomed')).status, 200);
    fs.rmSync(path.join(repo, 'doomed'), { recursive: true });
    await waitFor(async () => !(await index(server)).some((e) => e.name === 'doomed'), 'doomed to leave');
    const r = await inferAddSub(server, 'doomed');
    assert.equal(r.status, 400);
    assert.equal(r.body.error, "Request for unknown model: 'doomed' is not found");
  });

  test('a corrupted config.pbtxt keeps the old version serving, with the reason in the index', async () => {
    fs.writeFileSync(path.join(repo, 'polled', 'config.pbtxt'), 'max_batch_size: "eight"\n');
    let entry: IndexEntry | undefined;
    await waitFor(async () => {
      entry = (await index(server)).find((e) => e.name === 'polled' && e.version === '2');
      return entry?.reason !== undefined;
    }, 'the reload failure in the index');
    assert.equal(entry!.state, 'READY');
    assert.match(entry!.reason!, /config\.pbtxt:1:17: max_batch_size: expected an integer/);
    const r = await inferAddSub(server, 'polled');
    assert.equal(r.status, 200);
    assert.equal(r.body.model_version, '2');
    assert.equal((await http(server.url, 'GET', '/v2/models/polled/ready')).status, 200);
    // Fixing the config reloads the model and clears the reason.
    fs.writeFileSync(
      path.join(repo, 'polled', 'config.pbtxt'),
      addSubConfig('polled').replace('max_batch_size: 8', 'max_batch_size: 4'),
    );
    await waitFor(
      async () => (await http(server.url, 'GET', '/v2/models/polled/config')).body.max_batch_size === 4,
      'the fixed config to load',
    );
    const fixed = (await index(server)).find((e) => e.name === 'polled' && e.version === '2');
    assert.deepEqual(fixed, { name: 'polled', version: '2', state: 'READY' });
  });

  test('load/unload API: not allowed with polling', async () => {
    const r = await http(server.url, 'POST', '/v2/repository/models/polled/load');
    assert.equal(r.status, 503);
    assert.equal(r.body.error, 'explicit model load / unload is not allowed if polling is enabled');
  });
});

describe('model control mode EXPLICIT', () => {
  let server: TestServer;
  let repo: string;
  let grpcClient: InferenceServerClient;

  before(async () => {
    repo = tempDir();
    writeAddSub(repo, 'simple', [1]);
    writeAddSub(repo, 'second', [1]);
    writeSlowModel(repo, 'slow', 1, 256, 24);
    server = await serve([repo], {
      modelControlMode: 'explicit',
      startupModels: ['second'],
      metricsConfig: { ...defaultMetricsConfig(), summaryLatencies: true },
    });
    grpcClient = new InferenceServerClient(server.grpcUrl);
  });

  after(async () => {
    grpcClient?.close();
    await server?.stop();
  });

  test('only --load-model names load at start; the index lists every model', async () => {
    assert.deepEqual(await index(server), [
      { name: 'second', version: '1', state: 'READY' },
      { name: 'simple' },
      { name: 'slow' },
    ]);
    assert.deepEqual(await index(server, true), [{ name: 'second', version: '1', state: 'READY' }]);
    const r = await inferAddSub(server, 'simple');
    assert.equal(r.body.error, "Request for unknown model: 'simple' is not found");
  });

  test("model names, file overrides and the index body checked with Triton's messages", async () => {
    const load = (name: string, body: unknown = {}) =>
      http(server.url, 'POST', `/v2/repository/models/${encodeURIComponent(name)}/load`, body);
    await assert.rejects(
      grpcClient.loadModel(''),
      /Model name cannot be empty\. Please enter a valid name to deploy\.$/,
    );
    for (const name of [' ', '\t', ' \t \n ']) {
      const r = await load(name);
      assert.deepEqual(
        [r.status, r.body.error],
        [400, 'Model name cannot be empty. Please enter a valid name to deploy.'],
        JSON.stringify(name),
      );
    }
    for (const name of ['..', ' ..', 'a/../b', 'model/']) {
      await assert.rejects(
        grpcClient.loadModel(name),
        (e: InferenceServerError) =>
          e.status === 'INVALID_ARGUMENT' &&
          e.message === `invalid model name '${name}', model name must not contain path traversal characters`,
      );
    }
    for (const name of ['...', '..my_model', 'model..1']) {
      await assert.rejects(grpcClient.loadModel(name), (e: InferenceServerError) =>
        /^failed to load '.*', failed to poll from model repository/.test(e.message),
      );
    }
    // A file name the file system refuses: Triton's INTERNAL poll failure, and the server carries on.
    const r = await load('simple', { parameters: { ['file:' + 'A'.repeat(256)]: 'YQ==', config: '{}' } });
    assert.equal(r.status, 500);
    assert.match(r.body.error, /^failed to load 'simple', failed to poll from model repository/);
    const index = await http(server.url, 'POST', '/v2/repository/index', '{"ready": "yes"}');
    assert.deepEqual(
      [index.status, index.body],
      [400, { error: "Invalid value for 'ready': expected a boolean" }],
    );
    const depth = 100_000;
    const deep = await http(
      server.url,
      'POST',
      '/v2/repository/index',
      `{"ready":${'['.repeat(depth)}true${']'.repeat(depth)}}`,
    );
    assert.equal(deep.status, 400);
    assert.equal((await http(server.url, 'GET', '/v2/health/live')).status, 200);
  });

  test('load with a config override; loading again reloads from config.pbtxt', async () => {
    const config = JSON.stringify({
      name: 'simple',
      backend: 'onnxruntime',
      max_batch_size: 2,
      input: [
        { name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] },
        { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] },
      ],
      output: [
        { name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] },
        { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [16] },
      ],
    });
    const r = await http(server.url, 'POST', '/v2/repository/models/simple/load', { parameters: { config } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await http(server.url, 'GET', '/v2/models/simple/config')).body.max_batch_size, 2);
    const sum = await inferAddSub(server, 'simple');
    assert.deepEqual(
      sum.body.outputs[0].data,
      Array.from({ length: 16 }, (_, i) => i + 2),
    );
    assert.equal((await http(server.url, 'POST', '/v2/repository/models/simple/load')).status, 200);
    assert.equal((await http(server.url, 'GET', '/v2/models/simple/config')).body.max_batch_size, 8);
  });

  test('load with file: contents (and config) serves a model the repository does not have', async () => {
    const config = JSON.stringify({ backend: 'onnxruntime', max_batch_size: 8 });
    const model = Buffer.from(simpleAddSubModel()).toString('base64');
    const r = await http(server.url, 'POST', '/v2/repository/models/uploaded/load', {
      parameters: { config, 'file:1/model.onnx': model },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const sum = await inferAddSub(server, 'uploaded');
    assert.equal(sum.status, 200, JSON.stringify(sum.body));
    assert.deepEqual(
      sum.body.outputs[1].data,
      Array.from({ length: 16 }, (_, i) => i - 2),
    );
    // Auto-complete filled inputs and outputs from the uploaded file.
    const cfg = (await http(server.url, 'GET', '/v2/models/uploaded/config')).body;
    assert.deepEqual(
      cfg.input.map((i: { name: string }) => i.name),
      ['INPUT0', 'INPUT1'],
    );
    // New models appear in the metrics with their load time.
    const metrics = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    assert.match(metrics, /nv_model_load_duration_secs\{model="uploaded",version="1"\} [0-9.e-]+/);
    assert.match(metrics, /nv_inference_request_summary_us_count\{model="uploaded",version="1"\} 1\n/);
    assert.equal((await http(server.url, 'POST', '/v2/repository/models/uploaded/unload')).status, 200);
  });

  test('load parameter errors are 400s naming the problem', async () => {
    const model = Buffer.from(simpleAddSubModel()).toString('base64');
    const cases: Array<[string, unknown, RegExp]> = [
      [
        'fileonly',
        { parameters: { 'file:1/model.onnx': model } },
        /^Load parameter 'config' must be specified for model file override$/,
      ],
      ['simple', { parameters: { config: 7 } }, /Config parameter 'config' must have string type/],
      ['simple', { parameters: { config: '{"max_batch_size": "x"' } }, /'config' parameter is not a valid/],
      [
        'escape',
        { parameters: { config: '{}', 'file:../../x/model.onnx': model } },
        /Invalid file parameter 'file:..\/..\/x\/model.onnx' .* must stay within model directory/,
      ],
      [
        'simple',
        { parameters: { config: JSON.stringify({ name: 'other', backend: 'onnxruntime' }) } },
        /load failed for model 'simple': .*has name 'other'/,
      ],
    ];
    for (const [name, body, re] of cases) {
      const r = await http(server.url, 'POST', `/v2/repository/models/${name}/load`, body);
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error, re);
    }
    const missing = await http(server.url, 'POST', '/v2/repository/models/nowhere/load');
    assert.equal(missing.status, 500);
    assert.match(missing.body.error, /^failed to load 'nowhere', failed to poll from model repository/);
    // The failed reload of 'simple' left it serving.
    assert.equal((await inferAddSub(server, 'simple')).status, 200);
  });

  test('unload while requests are in flight: they complete, then the model is unavailable', async () => {
    assert.equal((await http(server.url, 'POST', '/v2/repository/models/slow/load')).status, 200);
    const { body, headerLength } = slowBody(256, 256);
    const inflight = Array.from({ length: 3 }, () => inferBinary(server.url, 'slow', body, headerLength));
    await new Promise((r) => setTimeout(r, 50));
    const unloaded = http(server.url, 'POST', '/v2/repository/models/slow/unload', {
      parameters: { unload_dependents: false },
    });
    const results = await Promise.all(inflight);
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal((await unloaded).status, 200);
    const after = await inferBinary(server.url, 'slow', body, headerLength);
    assert.equal(after.status, 404);
    assert.equal(after.header.error, "Request for unknown model: 'slow' has no available versions");
    const entry = (await index(server)).find((e) => e.name === 'slow');
    assert.deepEqual(entry, { name: 'slow', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' });
    // Other models kept serving throughout.
    assert.equal((await inferAddSub(server, 'second')).status, 200);
  });

  test('gRPC RepositoryModelLoad / RepositoryModelUnload', async () => {
    await grpcClient.unloadModel('second', { unloadDependents: true });
    assert.equal((await inferAddSub(server, 'second')).status, 404);
    await grpcClient.loadModel('second');
    const result = await grpcClient.infer('second', [
      new InferInput('INPUT0', [1, 16], 'INT32').setData(Array.from({ length: 16 }, (_, i) => i)),
      new InferInput('INPUT1', [1, 16], 'INT32').setData(Array(16).fill(1)),
    ]);
    assert.equal(Number(result.asTypedArray('OUTPUT0')[15]), 16);
    await assert.rejects(
      grpcClient.loadModel('uploaded2', { files: { '1/model.onnx': simpleAddSubModel() } }),
      (e: InferenceServerError) =>
        e.status === 'INVALID_ARGUMENT' && /'config' must be specified/.test(e.message),
    );
    await grpcClient.loadModel('uploaded2', {
      config: { backend: 'onnxruntime', max_batch_size: 8 },
      files: { '1/model.onnx': simpleAddSubModel() },
    });
    assert.equal((await inferAddSub(server, 'uploaded2')).status, 200);
  });
});

describe('start-up flags', () => {
  test("explicit mode: '*' must be the only --load-model; unknown names fail the start", async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple', [1]);
    await assert.rejects(
      serve([repo], { modelControlMode: 'explicit', startupModels: ['*', 'simple'], allowGrpc: false }),
      /Wildcard model name '\*' must be the ONLY startup model if specified at all\./,
    );
    await assert.rejects(
      serve([repo], {
        modelControlMode: 'explicit',
        startupModels: ['missing'],
        allowGrpc: false,
        exitOnError: true,
      }),
      /failed to load all models \(missing\)/,
    );
    const all = await serve([repo], { modelControlMode: 'explicit', startupModels: ['*'], allowGrpc: false });
    try {
      assert.deepEqual(await index(all), [{ name: 'simple', version: '1', state: 'READY' }]);
    } finally {
      await all.stop();
    }
  });
});

describe('model control mode NONE', () => {
  test("load and unload answer Triton's error; the index shows models", async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple', [1]);
    const server = await serve([repo], { allowGrpc: false });
    try {
      for (const action of ['load', 'unload']) {
        const r = await http(server.url, 'POST', `/v2/repository/models/simple/${action}`);
        assert.equal(r.status, 503);
        assert.deepEqual(r.body, {
          error: 'explicit model load / unload is not allowed if polling is enabled',
        });
      }
      assert.deepEqual(await index(server), [{ name: 'simple', version: '1', state: 'READY' }]);
      const v2 = await http(server.url, 'GET', '/v2');
      assert.ok(v2.body.extensions.includes('model_repository'));
      assert.ok(v2.body.extensions.includes('model_repository(unload_dependents)'));
    } finally {
      await server.stop();
    }
  });

  test("a model in two repositories is refused with Triton's reason; the others serve", async () => {
    const a = tempDir();
    const b = tempDir();
    writeAddSub(a, 'twice', [1]);
    writeAddSub(b, 'twice', [1]);
    writeAddSub(b, 'once', [1]);
    const server = await serve([a, b], { allowGrpc: false });
    try {
      assert.deepEqual(server.failedModels, ['twice']);
      assert.deepEqual(await index(server), [
        { name: 'once', version: '1', state: 'READY' },
        { name: 'twice', state: 'UNAVAILABLE', reason: 'model appears in two or more repositories' },
      ]);
    } finally {
      await server.stop();
    }
  });
});
