/**
 * Repeated load/unload releases what a model holds: a server in explicit mode loads FinalNet (72 MB of
 * ONNX weights; one instance, no warmup), runs one inference and unloads it, 50 times.
 *
 * The promise, with glibc's static trim and mmap thresholds (`MALLOC_TRIM_THRESHOLD_=65536`,
 * `MALLOC_MMAP_THRESHOLD_=65536`, which Nereid's launchers set: the `nereid` bin, `npm start`,
 * `npm test`):
 *
 * - Resident memory (RSS) after cycle 50 is within 6.5 % of its level after cycle 1. Measured on
 *   2 cores (glibc 2.36, Node 20, onnxruntime-node 1.29.0) after ONNX Runtime's telemetry was
 *   switched off (src/backends/onnxruntime/telemetry.ts), running this file alone 20 times: growth
 *   −5.8 to +4.2 % (mean 0.0 %), −0.3 to +2.1 MiB from cycle 10 to 50. The bound is the largest
 *   growth seen, 4.2 %, times 1.5 (6.3 %), rounded up. 20 more runs with the bound in place all
 *   passed: −5.9 to +3.8 %, −0.8 to +2.5 MiB from cycle 10 to 50. Most of the spread is in the
 *   cycle-1 reading (up to ~6 MiB of freed malloc memory of a Node/V8 helper thread is still
 *   resident then or already trimmed) and the ~1–2 MiB V8's heap and code take in the first ten
 *   cycles. Before the fix this file grew −3.9 to +8.6 % in five runs (+2.0 to +7.3 MiB from cycle
 *   10 to 50) and failed the earlier 10 % bound in two of eight full test runs (10.3 %, 11.1 %):
 *   ONNX Runtime's telemetry started threads at random moments, which moved later instance threads
 *   into other glibc malloc arenas, each arena left behind keeping 2–2.5 MiB of freed memory.
 *   A model that stays resident fails: one 72 MB buffer kept after the 25th unload took RSS from
 *   99.4 MiB (cycle 10) to 172.6 MiB (cycle 50). The test also checks that the bound stays below
 *   one model's size.
 * - The JS heap after a forced GC stays within 10 % of its size after cycle 10 (the first cycles
 *   add ~1 MiB of compiled code and caches: 12.0 MiB after cycle 1, 13.1 after cycle 10, 13.7
 *   after cycle 50; +3.5 to +4.9 % in the 40 runs): sessions, worker threads, schedulers,
 *   timers, listeners and buffers are not kept referenced.
 *
 * Without the malloc variables (glibc's default dynamic threshold), memory freed by exited worker
 * threads stays mapped: RSS sits 65–75 MiB higher (one run after the fix: 174.9 MiB after cycle 1,
 * 165.3 after cycle 10, 166.1 after cycle 50). The test then checks only that RSS grows less than
 * one model size (72 MB) between cycles 10 and 50 — a leaked session adds ≥ 72 MB a cycle.
 *
 * Needs FinalNet like finalnet.test.ts (Debian's python3-torch/python3-onnx; skipped outside CI when
 * they are missing).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { ensureFinalNet, generatorProblem } from '../../support/models.js';
import { http, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

const problem = process.env.CI ? undefined : generatorProblem();
const CYCLES = 50;
const MODEL_BYTES = 72 * 1024 * 1024;
/** RSS growth allowed from cycle 1 to cycle 50 (see the top comment for the measurements behind it). */
const RSS_GROWTH_BOUND = 0.065;
/** JS heap growth allowed from cycle 10 to cycle 50. */
const HEAP_GROWTH_BOUND = 0.1;
/** ONNX Runtime's telemetry switch as the test found it (the backend sets `1` unless it is set). */
const telemetryPreset = process.env.ORT_DISABLE_TELEMETRY;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const mib = (b: number) => (b / 1024 / 1024).toFixed(1);

describe('model load/unload memory', { skip: problem }, () => {
  let server: TestServer;
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
    const config = fs.readFileSync(path.join(dir, 'config.pbtxt'), 'utf8').replace(/count: *\d+/, 'count: 1');
    assert.match(config, /count: 1/);
    fs.writeFileSync(path.join(model, 'config.pbtxt'), config);
    fs.symlinkSync(path.join(dir, '1', 'model.onnx'), path.join(model, '1', 'model.onnx'));
    server = await serve([repo], { modelControlMode: 'explicit', allowGrpc: false, allowMetrics: false });
  });

  after(() => server?.stop());

  test(`FinalNet loaded and unloaded ${CYCLES} times: nothing stays referenced, RSS back within ${RSS_GROWTH_BOUND * 100} %`, async () => {
    // The fix for the RSS creep: ONNX Runtime's telemetry is off in the server's process.
    assert.equal(process.env.ORT_DISABLE_TELEMETRY, telemetryPreset ?? '1');
    const cycle = async () => {
      const load = await http(server.url, 'POST', '/v2/repository/models/FinalNet_onnx/load');
      assert.equal(load.status, 200, JSON.stringify(load.body));
      const r = await http(server.url, 'POST', '/v2/models/FinalNet_onnx/infer', { inputs });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const unload = await http(server.url, 'POST', '/v2/repository/models/FinalNet_onnx/unload');
      assert.equal(unload.status, 200, JSON.stringify(unload.body));
    };
    // A settled reading: after a forced GC, ~6 MiB go back to the kernel only when the
    // process has been idle for a second or two (seen: flat for 1.5 s after cycle 1, then −6 MiB).
    // Every reading, the first as much as the last, waits up to 3 s for that and keeps the lowest
    // RSS, so that both ends of the comparison are taken in the same state.
    const measure = async () => {
      let best: NodeJS.MemoryUsage | undefined;
      for (let i = 0; i < 12; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 250));
        const now = process.memoryUsage();
        if (!best || now.rss < best.rss) best = now;
      }
      return best!;
    };
    await cycle();
    const first = await measure();
    const rss = [first.rss];
    let tenth = first;
    let last = first;
    for (let i = 2; i <= CYCLES; i++) {
      await cycle();
      if (i % 10 === 0) {
        last = await measure();
        if (i === 10) tenth = last;
        rss.push(last.rss);
      }
    }
    const heapGrowth = (last.heapUsed - tenth.heapUsed) / tenth.heapUsed;
    console.log(
      `JS heap after GC: cycle 1 ${mib(first.heapUsed)} MiB, cycle 10 ${mib(tenth.heapUsed)} MiB, ` +
        `cycle ${CYCLES} ${mib(last.heapUsed)} MiB ` +
        `(${(heapGrowth * 100).toFixed(1)} %); RSS at cycles 1, 10, …, ${CYCLES}: ${rss.map(mib).join(', ')} MiB`,
    );
    assert.ok(heapGrowth <= HEAP_GROWTH_BOUND, `JS heap grew ${(heapGrowth * 100).toFixed(1)} %`);
    assert.ok(
      last.rss - tenth.rss < MODEL_BYTES,
      `RSS grew ${mib(last.rss - tenth.rss)} MiB between cycle 10 and ${CYCLES}`,
    );
    if (process.env.MALLOC_TRIM_THRESHOLD_) {
      // The bound must stay able to catch one model that stays resident.
      assert.ok(RSS_GROWTH_BOUND * first.rss < MODEL_BYTES, `RSS bound too loose for ${mib(first.rss)} MiB`);
      const rssGrowth = (last.rss - first.rss) / first.rss;
      assert.ok(
        rssGrowth <= RSS_GROWTH_BOUND,
        `RSS grew ${(rssGrowth * 100).toFixed(1)} % from cycle 1 to ${CYCLES}: ${rss.map(mib).join(', ')} MiB`,
      );
    }
    const idx = (await http(server.url, 'POST', '/v2/repository/index')).body;
    assert.deepEqual(idx, [
      { name: 'FinalNet_onnx', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
    ]);
  });
});
