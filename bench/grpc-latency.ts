/**
 * gRPC against HTTP, in one run on the same server process, with the TypeScript client
 * (`nereid/client`) on both protocols:
 *
 *   npm run build && node dist/bench/grpc-latency.js [--requests N] [--seconds S] [--concurrency C] [--finalnet]
 *
 * - latency: `simple` (INT32 [1,16] add/sub), N sequential requests after a warm-up, p50/p99 in µs;
 * - throughput: C requests kept in flight for S seconds (unary calls on each protocol, plus one
 *   gRPC ModelStreamInfer stream with C requests outstanding), requests/s and p50/p99;
 * - with `--finalnet` (needs the FinalNet generator, see support/models.ts): FinalNet_onnx at batch
 *   8192 (39 INT64 inputs, ~2.5 MB per request), sequential latency and throughput at concurrency 4.
 *
 * The server runs as a child process (`nereid --model-repository … --http-port … --grpc-port …`).
 * For scale, the same gRPC client also measures `bench/grpc-bare-server.js` (a separate process whose
 * ModelInfer answers a fixed reply without running anything): the floor of grpc-js + protobufjs.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InferenceServerClient, InferInput } from '../src/client/index.js';
import { buildExampleRepository } from '../src/examples/build.js';
import { ensureFinalNet, linkModel } from '../support/models.js';
import { startNereid } from './servers.js';
import { packageRoot } from '../src/core/package.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = arg('--requests', 2000);
const SECONDS = arg('--seconds', 3);
const CONCURRENCY = arg('--concurrency', 16);
const FINALNET = args.includes('--finalnet');

interface Stats {
  p50: number;
  p99: number;
  rps?: number;
}

function summary(samplesUs: number[], seconds?: number): Stats {
  const s = samplesUs.slice().sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { p50: at(50), p99: at(99), rps: seconds ? s.length / seconds : undefined };
}

type Send = () => Promise<unknown>;

/** N sequential calls after `warmup`, each timed in µs. */
async function sequential(send: Send, n: number, warmup: number): Promise<Stats> {
  const out: number[] = [];
  for (let i = 0; i < n + warmup; i++) {
    const t0 = process.hrtime.bigint();
    await send();
    if (i >= warmup) out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return summary(out);
}

/** `concurrency` loops sending back to back for `seconds`. */
async function closedLoop(send: Send, concurrency: number, seconds: number): Promise<Stats> {
  const out: number[] = [];
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = process.hrtime.bigint();
        await send();
        out.push(Number(process.hrtime.bigint() - t0) / 1000);
      }
    }),
  );
  return summary(out, (performance.now() - start) / 1000);
}

/** One ModelStreamInfer stream with `concurrency` requests outstanding, for `seconds`. */
async function streamLoop(
  client: InferenceServerClient,
  model: string,
  inputs: InferInput[],
  concurrency: number,
  seconds: number,
): Promise<Stats> {
  const out: number[] = [];
  const sentAt = new Map<string, bigint>();
  let next = 0;
  let stopAt = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => (finish = r));
  const send = () => {
    const id = String(next++);
    sentAt.set(id, process.hrtime.bigint());
    client.asyncStreamInfer(model, inputs, { requestId: id });
  };
  client.startStream((result, error) => {
    if (error) throw error;
    const id = result!.getResponse().id!;
    out.push(Number(process.hrtime.bigint() - sentAt.get(id)!) / 1000);
    sentAt.delete(id);
    if (performance.now() < stopAt) send();
    else if (sentAt.size === 0) finish();
  });
  const start = performance.now();
  stopAt = start + seconds * 1000;
  for (let i = 0; i < concurrency; i++) send();
  await finished;
  const elapsed = (performance.now() - start) / 1000;
  await client.stopStream();
  return summary(out, elapsed);
}

async function waitReady(client: InferenceServerClient): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      if (await client.isServerReady()) return;
    } catch {
      /* not up yet */
    }
    if (i > 600) throw new Error('server did not become ready');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fmt = (v: number | undefined, digits = 1) => (v === undefined ? '' : v.toFixed(digits));

function table(title: string, rows: Array<[string, Stats]>): void {
  console.log(`\n${title}`);
  console.log('| measurement                              | p50 (µs) | p99 (µs) | requests/s |');
  console.log('|------------------------------------------|---------:|---------:|-----------:|');
  for (const [name, s] of rows) {
    console.log(
      `| ${name.padEnd(40)} | ${fmt(s.p50).padStart(8)} | ${fmt(s.p99).padStart(8)} | ${fmt(s.rps, 0).padStart(10)} |`,
    );
  }
}

async function main(): Promise<void> {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'nereid-grpc-bench-'));
  await buildExampleRepository(repo);
  if (FINALNET) linkModel(repo, 'FinalNet_onnx', ensureFinalNet());
  const httpPort = 18000 + Math.floor(Math.random() * 1000);
  const grpcPort = httpPort + 1000;
  const server = startNereid(repo, httpPort, grpcPort, [
    '--http-address=127.0.0.1',
    '--grpc-address=127.0.0.1',
  ]);
  const http = new InferenceServerClient(`http://127.0.0.1:${httpPort}`);
  const grpc = new InferenceServerClient(`grpc://127.0.0.1:${grpcPort}`);
  try {
    await waitReady(http);
    await waitReady(grpc);
    const simple = [
      new InferInput('INPUT0', [1, 16], 'INT32').setData(Int32Array.from({ length: 16 }, (_, i) => i)),
      new InferInput('INPUT1', [1, 16], 'INT32').setData(new Int32Array(16).fill(1)),
    ];
    console.log(
      `Nereid, HTTP vs gRPC with the TypeScript client, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'})`,
    );
    const rows: Array<[string, Stats]> = [];
    rows.push([
      'simple, HTTP (binary), sequential',
      await sequential(() => http.infer('simple', simple), N, 300),
    ]);
    rows.push(['simple, gRPC, sequential', await sequential(() => grpc.infer('simple', simple), N, 300)]);
    rows.push([
      `simple, HTTP (binary), ${CONCURRENCY} in flight`,
      await closedLoop(() => http.infer('simple', simple), CONCURRENCY, SECONDS),
    ]);
    rows.push([
      `simple, gRPC unary, ${CONCURRENCY} in flight`,
      await closedLoop(() => grpc.infer('simple', simple), CONCURRENCY, SECONDS),
    ]);
    rows.push([
      `simple, gRPC stream, ${CONCURRENCY} in flight`,
      await streamLoop(grpc, 'simple', simple, CONCURRENCY, SECONDS),
    ]);
    const barePort = grpcPort + 1000;
    const bare = spawn(
      process.execPath,
      [path.join(packageRoot(), 'dist', 'bench', 'grpc-bare-server.js'), String(barePort)],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    const bareClient = new InferenceServerClient(`grpc://127.0.0.1:${barePort}`);
    try {
      await waitReady(bareClient);
      rows.push([
        'bare grpc-js, fixed reply, sequential',
        await sequential(() => bareClient.infer('simple', simple), N, 300),
      ]);
      rows.push([
        `bare grpc-js, fixed reply, ${CONCURRENCY} in flight`,
        await closedLoop(() => bareClient.infer('simple', simple), CONCURRENCY, SECONDS),
      ]);
    } finally {
      bareClient.close();
      bare.kill('SIGTERM');
    }
    table(
      `simple (INT32 [1,16]): ${N} sequential requests after 300 warm-up; ${SECONDS} s closed loops`,
      rows,
    );

    if (FINALNET) {
      const n = 8192;
      const meta = await grpc.getModelMetadata('FinalNet_onnx');
      const inputs = meta.inputs.map((t, f) =>
        new InferInput(t.name, [n, 1], 'INT64').setData(
          BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 31 + f) % 5)),
        ),
      );
      const bytes = inputs.reduce((s, i) => s + (i.rawData?.byteLength ?? 0), 0);
      const count = Math.max(10, Math.floor(N / 50));
      const f: Array<[string, Stats]> = [];
      f.push([
        'FinalNet b=8192, HTTP (binary), sequential',
        await sequential(() => http.infer('FinalNet_onnx', inputs), count, 5),
      ]);
      f.push([
        'FinalNet b=8192, gRPC, sequential',
        await sequential(() => grpc.infer('FinalNet_onnx', inputs), count, 5),
      ]);
      f.push([
        'FinalNet b=8192, HTTP (binary), 4 in flight',
        await closedLoop(() => http.infer('FinalNet_onnx', inputs), 4, SECONDS),
      ]);
      f.push([
        'FinalNet b=8192, gRPC unary, 4 in flight',
        await closedLoop(() => grpc.infer('FinalNet_onnx', inputs), 4, SECONDS),
      ]);
      table(
        `FinalNet_onnx, batch ${n} (${(bytes / 1e6).toFixed(2)} MB of INT64 inputs per request): ${count} sequential after 5 warm-up; ${SECONDS} s closed loops (rows/s = requests/s × ${n})`,
        f,
      );
    }
  } finally {
    http.close();
    grpc.close();
    server.kill('SIGTERM');
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

await main();
