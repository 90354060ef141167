/**
 * The inference server core: model lifecycle, lookup, inference, metadata and statistics.
 * Protocol-free: the HTTP and gRPC frontends translate their requests into calls on this class.
 *
 * Lookup errors, readiness and index semantics follow Triton's core
 * (`src/model_repository_manager/model_lifecycle.cc`, `src/server.cc`, `src/tritonserver.cc`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelConfig } from '../config/types.js';
import { listModels, readModel, type ModelSource } from '../repository/repository.js';
import type { Backend } from './backend.js';
import { configTypeToDatatype } from './datatypes.js';
import { asTritonError, TritonError } from './errors.js';
import type { Logger } from './logger.js';
import { ModelVersion } from './model.js';
import type { InferenceRequest, InferenceResponse, StreamCallback } from './request.js';
import type { BatchStat, MemoryUsage, ResponseStat, StatDuration } from './stats.js';
import { TraceManager } from './trace.js';

/** Nereid's version, reported as the server version. */
export const NEREID_VERSION = '0.1.0';

/** The protocol extensions Nereid implements (server metadata `extensions`, in Triton's order). */
export const EXTENSIONS = [
  'classification',
  'model_configuration',
  'binary_tensor_data',
  'parameters',
  'statistics',
  'trace',
  'logging',
] as const;

/** Model version states as Triton names them (`ModelReadyState`). */
export type ModelState = 'UNKNOWN' | 'READY' | 'UNAVAILABLE' | 'LOADING' | 'UNLOADING';

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
  /** `--model-config-name`: use `configs/<name>.pbtxt` where present. */
  modelConfigName?: string;
  /** Models loaded at once (`--model-load-thread-count`, default 4). */
  modelLoadThreads?: number;
  /** Server metadata `name` (`--server-name`/`--id`, default "triton" as the official clients expect). */
  serverName?: string;
  /** The log. */
  logger: Logger;
  /** Request tracing (`--trace-config`); tracing is off when absent. */
  tracer?: TraceManager;
}

interface VersionEntry {
  state: ModelState;
  reason: string;
  model?: ModelVersion;
}

interface ModelEntry {
  name: string;
  source?: ModelSource;
  /** Why the model as a whole could not load (config error, no versions); '' when fine. */
  reason: string;
  versions: Map<number, VersionEntry>;
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
  private readonly models = new Map<string, ModelEntry>();
  private readonly backends: Map<string, Backend>;
  private live = true;
  private shuttingDown = false;
  /** Request tracing (trace extension); off unless configured. */
  readonly tracer: TraceManager;

  constructor(readonly options: ServerOptions) {
    this.backends = new Map(options.backends.map((b) => [b.name, b]));
    this.tracer = options.tracer ?? TraceManager.disabled(options.logger);
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
   * Loads every model of every repository (Triton's model control mode NONE). A model that fails
   * to load is recorded as UNAVAILABLE with its reason and does not stop the others.
   * @returns the names of models that failed.
   * @throws Error when a repository cannot be read.
   */
  async loadAll(): Promise<string[]> {
    const { models, duplicates } = listModels(this.options.repositories);
    for (const d of duplicates) {
      this.models.set(d.name, {
        name: d.name,
        source: d,
        reason: `model '${d.name}' appears in more than one model repository`,
        versions: new Map(),
      });
    }
    const queue = models.slice();
    const failed: string[] = duplicates.map((d) => d.name);
    const worker = async () => {
      for (let m = queue.shift(); m; m = queue.shift()) {
        if (!(await this.loadModel(m))) failed.push(m.name);
      }
    };
    const threads = Math.max(1, this.options.modelLoadThreads ?? 4);
    await Promise.all(Array.from({ length: Math.min(threads, models.length) }, worker));
    return [...new Set(failed)].sort();
  }

  /** Loads (or reloads) one model's selected versions; true when every version loaded. */
  private async loadModel(source: ModelSource): Promise<boolean> {
    const log = this.logger;
    const entry: ModelEntry = { name: source.name, source, reason: '', versions: new Map() };
    this.models.set(source.name, entry);
    let def;
    try {
      def = readModel(source, {
        configName: this.options.modelConfigName,
        allowMissingConfig: this.options.autoComplete !== false,
      });
    } catch (e) {
      entry.reason = (e as Error).message;
      log.error(`failed to load '${source.name}': ${entry.reason}`);
      return false;
    }
    const backend = this.backends.get(def.config.backend);
    if (!backend) {
      entry.reason = `unable to find backend '${def.config.backend || def.config.platform}' for model '${source.name}'`;
      log.error(`failed to load '${source.name}': ${entry.reason}`);
      return false;
    }
    let ok = true;
    await Promise.all(
      def.versions.map(async (version) => {
        const v: VersionEntry = { state: 'LOADING', reason: '' };
        entry.versions.set(version, v);
        const versionDir = path.join(source.dir, String(version));
        const file = def.config.default_model_filename || backend.defaultModelFilename;
        const ctx = {
          name: source.name,
          version,
          modelDir: source.dir,
          versionDir,
          modelPath: path.join(versionDir, file),
          backendConfig: this.options.backendConfig?.[backend.name] ?? {},
          logger: log.child(`${source.name}:${version}`),
          infer: (r: InferenceRequest) => this.infer(r),
          inferStream: (r: InferenceRequest, cb: StreamCallback) => this.inferStream(r, cb),
        };
        log.info(`loading: ${source.name}:${version}`);
        const loadStart = performance.now();
        try {
          if (!fs.existsSync(ctx.modelPath)) {
            throw new TritonError(
              'UNAVAILABLE',
              `unable to find '${ctx.modelPath}' for model '${source.name}'`,
            );
          }
          v.model = await ModelVersion.load(
            structuredClone(def.config),
            backend,
            ctx,
            this.options.autoComplete !== false,
          );
          v.model.loadDurationSecs = (performance.now() - loadStart) / 1000;
          v.state = 'READY';
          log.info(`successfully loaded '${source.name}' version ${version}`);
        } catch (e) {
          ok = false;
          v.state = 'UNAVAILABLE';
          v.reason = statusString(asTritonError(e));
          log.error(`failed to load '${source.name}' version ${version}: ${v.reason}`);
        }
      }),
    );
    return ok;
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
      for (const v of m.versions.values()) if (v.state !== 'READY' || !v.model?.isReady()) return false;
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
   * `/v2/repository/index`: every model with its versions' states and reasons; a model that never got
   * to loading versions shows its name (plus state UNAVAILABLE and the reason when it failed).
   * @param readyOnly only READY versions (the request body's `ready: true`).
   */
  repositoryIndex(readyOnly = false): RepositoryIndexEntry[] {
    const out: RepositoryIndexEntry[] = [];
    const names = [...this.models.keys()].sort();
    for (const name of names) {
      const m = this.models.get(name)!;
      if (m.versions.size === 0) {
        if (readyOnly) continue;
        out.push(m.reason ? { name, state: 'UNAVAILABLE', reason: m.reason } : { name });
        continue;
      }
      for (const [n, v] of [...m.versions.entries()].sort((a, b) => a[0] - b[0])) {
        if (readyOnly && v.state !== 'READY') continue;
        const e: RepositoryIndexEntry = { name, version: String(n), state: v.state };
        if (v.reason) e.reason = v.reason;
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
    const loaded = [...this.models.values()].flatMap((m) =>
      [...m.versions.values()].flatMap((v) => (v.model ? [v.model] : [])),
    );
    const deadline = Date.now() + timeoutMs;
    const remaining = () => loaded.reduce((n, m) => n + m.inflightRequests, 0);
    while (remaining() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const left = remaining();
    await Promise.all(loaded.map((m) => m.unload().catch(() => undefined)));
    for (const m of this.models.values()) for (const v of m.versions.values()) v.model = undefined;
    this.live = false;
    return left;
  }
}

/** Formats rows as Triton's ASCII tables (common `src/table_printer.cc`). */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const row = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  return ['', line, row(header), line, ...rows.map(row), line].join('\n');
}
