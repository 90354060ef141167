/**
 * Model management: the table of models and their versions' states, the model control modes, and
 * load / reload / unload (server docs/user_guide/model_management.md; core
 * `src/model_repository_manager/model_repository_manager.cc` and `model_lifecycle.cc`).
 *
 * - Each version is LOADING → READY, or UNAVAILABLE with a reason; unloading makes it UNLOADING
 *   (no new requests; queued and running ones finish) and then UNAVAILABLE "unloaded".
 * - A reload builds every new version first while the old ones keep serving, then swaps them in at
 *   once and drains and unloads the old ones, so requests never see a gap. When any new version
 *   fails, the new ones are dropped and the old ones stay (the failure is the reload's reason in the
 *   index), as Triton keeps an already loaded model when its reload fails.
 * - Operations on one model are serialized (a load while another runs waits for it); loads of
 *   different models run in parallel, at most `--model-load-thread-count` at once.
 * - Modes: `none` loads every model at start; `poll` does the same, then every
 *   `--repository-poll-secs` compares each model folder's fingerprint (files, sizes, modification
 *   times or ETags) and loads added, unloads removed and reloads changed models; `explicit` loads the
 *   `--load-model` names at start (`*` = all) and then only what the load API asks for.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { printModelConfig } from '../config/index.js';
import { ConfigJsonError, modelConfigFromJson } from '../protocol/model-config/index.js';
import type { ModelConfig } from '../protocol/model-config/types.js';
import { readModel } from '../repository/repository.js';
import type { RepositorySource } from '../repository/source.js';
import type { Backend } from './backend.js';
import { asTritonError, TritonError } from '../protocol/errors.js';
import type { Logger } from './logger.js';
import { ModelVersion } from './model.js';
import type { InferenceRequest, InferenceResponse, StreamCallback } from './request.js';

/** `--model-control-mode` values (Triton's, lower case). */
export type ModelControlMode = 'none' | 'poll' | 'explicit';

/** Model version states as Triton names them (`ModelReadyState`). */
export type ModelState = 'UNKNOWN' | 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

/** Reason of a model found in several repositories (core `MODEL_READY_REASON_DUPLICATE`). */
export const MODEL_READY_REASON_DUPLICATE = 'model appears in two or more repositories';

/** Triton's answer to load/unload requests outside explicit mode (`LoadUnloadModel`). */
export const MODEL_CONTROL_DISABLED = 'explicit model load / unload is not allowed if polling is enabled';

/** One version's entry in the model table. */
export interface VersionEntry {
  state: ModelState;
  reason: string;
  model?: ModelVersion;
}

/** One model's entry in the model table. */
export interface ModelEntry {
  name: string;
  /** Why the model as a whole could not load (config error, no versions, duplicate); '' when fine. */
  reason: string;
  versions: Map<number, VersionEntry>;
  /** Why the last reload failed while the previous versions kept serving; '' when it did not. */
  reloadError: string;
  /** Fingerprint of the folder contents last loaded (or tried), for poll mode. */
  fingerprint?: string;
  /** Temporary model folder written from `file:` parameters, removed when no longer used. */
  tempDir?: string;
}

/** The load API's parameters (docs/protocol/extension_model_repository.md "Load"). */
export interface ModelLoadParameters {
  /** `config`: a model configuration in Triton's JSON form, used instead of config.pbtxt. */
  config?: string;
  /**
   * `file:<path>` parameters: model files by path relative to the model folder (e.g.
   * `1/model.onnx`), written into a temporary model folder; require `config`.
   */
  files?: Map<string, Uint8Array>;
}

/** What the model manager needs from the server. */
export interface ModelManagerOptions {
  sources: RepositorySource[];
  backends: Map<string, Backend>;
  backendConfig?: Record<string, Record<string, string>>;
  autoComplete: boolean;
  modelConfigName?: string;
  /** Models loaded at once (`--model-load-thread-count`). */
  loadThreads: number;
  /** Further attempts to load a model version that failed to load (`--model-load-retry-count`, 0). */
  loadRetries?: number;
  mode: ModelControlMode;
  /** Seconds between polls in poll mode (`--repository-poll-secs`); 0 = never. */
  pollSecs: number;
  /** `--load-model` names for explicit mode (`*` = every model). */
  startupModels: string[];
  /**
   * A repository that cannot be read (a missing folder, an unreachable bucket) fails the start when
   * true (`--exit-on-error`, the default); when false it is logged, counts as empty, and is read
   * again at the next poll or load.
   */
  strictRepositories?: boolean;
  logger: Logger;
  /** Runs an inference on the server (handed to backends for BLS). */
  infer?: (req: InferenceRequest) => Promise<InferenceResponse>;
  /** Runs an inference with streamed responses on the server (BLS to decoupled models). */
  inferStream?: (req: InferenceRequest, onResponse: StreamCallback) => Promise<void>;
  /** Told when a version becomes READY or is unloaded. */
  notify?: (m: ModelVersion, event: 'ready' | 'unloaded') => void;
}

/** A counting semaphore (load slots). */
class Slots {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** Where a model's files come from for one load. */
type Origin = { source: RepositorySource; fingerprint?: string } | { tempDir: string };

/** The model table and everything that changes it. */
export class ModelManager {
  /** Model table by name. */
  readonly models = new Map<string, ModelEntry>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly slots: Slots;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: ModelManagerOptions) {
    this.slots = new Slots(Math.max(1, options.loadThreads));
  }

  private get log(): Logger {
    return this.options.logger;
  }

  /** The model control mode. */
  get mode(): ModelControlMode {
    return this.options.mode;
  }

  /**
   * Start-up loading for the mode (see the file comment); in poll mode also starts polling.
   * @returns names of models that failed to load (duplicates and unknown `--load-model` names too).
   * @throws TritonError INVALID_ARG for `*` combined with other `--load-model` names; Error when a
   *   repository cannot be read.
   */
  async start(): Promise<string[]> {
    const failed: string[] = [];
    if (this.mode === 'explicit') {
      const names = this.options.startupModels;
      if (names.includes('*') && names.length > 1) {
        throw new TritonError(
          'INVALID_ARG',
          "Wildcard model name '*' must be the ONLY startup model if specified at all.",
        );
      }
      if (names.includes('*')) {
        failed.push(...(await this.syncWithRepositories(true)));
      } else {
        await Promise.all(
          [...new Set(names)].map((n) =>
            this.load(n).catch((e: unknown) => {
              this.log.error(asTritonError(e).message);
              failed.push(n);
            }),
          ),
        );
      }
    } else {
      failed.push(...(await this.syncWithRepositories(true)));
      if (this.mode === 'poll' && this.options.pollSecs > 0) this.schedulePoll();
    }
    return [...new Set(failed)].sort();
  }

  /** Runs `fn` after every earlier operation on model `name` (per-model serialization). */
  private serialize<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(name) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.chains.set(name, tail);
    void tail.then(() => {
      if (this.chains.get(name) === tail) this.chains.delete(name);
    });
    return next;
  }

  /**
   * Reads a repository: `what()`, or — when the repository cannot be read and the server was
   * started with `--exit-on-error=false` — `empty` after logging why.
   * @throws Error from `what()` under `--exit-on-error` (the default).
   */
  private async read<T>(what: () => Promise<T>, empty: T): Promise<T> {
    try {
      return await what();
    } catch (e) {
      if (this.options.strictRepositories !== false) throw e;
      this.log.error(`${(e as Error).message}; serving the other repositories`);
      return empty;
    }
  }

  /** Every repository's model folders with fingerprints, and the names found more than once. */
  private async scanAll(): Promise<{
    found: Map<string, { source: RepositorySource; fingerprint: string }>;
    duplicates: Set<string>;
  }> {
    const found = new Map<string, { source: RepositorySource; fingerprint: string }>();
    const duplicates = new Set<string>();
    for (const source of this.options.sources) {
      for (const [name, fingerprint] of await this.read(() => source.scan(), new Map())) {
        if (found.has(name)) duplicates.add(name);
        else found.set(name, { source, fingerprint });
      }
    }
    for (const d of duplicates) found.delete(d);
    return { found, duplicates };
  }

  /**
   * Brings the table in line with the repositories: loads new models, reloads changed ones (all of
   * them when `all`), unloads removed ones and marks duplicates unavailable.
   * @returns names that failed to load.
   */
  private async syncWithRepositories(all: boolean): Promise<string[]> {
    const { found, duplicates } = await this.scanAll();
    const failed: string[] = [];
    const ops: Promise<unknown>[] = [];
    for (const name of duplicates) {
      failed.push(name);
      this.log.error(`failed to load '${name}': ${MODEL_READY_REASON_DUPLICATE}`);
      ops.push(
        this.serialize(name, async () => {
          await this.unloadVersions(name);
          const entry = this.entry(name);
          entry.versions = new Map();
          entry.reason = MODEL_READY_REASON_DUPLICATE;
          entry.fingerprint = undefined;
        }),
      );
    }
    for (const [name, { source, fingerprint }] of found) {
      const entry = this.models.get(name);
      if (!all && entry && entry.fingerprint === fingerprint) continue;
      if (entry && !all) this.log.info(`model '${name}' changed in '${source.location}': reloading`);
      ops.push(
        this.serialize(name, () => this.loadFrom(name, { source, fingerprint })).catch(() => {
          failed.push(name); // loadFrom logged why
        }),
      );
    }
    if (!all) {
      for (const name of [...this.models.keys()]) {
        if (found.has(name) || duplicates.has(name)) continue;
        this.log.info(`model '${name}' was removed from the model repository: unloading`);
        ops.push(
          this.serialize(name, async () => {
            await this.unloadVersions(name);
            const e = this.models.get(name);
            if (e?.tempDir) fs.rmSync(e.tempDir, { recursive: true, force: true });
            this.models.delete(name);
          }),
        );
      }
    }
    await Promise.all(ops);
    return failed;
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.polling = this.pollOnce().finally(() => {
        this.polling = undefined;
        this.schedulePoll();
      });
    }, this.options.pollSecs * 1000);
    this.pollTimer.unref();
  }

  /** One poll: compare fingerprints and load / reload / unload what changed (errors are logged). */
  async pollOnce(): Promise<void> {
    if (this.closed) return;
    try {
      await this.syncWithRepositories(false);
    } catch (e) {
      this.log.error(`failed to poll model repositories: ${(e as Error).message}`);
    }
  }

  private entry(name: string): ModelEntry {
    let e = this.models.get(name);
    if (!e) {
      e = { name, reason: '', versions: new Map(), reloadError: '' };
      this.models.set(name, e);
    }
    return e;
  }

  /**
   * Loads or reloads a model (the load API and `--load-model`): from the one repository that has
   * it, with `params.config` instead of its config.pbtxt; or, with `file:` parameters, from a
   * temporary folder holding those files and `params.config`.
   * @throws TritonError INVALID_ARG for bad parameters or a failed load (`load failed for model
   *   '<m>': …`), INTERNAL when no repository has the model (Triton's `failed to load '<m>', failed to
   *   poll from model repository`), UNAVAILABLE while the server stops.
   */
  async load(name: string, params: ModelLoadParameters = {}): Promise<void> {
    if (this.closed) throw new TritonError('UNAVAILABLE', 'Server exiting');
    validateModelName(name);
    let config: ModelConfig | undefined;
    if (params.config !== undefined) {
      try {
        config = modelConfigFromJson(params.config);
      } catch (e) {
        const msg = e instanceof ConfigJsonError ? e.message : (e as Error).message;
        throw new TritonError(
          'INVALID_ARG',
          `load failed for model '${name}': the 'config' parameter is not a valid model configuration (JSON form of model_config.proto ModelConfig): ${msg}`,
        );
      }
    }
    const files = params.files && params.files.size > 0 ? params.files : undefined;
    if (files && !config) {
      throw new TritonError(
        'INVALID_ARG',
        "Load parameter 'config' must be specified for model file override",
      );
    }
    return this.serialize(name, async () => {
      let origin: Origin;
      if (files) {
        origin = { tempDir: writeOverrideFolder(name, config!, files) };
      } else {
        const holders: RepositorySource[] = [];
        for (const s of this.options.sources) {
          if ((await this.read(() => s.listModels(), [])).includes(name)) holders.push(s);
        }
        if (holders.length !== 1) {
          throw new TritonError(
            'INTERNAL',
            `failed to load '${name}', failed to poll from model repository: ${
              holders.length === 0
                ? 'model not found in any model repository'
                : 'not unique across all model repositories'
            }`,
          );
        }
        origin = { source: holders[0] };
      }
      await this.loadFrom(name, origin, config);
    });
  }

  /**
   * Loads `name`'s selected versions from `origin` and swaps them in (see the file comment). Runs
   * inside the model's serialized chain.
   * @throws TritonError INVALID_ARG `load failed for model '<m>': <reasons>` when the model or any
   *   version fails.
   */
  private async loadFrom(name: string, origin: Origin, config?: ModelConfig): Promise<void> {
    const log = this.log;
    const entry = this.entry(name);
    const serving = () => [...entry.versions.values()].some((v) => v.state === 'READY' && v.model);
    const fail = (reason: string): never => {
      if (serving()) {
        entry.reloadError = reason;
      } else {
        entry.versions = new Map();
        entry.reason = reason;
      }
      if ('tempDir' in origin) fs.rmSync(path.dirname(origin.tempDir), { recursive: true, force: true });
      log.error(`failed to load '${name}': ${reason}`);
      throw new TritonError('INVALID_ARG', `load failed for model '${name}': ${reason}`);
    };
    if ('source' in origin) entry.fingerprint = origin.fingerprint;
    let dir: string;
    try {
      dir = 'source' in origin ? await origin.source.fetch(name) : origin.tempDir;
    } catch (e) {
      return fail((e as Error).message);
    }
    let def;
    try {
      def = readModel(
        { name, repository: 'source' in origin ? origin.source.location : '', dir },
        {
          configName: this.options.modelConfigName,
          allowMissingConfig: this.options.autoComplete,
          config,
        },
      );
    } catch (e) {
      return fail((e as Error).message);
    }
    const backend = this.options.backends.get(def.config.backend);
    if (!backend) {
      return fail(
        `unable to find backend '${def.config.backend || def.config.platform}' for model '${name}'`,
      );
    }
    // Build the new versions while the current ones keep serving.
    const built = new Map<number, VersionEntry>();
    for (const version of def.versions) {
      const v: VersionEntry = { state: 'LOADING', reason: '' };
      built.set(version, v);
      const current = entry.versions.get(version);
      if (!current || current.state !== 'READY') entry.versions.set(version, v); // shows LOADING
    }
    await this.slots.run(() =>
      Promise.all(
        def.versions.map(async (version) => {
          const v = built.get(version)!;
          const versionDir = path.join(dir, String(version));
          const file = def.config.default_model_filename || backend.defaultModelFilename;
          const ctx = {
            name,
            version,
            modelDir: dir,
            versionDir,
            modelPath: path.join(versionDir, file),
            backendConfig: this.options.backendConfig?.[backend.name] ?? {},
            logger: log.child(`${name}:${version}`),
            infer: this.options.infer,
            inferStream: this.options.inferStream,
          };
          log.info(`loading: ${name}:${version}`);
          const start = performance.now();
          try {
            if (!fs.existsSync(ctx.modelPath)) {
              throw new TritonError('UNAVAILABLE', `unable to find '${ctx.modelPath}' for model '${name}'`);
            }
            for (let attempt = 0; ; attempt++) {
              try {
                v.model = await ModelVersion.load(
                  structuredClone(def.config),
                  backend,
                  ctx,
                  this.options.autoComplete,
                );
                break;
              } catch (e) {
                if (attempt >= (this.options.loadRetries ?? 0)) throw e;
                log.warn(
                  `failed to load '${name}' version ${version} (attempt ${attempt + 1}): ` +
                    `${asTritonError(e).message}; retrying`,
                );
              }
            }
            v.model.loadDurationSecs = (performance.now() - start) / 1000;
            v.state = 'READY';
            log.info(`successfully loaded '${name}' version ${version}`);
          } catch (e) {
            v.state = 'UNAVAILABLE';
            v.reason = statusString(asTritonError(e));
            log.error(`failed to load '${name}' version ${version}: ${v.reason}`);
          }
        }),
      ),
    );
    const failures = [...built].filter(([, v]) => v.state !== 'READY');
    if (failures.length > 0 && serving()) {
      // Keep what serves; drop what was built and restore the table.
      await Promise.all([...built.values()].map((v) => (v.model ? this.unloadLogged(v.model) : undefined)));
      for (const [version, v] of built) if (entry.versions.get(version) === v) entry.versions.delete(version);
      return fail(failures.map(([n, v]) => `version ${n} is at ${v.state} state: ${v.reason}`).join('; '));
    }
    // Swap: every new version at once; old versions drain and unload.
    const old = entry.versions;
    const next = new Map(built);
    const draining: Array<{ model: ModelVersion; version: number }> = [];
    for (const [version, v] of old) {
      if (v.model && v.model !== built.get(version)?.model) draining.push({ model: v.model, version });
      if (!next.has(version)) {
        next.set(version, v.model ? { state: 'UNLOADING', reason: '' } : { ...v });
      }
    }
    const previousTemp = entry.tempDir;
    entry.versions = next;
    entry.reason = '';
    entry.reloadError = '';
    entry.tempDir = 'tempDir' in origin ? path.dirname(origin.tempDir) : undefined;
    for (const v of built.values()) if (v.model) this.options.notify?.(v.model, 'ready');
    await Promise.all(
      draining.map(async ({ model, version }) => {
        await this.unloadLogged(model);
        this.options.notify?.(model, 'unloaded');
        const v = next.get(version);
        if (v && v.state === 'UNLOADING') {
          v.state = 'UNAVAILABLE';
          v.reason = 'unloaded';
        }
      }),
    );
    if (previousTemp && previousTemp !== entry.tempDir)
      fs.rmSync(previousTemp, { recursive: true, force: true });
    if (failures.length > 0) {
      throw new TritonError(
        'INVALID_ARG',
        `load failed for model '${name}': ${failures.map(([n, v]) => `version ${n} is at ${v.state} state: ${v.reason}`).join('; ')}`,
      );
    }
  }

  /**
   * Unloads a model version; a failure (an instance that did not release cleanly) is logged and
   * does not stop the caller, which goes on as if the version had unloaded.
   */
  private async unloadLogged(model: ModelVersion): Promise<void> {
    try {
      await model.unload();
    } catch (e) {
      this.log.error(asTritonError(e).message);
    }
  }

  /** Marks every loaded version UNLOADING, drains and unloads them, then UNAVAILABLE "unloaded". */
  private async unloadVersions(name: string): Promise<void> {
    const entry = this.models.get(name);
    if (!entry) return;
    const loaded = [...entry.versions.values()].filter((v) => v.model);
    for (const v of loaded) v.state = 'UNLOADING';
    await Promise.all(
      loaded.map(async (v) => {
        await this.unloadLogged(v.model!);
        this.options.notify?.(v.model!, 'unloaded');
        v.model = undefined;
        v.state = 'UNAVAILABLE';
        v.reason = 'unloaded';
      }),
    );
    entry.reloadError = '';
  }

  /**
   * Unloads a model (the unload API): new requests fail at once, requests already accepted complete,
   * then every version is UNAVAILABLE "unloaded". Unloading a model that is not loaded succeeds (as
   * in Triton). `unloadDependents` concerns ensembles' composing models; Nereid has no ensembles, so
   * it changes nothing.
   */
  unload(name: string, unloadDependents = false): Promise<void> {
    void unloadDependents;
    return this.serialize(name, async () => {
      await this.unloadVersions(name);
      const entry = this.models.get(name);
      if (entry?.tempDir) {
        fs.rmSync(entry.tempDir, { recursive: true, force: true });
        entry.tempDir = undefined;
      }
      if (entry) entry.fingerprint = undefined;
    });
  }

  /** Every model name in the repositories (sorted) and the names found in more than one. */
  async repositoryModels(): Promise<{ names: string[]; duplicates: Set<string> }> {
    const seen = new Set<string>();
    const duplicates = new Set<string>();
    for (const s of this.options.sources) {
      for (const n of await this.read(() => s.listModels(), [])) {
        if (seen.has(n)) duplicates.add(n);
        seen.add(n);
      }
    }
    return { names: [...seen].sort(), duplicates };
  }

  /**
   * Stops polling and waits for running operations, so nothing loads after shutdown begins; then
   * releases the repositories' local copies.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.polling;
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  /** Removes temporary folders and remote repositories' local copies (after models are unloaded). */
  async release(): Promise<void> {
    for (const e of this.models.values())
      if (e.tempDir) fs.rmSync(e.tempDir, { recursive: true, force: true });
    await Promise.all(this.options.sources.map((s) => s.close().catch(() => undefined)));
  }
}

/** `Status::AsString()` form of an error, used in repository index reasons and the model table. */
export function statusString(e: TritonError): string {
  const names: Record<string, string> = {
    INVALID_ARG: 'Invalid argument',
    INTERNAL: 'Internal',
    NOT_FOUND: 'Not found',
    UNAVAILABLE: 'Unavailable',
    UNSUPPORTED: 'Unsupported',
    ALREADY_EXISTS: 'Already exists',
    CANCELLED: 'Cancelled',
    UNKNOWN: 'Unknown',
  };
  return `${names[e.code] ?? 'Unknown'}: ${e.message}`;
}

/**
 * Triton's model name check for loads (`ValidateModelName`).
 * @throws TritonError INVALID_ARG for an empty, blank or path-like name.
 */
function validateModelName(name: string): void {
  // Triton trims with boost::trim_copy: the C locale's white space.
  const trimmed = name.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
  if (trimmed === '') {
    throw new TritonError('INVALID_ARG', 'Model name cannot be empty. Please enter a valid name to deploy.');
  }
  if (trimmed === '..' || trimmed.includes('/')) {
    throw new TritonError(
      'INVALID_ARG',
      `invalid model name '${name}', model name must not contain path traversal characters`,
    );
  }
}

/**
 * Writes a temporary model folder for `file:` parameters, as Triton's LocalizeRepoAgent:
 * `<tmp>/<name>/config.pbtxt` from `config`, and every file at its path below the folder.
 * @returns the model folder.
 * @throws TritonError INVALID_ARG for a path leaving the folder or colliding with a file; INTERNAL
 *   (Triton's "failed to poll from model repository") when the file system refuses a file.
 */
function writeOverrideFolder(name: string, config: ModelConfig, files: Map<string, Uint8Array>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nereid-model-'));
  const dir = path.join(root, name);
  try {
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'config.pbtxt'),
      printModelConfig({ ...config, name: config.name || name }),
    );
    for (const [rel, bytes] of files) {
      const file = path.resolve(dir, rel);
      if (!file.startsWith(dir + path.sep)) {
        throw new TritonError(
          'INVALID_ARG',
          `Invalid file parameter 'file:${rel}' with normalized path '${file}' must stay within model directory.`,
        );
      }
      const parent = path.dirname(file);
      if (fs.existsSync(parent) && !fs.statSync(parent).isDirectory()) {
        throw new TritonError(
          'INVALID_ARG',
          `Invalid file parameter 'file:${rel}', directory has been created as a file`,
        );
      }
      fs.mkdirSync(parent, { recursive: true });
      fs.writeFileSync(file, bytes);
    }
  } catch (e) {
    fs.rmSync(root, { recursive: true, force: true });
    if (e instanceof TritonError) throw e;
    // A file system refusal (a name too long, no space): Triton's poll failure, INTERNAL.
    throw new TritonError(
      'INTERNAL',
      `failed to load '${name}', failed to poll from model repository: ${(e as Error).message}`,
    );
  }
  return dir;
}
