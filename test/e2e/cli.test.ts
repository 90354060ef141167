/**
 * The `nereid` command as a real process: startup table, serving, graceful SIGTERM with a request in
 * flight, --exit-on-error, flag parsing.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { freePort, runNereid, waitFor } from '../helpers/process.js';
import { inferBinary } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { slowBody, writeAddSub, writeSlowModel } from '../helpers/models.js';
import { writeAddSubPy } from '../../support/python-models.js';

// gRPC is tested in grpc-cli.test.ts; here it stays off so parallel tests do not contend for 8001.
const run = (args: string[]) => runNereid([...args, '--allow-grpc=false']);

describe('nereid command', () => {
  test('prints the model table, serves, and drains in-flight requests on SIGTERM', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    writeSlowModel(repo, 'slow', 1, 1024, 64);
    const port = await freePort();
    const p = run([`--model-repository=${repo}`, `--http-port=${port}`, '--http-address=127.0.0.1']);
    await waitFor(() => p.output().includes('Started HTTPService'), 'server start');
    assert.match(p.output(), /\| Model +\| Version \| Status \|/);
    assert.match(p.output(), /\| simple +\| 1 +\| READY +\|/);
    const url = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${url}/v2/health/ready`)).status, 200);

    const { body, headerLength } = slowBody(256, 1024);
    const inflight = inferBinary(url, 'slow', body, headerLength);
    // Let the request reach its instance (one run takes about a second) before the signal.
    await new Promise((r) => setTimeout(r, 300));
    p.child.kill('SIGTERM');
    const reply = await inflight;
    assert.equal(reply.status, 200, 'the in-flight request completes');
    assert.equal(await p.exit, 0);
    assert.match(p.output(), /received SIGTERM/);
  });

  test('--exit-on-error (default true) exits 1 when a model fails to load', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    fs.mkdirSync(path.join(repo, 'broken'));
    const p = run([`--model-repository=${repo}`, `--http-port=${await freePort()}`]);
    assert.equal(await p.exit, 1);
    assert.match(p.output(), /\| broken +\| - +\| UNAVAILABLE: No model version was found/);
    assert.match(p.output(), /failed to load all models \(broken\)/);
  });

  test('--exit-on-error=false keeps serving the other models', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    fs.mkdirSync(path.join(repo, 'broken'));
    const port = await freePort();
    const p = run([
      `--model-repository=${repo}`,
      `--http-port=${port}`,
      '--exit-on-error=false',
      '--strict-readiness',
      'false',
    ]);
    try {
      await waitFor(() => p.output().includes('Started HTTPService'), 'server start');
      assert.equal((await fetch(`http://127.0.0.1:${port}/v2/health/ready`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${port}/v2/models/simple/ready`)).status, 200);
    } finally {
      p.child.kill('SIGINT');
      assert.equal(await p.exit, 0);
    }
  });

  test('a SIGTERM while models are still loading stops the server once it has started', async () => {
    // Before the handlers were installed ahead of startup, such a signal took Node's default action:
    // killed by signal, exit code null, no drain.
    const repo = tempDir();
    // add_sub's initialize writes PID_FILE, then sleeps INIT_DELAY seconds.
    const marker = path.join(repo, 'initializing');
    writeAddSubPy(
      repo,
      'slow_init',
      `parameters { key: "PID_FILE" value: { string_value: "${marker}" } }
parameters { key: "INIT_DELAY" value: { string_value: "2" } }`,
    );
    const p = run([`--model-repository=${repo}`, `--http-port=${await freePort()}`]);
    await waitFor(() => fs.existsSync(marker), 'the model to start initializing');
    assert.doesNotMatch(p.output(), /Started HTTPService/);
    p.child.kill('SIGTERM');
    assert.equal(await p.exit, 0);
    assert.match(p.output(), /received SIGTERM, stopping/);
    assert.match(p.output(), /server stopped/);
  });

  test('bad flags are refused with a message', async () => {
    const p = run(['--model-repository=/nonexistent', '--http-port=abc']);
    assert.notEqual(await p.exit, 0);
    assert.match(p.output(), /--http-port.*expected an integer/);
    const q = run(['--backend-config=onnxruntime']);
    assert.notEqual(await q.exit, 0);
    assert.match(q.output(), /--backend-config expects <backend>,<setting>=<value>/);
  });

  test('a missing repository is reported', async () => {
    const p = run(['--model-repository=/nonexistent/repo', `--http-port=${await freePort()}`]);
    assert.equal(await p.exit, 1);
    assert.match(p.output(), /failed to open model repository '\/nonexistent\/repo'/);
  });

  test('--help lists tritonserver flags', async () => {
    const p = run(['--help']);
    assert.equal(await p.exit, 0);
    for (const flag of [
      '--model-repository',
      '--http-port',
      '--backend-config',
      '--exit-on-error',
      '--strict-readiness',
      '--log-verbose',
    ]) {
      assert.ok(p.output().includes(flag), flag);
    }
  });
});
