/**
 * How much of throughput (d) — `simple` over HTTP against a bare `node:http` server — depends on
 * the load generator? Both servers share the machine with the client, so a heavier client leaves
 * less CPU to either server and makes the cheap bare server look slower, closer to Nereid.
 *
 * It drives both servers at one concurrency with three closed-loop clients (`bench/clients.ts`):
 * `nereid perf`'s HTTP transport, the least a `node:http` client can do, and undici's
 * `Pool.dispatch`. Each round measures every client on both servers, back to back, and the order
 * of the clients turns from round to round. It prints the median rate of each pair, the client's
 * CPU µs per request and the ratio `simple` ÷ bare per client.
 *
 *   npm run build && node dist/bench/client-weight.js [--rounds N] [--seconds S] [--concurrency C]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildExampleRepository } from '../src/examples/build.js';
import {
  nodeHttpLoop,
  perfTransportLoop,
  randomRequest,
  undiciLoop,
  type LoopResult,
  type Target,
} from './clients.js';
import { startBareServer, startNereid, waitReady } from './servers.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const rounds = arg('--rounds', 3);
const seconds = arg('--seconds', 4);
const concurrency = arg('--concurrency', 32);

const clients: Array<[string, (t: Target, c: number, ms: number) => Promise<LoopResult>]> = [
  ['nereid perf transport', perfTransportLoop],
  ['node:http, bare loop', nodeHttpLoop],
  ['undici Pool.dispatch', undiciLoop],
];

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'nereid-client-weight-'));
  await buildExampleRepository(repo);
  const port = 18500 + Math.floor(Math.random() * 400);
  const barePort = port + 1000;
  const nereid = startNereid(repo, port, port + 2000);
  const bare = startBareServer(barePort);
  try {
    await waitReady(`http://127.0.0.1:${port}/v2/models/simple/ready`);
    await waitReady(`http://127.0.0.1:${barePort}/v2/models/simple`);
    const request = await randomRequest(port, 'simple');
    const targets = {
      bare: { port: barePort, model: 'simple', request },
      simple: { port, model: 'simple', request },
    };

    // Warm both servers and every client (JIT, heaps) before anything is kept.
    for (const [, run] of clients) for (const t of Object.values(targets)) await run(t, concurrency, 1500);

    const results = new Map(
      clients.map(([name]) => [name, { bare: [] as LoopResult[], simple: [] as LoopResult[] }]),
    );
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < clients.length; k++) {
        const [name, run] = clients[(k + r) % clients.length];
        const cell = results.get(name)!;
        const pair: Array<'bare' | 'simple'> = r % 2 === 0 ? ['bare', 'simple'] : ['simple', 'bare'];
        for (const side of pair) {
          const res = await run(targets[side], concurrency, seconds * 1000);
          if (res.failed > 0) throw new Error(`${name} → ${side}: ${res.failed} requests failed`);
          cell[side].push(res);
        }
      }
      process.stderr.write(`[client-weight] round ${r + 1}/${rounds} done\n`);
    }

    console.log(
      `\nsimple over HTTP vs a bare node:http server, c=${concurrency}, ${os.availableParallelism()} cores, ` +
        `median of ${rounds} rounds × ${seconds} s\n`,
    );
    console.log('| client | client µs/req (bare) | bare req/s | simple req/s | simple ÷ bare |');
    console.log('|---|---:|---:|---:|---:|');
    for (const [name] of clients) {
      const cell = results.get(name)!;
      const b = median(cell.bare.map((x) => x.rate));
      const s = median(cell.simple.map((x) => x.rate));
      const cpu = median(cell.bare.map((x) => x.cpuUsPerRequest));
      console.log(
        `| ${name} | ${cpu.toFixed(1)} | ${b.toFixed(0)} | ${s.toFixed(0)} | ${(s / b).toFixed(2)} |`,
      );
    }
  } finally {
    nereid.kill('SIGINT');
    bare.kill('SIGTERM');
    if (nereid.exitCode === null && nereid.signalCode === null) {
      await new Promise((r) => nereid.once('exit', r));
    }
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

await main();
