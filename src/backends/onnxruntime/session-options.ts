/**
 * ONNX Runtime session options from a model's config and `--backend-config=onnxruntime,...`,
 * following Triton's onnxruntime_backend README ("Model Config Options", "Other Optimization Options
 * with ONNX Runtime", "Execution Accelerators").
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../../protocol/model-config/types.js';
import type { InstancePlacement } from '../../core/backend.js';
import { TritonError } from '../../protocol/errors.js';
import type { ThreadPolicy } from './protocol.js';

/** Model parameter (config `parameters`) value, or undefined. */
export function modelParameter(config: ModelConfig, key: string): string | undefined {
  return config.parameters[key]?.string_value;
}

function intSetting(what: string, value: string | undefined, model: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    throw new TritonError(
      'INVALID_ARG',
      `model '${model}': ${what} must be a non-negative integer, got '${value}'`,
    );
  }
  return n;
}

function boolSetting(what: string, value: string | undefined, model: string): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(v)) return true;
  if (['0', 'false', 'off', 'no'].includes(v)) return false;
  throw new TritonError('INVALID_ARG', `model '${model}': ${what} must be true or false, got '${value}'`);
}

/**
 * The scheduling policy of model instance threads: `--backend-config=onnxruntime,thread-policy=…`,
 * `batch` (default; Linux SCHED_BATCH, see `WorkerInit.threadPolicy`) or `normal`. A Nereid setting;
 * Triton has none like it.
 * @throws TritonError INVALID_ARG for any other value, naming the model.
 */
export function threadPolicy(backendConfig: Record<string, string>, model: string): ThreadPolicy {
  const value = backendConfig['thread-policy'];
  if (value === undefined || value === '') return 'batch';
  const v = value.toLowerCase();
  if (v === 'batch' || v === 'normal') return v;
  throw new TritonError(
    'INVALID_ARG',
    `model '${model}': backend config thread-policy must be batch or normal, got '${value}'`,
  );
}

/** The folder that holds onnxruntime-node's native libraries (where provider libraries must go). */
export function ortLibraryDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** Names of the execution providers this onnxruntime-node build can use now. */
export function availableProviders(): string[] {
  const dir = ortLibraryDir();
  return ort
    .listSupportedBackends()
    .filter((b) => b.bundled || fs.existsSync(path.join(dir, `libonnxruntime_providers_${b.name}.so`)))
    .map((b) => b.name);
}

const KNOWN_GPU = ['tensorrt', 'cuda', 'migraphx', 'rocm'];
const KNOWN_CPU = ['openvino'];

/** Why this build cannot run instances on a GPU, or undefined when it can (CUDA provider present). */
export function cudaUnavailable(): string | undefined {
  if (availableProviders().includes('cuda')) return undefined;
  return (
    `ONNX Runtime's CUDA execution provider is not installed (libonnxruntime_providers_cuda.so is not in ` +
    `${ortLibraryDir()}; run \`nereid setup gpu\`)`
  );
}

/**
 * Triton's TensorRT accelerator parameters → ORT TensorRT EP options (onnxruntime_backend README,
 * "Parameter mapping between ONNX Runtime and Triton ONNXRuntime Backend"). `trt_*` keys pass
 * through as they are.
 */
const TRT_PARAMETERS: Record<string, { option: string; type: 'int' | 'bool' | 'string' }> = {
  max_workspace_size_bytes: { option: 'trt_max_workspace_size', type: 'int' },
  int8_calibration_table_name: { option: 'trt_int8_calibration_table_name', type: 'string' },
  int8_use_native_calibration_table: { option: 'trt_int8_use_native_calibration_table', type: 'bool' },
};

/** ORT CUDA EP option names (CUDA-ExecutionProvider.html, "Configuration Options"). */
const CUDA_OPTIONS = new Set([
  'device_id',
  'gpu_mem_limit',
  'arena_extend_strategy',
  'cudnn_conv_algo_search',
  'do_copy_in_default_stream',
  'cudnn_conv_use_max_workspace',
  'cudnn_conv1d_pad_to_nc1d',
  'enable_cuda_graph',
  'enable_skip_layer_norm_strict_mode',
  'use_tf32',
  'prefer_nhwc',
  'use_ep_level_unified_stream',
  'tunable_op_enable',
  'tunable_op_tuning_enable',
  'tunable_op_max_tuning_duration_ms',
  'sdpa_kernel',
  'fuse_conv_bias',
]);

/** Triton's deprecated top-level CUDA parameters (model `parameters`), with their value names. */
const CUDA_DEPRECATED: Record<string, Record<string, string> | undefined> = {
  cudnn_conv_algo_search: { '0': 'EXHAUSTIVE', '1': 'HEURISTIC', '2': 'DEFAULT' },
  gpu_mem_limit: undefined,
  arena_extend_strategy: { '0': 'kNextPowerOfTwo', '1': 'kSameAsRequested' },
  do_copy_in_default_stream: undefined,
};

function boolOption(model: string, key: string, value: string): string {
  const v = value.toLowerCase();
  if (['1', 'true'].includes(v)) return '1';
  if (['0', 'false'].includes(v)) return '0';
  throw new TritonError(
    'INVALID_ARG',
    `model '${model}': parameter '${key}' must be 1/true or 0/false, got '${value}'`,
  );
}

function intOption(model: string, key: string, value: string): string {
  if (!/^-?[0-9]+$/.test(value.trim())) {
    throw new TritonError(
      'INVALID_ARG',
      `model '${model}': parameter '${key}' must be an integer, got '${value}'`,
    );
  }
  return value.trim();
}

/**
 * ORT TensorRT EP options from a `tensorrt` accelerator's parameters.
 * @throws TritonError INVALID_ARG for an unknown parameter or a bad value (Triton's wording).
 */
export function tensorRtOptions(
  model: string,
  parameters: Record<string, string>,
  cudaGraphs: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (key === 'precision_mode') {
      const mode = value.toUpperCase();
      if (mode === 'FP16') out.trt_fp16_enable = '1';
      else if (mode === 'BF16') out.trt_bf16_enable = '1';
      else if (mode === 'INT8') out.trt_int8_enable = '1';
      else if (mode !== 'FP32') {
        throw new TritonError(
          'INVALID_ARG',
          `model '${model}': unsupported precision mode '${value}' is provided for TensorRT Execution Accelerator (expected FP32, FP16, BF16 or INT8)`,
        );
      }
      continue;
    }
    const known = TRT_PARAMETERS[key];
    if (known) {
      out[known.option] =
        known.type === 'int'
          ? intOption(model, key, value)
          : known.type === 'bool'
            ? boolOption(model, key, value)
            : value;
      continue;
    }
    if (key.startsWith('trt_')) {
      out[key] = value;
      continue;
    }
    throw new TritonError(
      'INVALID_ARG',
      `model '${model}': unknown parameter '${key}' is provided for TensorRT Execution Accelerator`,
    );
  }
  if (cudaGraphs && out.trt_cuda_graph_enable === undefined) out.trt_cuda_graph_enable = '1';
  return out;
}

/**
 * ORT CUDA EP options from a `cuda` accelerator's parameters, the model's deprecated top-level
 * parameters (`cudnn_conv_algo_search`, `gpu_mem_limit`, `arena_extend_strategy`,
 * `do_copy_in_default_stream`) and `optimization.cuda.graphs` (→ `enable_cuda_graph`).
 * @throws TritonError INVALID_ARG for an option the CUDA EP does not have or a bad value.
 */
export function cudaOptions(config: ModelConfig, parameters: Record<string, string>): Record<string, string> {
  const model = config.name;
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(CUDA_DEPRECATED)) {
    const v = modelParameter(config, key);
    if (v === undefined) continue;
    if (values) {
      const name = values[v.trim()];
      if (!name) {
        throw new TritonError(
          'INVALID_ARG',
          `model '${model}': parameter '${key}' must be one of ${Object.keys(values).join(', ')}, got '${v}'`,
        );
      }
      out[key] = name;
    } else {
      out[key] = key === 'gpu_mem_limit' ? intOption(model, key, v) : boolOption(model, key, v);
    }
  }
  if (config.optimization?.cuda?.graphs) out.enable_cuda_graph = '1';
  for (const [key, value] of Object.entries(parameters)) {
    if (!CUDA_OPTIONS.has(key)) {
      throw new TritonError(
        'INVALID_ARG',
        `model '${model}': unknown parameter '${key}' is provided for CUDA Execution Accelerator`,
      );
    }
    out[key] = value;
  }
  return out;
}

/** An execution provider for one instance with the ORT options Triton's config asks of it. */
export interface ProviderChoice {
  /** `tensorrt`, `cuda`, `openvino`, `cpu`. */
  name: string;
  /** ORT provider options by ORT's names (device_id excluded), as strings. */
  options: Record<string, string>;
}

/**
 * Execution providers for one instance, in priority order: the config's accelerators for its kind,
 * then CUDA for a GPU instance (TensorRT's fallback for the nodes it cannot take), then CPU (always
 * last, as Triton's ORT backend does), each with the options mapped from the config.
 * @throws TritonError INVALID_ARG for an unknown accelerator or parameter, UNAVAILABLE for a known
 *   provider this onnxruntime-node build lacks (naming the provider and what is missing).
 */
export function chooseProviders(config: ModelConfig, placement: InstancePlacement): ProviderChoice[] {
  const accel = config.optimization?.execution_accelerators;
  const providers: ProviderChoice[] = [];
  const available = availableProviders();
  const need = (name: string) => {
    if (available.includes(name)) return;
    const file = `libonnxruntime_providers_${name}.so`;
    const how = ['cuda', 'tensorrt'].includes(name)
      ? ` (${file} is not in ${ortLibraryDir()}; run \`nereid setup gpu\`)`
      : ' (onnxruntime-node from npm does not ship it)';
    throw new TritonError(
      'UNAVAILABLE',
      `model '${config.name}': execution accelerator '${name}' is not available in this onnxruntime-node build` +
        `${how}; available: ${available.join(', ')}`,
    );
  };
  const known = (list: Array<{ name: string }>, names: string[], field: string) => {
    for (const a of list) {
      if (!names.includes(a.name)) {
        throw new TritonError(
          'INVALID_ARG',
          `model '${config.name}': unknown ${field} '${a.name}' (expected one of ${names.join(', ')})`,
        );
      }
    }
  };
  const gpuAccels = accel?.gpu_execution_accelerator ?? [];
  const cpuAccels = accel?.cpu_execution_accelerator ?? [];
  known(gpuAccels, KNOWN_GPU, 'gpu_execution_accelerator');
  known(cpuAccels, KNOWN_CPU, 'cpu_execution_accelerator');
  if (placement.kind === 'KIND_GPU') {
    const graphs = config.optimization?.cuda?.graphs === true;
    let cudaParams: Record<string, string> = {};
    for (const a of gpuAccels) {
      if (a.name === 'cuda') {
        cudaParams = a.parameters;
        continue;
      }
      if (a.name === 'tensorrt') {
        const options = tensorRtOptions(config.name, a.parameters, graphs);
        need('tensorrt');
        providers.push({ name: 'tensorrt', options });
        continue;
      }
      need(a.name); // migraphx, rocm: never in this build
    }
    const options = cudaOptions(config, cudaParams);
    need('cuda');
    providers.push({ name: 'cuda', options });
  } else {
    for (const a of cpuAccels) {
      need(a.name);
      providers.push({ name: a.name, options: { ...a.parameters } });
    }
  }
  providers.push({ name: 'cpu', options: {} });
  return providers;
}

/**
 * The `executionProviders` session option for onnxruntime-node: the chosen providers with the
 * instance's device id. onnxruntime-node's binding hands the CUDA and TensorRT providers their
 * device id and nothing else (js/node/src/session_options_helper.cc), so other mapped options are
 * returned in `notApplied` for the caller to report.
 */
export function executionProviders(
  config: ModelConfig,
  placement: InstancePlacement,
): { providers: unknown[]; notApplied: string[] } {
  const notApplied: string[] = [];
  const providers = chooseProviders(config, placement).map((p) => {
    if (p.name === 'cpu') return 'cpu';
    for (const [k, v] of Object.entries(p.options)) notApplied.push(`${p.name} ${k}=${v}`);
    return p.name === 'cuda' || p.name === 'tensorrt'
      ? { name: p.name, deviceId: placement.deviceId }
      : { name: p.name };
  });
  return { providers, notApplied };
}

/**
 * Session options for one instance.
 *
 * Thread counts: the model's `intra_op_thread_count` / `inter_op_thread_count` parameters, else the
 * backend config's (with `enable-global-threadpool=1`, Triton's single shared pool of that size is
 * emulated by giving each of the model's instances ⌊size ÷ instances⌋ threads, since onnxruntime-node
 * cannot share a pool), else Nereid's default of ⌊cores ÷ instances⌋ (at least 1) so the instances
 * of a model do not oversubscribe the machine. When instances × threads exceed the cores anyway,
 * ORT's spinning is turned off (`session.intra_op.allow_spinning = 0`).
 * Graph level (`optimization.graph.level`, onnxruntime_backend README): -1 → basic, 1 → extended,
 * 2 → disabled, otherwise (0, unset) all. GPU provider options that onnxruntime-node cannot apply
 * are reported once per model through `log`.
 */
export function sessionOptions(
  config: ModelConfig,
  backendConfig: Record<string, string>,
  placement: InstancePlacement,
  log?: (line: string) => void,
): Record<string, unknown> {
  const m = config.name;
  const cores = os.availableParallelism();
  const instances = Math.max(1, placement.total);
  const globalPool =
    boolSetting('enable-global-threadpool', backendConfig['enable-global-threadpool'], m) ?? false;
  const backendIntra = intSetting('intra_op_thread_count', backendConfig['intra_op_thread_count'], m);
  const intra =
    intSetting('intra_op_thread_count', modelParameter(config, 'intra_op_thread_count'), m) ??
    // onnxruntime-node has no global thread pool: with enable-global-threadpool=1 the pool's size is
    // shared out among the model's instances instead, so the total matches Triton's one pool.
    (backendIntra !== undefined && globalPool
      ? Math.max(1, Math.floor(backendIntra / instances))
      : backendIntra) ??
    Math.max(1, Math.floor(cores / instances));
  const inter =
    intSetting('inter_op_thread_count', modelParameter(config, 'inter_op_thread_count'), m) ??
    intSetting('inter_op_thread_count', backendConfig['inter_op_thread_count'], m);
  const mode = intSetting('execution_mode', modelParameter(config, 'execution_mode'), m);
  const level = config.optimization?.graph?.level ?? 0;
  const { providers, notApplied } = executionProviders(config, placement);
  if (notApplied.length > 0 && placement.index === 0) {
    log?.(
      `model '${m}': onnxruntime-node passes only the device id to GPU execution providers; ` +
        `not applied: ${notApplied.join(', ')}`,
    );
  }
  const opts: Record<string, unknown> = {
    intraOpNumThreads: intra,
    graphOptimizationLevel:
      level === -1 ? 'basic' : level === 1 ? 'extended' : level === 2 ? 'disabled' : 'all',
    executionMode: mode === 1 ? 'parallel' : 'sequential',
    executionProviders: providers,
    logSeverityLevel: 3,
  };
  if (inter !== undefined) opts.interOpNumThreads = inter;
  const arena = boolSetting('enable_mem_arena', modelParameter(config, 'enable_mem_arena'), m);
  if (arena !== undefined) opts.enableCpuMemArena = arena;
  const pattern = boolSetting('enable_mem_pattern', modelParameter(config, 'enable_mem_pattern'), m);
  if (pattern !== undefined) opts.enableMemPattern = pattern;
  if (intra * placement.total > cores || (intra === 0 && placement.total > 1)) {
    opts.extra = { session: { intra_op: { allow_spinning: '0' } } };
  }
  return opts;
}
