/**
 * Is `nereid perf` ever the bottleneck? Against a stand-in server that answers at once
 * (`bench/bare-http-server.ts`, in its own process), this compares, at concurrency 1, 2, 4 and 8:
 * - a bare loop: N `node:http` loops posting the same pre-built binary body on a keep-alive agent,
 *   draining replies, recording nothing;
 * - `runPerf` at the same concurrency (its recording, windows and statistics reads included).
 * A ratio near 1 means perf's bookkeeping costs nothing measurable next to the HTTP client itself.
 *
 *   npm run build && node dist/bench/perf-overhead.js [--seconds S]
 */
import * as os from 'node:os';
import { runPerf } from '../src/perf/run.js';
import { nodeHttpLoop, randomRequest } from './clients.js';
import { startBareServer, waitReady } from './servers.js';

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf('--seconds') + 1] || 0) || 3;

async function main(): Promise<void> {
  const port = 18500 + Math.floor(Math.random() * 500);
  const mock = startBareServer(port);
  try {
    await waitReady(`http://127.0.0.1:${port}/v2`);
    const req = await randomRequest(port, 'simple');
    console.log(
      `nereid perf against a stand-in server that answers at once; ${os.cpus().length} cores, ${seconds} s windows`,
    );
    console.log('| concurrency | bare loop (req/s) | nereid perf (infer/sec) | perf / bare |');
    console.log('|------------:|------------------:|------------------------:|------------:|');
    const target = { port, model: 'simple', request: req };
    await nodeHttpLoop(target, 4, 1000); // warm up both processes
    for (const c of [1, 2, 4, 8]) {
      const bare = (await nodeHttpLoop(target, c, seconds * 1000)).rate;
      const report = await runPerf({
        model: 'simple',
        url: `127.0.0.1:${port}`,
        concurrencyRange: { start: c, end: c, step: 1 },
        measurementIntervalMs: seconds * 1000,
        stabilityPercentage: 25,
      });
      const perf = report.levels[0].throughput;
      console.log(
        `| ${String(c).padStart(11)} | ${bare.toFixed(0).padStart(17)} | ${perf.toFixed(0).padStart(23)} | ${(perf / bare).toFixed(2).padStart(11)} |`,
      );
    }
  } finally {
    mock.kill('SIGTERM');
  }
}

await main();
