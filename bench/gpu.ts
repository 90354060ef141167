/**
 * GPU benchmark of the GPU issue, in one run on one machine with an NVIDIA GPU:
 *
 *   (0) FinalNet on the CUDA execution provider served by Nereid answers `reference.json` within 1e-4;
 *   (a) the in-process ceiling of onnxruntime-node on the CUDA EP for FinalNet b=8192 (1, 2 and 4
 *       sessions on GPU 0), and the CPU ceiling for comparison;
 *   (b) Nereid serving FinalNet on KIND_GPU instances at `-b 8192` over HTTP and gRPC, concurrency
 *       1..8 (the seeds' 1:72:2 sweep trimmed to what finishes in reasonable time);
 *   (c) the same over HTTP with the TensorRT EP (CUDA as its fallback);
 *   (d) ResNet50 b=32 over HTTP on the CUDA EP, when its generator can run here.
 *
 *   npm run build && npm run setup:gpu && node dist/bench/gpu.js [--quick] [--out bench/out]
 *
 * On a machine without a GPU it says so and exits 0; when the GPU set-up is incomplete it prints
 * what `nereid setup gpu --check` reports and exits 1. Writes `gpu-results.json` under --out.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkGpuSetup, formatGpuCheck } from '../src/backends/onnxruntime/gpu-setup.js';
import { listGpus } from '../src/core/gpu.js';
import { runPerf, type PerfReport } from '../src/perf/index.js';
import { measureCeiling } from './ceiling.js';
import { ensureFinalNet, ensureResNet50 } from '../support/models.js';
import { finalNetFeeds, writeFinalNetInputData } from './finalnet-inputs.js';
import { best, startNereid, waitReady } from './servers.js';
import { packageRoot } from '../src/core/package.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outDir = path.resolve(
  args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(packageRoot(), 'bench', 'out'),
);

function log(line: string): void {
  process.stderr.write(`[bench:gpu] ${line}\n`);
}

/** A copy of a model folder whose config gets `extra` and KIND_GPU instances instead of its own. */
function gpuVariant(repo: string, source: string, name: string, original: string, extra: string): void {
  const dir = path.join(repo, name);
  fs.mkdirSync(dir);
  fs.symlinkSync(path.join(source, '1'), path.join(dir, '1'), 'dir');
  const config = fs
    .readFileSync(path.join(source, 'config.pbtxt'), 'utf8')
    .replace(`name: "${original}"`, `name: "${name}"`)
    .replace(/instance_group \[[^\]]*\]/s, '');
  fs.writeFileSync(
    path.join(dir, 'config.pbtxt'),
    `${config}\ninstance_group [ { count: 2 kind: KIND_GPU } ]\n${extra}\n`,
  );
}

async function main(): Promise<void> {
  const inventory = listGpus();
  if (inventory.gpus.length === 0) {
    console.log(`bench/gpu: no NVIDIA GPU on this machine (${inventory.reason}); nothing to measure.`);
    return;
  }
  const check = checkGpuSetup();
  if (!check.cudaReady) {
    for (const line of formatGpuCheck(check)) console.log(line);
    process.exitCode = 1;
    return;
  }
  fs.mkdirSync(outDir, { recursive: true });
  const finalnet = ensureFinalNet();
  const reference = JSON.parse(fs.readFileSync(path.join(finalnet, '1', 'reference.json'), 'utf8')) as {
    vocab_sizes: number[];
    inputs: Record<string, number[]>;
    y_pred: number[];
  };
  const modelPath = path.join(finalnet, '1', 'model.onnx');
  const seconds = quick ? 4 : 8;
  const cuda = [{ name: 'cuda', deviceId: 0 }];

  log('ceiling: FinalNet b=8192 on the CUDA EP (1, 2, 4 sessions on GPU 0)');
  const gpuCeilings = [];
  for (const w of quick ? [1, 2] : [1, 2, 4]) {
    gpuCeilings.push(
      await measureCeiling(
        modelPath,
        finalNetFeeds(reference.vocab_sizes, 8192),
        8192,
        w,
        1,
        seconds,
        2,
        cuda,
      ),
    );
  }
  const gpuCeiling = gpuCeilings.reduce((a, b) => (b.inferencesPerSecond > a.inferencesPerSecond ? b : a));
  const cores = os.availableParallelism();
  log(`ceiling: FinalNet b=8192 on the CPU (${cores} sessions × 1 thread)`);
  const cpuCeiling = await measureCeiling(
    modelPath,
    finalNetFeeds(reference.vocab_sizes, 8192),
    8192,
    cores,
    1,
    seconds,
  );

  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'nereid-gpu-'));
  gpuVariant(repo, finalnet, 'FinalNet_cuda', 'FinalNet_onnx', '');
  gpuVariant(
    repo,
    finalnet,
    'FinalNet_trt',
    'FinalNet_onnx',
    'optimization { execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] } }',
  );
  let resnet: string | undefined;
  try {
    resnet = ensureResNet50();
    gpuVariant(repo, resnet, 'resnet50_cuda', 'resnet50_onnx', '');
  } catch (e) {
    log(`ResNet50 skipped: ${(e as Error).message}`);
  }
  const inputDataFile = writeFinalNetInputData(finalnet, outDir);

  const httpPort = 19500 + Math.floor(Math.random() * 300);
  const grpcPort = httpPort + 1000;
  const server = startNereid(repo, httpPort, grpcPort);
  const results: Record<string, unknown> = {
    gpus: inventory.gpus,
    ceilings: { cuda: gpuCeilings, cpu: cpuCeiling },
  };
  try {
    await waitReady(`http://127.0.0.1:${httpPort}/v2/models/FinalNet_cuda/ready`, 600_000);
    const http = `127.0.0.1:${httpPort}`;

    // (0) Parity with the PyTorch outputs of reference.json.
    const inputs = Object.entries(reference.inputs).map(([name, v]) => ({
      name,
      datatype: 'INT64',
      shape: [v.length, 1],
      data: v,
    }));
    const reply = (await (
      await fetch(`http://${http}/v2/models/FinalNet_cuda/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs }),
      })
    ).json()) as { outputs?: Array<{ data: number[] }>; error?: string };
    if (!reply.outputs) throw new Error(`FinalNet_cuda: ${reply.error}`);
    const got = reply.outputs[0].data;
    const expected = reference.y_pred;
    const maxDiff = Math.max(...got.map((g, i) => Math.abs(g - expected[i])));
    log(`FinalNet on CUDA vs reference.json: max |diff| ${maxDiff.toExponential(2)} (limit 1e-4)`);
    results.parity = { maxDiff, ok: maxDiff <= 1e-4 };

    const range = quick ? { start: 1, end: 4, step: 1 } : { start: 1, end: 8, step: 1 };
    const big = {
      inputData: [inputDataFile],
      batchSize: 8192,
      measurementMode: 'count_windows' as const,
      measurementRequestCount: quick ? 10 : 24,
      stabilityPercentage: quick ? 20 : 10,
      maxTrials: 10,
      async: true,
      warmupRequestCount: 4,
      concurrencyRange: range,
    };
    const perf = (name: string, options: Parameters<typeof runPerf>[0]) => {
      log(
        `${name}: nereid perf -m ${options.model} -b ${options.batchSize ?? 1} -i ${options.protocol ?? 'http'}`,
      );
      return runPerf({
        csvFile: path.join(outDir, `${name}.csv`),
        plotFile: path.join(outDir, `${name}.svg`),
        ...options,
      });
    };
    const cudaHttp = await perf('gpu_finalnet_cuda_http', { ...big, model: 'FinalNet_cuda', url: http });
    const cudaGrpc = await perf('gpu_finalnet_cuda_grpc', {
      ...big,
      model: 'FinalNet_cuda',
      url: `127.0.0.1:${grpcPort}`,
      protocol: 'grpc',
      statsUrl: `http://${http}`,
    });
    const trtHttp = await perf('gpu_finalnet_trt_http', { ...big, model: 'FinalNet_trt', url: http });
    let resnetHttp: PerfReport | undefined;
    if (resnet) {
      resnetHttp = await perf('gpu_resnet50_cuda_http', {
        model: 'resnet50_cuda',
        url: http,
        batchSize: 32,
        inputData: ['random'],
        concurrencyRange: { start: 1, end: 4, step: 1 },
        async: true,
      });
    }
    const rowsOut = [
      [
        '(a) in-process ceiling, CUDA EP',
        `best of 1/2/4 sessions (${gpuCeiling.workers})`,
        gpuCeiling.inferencesPerSecond,
        1,
      ],
      [
        '(a) in-process ceiling, CPU',
        `${cores} sessions × 1 thread`,
        cpuCeiling.inferencesPerSecond,
        cpuCeiling.inferencesPerSecond / gpuCeiling.inferencesPerSecond,
      ],
      [
        '(b) Nereid HTTP, CUDA EP, 2 instances',
        `best of c=1..${range.end} (c=${best(cudaHttp).level})`,
        best(cudaHttp).throughput,
        best(cudaHttp).throughput / gpuCeiling.inferencesPerSecond,
      ],
      [
        '(b) Nereid gRPC, CUDA EP, 2 instances',
        `best of c=1..${range.end} (c=${best(cudaGrpc).level})`,
        best(cudaGrpc).throughput,
        best(cudaGrpc).throughput / gpuCeiling.inferencesPerSecond,
      ],
      [
        '(c) Nereid HTTP, TensorRT EP (+CUDA)',
        `best of c=1..${range.end} (c=${best(trtHttp).level})`,
        best(trtHttp).throughput,
        best(trtHttp).throughput / gpuCeiling.inferencesPerSecond,
      ],
    ] as Array<[string, string, number, number]>;
    if (resnetHttp)
      rowsOut.push([
        '(d) Nereid HTTP, ResNet50 b=32, CUDA EP',
        `best of c=1..4 (c=${best(resnetHttp).level})`,
        best(resnetHttp).throughput,
        NaN,
      ]);
    console.log(`GPU: ${inventory.gpus.map((g) => g.name).join(', ')}`);
    console.log('| measurement | load | infer/s | ÷ CUDA ceiling |');
    console.log('|---|---|---:|---:|');
    for (const [what, load, v, r] of rowsOut) {
      console.log(`| ${what} | ${load} | ${v.toFixed(0)} | ${Number.isNaN(r) ? '' : r.toFixed(2)} |`);
    }
    results.table = rowsOut;
  } finally {
    server.kill('SIGINT');
    await new Promise((r) => server.once('exit', r));
    fs.writeFileSync(path.join(outDir, 'gpu-results.json'), JSON.stringify(results, null, 2));
  }
}

await main();
