/**
 * What handing a run to a model instance's thread costs, for the two ways a worker can take its
 * messages: through its event loop (`parentPort.on('message')`, what ORT instance threads did before)
 * and by sleeping in `Atomics.wait` on a wake-up word and draining the port with
 * `receiveMessageOnPort` (what they do now, see `WorkerData.wake`). Each round trip posts one
 * transferred 256-byte ArrayBuffer to the worker, which posts it back; the event loop side is the
 * same for both. Rounds alternate between the two (A, B, B, A, …) so that whatever else runs on the
 * machine hits both alike; the figures are CPU µs of the whole process per round trip (both threads,
 * user + system, from `process.cpuUsage()`), medians over the rounds, and their ratio.
 *
 *   npm run build && node dist/bench/worker-handoff.js [--rounds N] [--trips N]
 *
 * Run it under `taskset -c 0` to see the cost with both threads on one core; across two cores the
 * wake-up of the sleeping thread dominates (tens of µs on a virtual machine).
 */
import { Worker } from 'node:worker_threads';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const rounds = arg('--rounds', 8);
const trips = arg('--trips', 10_000);

/** The worker's side: echo every message back, transferring its buffers. */
const EVENT_LOOP = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage(m, m));`;
const ATOMICS_WAIT = `
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
const wake = new Int32Array(workerData);
for (;;) {
  const seen = Atomics.load(wake, 0);
  for (let m = receiveMessageOnPort(parentPort); m !== undefined; m = receiveMessageOnPort(parentPort))
    parentPort.postMessage(m.message, m.message);
  Atomics.wait(wake, 0, seen);
}`;

interface Side {
  name: string;
  worker: Worker;
  wake?: Int32Array;
}

function start(name: string, source: string, atomics: boolean): Side {
  const sab = new SharedArrayBuffer(4);
  const worker = new Worker(source, { eval: true, workerData: sab });
  return { name, worker, wake: atomics ? new Int32Array(sab) : undefined };
}

/** CPU µs of this process per round trip over `trips` sequential round trips. */
async function measure(side: Side): Promise<number> {
  const once = () =>
    new Promise<void>((resolve) => {
      side.worker.once('message', () => resolve());
      const run = [new ArrayBuffer(256)];
      side.worker.postMessage(run, run);
      if (side.wake) {
        Atomics.add(side.wake, 0, 1);
        Atomics.notify(side.wake, 0);
      }
    });
  for (let i = 0; i < 500; i++) await once(); // warm-up
  const c0 = process.cpuUsage();
  for (let i = 0; i < trips; i++) await once();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / trips;
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const a = start('event loop (parentPort.on)', EVENT_LOOP, false);
  const b = start('Atomics.wait + receiveMessageOnPort', ATOMICS_WAIT, true);
  const cpu = new Map<Side, number[]>([
    [a, []],
    [b, []],
  ]);
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? [a, b] : [b, a];
    for (const side of order) cpu.get(side)!.push(await measure(side));
    process.stderr.write(`[bench] round ${r + 1}/${rounds}\n`);
  }
  const ma = median(cpu.get(a)!);
  const mb = median(cpu.get(b)!);
  console.log('| worker takes its messages by | CPU µs per round trip (median) | rounds |');
  console.log('|---|---:|---|');
  for (const [side, xs] of cpu)
    console.log(`| ${side.name} | ${median(xs).toFixed(1)} | ${xs.map((x) => x.toFixed(1)).join(', ')} |`);
  console.log(`\nAtomics.wait / event loop: ${(mb / ma).toFixed(2)}`);
  await Promise.all([a.worker.terminate(), b.worker.terminate()]);
}

await main();
