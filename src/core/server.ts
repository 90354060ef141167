/**
 * The inference server core: model lifecycle, lookup, inference, metadata and statistics.
 * Protocol-free: the HTTP and gRPC frontends translate their requests into calls on this class.
 *
 * Lookup errors, readiness and index semantics follow Triton's core
 * (`src/model_repository_manager/model_lifecycle.cc`, `src/server.cc`, `src/tritonserver.cc`).
 */
import type { ModelConfig } from '../protocol/model-config/types.js';
import { openRepository } from '../repository/cloud.js';
import type { RepositorySource } from '../repository/source.js';
import type { Backend } from './backend.js';
import { configTypeToDatatype } from '../protocol/datatypes.js';
import { asTritonError, TritonError } from '../protocol/errors.js';
import type { Logger } from './logger.js';
import { NEREID_VERSION } from './package.js';
import type { ModelVersion } from './model.js';
import {
  MODEL_CONTROL_DISABLED,
  MODEL_READY_REASON_DUPLICATE,
  ModelManager,
  type ModelControlMode,
  type ModelEntry,
  type ModelLoadParameters,
  type ModelState,
} from './model-manager.js';
import type { InferenceRequest, InferenceResponse, StreamCallback } from './request.js';
import type { BatchStat, MemoryUsage, ResponseStat, StatDuration } from './stats.js';
import { TraceManager } from './trace.js';

export { statusString } from './model-manager.js';
export type { ModelControlMode, ModelLoadParameters, ModelState } from './model-manager.js';

/** The protocol extensions Nereid implements (server metadata `extensions`, in Triton's order). */
const EXTENSIONS = [
  'classification',
  'sequence',
  'model_repository',
  'model_repository(unload_dependents)',
  'schedule_policy',
  'model_configuration',
  'binary_tensor_data',
  'parameters',
  'statistics',
  'trace',
  'logging',
] as const;

/** Server settings (the CLI maps `tritonserver` flags onto these). */
export interface ServerOptions {
  /** Model repository paths (`--model-repository`, repeatable). */
  repositories: string[];
  /** Backends by name. */
  backends: Backend[];
  /** `--backend-config=<backend>,<key>=<value>` settings, by backend name. */
  backendConfig?: Record<string, Record<string, string>>;
  /** Run backends' config auto-complete (false with `--disable-auto-complete-config`). */
  autoComplete?: boolean;
  /** Ready only when every model is ready (`--strict-readiness`, default true). */
  strictReadiness?: boolean;
  /**
   * `--exit-on-error` (default true): an unreadable model repository fails the start; with false it
   * is logged and the other repositories serve.
   */
  exitOnError?: boolean;
  /** `--model-config-name`: use `configs/<name>.pbtxt` where present. */
  modelConfigName?: string;
  /** Models loaded at once (`--model-load-thread-count`, default 4). */
  modelLoadThreads?: number;
  /** Further attempts to load a model version that failed (`--model-load-retry-count`, default 0). */
  modelLoadRetryCount?: number;
  /** `--model-control-mode` (default none; docs/user_guide/model_management.md). */
  modelControlMode?: ModelControlMode;
  /** `--repository-poll-secs`: seconds between repository polls in poll mode (default 15; 0 = never). */
  repositoryPollSecs?: number;
  /** `--load-model` names loaded at start in explicit mode (`*` = every model). */
  startupModels?: string[];
  /** Repository sources to use instead of opening `repositories` (tests, embedding). */
  sources?: RepositorySource[];
  /** Server metadata `name` (`--server-name`/`--id`, default "triton" as the official clients expect). */
  serverName?: string;
  /** The log. */
  logger: Logger;
  /** Request tracing (`--trace-config`); tracing is off when absent. */
  tracer?: TraceManager;
}

/** Model metadata (KServe v2 "Model Metadata Response JSON Object"). */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: Array<{ name: string; datatype: string; shape: number[] }>;
  outputs: Array<{ name: string; datatype: string; shape: number[] }>;
}

/** One entry of `/v2/repository/index`. */
export interface RepositoryIndexEntry {
  name: string;
  version?: string;
  state?: ModelState;
  reason?: string;
}

/** Statistics of one model version (Triton statistics extension `model_stats` entry). */
export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<
    | 'success'
    | 'fail'
    | 'queue'
    | 'compute_input'
    | 'compute_infer'
    | 'compute_output'
    | 'cache_hit'
    | 'cache_miss',
    StatDuration
  >;
  response_stats: Record<string, ResponseStat>;
  batch_stats: BatchStat[];
  memory_usage: MemoryUsage[];
}

/** The server core. */
export class InferenceServer {
  private readonly backends: Map<string, Backend>;
  private live = true;
  private shuttingDown = false;
  /** Model table, control modes, load/unload/reload and polling. */
  readonly manager: ModelManager;
  /** Request tracing (trace extension); off unless configured. */
  readonly tracer: TraceManager;

  /** @throws Error for a malformed cloud repository URL. */
  constructor(readonly options: ServerOptions) {
    this.backends = new Map(options.backends.map((b) => [b.name, b]));
    this.tracer = options.tracer ?? TraceManager.disabled(options.logger);
    this.manager = new ModelManager({
      sources: options.sources ?? options.repositories.map((r, i) => openRepository(r, i, options.logger)),
      backends: this.backends,
      backendConfig: options.backendConfig,
      autoComplete: options.autoComplete !== false,
      modelConfigName: options.modelConfigName,
      loadThreads: options.modelLoadThreads ?? 4,
      loadRetries: options.modelLoadRetryCount ?? 0,
      mode: options.modelControlMode ?? 'none',
      pollSecs: options.repositoryPollSecs ?? 15,
      startupModels: options.startupModels ?? [],
      strictRepositories: options.exitOnError !== false,
      logger: options.logger,
      infer: (r) => this.infer(r),
      inferStream: (r, cb) => this.inferStream(r, cb),
      notify: (m, event) => {
        for (const l of this.listeners) l(m, event);
      },
    });
  }

  private readonly listeners = new Set<(m: ModelVersion, event: 'ready' | 'unloaded') => void>();

  /**
   * Calls `listener` whenever a model version becomes READY after start-up loading began, or is
   * unloaded (what the metrics frontend needs to follow models loaded later).
   * @returns a function that removes the listener.
   */
  onModelChange(listener: (m: ModelVersion, event: 'ready' | 'unloaded') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private get models(): Map<string, ModelEntry> {
    return this.manager.models;
  }

  /** Every READY model version, ordered by name then version (what the metrics frontend reports). */
  readyModels(): ModelVersion[] {
    const out: ModelVersion[] = [];
    for (const m of [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      for (const [, v] of [...m.versions.entries()].sort((a, b) => a[0] - b[0]))
        if (v.model && v.state === 'READY') out.push(v.model);
    }
    return out;
  }

  /** The log. */
  get logger(): Logger {
    return this.options.logger;
  }

  /**
   * Start-up loading for the model control mode: every model (none, poll — which then starts
   * polling), or the `--load-model` names (explicit). A model that fails to load is recorded as
   * UNAVAILABLE with its reason and does not stop the others.
   * @returns the names of models that failed.
   * @throws Error when a repository cannot be read; TritonError for bad `--load-model` names.
   */
  loadAll(): Promise<string[]> {
    return this.manager.start();
  }

  /**
   * The load API (`POST /v2/repository/models/{m}/load`, gRPC RepositoryModelLoad): loads or reloads
   * a model; the old versions keep serving until the new ones are ready.
   * @throws TritonError UNAVAILABLE outside explicit mode (Triton's message), INVALID_ARG for bad
   *   parameters or a failed load, INTERNAL when no repository has the model.
   */
  async loadModel(name: string, params: ModelLoadParameters = {}): Promise<void> {
    if (this.manager.mode !== 'explicit') throw new TritonError('UNAVAILABLE', MODEL_CONTROL_DISABLED);
    if (this.shuttingDown) throw new TritonError('UNAVAILABLE', 'Server exiting');
    await this.manager.load(name, params);
  }

  /**
   * The unload API (`POST /v2/repository/models/{m}/unload`, gRPC RepositoryModelUnload): resolves
   * once in-flight requests completed and every version is unloaded.
   * @param unloadDependents accepted (Triton's `unload_dependents`); Nereid has no ensembles.
   * @throws TritonError UNAVAILABLE outside explicit mode (Triton's message).
   */
  async unloadModel(name: string, unloadDependents = false): Promise<void> {
    if (this.manager.mode !== 'explicit') throw new TritonError('UNAVAILABLE', MODEL_CONTROL_DISABLED);
    await this.manager.unload(name, unloadDependents);
  }

  /** Liveness (`/v2/health/live`). */
  isLive(): boolean {
    return this.live;
  }

  /** Readiness (`/v2/health/ready`): live, not shutting down and, with strict readiness, every model ready. */
  isReady(): boolean {
    if (!this.live || this.shuttingDown) return false;
    if (this.options.strictReadiness === false) return true;
    for (const m of this.models.values()) {
      if (m.reason) return false;
      for (const v of m.versions.values()) {
        if (v.state === 'UNAVAILABLE' && v.reason === 'unloaded') continue;
        if (v.state !== 'READY' || !v.model?.isReady()) return false;
      }
    }
    return true;
  }

  /** Server metadata (`GET /v2`). */
  metadata(): { name: string; version: string; extensions: string[] } {
    return {
      name: this.options.serverName ?? 'triton',
      version: NEREID_VERSION,
      extensions: [...EXTENSIONS],
    };
  }

  /**
   * The model version a request addresses: `version` when given, else the highest ready version.
   * @throws TritonError with Triton's messages: unknown model (INVALID_ARG), unknown version
   *   (NOT_FOUND), no ready version (NOT_FOUND), version not ready (UNAVAILABLE).
   */
  getModel(name: string, version?: string): ModelVersion {
    const entry = this.models.get(name);
    if (!entry) throw new TritonError('INVALID_ARG', `Request for unknown model: '${name}' is not found`);
    if (version !== undefined && version !== '') {
      const n = Number(version);
      const v = Number.isInteger(n) ? entry.versions.get(n) : undefined;
      if (!v)
        throw new TritonError(
          'NOT_FOUND',
          `Request for unknown model: '${name}' version ${version} is not found`,
        );
      if (v.state !== 'READY' || !v.model) {
        throw new TritonError(
          'UNAVAILABLE',
          `Request for unknown model: '${name}' version ${version} is not at ready state`,
        );
      }
      return v.model;
    }
    let best: ModelVersion | undefined;
    for (const [n, v] of entry.versions)
      if (v.state === 'READY' && v.model && (!best || n > best.version)) best = v.model;
    if (!best)
      throw new TritonError('NOT_FOUND', `Request for unknown model: '${name}' has no available versions`);
    return best;
  }

  /** True when the model (version) is ready (`/v2/models/{m}[/versions/{v}]/ready`). */
  isModelReady(name: string, version?: string): boolean {
    try {
      return this.getModel(name, version).isReady();
    } catch {
      return false;
    }
  }

  /** The final (auto-completed) config of a model version. @throws TritonError as getModel. */
  modelConfig(name: string, version?: string): ModelConfig {
    return this.getModel(name, version).config;
  }

  /**
   * Model metadata: platform (config platform, else backend), ready versions as strings, tensors with
   * the leading -1 batch dim when the model batches. @throws TritonError as getModel.
   */
  modelMetadata(name: string, version?: string): ModelMetadata {
    const model = this.getModel(name, version);
    const c = model.config;
    const entry = this.models.get(name)!;
    const versions =
      version !== undefined && version !== ''
        ? [version]
        : [...entry.versions.entries()].filter(([, v]) => v.state === 'READY').map(([n]) => String(n));
    const batch = c.max_batch_size > 0 ? [-1] : [];
    const tensor = (t: { name: string; data_type: string; dims: number[] }) => ({
      name: t.name,
      datatype: configTypeToDatatype(t.data_type) ?? t.data_type,
      shape: [...batch, ...t.dims],
    });
    return {
      name,
      versions,
      platform: c.platform || c.backend,
      inputs: c.input.map(tensor),
      outputs: c.output.map(tensor),
    };
  }

  /**
   * Runs an inference request on the addressed model version.
   * @throws TritonError from lookup, validation or execution (see ModelVersion.infer).
   */
  infer(req: InferenceRequest): Promise<InferenceResponse> {
    if (this.shuttingDown) return Promise.reject(new TritonError('UNAVAILABLE', 'Server exiting'));
    let model: ModelVersion;
    try {
      model = this.getModel(req.model, req.version);
    } catch (e) {
      return Promise.reject(e);
    }
    return model.infer(req);
  }

  /**
   * Runs a request on any model, decoupled ones included, delivering every response to
   * `onResponse` and a final flag last (see ModelVersion.inferStream). Lookup errors are delivered
   * as a final error too; the promise never rejects.
   */
  async inferStream(req: InferenceRequest, onResponse: StreamCallback): Promise<void> {
    let model: ModelVersion;
    try {
      if (this.shuttingDown) throw new TritonError('UNAVAILABLE', 'Server exiting');
      model = this.getModel(req.model, req.version);
    } catch (e) {
      onResponse(asTritonError(e), true);
      return;
    }
    await model.inferStream(req, onResponse);
  }

  /**
   * `/v2/repository/index`: every model of the repositories (loaded or not) and every model in the
   * table, with their versions' states and reasons. A model never loaded shows only its name; a
   * model that failed before loading versions shows UNAVAILABLE and the reason; one found in several
   * repositories shows UNAVAILABLE "model appears in two or more repositories". When a reload failed
   * and the previous versions still serve, their READY entries carry the reload's failure as reason.
   * @param readyOnly only READY versions (the request body's `ready: true`).
   * @throws Error when a repository cannot be read.
   */
  async repositoryIndex(readyOnly = false): Promise<RepositoryIndexEntry[]> {
    const out: RepositoryIndexEntry[] = [];
    const { names, duplicates } = await this.manager.repositoryModels();
    const all = [...new Set([...names, ...this.models.keys()])].sort();
    for (const name of all) {
      const m = this.models.get(name);
      if (duplicates.has(name) && !m?.versions.size) {
        if (!readyOnly) out.push({ name, state: 'UNAVAILABLE', reason: MODEL_READY_REASON_DUPLICATE });
        continue;
      }
      if (!m || m.versions.size === 0) {
        if (readyOnly) continue;
        out.push(m?.reason ? { name, state: 'UNAVAILABLE', reason: m.reason } : { name });
        continue;
      }
      for (const [n, v] of [...m.versions.entries()].sort((a, b) => a[0] - b[0])) {
        if (readyOnly && v.state !== 'READY') continue;
        const e: RepositoryIndexEntry = { name, version: String(n), state: v.state };
        const reason = v.reason || (v.state === 'READY' ? m.reloadError : '');
        if (reason) e.reason = reason;
        out.push(e);
      }
    }
    return out;
  }

  /**
   * Statistics of ready model versions: all of them, one model's, or one version's.
   * @throws TritonError INVALID_ARG (Triton's stats messages) for an unknown or unavailable model.
   */
  statistics(name?: string, version?: string): ModelStatistics[] {
    let targets: ModelVersion[] = [];
    if (name === undefined || name === '') {
      targets = this.readyModels();
    } else {
      const m = this.models.get(name);
      if (!m) throw new TritonError('INVALID_ARG', `requested model '${name}' is not available`);
      if (version !== undefined && version !== '') {
        const v = m.versions.get(Number(version));
        if (!v?.model || v.state !== 'READY') {
          throw new TritonError(
            'INVALID_ARG',
            `requested model version is not available for model '${name}'`,
          );
        }
        targets.push(v.model);
      } else {
        for (const [, v] of [...m.versions.entries()].sort((a, b) => a[0] - b[0]))
          if (v.model && v.state === 'READY') targets.push(v.model);
        if (targets.length === 0)
          throw new TritonError('INVALID_ARG', `requested model '${name}' is not available`);
      }
    }
    return targets.map((model) => {
      const s = model.stats;
      return {
        name: model.name,
        version: String(model.version),
        last_inference: s.lastInference,
        inference_count: s.inferenceCount,
        execution_count: s.executionCount,
        inference_stats: {
          success: { ...s.success },
          fail: { ...s.fail },
          queue: { ...s.queue },
          compute_input: { ...s.computeInput },
          compute_infer: { ...s.computeInfer },
          compute_output: { ...s.computeOutput },
          cache_hit: { ...s.cacheHit },
          cache_miss: { ...s.cacheMiss },
        },
        response_stats: s.responseStats(),
        batch_stats: s.batchStats(),
        memory_usage: s.memoryUsage.map((m) => ({ ...m })),
      };
    });
  }

  /** Triton's startup model table: `Model | Version | Status`, status `READY` or `UNAVAILABLE: <reason>`. */
  modelTable(): string {
    const rows: string[][] = [];
    for (const name of [...this.models.keys()].sort()) {
      const m = this.models.get(name)!;
      if (m.versions.size === 0) {
        rows.push([
          name,
          '-',
          m.reason ? `UNAVAILABLE: ${m.reason}` : 'Not loaded: No model version was found',
        ]);
        continue;
      }
      for (const [n, v] of [...m.versions.entries()].sort((a, b) => a[0] - b[0])) {
        rows.push([name, String(n), v.reason ? `${v.state}: ${v.reason}` : v.state]);
      }
    }
    return formatTable(['Model', 'Version', 'Status'], rows);
  }

  /**
   * Graceful stop: refuse new requests, wait up to `timeoutMs` for in-flight ones, unload every model.
   * @returns the number of requests still in flight when the timeout expired (0 when all finished).
   */
  async shutdown(timeoutMs: number): Promise<number> {
    this.shuttingDown = true;
    await this.manager.close();
    const loaded = [...this.models.values()].flatMap((m) =>
      [...m.versions.values()].flatMap((v) => (v.model ? [v.model] : [])),
    );
    const deadline = Date.now() + timeoutMs;
    const remaining = () => loaded.reduce((n, m) => n + m.inflightRequests, 0);
    while (remaining() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const left = remaining();
    await Promise.all(
      loaded.map((m) => m.unload().catch((e: unknown) => this.logger.error(asTritonError(e).message))),
    );
    for (const m of this.models.values()) for (const v of m.versions.values()) v.model = undefined;
    await this.manager.release();
    this.live = false;
    return left;
  }
}

/** Formats rows as Triton's ASCII tables (common `src/table_printer.cc`). */
function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const row = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return ['', line, row(header), line, ...rows.map(row), line].join('\n');
}
