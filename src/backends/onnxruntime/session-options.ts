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
import type { ModelConfig } from '../../config/types.js';
import type { InstancePlacement } from '../../core/backend.js';
import { TritonError } from '../../core/errors.js';

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

/**
 * Execution providers for one instance, in priority order: the config's accelerators for its kind,
 * then CUDA for a GPU instance, then CPU (always last, as Triton's ORT backend does).
 * @throws TritonError INVALID_ARG for an unknown accelerator, UNAVAILABLE for a known provider this
 *   onnxruntime-node build lacks (naming the provider and what is missing).
 */
export function executionProviders(config: ModelConfig, placement: InstancePlacement): unknown[] {
  const accel = config.optimization?.execution_accelerators;
  const providers: unknown[] = [];
  const available = availableProviders();
  const need = (name: string) => {
    if (available.includes(name)) return;
    const file = `libonnxruntime_providers_${name}.so`;
    const how = ['cuda', 'tensorrt'].includes(name)
      ? ` (${file} is not in ${ortLibraryDir()}; see the README's GPU section)`
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
    for (const a of gpuAccels) {
      need(a.name);
      providers.push({ name: a.name, deviceId: placement.deviceId, ...a.parameters });
    }
    need('cuda');
    if (!providers.some((p) => (p as { name: string }).name === 'cuda')) {
      providers.push({ name: 'cuda', deviceId: placement.deviceId });
    }
  } else {
    for (const a of cpuAccels) {
      need(a.name);
      providers.push({ name: a.name, ...a.parameters });
    }
  }
  providers.push('cpu');
  return providers;
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
 * Graph level (`optimization.graph.level`): -1 → basic, 1 → extended, otherwise all.
 */
export function sessionOptions(
  config: ModelConfig,
  backendConfig: Record<string, string>,
  placement: InstancePlacement,
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
  const opts: Record<string, unknown> = {
    intraOpNumThreads: intra,
    graphOptimizationLevel: level === -1 ? 'basic' : level === 1 ? 'extended' : 'all',
    executionMode: mode === 1 ? 'parallel' : 'sequential',
    executionProviders: executionProviders(config, placement),
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
