/**
 * Faults of the Python backend, with real stub processes: a stub killed with SIGKILL while serving
 * (its in-flight request fails with a clear error, the model reports not ready, the stub restarts
 * and the model is ready again, other models see no error), a stub killed during initialize (the
 * load recovers), `print()` reaching the server log with the model and instance, finalize at
 * unload, the initialize timeout, and the interpreter choices (EXECUTION_ENV_PATH, backend config).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { writeAddSub } from '../helpers/models.js';
import { writeAddSubPy, writeSimpleIdentity } from '../../support/python-models.js';
import { http, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

/** A server on free ports (no gRPC) whose log lines are kept in memory. */
async function start(
  repo: string,
  backendConfig: Record<string, Record<string, string>> = {},
): Promise<{ server: TestServer; url: string; log: () => string }> {
  const lines: string[] = [];
  const server = await serve([repo], { allowGrpc: false, backendConfig }, { logLines: lines });
  return { server, url: server.url, log: () => lines.join('\n') };
}

const addSubBody = {
  inputs: [
    { name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] },
    { name: 'INPUT1', datatype: 'FP32', shape: [4], data: [1, 1, 1, 1] },
  ],
};
const simpleBody = {
  inputs: [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) },
  ],
};
const identityBody = { inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data: ['x'] }] };

const params = (p: Record<string, string>) =>
  Object.entries(p)
    .map(([k, v]) => `parameters { key: "${k}" value: { string_value: "${v}" } }`)
    .join('\n');

/**
 * The stub's pid from the PID_FILE its initialize() writes, or undefined while the file is missing or
 * not yet a whole positive number. Guarding this matters: `process.kill(0)` would signal this test
 * runner's whole process group.
 */
function readPid(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const pid = Number(text);
  return /^\d+$/.test(text) && pid > 1 && pid !== process.pid ? pid : undefined;
}

/** SIGKILLs one stub process; `pid` comes from readPid, which refuses anything but a child's pid. */
function killStub(pid: number | undefined): void {
  assert.ok(pid !== undefined, 'no stub pid to kill');
  process.kill(pid, 'SIGKILL');
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('Python backend faults', () => {
  test('SIGKILL while serving: in-flight request fails clearly, not ready, restarted, ready; other models 0 errors', async () => {
    const repo = tempDir();
    const pidFile = path.join(repo, 'pid');
    const finalizeFile = path.join(repo, 'finalized');
    writeAddSubPy(
      repo,
      'add_sub',
      params({ PID_FILE: pidFile, EXEC_DELAY: '0.3', FINALIZE_FILE: finalizeFile }),
    );
    writeAddSub(repo, 'simple');
    writeSimpleIdentity(repo);
    const { server, url, log } = await start(repo);
    try {
      assert.deepEqual(server.failedModels, []);
      assert.match(log(), /add_sub:1\/add_sub_0_0: add_sub initialized, pid \d+/);
      assert.match(log(), /add_sub:1\/add_sub_0_0: hello from pb_utils\.Logger/);
      const pid = readPid(pidFile);

      // Other models under steady load for the whole test.
      let stop = false;
      const others = { ok: 0, failed: [] as string[] };
      const load = (model: string, body: unknown) =>
        (async () => {
          while (!stop) {
            const r = await http(url, 'POST', `/v2/models/${model}/infer`, body);
            if (r.status === 200) others.ok++;
            else others.failed.push(`${model}: ${r.status} ${JSON.stringify(r.body)}`);
          }
        })();
      const loops = [load('simple', simpleBody), load('simple_identity', identityBody)];

      const inflight = http(url, 'POST', '/v2/models/add_sub/infer', addSubBody);
      // Wait until the request is in the stub (execute sleeps 0.3 s), not queued.
      const model = server.core.getModel('add_sub');
      await waitFor(
        'the request to execute',
        () => model.inflightRequests === 1 && model.pendingRequests() === 0,
      );
      await new Promise((r) => setTimeout(r, 50));
      killStub(pid);
      const failed = await inflight;
      assert.equal(failed.status, 500);
      assert.match(
        failed.body.error,
        /^Failed to process the request\(s\) for model instance 'add_sub_0_0', message: stub process \(pid \d+\) of model 'add_sub' killed by SIGKILL; it is being restarted$/,
      );
      // Not ready until the new stub has initialized, then ready again.
      let sawNotReady = (await http(url, 'GET', '/v2/models/add_sub/ready')).status === 400;
      await waitFor('add_sub to be ready again', async () => {
        const ready = (await http(url, 'GET', '/v2/models/add_sub/ready')).status === 200;
        if (!ready) sawNotReady = true;
        const now = readPid(pidFile);
        return ready && now !== undefined && now !== pid;
      });
      assert.ok(sawNotReady, 'add_sub reported not ready while its stub restarted');
      assert.match(
        log(),
        /add_sub:1\/add_sub_0_0: stub process \(pid \d+\) killed by SIGKILL: restarting it/,
      );
      const again = await http(url, 'POST', '/v2/models/add_sub/infer', addSubBody);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.deepEqual(again.body.outputs[0].data, [2, 3, 4, 5]);
      stop = true;
      await Promise.all(loops);
      assert.deepEqual(others.failed, []);
      assert.ok(others.ok > 0);
      assert.equal((await http(url, 'GET', '/v2/health/ready')).status, 200);
    } finally {
      await server.stop();
    }
    // Unloading called finalize() in the restarted stub.
    assert.equal(fs.readFileSync(finalizeFile, 'utf8'), 'finalized add_sub_0_0');
  });

  test('SIGKILL during initialize: the load starts the stub again and succeeds; EXECUTION_ENV_PATH', async () => {
    const repo = tempDir();
    const pidFile = path.join(repo, 'pid');
    writeAddSubPy(repo, 'add_sub', params({ PID_FILE: pidFile, INIT_DELAY: '1' }));
    writeAddSub(repo, 'simple');
    // A Python "environment" in the model's folder: bin/python3 (a link to the system interpreter).
    writeAddSubPy(repo, 'in_env', params({ EXECUTION_ENV_PATH: '$$TRITON_MODEL_DIRECTORY/env' }));
    const env = path.join(repo, 'in_env', 'env');
    fs.mkdirSync(path.join(env, 'bin'), { recursive: true });
    fs.symlinkSync('/usr/bin/python3', path.join(env, 'bin', 'python3'));
    const tarball = path.join(tempDir(), 'env.tar.gz');
    fs.writeFileSync(tarball, 'not really');
    writeAddSubPy(repo, 'packed_env', params({ EXECUTION_ENV_PATH: tarball }));
    let killed = 0;
    const starting = start(repo);
    await waitFor('the first stub to write its pid', () => readPid(pidFile) !== undefined);
    killStub(readPid(pidFile));
    killed++;
    const { server, url, log } = await starting;
    try {
      assert.equal(killed, 1);
      assert.deepEqual(server.failedModels, ['packed_env']);
      assert.match(log(), /killed by SIGKILL during initialize; starting it again \(attempt 2 of 3\)/);
      for (const model of ['add_sub', 'in_env']) {
        const r = await http(url, 'POST', `/v2/models/${model}/infer`, addSubBody);
        assert.equal(r.status, 200, JSON.stringify(r.body));
      }
      assert.equal((await http(url, 'POST', '/v2/models/simple/infer', simpleBody)).status, 200);
      const index = (await http(url, 'POST', '/v2/repository/index')).body;
      const packed = index.find((m: { name: string }) => m.name === 'packed_env');
      assert.match(
        packed.reason,
        /EXECUTION_ENV_PATH '.*env\.tar\.gz' is a packed environment \(conda-pack tarball\)/,
      );
    } finally {
      await server.stop();
    }
  });

  test('initialize timeout (stub-timeout-seconds) and a missing python-executable fail the load clearly', async () => {
    const repo = tempDir();
    writeAddSubPy(repo, 'slow_init', params({ INIT_DELAY: '30' }));
    const { server, url } = await start(repo, { python: { 'stub-timeout-seconds': '1.5' } });
    try {
      assert.deepEqual(server.failedModels, ['slow_init']);
      const index = (await http(url, 'POST', '/v2/repository/index')).body;
      assert.match(
        index[0].reason,
        /initialize of model instance 'slow_init_0_0' \(model 'slow_init'\) did not finish within 1\.5 s \(backend config stub-timeout-seconds\)/,
      );
    } finally {
      await server.stop();
    }
    const repo2 = tempDir();
    writeAddSubPy(repo2, 'add_sub');
    const second = await start(repo2, { python: { 'python-executable': '/nonexistent/python3' } });
    try {
      const index = (await http(second.url, 'POST', '/v2/repository/index')).body;
      assert.match(
        index[0].reason,
        /backend config python,python-executable=\/nonexistent\/python3: no such file/,
      );
    } finally {
      await second.server.stop();
    }
  });
});
