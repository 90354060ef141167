/**
 * GPU execution on a machine without a GPU (CI): the `nereid setup gpu` step as a real process, the
 * mapping of Triton's accelerator parameters onto ONNX Runtime's provider options, the refusals,
 * instance-group placement on a given GPU inventory, and the parsing of `nvidia-smi` output.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parseModelConfig } from '../../src/config/index.js';
import {
  chooseProviders,
  cudaOptions,
  tensorRtOptions,
} from '../../src/backends/onnxruntime/session-options.js';
import { OnnxRuntimeBackend } from '../../src/backends/onnxruntime/backend.js';
import type { Backend } from '../../src/core/backend.js';
import { parseGpuList, parseGpuSamples, type GpuInventory } from '../../src/core/gpu.js';
import { normalizeConfig } from '../../src/core/model.js';
import { MAIN } from '../helpers/process.js';
import { serve } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { addSubConfig, writeAddSub } from '../helpers/models.js';
import { NereidMetrics, defaultMetricsConfig } from '../../src/frontends/metrics/metrics.js';

/** Runs `nereid <args>` to its end. */
function nereid(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { encoding: 'utf8' }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const gpuPlacement = { name: 'm_0', kind: 'KIND_GPU', deviceId: 1, index: 0, total: 1 };

describe('nereid setup gpu', () => {
  test('--check names every missing provider library, NVIDIA library and the missing GPU', async () => {
    const dir = tempDir();
    const r = await nereid(['setup', 'gpu', '--check', `--library-dir=${dir}`]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    for (const lib of ['shared', 'cuda', 'tensorrt']) {
      assert.match(
        r.stdout,
        new RegExp(`✗ libonnxruntime_providers_${lib}\\.so is missing from ${dir.replace(/[/\\]/g, '.')}`),
      );
    }
    for (const soname of [
      'libcuda.so.1',
      'libcudart.so.13',
      'libcublas.so.13',
      'libcublasLt.so.13',
      'libcurand.so.10',
      'libcudnn.so.9',
      'libnvinfer.so.10',
      'libnvonnxparser.so.10',
    ]) {
      // Each is reported: found (✓), found where the loader does not look (!), or missing (✗).
      assert.match(r.stdout, new RegExp(`^[✓!✗] ${soname.replace(/\./g, '\\.')} \\(`, 'm'));
    }
    assert.match(r.stdout, /^✗ no GPU: no NVIDIA driver: nvidia-smi was not found$/m);
    assert.match(r.stdout, /^CUDA execution provider: not ready/m);
  });

  test('installs the three provider libraries from a package tarball', async () => {
    const src = tempDir();
    const x64 = path.join(src, 'package', 'Plugins', 'Linux', 'x64');
    fs.mkdirSync(x64, { recursive: true });
    for (const lib of ['shared', 'cuda', 'tensorrt']) {
      fs.writeFileSync(path.join(x64, `libonnxruntime_providers_${lib}.so`), `not really ${lib}`);
    }
    fs.writeFileSync(path.join(src, 'package', 'package.json'), '{}');
    const tgz = path.join(tempDir(), 'gpu.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', src, 'package']);
    const dest = tempDir();
    const r = await nereid(['setup', 'gpu', `--from=${tgz}`, `--library-dir=${dest}`]);
    assert.equal(r.code, 1, r.stdout + r.stderr); // installed, but this machine has no GPU
    for (const lib of ['shared', 'cuda', 'tensorrt']) {
      const file = path.join(dest, `libonnxruntime_providers_${lib}.so`);
      assert.match(r.stdout, new RegExp(`installed ${file.replace(/[/\\.]/g, '.')}`));
      assert.equal(fs.readFileSync(file, 'utf8'), `not really ${lib}`);
      assert.match(r.stdout, new RegExp(`✓ libonnxruntime_providers_${lib}\\.so in `));
    }
  });

  test('a tarball without the libraries fails the installation (exit 2) and says which', async () => {
    const src = tempDir();
    fs.mkdirSync(path.join(src, 'package'), { recursive: true });
    fs.writeFileSync(path.join(src, 'package', 'package.json'), '{}');
    const tgz = path.join(tempDir(), 'empty.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', src, 'package']);
    const r = await nereid(['setup', 'gpu', `--from=${tgz}`, `--library-dir=${tempDir()}`]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /error: .*empty\.tgz does not contain Linux\/x64\/libonnxruntime_providers_shared\.so/,
    );
  });
});

describe('execution accelerator parameters', () => {
  test('TensorRT parameters map onto the ORT TensorRT options (onnxruntime_backend README)', () => {
    assert.deepEqual(
      tensorRtOptions(
        'm',
        {
          precision_mode: 'FP16',
          max_workspace_size_bytes: '4294967296',
          trt_engine_cache_enable: '1',
          trt_engine_cache_path: '/tmp/trt',
          int8_use_native_calibration_table: 'true',
          trt_builder_optimization_level: '3',
        },
        true,
      ),
      {
        trt_fp16_enable: '1',
        trt_max_workspace_size: '4294967296',
        trt_engine_cache_enable: '1',
        trt_engine_cache_path: '/tmp/trt',
        trt_int8_use_native_calibration_table: '1',
        trt_builder_optimization_level: '3',
        trt_cuda_graph_enable: '1',
      },
    );
    assert.deepEqual(tensorRtOptions('m', { precision_mode: 'INT8' }, false), { trt_int8_enable: '1' });
    assert.deepEqual(tensorRtOptions('m', { precision_mode: 'BF16' }, false), { trt_bf16_enable: '1' });
    assert.deepEqual(tensorRtOptions('m', { precision_mode: 'FP32' }, false), {});
  });

  test('bad TensorRT parameters are refused with Triton wording', () => {
    assert.throws(
      () => tensorRtOptions('m', { warp: '9' }, false),
      /model 'm': unknown parameter 'warp' is provided for TensorRT Execution Accelerator/,
    );
    assert.throws(
      () => tensorRtOptions('m', { precision_mode: 'FP8' }, false),
      /unsupported precision mode 'FP8' is provided for TensorRT Execution Accelerator/,
    );
    assert.throws(
      () => tensorRtOptions('m', { max_workspace_size_bytes: 'lots' }, false),
      /parameter 'max_workspace_size_bytes' must be an integer, got 'lots'/,
    );
  });

  test('CUDA parameters: accelerator ones, deprecated top-level ones and cuda graphs', () => {
    const config = parseModelConfig(
      addSubConfig(
        'm',
        `parameters [
           { key: "cudnn_conv_algo_search" value: { string_value: "1" } },
           { key: "gpu_mem_limit" value: { string_value: "4294967200" } },
           { key: "arena_extend_strategy" value: { string_value: "1" } }
         ]
         optimization { cuda { graphs: true } }`,
      ),
    );
    assert.deepEqual(
      cudaOptions(config, { cudnn_conv_use_max_workspace: '0', use_ep_level_unified_stream: '1' }),
      {
        cudnn_conv_algo_search: 'HEURISTIC',
        gpu_mem_limit: '4294967200',
        arena_extend_strategy: 'kSameAsRequested',
        enable_cuda_graph: '1',
        cudnn_conv_use_max_workspace: '0',
        use_ep_level_unified_stream: '1',
      },
    );
    assert.throws(
      () => cudaOptions(config, { turbo: '1' }),
      /model 'm': unknown parameter 'turbo' is provided for CUDA Execution Accelerator/,
    );
    const bad = parseModelConfig(
      addSubConfig('m', 'parameters { key: "cudnn_conv_algo_search" value: { string_value: "7" } }'),
    );
    assert.throws(
      () => cudaOptions(bad, {}),
      /parameter 'cudnn_conv_algo_search' must be one of 0, 1, 2, got '7'/,
    );
  });

  test('GPU instances: accelerators in priority order; missing providers are named', () => {
    const trt = parseModelConfig(
      addSubConfig(
        'm',
        'optimization { execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" parameters { key: "precision_mode" value: "FP16" } } ] } }',
      ),
    );
    // This onnxruntime-node has no TensorRT provider library installed.
    assert.throws(
      () => chooseProviders(trt, gpuPlacement),
      /model 'm': execution accelerator 'tensorrt' is not available in this onnxruntime-node build \(libonnxruntime_providers_tensorrt\.so is not in .*; run `nereid setup gpu`\)/,
    );
    for (const name of ['migraphx', 'rocm']) {
      const c = parseModelConfig(
        addSubConfig(
          'm',
          `optimization { execution_accelerators { gpu_execution_accelerator [ { name: "${name}" } ] } }`,
        ),
      );
      assert.throws(
        () => chooseProviders(c, gpuPlacement),
        new RegExp(
          `execution accelerator '${name}' is not available in this onnxruntime-node build \\(onnxruntime-node from npm does not ship it\\)`,
        ),
      );
    }
    const cpu = parseModelConfig(addSubConfig('m'));
    assert.deepEqual(chooseProviders(cpu, { ...gpuPlacement, kind: 'KIND_CPU' }), [
      { name: 'cpu', options: {} },
    ]);
  });
});

describe('instance placement on GPUs', () => {
  const twoGpus: GpuInventory = {
    gpus: [
      { index: 0, uuid: 'GPU-a', name: 'NVIDIA H100', memoryTotalBytes: 80 * 2 ** 30 },
      { index: 1, uuid: 'GPU-b', name: 'NVIDIA H100', memoryTotalBytes: 80 * 2 ** 30 },
    ],
  };
  const usable: Backend = Object.assign(Object.create(new OnnxRuntimeBackend()), {
    gpuUnavailable: () => undefined,
  });
  const groups = (c: ReturnType<typeof parseModelConfig>) =>
    c.instance_group.map((g) => ({ kind: g.kind, gpus: g.gpus, count: g.count }));

  test('KIND_AUTO takes every GPU when the backend can use them, KIND_GPU without gpus too', () => {
    const c = parseModelConfig(
      addSubConfig('m', 'instance_group [ { kind: KIND_AUTO count: 2 }, { kind: KIND_GPU count: 1 } ]'),
    );
    normalizeConfig(c, usable, twoGpus);
    assert.deepEqual(groups(c), [
      { kind: 'KIND_GPU', gpus: [0, 1], count: 2 },
      { kind: 'KIND_GPU', gpus: [0, 1], count: 1 },
    ]);
  });

  test('KIND_AUTO stays on CPU when the backend cannot use the GPUs, and says why', () => {
    const lines: string[] = [];
    const c = parseModelConfig(addSubConfig('m', 'instance_group [ { kind: KIND_AUTO } ]'));
    const noCuda: Backend = Object.assign(Object.create(new OnnxRuntimeBackend()), {
      gpuUnavailable: () => 'no CUDA provider',
    });
    normalizeConfig(c, noCuda, twoGpus, (l) => lines.push(l));
    assert.deepEqual(groups(c), [{ kind: 'KIND_CPU', gpus: [], count: 2 }]);
    assert.deepEqual(lines, ["model 'm': instance group 'm_0' (KIND_AUTO) runs on CPU: no CUDA provider"]);
  });

  test('a GPU id the machine does not have is refused', () => {
    const c = parseModelConfig(addSubConfig('m', 'instance_group [ { kind: KIND_GPU gpus: [ 0, 3 ] } ]'));
    assert.throws(
      () => normalizeConfig(c, usable, twoGpus),
      /model 'm': instance group 'm_0' specifies invalid or unsupported gpu id 3; GPUs available: 0, 1/,
    );
  });
});

describe('GPU metrics', () => {
  test('a machine without GPU exports no nv_gpu_* family', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const server = await serve([repo]);
    try {
      const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
      assert.match(text, /^nv_cpu_utilization /m);
      assert.doesNotMatch(text, /nv_gpu_/);
    } finally {
      await server.stop();
    }
  });

  test("GPU samples become Triton's gauges labelled by gpu_uuid", async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const server = await serve([repo], { allowCpuMetrics: false });
    try {
      const metrics = new NereidMetrics(server.core, defaultMetricsConfig(), false);
      metrics.enableGpuMetrics();
      metrics.setGpus(parseGpuSamples('GPU-1234, 37, 143771, 1024, 123.45, 700.00'));
      const text = await metrics.text();
      for (const line of [
        'nv_gpu_utilization{gpu_uuid="GPU-1234"} 0.37',
        `nv_gpu_memory_total_bytes{gpu_uuid="GPU-1234"} ${143771 * 2 ** 20}`,
        `nv_gpu_memory_used_bytes{gpu_uuid="GPU-1234"} ${1024 * 2 ** 20}`,
        'nv_gpu_power_usage{gpu_uuid="GPU-1234"} 123.45',
        'nv_gpu_power_limit{gpu_uuid="GPU-1234"} 700',
      ]) {
        assert.ok(text.split('\n').includes(line), `${line} in\n${text}`);
      }
      assert.match(text, /^# TYPE nv_gpu_utilization gauge$/m);
    } finally {
      await server.stop();
    }
  });
});

describe('nvidia-smi output', () => {
  test('GPU list and samples parse into bytes, watts and fractions', () => {
    assert.deepEqual(parseGpuList('0, GPU-1234, NVIDIA H200, 143771\n1, GPU-5678, NVIDIA H200, 143771\n'), [
      { index: 0, uuid: 'GPU-1234', name: 'NVIDIA H200', memoryTotalBytes: 143771 * 2 ** 20 },
      { index: 1, uuid: 'GPU-5678', name: 'NVIDIA H200', memoryTotalBytes: 143771 * 2 ** 20 },
    ]);
    assert.deepEqual(
      parseGpuSamples('GPU-1234, 37, 143771, 1024, 123.45, 700.00\nGPU-5678, 0, 143771, 0, [N/A], [N/A]'),
      [
        {
          uuid: 'GPU-1234',
          utilization: 0.37,
          memoryTotalBytes: 143771 * 2 ** 20,
          memoryUsedBytes: 1024 * 2 ** 20,
          powerUsageWatts: 123.45,
          powerLimitWatts: 700,
        },
        {
          uuid: 'GPU-5678',
          utilization: 0,
          memoryTotalBytes: 143771 * 2 ** 20,
          memoryUsedBytes: 0,
          powerUsageWatts: 0,
          powerLimitWatts: 0,
        },
      ],
    );
  });
});
