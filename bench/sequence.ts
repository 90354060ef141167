/**
 * The sequence batcher's two strategies side by side: an accumulator sequence model (the example
 * repository's `accumulate` graph: running sum kept as implicit state) driven by 64 concurrent
 * sequences, with the `oldest` strategy (batches of up to 64 rows from the oldest request of each
 * candidate sequence) against the `direct` strategy with a single sequence slot (max_batch_size 1,
 * one instance: one sequence runs at a time, the others wait in the backlog).
 *
 *   npm run build && node dist/bench/sequence.js [--rounds 3] [--sequences 640] [--length 20] [--grpc]
 *
 * One Nereid process (child) serves both models. Each round runs the same fixed workload on each
 * model in turn (oldest, direct, oldest, …): 64 client loops over HTTP (the TypeScript client; gRPC
 * unary with --grpc), each running whole sequences back to back — START, `--length` requests, the
 * last with END — until `--sequences` sequences have run. Every response is checked against the
 * running sum computed here. Reported per model: requests/s (median of the rounds), p50 and p99 of
 * the request latency (µs, over every request of every round), the server's average batch size
 * (inference count ÷ execution count, statistics extension) and the throughput ratio.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InferenceServerClient, InferInput } from '../src/client/index.js';
import { accumulateConfig, accumulateModel } from '../src/examples/build.js';
import { tempDir } from '../support/temp-dir.js';
import { startNereid, waitReady } from './servers.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = opt('--rounds', 3);
const SEQUENCES = opt('--sequences', 640);
const LENGTH = opt('--length', 20);
const CONCURRENCY = 64;
const GRPC = args.includes('--grpc');
const HTTP_PORT = 18600;
const GRPC_PORT = 18601;

/** The two models: same graph, same state; only the strategy (and so max_batch_size) differs. */
const MODELS = {
  oldest: accumulateConfig(
    'acc_oldest',
    'oldest { max_candidate_sequences: 64 preferred_batch_size: [ 64 ] max_queue_delay_microseconds: 500 }',
  ).replace('max_batch_size: 8', 'max_batch_size: 64'),
  direct: accumulateConfig('acc_direct', 'direct { }').replace('max_batch_size: 8', 'max_batch_size: 1'),
};

function writeRepo(): string {
  const repo = tempDir('nereid-bench-seq-');
  const model = accumulateModel();
  for (const [strategy, config] of Object.entries(MODELS)) {
    const dir = path.join(repo, `acc_${strategy}`, '1');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, '..', 'config.pbtxt'), config);
    fs.writeFileSync(path.join(dir, 'model.onnx'), model);
  }
  return repo;
}

/** One round on one model: request latencies (µs) and the wall time (ms). */
interface RoundResult {
  latenciesUs: number[];
  wallMs: number;
  requests: number;
}

/** Runs `SEQUENCES` sequences of `LENGTH` requests through `CONCURRENCY` loops; checks every sum. */
async function round(client: InferenceServerClient, model: string, firstId: number): Promise<RoundResult> {
  let nextSequence = 0;
  const latenciesUs: number[] = [];
  const loop = async () => {
    while (nextSequence < SEQUENCES) {
      const id = firstId + nextSequence++;
      let sum = 0;
      for (let k = 0; k < LENGTH; k++) {
        const v = ((id * 31 + k * 7) % 199) - 99;
        sum += v;
        const t0 = performance.now();
        const r = await client.infer(
          model,
          [new InferInput('INPUT', [1, 1], 'INT32').setData(Int32Array.of(v))],
          {
            parameters: {
              sequence_id: id,
              ...(k === 0 ? { sequence_start: true } : {}),
              ...(k === LENGTH - 1 ? { sequence_end: true } : {}),
            },
          },
        );
        latenciesUs.push((performance.now() - t0) * 1000);
        const got = r.asTypedArray<Int32Array>('OUTPUT')[0];
        if (got !== sum) throw new Error(`${model} sequence ${id} request ${k}: sum ${got}, expected ${sum}`);
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return { latenciesUs, wallMs: performance.now() - t0, requests: SEQUENCES * LENGTH };
}

/** inference_count and execution_count of a model (statistics extension, over HTTP). */
async function counts(model: string): Promise<{ inferences: number; executions: number }> {
  const r = await fetch(`http://127.0.0.1:${HTTP_PORT}/v2/models/${model}/stats`);
  const s = ((await r.json()) as { model_stats: { inference_count: number; execution_count: number }[] })
    .model_stats[0];
  return { inferences: s.inference_count, executions: s.execution_count };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const repo = writeRepo();
  const server = startNereid(repo, HTTP_PORT, GRPC_PORT);
  try {
    await waitReady(`http://127.0.0.1:${HTTP_PORT}/v2/health/ready`);
    const client = new InferenceServerClient(
      GRPC ? `grpc://127.0.0.1:${GRPC_PORT}` : `http://127.0.0.1:${HTTP_PORT}`,
    );
    const models = Object.keys(MODELS).map((s) => `acc_${s}`);
    const results = new Map(models.map((m) => [m, { rates: [] as number[], latencies: [] as number[] }]));
    const before = new Map(await Promise.all(models.map(async (m) => [m, await counts(m)] as const)));
    let firstId = 1;
    // Warm-up: a few sequences on each model (connections, ORT's first runs).
    for (const m of models) {
      await round(client, m, 1_000_000 + firstId);
      firstId += SEQUENCES;
    }
    for (const m of models) before.set(m, await counts(m));
    for (let r = 0; r < ROUNDS; r++) {
      for (const m of models) {
        const res = await round(client, m, firstId);
        firstId += SEQUENCES;
        const rate = (res.requests / res.wallMs) * 1000;
        results.get(m)!.rates.push(rate);
        results.get(m)!.latencies.push(...res.latenciesUs);
        console.log(`round ${r + 1} ${m}: ${rate.toFixed(0)} requests/s (${res.wallMs.toFixed(0)} ms)`);
      }
    }
    client.close();

    console.log(
      `\n${CONCURRENCY} concurrent sequences, ${SEQUENCES} sequences × ${LENGTH} requests per round, ` +
        `${ROUNDS} rounds, ${GRPC ? 'gRPC' : 'HTTP'}:\n`,
    );
    console.log('| strategy | requests/s (median) | p50 (µs) | p99 (µs) | avg batch | throughput ratio |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    const baseline = median(results.get('acc_direct')!.rates);
    for (const m of ['acc_direct', 'acc_oldest']) {
      const { rates, latencies } = results.get(m)!;
      const sorted = latencies.sort((a, b) => a - b);
      const after = await counts(m);
      const b = before.get(m)!;
      const batch = (after.inferences - b.inferences) / (after.executions - b.executions);
      const label = m === 'acc_direct' ? '`direct`, 1 slot' : '`oldest`, 64 candidates';
      console.log(
        `| ${label} | ${median(rates).toFixed(0)} | ${percentile(sorted, 50).toFixed(0)} | ` +
          `${percentile(sorted, 99).toFixed(0)} | ${batch.toFixed(1)} | ${(median(rates) / baseline).toFixed(2)} |`,
      );
    }
  } finally {
    server.kill();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
