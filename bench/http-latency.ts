/**
 * Latency of `simple` (INT32 [1,16] add/sub) served over HTTP, against the in-process
 * `InferenceSession.run()` time of the same model with the same data, in one run.
 *
 *   npm run build && node dist/bench/http-latency.js [--requests N]
 *
 * The server runs as a child process (`nereid --model-repository …`), the client sends requests one
 * at a time over a keep-alive connection; JSON and binary bodies are measured separately. For scale,
 * the same client also measures a bare `node:http` server that answers a fixed response without
 * reading the body — the floor any Node HTTP server starts from. Prints p50/p99 in microseconds and
 * the ratio to the in-process run.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildExampleRepository } from '../src/examples/build.js';
import { startBareServer, startNereid, waitReady } from './servers.js';

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--requests') + 1] || 0) || 3000;
const WARMUP = 300;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function summary(samplesUs: number[]): { p50: number; p99: number } {
  const s = samplesUs.slice().sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99) };
}

async function inProcess(modelPath: string): Promise<number[]> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const a = new ort.Tensor(
    'int32',
    Int32Array.from({ length: 16 }, (_, i) => i),
    [1, 16],
  );
  const b = new ort.Tensor('int32', new Int32Array(16).fill(1), [1, 16]);
  const out: number[] = [];
  for (let i = 0; i < N + WARMUP; i++) {
    const t0 = process.hrtime.bigint();
    await session.run({ INPUT0: a, INPUT1: b });
    if (i >= WARMUP) out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  await session.release();
  return out;
}

function post(
  agent: http.Agent,
  port: number,
  body: Buffer,
  headers: Record<string, string | number>,
  path: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { 'Content-Length': body.length, ...headers },
      },
      (res) => {
        res.on('data', () => undefined);
        res.on('end', () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts `bench/bare-http-server.js` as a child process and waits until it answers. */
async function bareServer(): Promise<{ port: number; close: () => void }> {
  const port = 19000 + Math.floor(Math.random() * 1000);
  const child = startBareServer(port);
  await waitReady(`http://127.0.0.1:${port}/`);
  return { port, close: () => child.kill('SIGTERM') };
}

async function overHttp(
  port: number,
  body: Buffer,
  headers: Record<string, string | number>,
  path = '/v2/models/simple/infer',
): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[] = [];
  for (let i = 0; i < N + WARMUP; i++) {
    const t0 = process.hrtime.bigint();
    await post(agent, port, body, headers, path);
    if (i >= WARMUP) out.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  agent.destroy();
  return out;
}

async function main(): Promise<void> {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'nereid-bench-'));
  await buildExampleRepository(repo);
  const port = 18000 + Math.floor(Math.random() * 1000);
  const server = startNereid(repo, port, port + 1000, ['--allow-grpc=false']);
  try {
    await waitReady(`http://127.0.0.1:${port}/v2/health/ready`);
    const range = Array.from({ length: 16 }, (_, i) => i);
    const json = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) },
        ],
      }),
    );
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: { binary_data_size: 64 } },
        ],
        parameters: { binary_data_output: true },
      }),
    );
    const binary = Buffer.concat([
      header,
      Buffer.from(Int32Array.from(range).buffer),
      Buffer.from(new Int32Array(16).fill(1).buffer),
    ]);

    const base = summary(await inProcess(path.join(repo, 'simple', '1', 'model.onnx')));
    const j = summary(await overHttp(port, json, { 'Content-Type': 'application/json' }));
    const b = summary(await overHttp(port, binary, { 'Inference-Header-Content-Length': header.length }));
    let floor: { p50: number; p99: number };
    const bare = await bareServer();
    try {
      floor = summary(await overHttp(bare.port, json, { 'Content-Type': 'application/json' }, '/'));
    } finally {
      bare.close();
    }

    const row = (name: string, s: { p50: number; p99: number }) =>
      `| ${name.padEnd(34)} | ${s.p50.toFixed(1).padStart(8)} | ${s.p99.toFixed(1).padStart(8)} | ${(s.p50 / base.p50).toFixed(1).padStart(9)} | ${(s.p99 / base.p99).toFixed(1).padStart(9)} |`;
    console.log(
      `simple (INT32 [1,16] add/sub), ${N} sequential requests after ${WARMUP} warm-up, ${os.cpus().length} cores`,
    );
    console.log('| measurement                        | p50 (µs) | p99 (µs) | p50 ratio | p99 ratio |');
    console.log('|------------------------------------|---------:|---------:|----------:|----------:|');
    console.log(row('in-process session.run()', base));
    console.log(row('nereid HTTP, JSON', j));
    console.log(row('nereid HTTP, binary tensor data', b));
    console.log(row('bare node:http, fixed reply (floor)', floor));
  } finally {
    server.kill('SIGTERM');
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

await main();
