/**
 * Repeated load/unload does not grow the process: a real `nereid` process in explicit mode loads
 * FinalNet (72 MB of ONNX weights; one instance, no warmup), runs one inference, and unloads it, 50
 * times; its resident set size (VmRSS from /proc) after the 50th cycle stays within 10 % of its size
 * after the first (sessions, worker threads and buffers are released). Needs FinalNet like
 * finalnet.test.ts (Debian's python3-torch/python3-onnx; skipped outside CI when they are missing).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureFinalNet, generatorProblem } from '../bench/models.js';
import { freePort, runNereid, waitFor, type NereidProcess } from './helpers/process.js';
import { http, tempDir } from './helpers/server.js';

const problem = process.env.CI ? undefined : generatorProblem();
const CYCLES = 50;

/** Resident set size of a process in bytes (Linux /proc). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const mib = (b: number) => (b / 1024 / 1024).toFixed(1);

describe(
  'model load/unload memory',
  { skip: problem ?? (process.platform !== 'linux' && 'needs /proc') },
  () => {
    let server: NereidProcess;
    let url: string;
    let inputs: unknown[];

    before(async () => {
      const dir = ensureFinalNet();
      const reference = JSON.parse(fs.readFileSync(path.join(dir, '1', 'reference.json'), 'utf8')) as {
        inputs: Record<string, number[]>;
      };
      inputs = Object.entries(reference.inputs).map(([name, v]) => ({
        name,
        datatype: 'INT64',
        shape: [1, 1],
        data: [v[0]],
      }));
      // FinalNet with one instance: its own config.pbtxt, the cached model file linked in.
      const repo = tempDir();
      const model = path.join(repo, 'FinalNet_onnx');
      fs.mkdirSync(path.join(model, '1'), { recursive: true });
      const config = fs
        .readFileSync(path.join(dir, 'config.pbtxt'), 'utf8')
        .replace(/count: *\d+/, 'count: 1');
      assert.match(config, /count: 1/);
      fs.writeFileSync(path.join(model, 'config.pbtxt'), config);
      fs.symlinkSync(path.join(dir, '1', 'model.onnx'), path.join(model, '1', 'model.onnx'));
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      server = runNereid([
        `--model-repository=${repo}`,
        '--model-control-mode=explicit',
        `--http-port=${port}`,
        '--http-address=127.0.0.1',
        '--allow-grpc=false',
        '--allow-metrics=false',
        '--log-info=false',
      ]);
      await waitFor(
        async () => (await fetch(`${url}/v2/health/live`).catch(() => undefined))?.status === 200,
        `nereid to start: ${server.output()}`,
        60_000,
      );
    });

    after(async () => {
      server?.child.kill('SIGTERM');
      await server?.exit;
    });

    test(`FinalNet loaded and unloaded ${CYCLES} times: RSS within 10 % of its level after the first cycle`, async () => {
      const pid = server.child.pid!;
      const cycle = async () => {
        const load = await http(url, 'POST', '/v2/repository/models/FinalNet_onnx/load');
        assert.equal(load.status, 200, JSON.stringify(load.body));
        const r = await http(url, 'POST', '/v2/models/FinalNet_onnx/infer', { inputs });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const unload = await http(url, 'POST', '/v2/repository/models/FinalNet_onnx/unload');
        assert.equal(unload.status, 200, JSON.stringify(unload.body));
      };
      const settle = () => new Promise((r) => setTimeout(r, 500));
      const started = rss(pid);
      await cycle();
      await settle();
      const first = rss(pid);
      const samples = [first];
      for (let i = 2; i <= CYCLES; i++) {
        await cycle();
        if (i % 10 === 0) samples.push(rss(pid));
      }
      await settle();
      const last = rss(pid);
      const growth = (last - first) / first;
      console.log(
        `RSS: at start ${mib(started)} MiB, after cycle 1 ${mib(first)} MiB, after cycle ${CYCLES} ${mib(last)} MiB ` +
          `(${(growth * 100).toFixed(1)} %); every 10 cycles: ${samples.map(mib).join(', ')} MiB`,
      );
      assert.ok(growth <= 0.1, `RSS grew ${(growth * 100).toFixed(1)} % (${mib(first)} → ${mib(last)} MiB)`);
      const idx = (await http(url, 'POST', '/v2/repository/index')).body;
      assert.deepEqual(idx, [
        { name: 'FinalNet_onnx', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
      ]);
    });
  },
);
