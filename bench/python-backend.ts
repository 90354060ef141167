/**
 * The Python backend's cost, in one run: the latency a Python identity model adds over an ONNX
 * identity model (same tensors, same server, same transport), and the throughput of an 8 MB FP32
 * tensor through the Python identity.
 *
 *   npm run build && node dist/bench/python-backend.js [--requests N] [--seconds S]
 *
 * One in-process server (Debian's python3 + numpy for the stub) serves `identity_fp32_onnx` (ONNX
 * Runtime Identity, 1 instance) and `identity_fp32_py` (model.py returning its input, 1 stub).
 * Latency: N sequential FP32 [1,16] requests after warm-up, measured through
 * `InferenceServer.infer` (the core, no network) and over HTTP/REST with binary tensors on a
 * keep-alive connection; p50/p99 in µs and the difference Python − ONNX (goal: ≤ 150 µs at p50).
 * Throughput: FP32 [1, 2097152] (8 MiB) requests for S seconds, one at a time and two in flight,
 * through `InferenceServer.infer`; GB/s counts the input bytes (each request also brings the same
 * 8 MiB back). Goal: ≥ 1 GB/s.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { startServer, defaultServeSettings } from '../src/serve.js';
import { silentLogger } from '../src/core/logger.js';
import type { InferenceRequest } from '../src/core/request.js';
import { buildOnnxModel, OnnxDataType } from '../src/examples/onnx-builder.js';
import { writeIdentityFp32Py } from '../support/python-models.js';
import { tempDir } from '../support/temp-dir.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const N = opt('--requests', 3000);
const SECONDS = opt('--seconds', 3);
const WARMUP = 300;

function summary(us: number[]): { p50: number; p99: number } {
  const s = us.slice().sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  return { p50: at(50), p99: at(99) };
}

function writeOnnxIdentity(repo: string, name: string): void {
  const dir = path.join(repo, name);
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.pbtxt'),
    `name: "${name}"\nbackend: "onnxruntime"\nmax_batch_size: 8\n` +
      `input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]\n` +
      `output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]\n` +
      `instance_group [{ kind: KIND_CPU count: 1 }]\n`,
  );
  fs.writeFileSync(
    path.join(dir, '1', 'model.onnx'),
    buildOnnxModel({
      inputs: [{ name: 'INPUT0', elemType: OnnxDataType.FLOAT, shape: ['batch', 'n'] }],
      outputs: [{ name: 'OUTPUT0', elemType: OnnxDataType.FLOAT, shape: ['batch', 'n'] }],
      nodes: [{ opType: 'Identity', inputs: ['INPUT0'], outputs: ['OUTPUT0'] }],
    }),
  );
}

function request(model: string, elements: number): InferenceRequest {
  const data = new Float32Array(elements).map((_, i) => i % 1000);
  return {
    model,
    id: '',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, elements], data: new Uint8Array(data.buffer) }],
    parameters: {},
  };
}

async function main(): Promise<void> {
  const repo = tempDir('nereid-bench-');
  writeOnnxIdentity(repo, 'identity_fp32_onnx');
  writeIdentityFp32Py(repo, 'identity_fp32_py', 'instance_group [{ kind: KIND_CPU count: 1 }]');
  const server = await startServer(
    {
      ...defaultServeSettings(),
      repositories: [repo],
      httpPort: 0,
      httpAddress: '127.0.0.1',
      allowGrpc: false,
    },
    silentLogger(),
  );
  const core = server.core;
  const models = ['identity_fp32_onnx', 'identity_fp32_py'];

  // Latency through the core.
  const coreLat: Record<string, { p50: number; p99: number }> = {};
  for (const model of models) {
    const req = request(model, 16);
    const us: number[] = [];
    for (let i = 0; i < N + WARMUP; i++) {
      const t0 = process.hrtime.bigint();
      await core.infer(req);
      if (i >= WARMUP) us.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    coreLat[model] = summary(us);
  }

  // Latency over HTTP/REST, binary tensors, one keep-alive connection.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const httpLat: Record<string, { p50: number; p99: number }> = {};
  for (const model of models) {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: 64 } }],
        outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
      }),
    );
    const body = Buffer.concat([header, Buffer.from(new Float32Array(16).fill(1).buffer)]);
    const once = () =>
      new Promise<void>((resolve, reject) => {
        const r = http.request(
          {
            host: '127.0.0.1',
            port: server.httpPort,
            path: `/v2/models/${model}/infer`,
            method: 'POST',
            agent,
            headers: { 'Inference-Header-Content-Length': header.length, 'Content-Length': body.length },
          },
          (res) => {
            res.on('data', () => undefined);
            res.on('end', () =>
              res.statusCode === 200 ? resolve() : reject(new Error(`${res.statusCode}`)),
            );
          },
        );
        r.on('error', reject);
        r.end(body);
      });
    const us: number[] = [];
    for (let i = 0; i < N + WARMUP; i++) {
      const t0 = process.hrtime.bigint();
      await once();
      if (i >= WARMUP) us.push(Number(process.hrtime.bigint() - t0) / 1000);
    }
    httpLat[model] = summary(us);
  }
  agent.destroy();

  // 8 MiB throughput.
  const elements = 2 * 1024 * 1024;
  const bytes = elements * 4;
  const throughput: Array<{ model: string; inflight: number; gbps: number; requests: number }> = [];
  for (const model of models) {
    const req = request(model, elements);
    for (let i = 0; i < 5; i++) await core.infer(req);
    for (const inflight of [1, 2]) {
      let count = 0;
      const end = performance.now() + SECONDS * 1000;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          while (performance.now() < end) {
            const res = await core.infer(req);
            if (res.outputs[0].data.byteLength !== bytes) throw new Error('wrong output size');
            count++;
          }
        }),
      );
      const s = (performance.now() - t0) / 1000;
      throughput.push({ model, inflight, gbps: (count * bytes) / s / 1e9, requests: count });
    }
  }
  await server.stop();

  const f = (n: number) => n.toFixed(0).padStart(7);
  console.log(`Python backend vs ONNX Runtime, identity FP32 [1,16], ${N} sequential requests (µs)`);
  console.log('transport   model                   p50      p99');
  for (const [name, lat] of [
    ['core', coreLat],
    ['HTTP', httpLat],
  ] as const) {
    for (const m of models)
      console.log(`${name.padEnd(11)} ${m.padEnd(20)} ${f(lat[m].p50)}  ${f(lat[m].p99)}`);
    const d50 = lat.identity_fp32_py.p50 - lat.identity_fp32_onnx.p50;
    const d99 = lat.identity_fp32_py.p99 - lat.identity_fp32_onnx.p99;
    console.log(
      `${name.padEnd(11)} ${'added by Python'.padEnd(20)} ${f(d50)}  ${f(d99)}   (goal ≤ 150 µs p50: ${d50 <= 150 ? 'met' : 'NOT met'})`,
    );
  }
  console.log(`\n8 MiB FP32 identity through InferenceServer.infer, ${SECONDS} s per row (GB/s of input)`);
  for (const t of throughput) {
    const goal =
      t.model === 'identity_fp32_py' ? `   (goal ≥ 1 GB/s: ${t.gbps >= 1 ? 'met' : 'NOT met'})` : '';
    console.log(
      `${t.model.padEnd(20)} ${t.inflight} in flight  ${t.gbps.toFixed(2).padStart(6)} GB/s  ${String(t.requests).padStart(5)} requests${goal}`,
    );
  }
}

await main();
