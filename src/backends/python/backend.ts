/**
 * The Python backend (`backend: "python"`), after Triton's python_backend (README.md of
 * triton-inference-server/python_backend): `<model>/<version>/model.py` defines `TritonPythonModel`;
 * each model instance is a stub process (`python/nereid_stub.py`) that imports it, calls
 * `initialize(args)`, then `execute(requests)` for every batch and `finalize()` at unload. Models
 * import Nereid's `triton_python_backend_utils` (`python/`) as `pb_utils`.
 *
 * Interpreter (first that applies):
 * 1. the model parameter `EXECUTION_ENV_PATH`: a directory holding a virtual environment
 *    (`$$TRITON_MODEL_DIRECTORY` is replaced by the model's folder); its `bin/python3` runs the stub.
 *    Conda-pack tarballs are refused (unpack them and point at the folder).
 * 2. `--backend-config=python,python-executable=<path>`.
 * 3. `/usr/bin/python3` when it imports numpy, else the first `python3` on PATH that does.
 *
 * Backend config (`--backend-config=python,<key>=<value>`): `python-executable` (above),
 * `stub-timeout-seconds` (default 300: how long start-up + initialize, auto_complete_config and
 * finalize may take; Triton's key, with a longer default because importing frameworks on a busy
 * machine takes time).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { modelConfigFromJson, modelConfigToJson } from '../../protocol/model-config/index.js';
import type { ModelConfig } from '../../protocol/model-config/types.js';
import type { Backend, InstancePlacement, ModelInstance, ModelLoadContext } from '../../core/backend.js';
import { packageRoot } from '../../core/package.js';
import { TritonError } from '../../protocol/errors.js';
import { PythonInstance } from './instance.js';
import { runAutoComplete } from './stub.js';

/** Backend config key naming the interpreter. */
const PYTHON_EXECUTABLE_KEY = 'python-executable';
/** Backend config key of the start-up/initialize/finalize timeout, in seconds. */
const STUB_TIMEOUT_KEY = 'stub-timeout-seconds';
/** Default of `stub-timeout-seconds`. */
const DEFAULT_STUB_TIMEOUT_S = 300;

/** `python/` of this package: where nereid_stub.py and triton_python_backend_utils.py live. */
function pythonDir(): string {
  const dir = path.join(packageRoot(), 'python');
  if (!fs.existsSync(path.join(dir, 'nereid_stub.py'))) {
    throw new TritonError('INTERNAL', `cannot find nereid_stub.py in ${dir}`);
  }
  return dir;
}

const numpyChecks = new Map<string, boolean>();

/** True when `python` runs and imports numpy (cached per path). */
function hasNumpy(python: string): boolean {
  let ok = numpyChecks.get(python);
  if (ok === undefined) {
    try {
      execFileSync(python, ['-c', 'import numpy'], { stdio: 'ignore', timeout: 60_000 });
      ok = true;
    } catch {
      ok = false;
    }
    numpyChecks.set(python, ok);
  }
  return ok;
}

/**
 * The default interpreter: `/usr/bin/python3` when it imports numpy, else the first `python3` on
 * PATH that does.
 * @throws TritonError UNAVAILABLE saying how to install one or choose another.
 */
function defaultPython(): string {
  const candidates = ['/usr/bin/python3'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir) candidates.push(path.join(dir, 'python3'));
  }
  for (const c of candidates) if (fs.existsSync(c) && hasNumpy(c)) return c;
  throw new TritonError(
    'UNAVAILABLE',
    `no Python 3 interpreter with numpy found (tried ${[...new Set(candidates)].join(', ')}): install one ` +
      `(Debian: apt-get install python3 python3-numpy) or choose one with ` +
      `--backend-config=python,${PYTHON_EXECUTABLE_KEY}=/path/to/python3`,
  );
}

/**
 * The interpreter and environment of a model's stubs (see the module comment for the order).
 * @throws TritonError INVALID_ARG for an EXECUTION_ENV_PATH that is a tarball or has no
 *   bin/python3, or a python-executable that does not exist.
 */
function resolveInterpreter(
  config: ModelConfig,
  ctx: ModelLoadContext,
): { python: string; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  const raw = config.parameters?.EXECUTION_ENV_PATH?.string_value;
  if (raw) {
    const dir = raw.replaceAll('$$TRITON_MODEL_DIRECTORY', ctx.modelDir);
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(dir);
    } catch {
      stat = undefined;
    }
    if (stat?.isFile() || /\.(tar\.gz|tgz|tar)$/.test(dir)) {
      throw new TritonError(
        'INVALID_ARG',
        `model '${ctx.name}': EXECUTION_ENV_PATH '${dir}' is a packed environment (conda-pack tarball); ` +
          `Nereid runs unpacked environments only: unpack it (mkdir env && tar -xzf <file> -C env) and set ` +
          `EXECUTION_ENV_PATH to that folder`,
      );
    }
    const python = ['bin/python3', 'bin/python'].map((p) => path.join(dir, p)).find((p) => fs.existsSync(p));
    if (!stat?.isDirectory() || !python) {
      throw new TritonError(
        'INVALID_ARG',
        `model '${ctx.name}': EXECUTION_ENV_PATH '${dir}' must be the folder of a Python environment ` +
          `with bin/python3 (e.g. made with python3 -m venv --system-site-packages)`,
      );
    }
    env.VIRTUAL_ENV = dir;
    env.PATH = `${path.join(dir, 'bin')}${path.delimiter}${env.PATH ?? ''}`;
    delete env.PYTHONHOME;
    return { python, env };
  }
  const configured = ctx.backendConfig[PYTHON_EXECUTABLE_KEY];
  if (configured) {
    if (!fs.existsSync(configured)) {
      throw new TritonError(
        'INVALID_ARG',
        `backend config python,${PYTHON_EXECUTABLE_KEY}=${configured}: no such file`,
      );
    }
    return { python: configured, env };
  }
  return { python: defaultPython(), env };
}

/** `stub-timeout-seconds` in ms. @throws TritonError INVALID_ARG when it is not a positive number. */
function stubTimeoutMs(ctx: ModelLoadContext): number {
  const raw = ctx.backendConfig[STUB_TIMEOUT_KEY];
  if (raw === undefined) return DEFAULT_STUB_TIMEOUT_S * 1000;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) {
    throw new TritonError(
      'INVALID_ARG',
      `backend config python,${STUB_TIMEOUT_KEY} must be a number > 0, got '${raw}'`,
    );
  }
  return s * 1000;
}

/** The Python backend. */
export class PythonBackend implements Backend {
  readonly name = 'python';
  readonly defaultModelFilename = 'model.py';

  /**
   * Runs the model's static `auto_complete_config(auto_complete_model_config)` in a stub when
   * model.py defines one (it may add inputs, outputs, max_batch_size, dynamic batching and the
   * transaction policy); otherwise the config is left as it is.
   * @throws TritonError INTERNAL with the Python exception, INVALID_ARG for a result that is not a
   *   valid model configuration.
   */
  async autoCompleteConfig(config: ModelConfig, ctx: ModelLoadContext): Promise<ModelConfig> {
    let source = '';
    try {
      source = fs.readFileSync(ctx.modelPath, 'utf8');
    } catch {
      return config; // the load reports the missing file
    }
    if (!source.includes('auto_complete_config')) return config;
    const { python, env } = resolveInterpreter(config, ctx);
    const json = await runAutoComplete(
      {
        model: ctx.name,
        python,
        stubPath: path.join(pythonDir(), 'nereid_stub.py'),
        env,
        modelPath: ctx.modelPath,
        timeoutMs: stubTimeoutMs(ctx),
        logger: ctx.logger,
      },
      JSON.stringify(modelConfigToJson(config)),
    );
    try {
      return modelConfigFromJson(json);
    } catch (e) {
      throw new TritonError(
        'INVALID_ARG',
        `auto_complete_config of model '${ctx.name}' produced an invalid configuration: ${(e as Error).message}`,
      );
    }
  }

  /**
   * Python models place themselves on their GPU (e.g. PyTorch on `cuda:<model_instance_device_id>`),
   * so KIND_GPU and KIND_AUTO groups run on every GPU the machine has, as with Triton's python backend.
   */
  gpuUnavailable(): string | undefined {
    return undefined;
  }

  /** One instance per group without a count, as Triton's python backend. */
  defaultInstanceCount(): number {
    return 1;
  }

  /**
   * Starts the instance's stub and runs initialize.
   * @throws TritonError INTERNAL with the Python exception when model.py cannot be imported or
   *   initialize raises or times out; INVALID_ARG/UNAVAILABLE for interpreter problems.
   */
  async createInstance(
    config: ModelConfig,
    ctx: ModelLoadContext,
    placement: InstancePlacement,
  ): Promise<ModelInstance> {
    const { python, env } = resolveInterpreter(config, ctx);
    return PythonInstance.start({
      model: ctx.name,
      instance: placement.name,
      python,
      stubPath: path.join(pythonDir(), 'nereid_stub.py'),
      env,
      modelPath: ctx.modelPath,
      args: {
        model_config: JSON.stringify(modelConfigToJson(config)),
        model_instance_kind: placement.kind.replace(/^KIND_/, ''),
        model_instance_name: placement.name,
        model_instance_device_id: String(placement.deviceId),
        model_repository: ctx.modelDir,
        model_version: String(ctx.version),
        model_name: ctx.name,
      },
      decoupled: config.model_transaction_policy?.decoupled === true,
      outputs: config.output.map((o) => o.name),
      timeoutMs: stubTimeoutMs(ctx),
      logger: ctx.logger.child(placement.name),
      infer: ctx.infer,
      inferStream: ctx.inferStream,
    });
  }
}
