/**
 * Request tracing as Triton does it (server docs/user_guide/trace.md, docs/protocol/extension_trace.md,
 * server `src/tracer.cc`).
 *
 * - Settings: `level` (TIMESTAMPS and/or TENSORS; none = OFF), `rate` (trace every rate-th request),
 *   `count` (traces left to collect, -1 = no limit), `log_frequency` (write every N traces to
 *   `<file>.<n>`, 0 = write `<file>` at shutdown), `file`; global, and per model (a model's settings
 *   override the global ones key by key).
 * - `mode=triton` writes Triton's JSON trace file: a JSON array where each trace contributes
 *   `{"id":N,"model_name":..,"model_version":..[,"request_id":..][,"parent_id":..]}` then one
 *   `{"id":N,"timestamps":[{"name":<activity>,"ns":<steady clock ns>}]}` per activity, and with
 *   TENSORS `{"id":N,"activity":"TENSOR_QUEUE_INPUT"|"TENSOR_BACKEND_OUTPUT","tensor":{name,data,shape,dtype}}`.
 *   Timestamps are nanoseconds of the monotonic (steady) clock, as Triton's.
 * - `mode=opentelemetry` exports spans over OTLP/HTTP (JSON) with `@opentelemetry/*`: a root
 *   `InferRequest` span (frontend events HTTP_* / GRPC_*), a model span named after the model (events
 *   REQUEST_START, QUEUE_START, REQUEST_END; attributes `triton.model_name`, `triton.model_version`,
 *   `triton.trace_id`, `triton.trace_parent_id`, `triton.request_id`) and its `compute` child span
 *   (COMPUTE_START, COMPUTE_INPUT_END, COMPUTE_OUTPUT_START, COMPUTE_END). A W3C `traceparent` from
 *   the client makes the root span its child, and such requests are always traced (Triton's rule).
 *
 * Cost when tracing is off: `TraceManager.enabled` is false and frontends skip everything (one branch).
 */
import * as fs from 'node:fs';
import type { Context } from '@opentelemetry/api';
import { typedView } from '../protocol/datatypes.js';
import { TritonError } from '../protocol/errors.js';
import type { Logger } from './logger.js';
import { type Tensor } from './tensor.js';
import { deserializeBytesTensor } from '../protocol/bytes-tensor.js';

/** Trace levels besides OFF (Triton's `TRITONSERVER_InferenceTraceLevel`). */
export type TraceLevel = 'TIMESTAMPS' | 'TENSORS';
/** Trace APIs (`--trace-config mode=`). */
export type TraceMode = 'triton' | 'opentelemetry';

/** Trace settings of the server or of one model (extension_trace.md). */
export interface TraceSettings {
  /** Levels traced; empty means OFF. */
  level: TraceLevel[];
  /** Sampling rate: every `rate`-th request is traced (1000 by default; 0 disables sampling). */
  rate: number;
  /** Traces left to collect; -1 = no limit. */
  count: number;
  /** Trace file (triton mode); '' = none. */
  file: string;
  /** Write every `logFrequency` traces to `<file>.<index>`; 0 = write `<file>` at shutdown. */
  logFrequency: number;
}

/** OpenTelemetry settings (`--trace-config opentelemetry,<key>=<value>`). */
export interface OtelSettings {
  /** OTLP/HTTP traces endpoint (default `http://localhost:4318/v1/traces`). */
  url: string;
  /** Resource attributes (default `service.name=triton-inference-server`). */
  resource: Record<string, string>;
  /** Batch span processor: most spans queued (2048). */
  bspMaxQueueSize: number;
  /** Batch span processor: ms between exports (5000). */
  bspScheduleDelayMs: number;
  /** Batch span processor: most spans per export (512). */
  bspMaxExportBatchSize: number;
}

/** Everything `--trace-config` sets. */
export interface TraceConfig {
  mode: TraceMode;
  global: TraceSettings;
  otel: OtelSettings;
}

/** Triton's defaults: level OFF, rate 1000, count -1, no file, log_frequency 0, mode triton. */
export function defaultTraceConfig(): TraceConfig {
  return {
    mode: 'triton',
    global: { level: [], rate: 1000, count: -1, file: '', logFrequency: 0 },
    otel: {
      url: 'http://localhost:4318/v1/traces',
      resource: { 'service.name': 'triton-inference-server' },
      bspMaxQueueSize: 2048,
      bspScheduleDelayMs: 5000,
      bspMaxExportBatchSize: 512,
    },
  };
}

const LEVELS = ['OFF', 'TIMESTAMPS', 'TENSORS'];

function parseCount(key: string, value: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new TritonError(
      'INVALID_ARG',
      `invalid value for '${key}': expected an integer >= ${min}, got '${value}'`,
    );
  }
  return n;
}

/**
 * Parses `--trace-config` entries (`[triton|opentelemetry,]<setting>=<value>`, server
 * docs/user_guide/trace.md) into a TraceConfig.
 * @throws TritonError INVALID_ARG naming the entry for an unknown setting or a bad value.
 */
export function parseTraceConfig(entries: string[]): TraceConfig {
  const c = defaultTraceConfig();
  let levelSeen = false;
  for (const entry of entries) {
    const m = /^(?:(triton|opentelemetry),)?([^=,]+)=(.*)$/.exec(entry);
    if (!m) {
      throw new TritonError(
        'INVALID_ARG',
        `--trace-config expects [triton|opentelemetry,]<setting>=<value>, got '${entry}'`,
      );
    }
    const [, group, key, value] = m;
    if (group === 'opentelemetry') {
      if (key === 'url') c.otel.url = value;
      else if (key === 'resource') {
        const eq = value.indexOf('=');
        if (eq < 1)
          throw new TritonError(
            'INVALID_ARG',
            `--trace-config opentelemetry,resource expects <key>=<value>, got '${value}'`,
          );
        c.otel.resource[value.slice(0, eq)] = value.slice(eq + 1);
      } else if (key === 'bsp_max_queue_size') c.otel.bspMaxQueueSize = parseCount(key, value, 1);
      else if (key === 'bsp_schedule_delay') c.otel.bspScheduleDelayMs = parseCount(key, value, 0);
      else if (key === 'bsp_max_export_batch_size') c.otel.bspMaxExportBatchSize = parseCount(key, value, 1);
      else throw new TritonError('INVALID_ARG', `unknown --trace-config opentelemetry setting '${key}'`);
      continue;
    }
    if (group === 'triton') {
      if (key === 'file') c.global.file = value;
      else if (key === 'log-frequency' || key === 'log_frequency')
        c.global.logFrequency = parseCount(key, value, 0);
      else throw new TritonError('INVALID_ARG', `unknown --trace-config triton setting '${key}'`);
      continue;
    }
    switch (key) {
      case 'rate':
        c.global.rate = parseCount(key, value, 0);
        break;
      case 'count':
        c.global.count = parseCount(key, value, -1);
        break;
      case 'level': {
        const v = value.toUpperCase();
        if (!LEVELS.includes(v))
          throw new TritonError(
            'INVALID_ARG',
            `invalid trace level '${value}': expected OFF, TIMESTAMPS or TENSORS`,
          );
        if (!levelSeen) c.global.level = [];
        levelSeen = true;
        if (v === 'OFF') c.global.level = [];
        else if (!c.global.level.includes(v as TraceLevel)) c.global.level.push(v as TraceLevel);
        break;
      }
      case 'mode':
        if (value !== 'triton' && value !== 'opentelemetry') {
          throw new TritonError(
            'INVALID_ARG',
            `invalid trace mode '${value}': expected triton or opentelemetry`,
          );
        }
        c.mode = value;
        break;
      case 'file':
        c.global.file = value;
        break;
      case 'log-frequency':
      case 'log_frequency':
        c.global.logFrequency = parseCount(key, value, 0);
        break;
      default:
        throw new TritonError('INVALID_ARG', `unknown --trace-config setting '${key}'`);
    }
  }
  if (c.mode === 'opentelemetry' && c.global.level.includes('TENSORS')) {
    throw new TritonError('INVALID_ARG', 'trace level TENSORS is not supported in opentelemetry mode');
  }
  return c;
}

/** The steady (monotonic) clock in ns, the clock of Triton's trace timestamps. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** One TENSORS-level record. */
interface TensorRecord {
  activity: 'TENSOR_QUEUE_INPUT' | 'TENSOR_BACKEND_OUTPUT';
  json: string;
}

/** A timestamp record. */
interface Timestamp {
  name: string;
  ns: bigint;
}

/** Triton's textual form of a tensor's data (comma-separated; BYTES as escaped quoted strings). */
function tensorData(t: Tensor): string {
  if (t.datatype === 'FP16' || t.datatype === 'BF16') return '';
  if (t.datatype === 'BYTES') {
    return deserializeBytesTensor(t.data)
      .map((e) => `\\"${Buffer.from(e).toString('utf8')}\\"`)
      .join(',');
  }
  const view = typedView(t.datatype, t.data);
  if (t.datatype === 'BOOL') return Array.from(view as Uint8Array, (v) => (v ? '1' : '0')).join(',');
  return Array.from(view as ArrayLike<number | bigint>, (v) => String(v)).join(',');
}

/** The trace of one request: activity timestamps (steady clock ns) and, with TENSORS, tensors. */
export class RequestTrace {
  /** Model version, set when the core resolves it (-1 until then, as Triton's "latest"). */
  modelVersion = -1;
  /** Client request id ('' when none). */
  requestId = '';
  /** Parent trace id (0: none; ensembles/BLS only). */
  readonly parentId = 0;
  readonly timestamps: Timestamp[] = [];
  readonly tensors: TensorRecord[] = [];
  private ended = false;

  constructor(
    /** Trace id (1, 2, … per server). */
    readonly id: number,
    /** Model name. */
    readonly modelName: string,
    /** Levels traced. */
    readonly levels: readonly TraceLevel[],
    private readonly sink: (t: RequestTrace) => void,
    /** Parent context propagated by the client (opentelemetry mode). */
    readonly parentContext?: Context,
  ) {}

  /** Records activity `name` (e.g. `HTTP_RECV_START`) now, or at `ns` (steady clock ns). */
  record(name: string, ns: bigint = nowNs()): void {
    if (this.levels.includes('TIMESTAMPS')) this.timestamps.push({ name, ns });
  }

  /** Records a tensor (TENSORS level only): `TENSOR_QUEUE_INPUT` or `TENSOR_BACKEND_OUTPUT`. */
  tensor(activity: TensorRecord['activity'], t: Tensor): void {
    if (!this.levels.includes('TENSORS')) return;
    let data = '';
    try {
      data = tensorData(t);
    } catch {
      data = '';
    }
    const json =
      `{"id":${this.id},"activity":"${activity}","tensor":{"name":${JSON.stringify(t.name)},` +
      `"data":"${data.replace(/\n/g, '\\n')}","shape":"${t.shape.join(',')}","dtype":"${t.datatype}"}}`;
    this.tensors.push({ activity, json });
  }

  /** True when TENSORS is traced (callers skip building tensor records otherwise). */
  get tracesTensors(): boolean {
    return this.levels.includes('TENSORS');
  }

  /** Ends the trace (once): it goes to the trace file or the OpenTelemetry exporter. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink(this);
  }

  /** The trace as Triton's trace-file JSON objects, comma-separated (no surrounding brackets). */
  toTritonJson(): string {
    let head = `{"id":${this.id},"model_name":${JSON.stringify(this.modelName)},"model_version":${this.modelVersion}`;
    if (this.requestId) head += `,"request_id":${JSON.stringify(this.requestId)}`;
    if (this.parentId !== 0) head += `,"parent_id":${this.parentId}`;
    head += '}';
    const parts = [head];
    // Tensor records go where Triton emits them: queue inputs after QUEUE_START, outputs before REQUEST_END.
    const inputs = this.tensors.filter((t) => t.activity === 'TENSOR_QUEUE_INPUT');
    const outputs = this.tensors.filter((t) => t.activity === 'TENSOR_BACKEND_OUTPUT');
    let inputsDone = inputs.length === 0;
    let outputsDone = outputs.length === 0;
    for (const ts of this.timestamps) {
      if (!outputsDone && ts.name === 'REQUEST_END') {
        parts.push(...outputs.map((t) => t.json));
        outputsDone = true;
      }
      parts.push(`{"id":${this.id},"timestamps":[{"name":"${ts.name}","ns":${ts.ns}}]}`);
      if (!inputsDone && ts.name === 'QUEUE_START') {
        parts.push(...inputs.map((t) => t.json));
        inputsDone = true;
      }
    }
    if (!inputsDone) parts.push(...inputs.map((t) => t.json));
    if (!outputsDone) parts.push(...outputs.map((t) => t.json));
    return parts.join(',');
  }
}

/** Trace settings as the trace extension shows them (every value a string, level a list). */
export type TraceSettingsJson = Record<string, string | string[]>;

/** Sampling state of one settings object (global or a model's). */
interface Sampler {
  sample: number;
}

/** Where finished traces go. */
interface TraceSink {
  write(trace: RequestTrace): void;
  /** Writes what is buffered; on close also releases resources. */
  close(): Promise<void>;
}

/**
 * Triton's trace file (`TraceFile`/`TraceSetting::WriteTrace`): with `log_frequency` N > 0 every N
 * traces go to `<file>.<index>` (index from 0); otherwise (and for what is left at shutdown with
 * N = 0) traces go to `<file>` as one JSON array.
 */
class TritonTraceFile implements TraceSink {
  private pending: string[] = [];
  private main: string[] = [];
  private index = 0;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly settings: () => TraceSettings,
    private readonly log: Logger,
  ) {}

  write(trace: RequestTrace): void {
    const s = this.settings();
    this.pending.push(trace.toTritonJson());
    if (s.logFrequency > 0 && this.pending.length >= s.logFrequency) this.saveIndexed(s.file);
  }

  private saveIndexed(file: string): void {
    const body = `[${this.pending.join(',')}]`;
    this.pending = [];
    const name = `${file}.${this.index++}`;
    this.writes = this.writes.then(() =>
      fs.promises
        .writeFile(name, body)
        .catch((e: Error) => this.log.error(`failed creating trace file: ${e.message}`)),
    );
  }

  /** Writes what is pending: to an indexed file with log_frequency, else to the main file. */
  flush(): Promise<void> {
    const s = this.settings();
    if (this.pending.length > 0 && s.file) {
      if (s.logFrequency > 0) {
        this.saveIndexed(s.file);
      } else {
        this.main.push(...this.pending);
        this.pending = [];
        const body = `[${this.main.join(',')}]`;
        this.writes = this.writes.then(() =>
          fs.promises
            .writeFile(s.file, body)
            .catch((e: Error) => this.log.error(`failed creating trace file: ${e.message}`)),
        );
      }
    }
    return this.writes;
  }

  close(): Promise<void> {
    return this.flush();
  }
}

/** Epoch ns minus steady-clock ns, to place steady timestamps on the wall clock (OpenTelemetry). */
const EPOCH_OFFSET_NS = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - nowNs();

function hrTime(steadyNs: bigint): [number, number] {
  const e = steadyNs + EPOCH_OFFSET_NS;
  return [Number(e / 1_000_000_000n), Number(e % 1_000_000_000n)];
}

const MODEL_SPAN_EVENTS = new Set(['REQUEST_START', 'QUEUE_START', 'REQUEST_END']);
const COMPUTE_SPAN_EVENTS = new Set([
  'COMPUTE_START',
  'COMPUTE_INPUT_END',
  'COMPUTE_OUTPUT_START',
  'COMPUTE_END',
]);

/** OpenTelemetry export: spans built from a finished trace's timestamps, batched to OTLP/HTTP. */
class OtelSink implements TraceSink {
  private constructor(
    private readonly provider: import('@opentelemetry/sdk-trace-base').BasicTracerProvider,
    private readonly tracer: import('@opentelemetry/api').Tracer,
    private readonly api: typeof import('@opentelemetry/api'),
  ) {}

  static async create(settings: OtelSettings): Promise<OtelSink> {
    const api = await import('@opentelemetry/api');
    const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const { resourceFromAttributes } = await import('@opentelemetry/resources');
    const resource: Record<string, string> = { ...settings.resource };
    for (const part of (process.env.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
      const eq = part.indexOf('=');
      if (eq > 0 && !(part.slice(0, eq) in settings.resource))
        resource[part.slice(0, eq)] = part.slice(eq + 1);
    }
    const exporter = new OTLPTraceExporter({ url: settings.url });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes(resource),
      spanProcessors: [
        new BatchSpanProcessor(exporter, {
          maxQueueSize: settings.bspMaxQueueSize,
          scheduledDelayMillis: settings.bspScheduleDelayMs,
          maxExportBatchSize: Math.min(settings.bspMaxExportBatchSize, settings.bspMaxQueueSize),
        }),
      ],
    });
    return new OtelSink(provider, provider.getTracer('triton-server'), api);
  }

  write(trace: RequestTrace): void {
    const { api } = this;
    const ts = trace.timestamps;
    if (ts.length === 0) return;
    const first = ts[0].ns;
    const last = ts.reduce((m, t) => (t.ns > m ? t.ns : m), first);
    const parent = trace.parentContext ?? api.ROOT_CONTEXT;
    const kind = api.SpanKind.SERVER;
    const root = this.tracer.startSpan('InferRequest', { kind, startTime: hrTime(first) }, parent);
    const rootCtx = api.trace.setSpan(parent, root);
    const find = (name: string) => ts.find((t) => t.name === name)?.ns;
    const reqStart = find('REQUEST_START');
    let model: import('@opentelemetry/api').Span | undefined;
    let compute: import('@opentelemetry/api').Span | undefined;
    if (reqStart !== undefined) {
      const attributes: Record<string, string | number> = {
        'triton.model_name': trace.modelName,
        'triton.model_version': trace.modelVersion,
        'triton.trace_id': trace.id,
        'triton.trace_parent_id': trace.parentId,
      };
      if (trace.requestId) attributes['triton.request_id'] = trace.requestId;
      model = this.tracer.startSpan(
        trace.modelName,
        { kind, startTime: hrTime(reqStart), attributes },
        rootCtx,
      );
      const cStart = find('COMPUTE_START');
      if (cStart !== undefined) {
        compute = this.tracer.startSpan(
          'compute',
          { kind, startTime: hrTime(cStart) },
          api.trace.setSpan(rootCtx, model),
        );
      }
    }
    for (const t of ts) {
      const span = MODEL_SPAN_EVENTS.has(t.name) ? model : COMPUTE_SPAN_EVENTS.has(t.name) ? compute : root;
      (span ?? root).addEvent(t.name, hrTime(t.ns));
    }
    compute?.end(hrTime(find('COMPUTE_END') ?? last));
    model?.end(hrTime(find('REQUEST_END') ?? last));
    root.end(hrTime(last));
  }

  async close(): Promise<void> {
    await this.provider.forceFlush();
    await this.provider.shutdown();
  }
}

/**
 * The server's tracing: settings (global and per model), sampling, and the trace sink of the mode.
 * Frontends call `start()` only when `enabled`.
 */
export class TraceManager {
  /** True when any settings could trace a request (checked by frontends before anything else). */
  enabled = false;
  private readonly defaults: TraceSettings;
  private global: TraceSettings;
  private readonly globalSampler: Sampler = { sample: 0 };
  private readonly models = new Map<string, { override: Partial<TraceSettings>; sampler: Sampler }>();
  private nextId = 1;
  private sink: TraceSink | undefined;
  private propagator: import('@opentelemetry/core').W3CTraceContextPropagator | undefined;
  private api: typeof import('@opentelemetry/api') | undefined;

  private constructor(
    readonly mode: TraceMode,
    config: TraceConfig,
    sink: TraceSink | undefined,
    private readonly log: Logger,
  ) {
    this.defaults = structuredClone(config.global);
    this.global = structuredClone(config.global);
    this.sink = sink;
    this.refresh();
  }

  /**
   * Creates the trace manager; in opentelemetry mode loads the OpenTelemetry SDK and its OTLP/HTTP
   * exporter (they are not loaded otherwise).
   */
  static async create(config: TraceConfig, log: Logger): Promise<TraceManager> {
    let sink: TraceSink | undefined;
    let extra:
      | {
          api: typeof import('@opentelemetry/api');
          propagator: import('@opentelemetry/core').W3CTraceContextPropagator;
        }
      | undefined;
    if (config.mode === 'opentelemetry') {
      sink = await OtelSink.create(config.otel);
      const { W3CTraceContextPropagator } = await import('@opentelemetry/core');
      extra = { api: await import('@opentelemetry/api'), propagator: new W3CTraceContextPropagator() };
    }
    const m = new TraceManager(config.mode, config, sink, log);
    if (config.mode === 'triton') {
      m.sink = new TritonTraceFile(() => m.global, log);
      if (config.global.level.length > 0 && !config.global.file) {
        log.warn(
          'trace level is set but no trace file is given (--trace-config triton,file=<path>): nothing is traced',
        );
      }
    }
    if (extra) {
      m.api = extra.api;
      m.propagator = extra.propagator;
    }
    m.refresh();
    return m;
  }

  /** A manager with tracing off (tools and tests that do not trace). */
  static disabled(log: Logger): TraceManager {
    return new TraceManager('triton', defaultTraceConfig(), undefined, log);
  }

  private effective(model: string | undefined): TraceSettings {
    const m = model === undefined ? undefined : this.models.get(model);
    return m ? { ...this.global, ...m.override } : this.global;
  }

  /** Triton's `TraceSetting::Valid()` reason, or '' when the settings can trace. */
  private invalidReason(s: TraceSettings): string {
    if (s.level.length === 0) return 'tracing is disabled';
    if (s.rate === 0) return 'sample rate must be non-zero';
    if (this.mode === 'triton' && !s.file) return 'trace file name is not given';
    return '';
  }

  private refresh(): void {
    if (!this.sink) {
      this.enabled = false;
      return;
    }
    const all = [this.global, ...[...this.models.keys()].map((k) => this.effective(k))];
    // With opentelemetry, a propagated context is traced even at rate 0.
    this.enabled = all.some(
      (s) =>
        s.count !== 0 &&
        (this.invalidReason(s) === '' || (this.mode === 'opentelemetry' && s.level.length > 0)),
    );
  }

  /**
   * Samples a request for `model`: a RequestTrace when it is to be traced, else undefined.
   * @param carrier reads a W3C trace-context header (`traceparent`, `tracestate`) of the request.
   */
  start(model: string, carrier?: (key: string) => string | undefined): RequestTrace | undefined {
    const m = this.models.get(model);
    const s = m ? { ...this.global, ...m.override } : this.global;
    let parent: Context | undefined;
    if (this.propagator && this.api && carrier && carrier('traceparent') !== undefined) {
      parent = this.propagator.extract(this.api.ROOT_CONTEXT, carrier, {
        get: (c, key) => (c as (k: string) => string | undefined)(key),
        keys: () => ['traceparent', 'tracestate'],
      });
      if (this.api.trace.getSpanContext(parent) === undefined) parent = undefined;
    }
    if (s.level.length === 0 || !this.sink) return undefined;
    if (!parent) {
      if (this.invalidReason(s) !== '' || s.count === 0) return undefined;
      const sampler =
        m && (m.override.rate !== undefined || m.override.count !== undefined)
          ? m.sampler
          : this.globalSampler;
      if (++sampler.sample % s.rate !== 0) return undefined;
      if (s.count > 0) {
        const owner = m && m.override.count !== undefined ? m.override : this.global;
        owner.count = s.count - 1;
        if (owner.count === 0) this.refresh();
      }
    }
    const sink = this.sink;
    return new RequestTrace(this.nextId++, model, s.level, (t) => sink.write(t), parent);
  }

  /** Settings of `model` (or the global ones) as the trace extension shows them. */
  settings(model?: string): TraceSettingsJson {
    const s = this.effective(model);
    return {
      trace_level: s.level.length > 0 ? [...s.level] : ['OFF'],
      trace_rate: String(s.rate),
      trace_count: String(s.count),
      log_frequency: String(s.logFrequency),
      trace_file: s.file,
      trace_mode: this.mode,
    };
  }

  /**
   * Updates settings (POST /v2[/models/{m}]/trace/setting, gRPC TraceSetting). Values are strings
   * (trace_level a list); null (or an empty list over gRPC) resets a key: a model's to the global
   * value, a global one to its start-up value. A model request without settings removes the model's
   * own settings.
   * @throws TritonError INVALID_ARG for unknown keys, bad values, `trace_file` (not changeable over the
   *   network, as in Triton), settings that cannot trace (other than turning tracing off), or updates
   *   in opentelemetry mode.
   */
  update(model: string | undefined, body: Record<string, unknown>): TraceSettingsJson {
    if (this.mode === 'opentelemetry') {
      throw new TritonError(
        'UNSUPPORTED',
        'updating trace settings is not supported in opentelemetry trace mode',
      );
    }
    const keys = Object.keys(body);
    if (model !== undefined && keys.length === 0) {
      this.models.delete(model);
      this.refresh();
      return this.settings(model);
    }
    const base: Partial<TraceSettings> =
      model === undefined ? { ...this.global } : { ...(this.models.get(model)?.override ?? {}) };
    const reset = (k: keyof TraceSettings) => {
      if (model === undefined) (base as Record<string, unknown>)[k] = structuredClone(this.defaults[k]);
      else delete base[k];
    };
    const str = (key: string, v: unknown): string => {
      if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
      if (typeof v !== 'string') throw new TritonError('INVALID_ARG', `expect string for '${key}'`);
      return v;
    };
    for (const key of keys) {
      const v = body[key];
      const clear = v === null || (Array.isArray(v) && v.length === 0);
      switch (key) {
        case 'trace_file':
          throw new TritonError(
            'INVALID_ARG',
            'trace file location can not be updated through network protocol',
          );
        case 'trace_level': {
          if (clear) {
            reset('level');
            break;
          }
          const list = Array.isArray(v) ? v : [v];
          const levels: TraceLevel[] = [];
          for (const l of list) {
            if (typeof l !== 'string' || !LEVELS.includes(l)) {
              throw new TritonError(
                'INVALID_ARG',
                `invalid value for 'trace_level': expected OFF, TIMESTAMPS or TENSORS, got ${JSON.stringify(l)}`,
              );
            }
            if (l !== 'OFF' && !levels.includes(l as TraceLevel)) levels.push(l as TraceLevel);
          }
          base.level = levels;
          break;
        }
        case 'trace_rate':
          if (clear) reset('rate');
          else base.rate = parseCount(key, str(key, v), 0);
          break;
        case 'trace_count':
          if (clear) reset('count');
          else base.count = parseCount(key, str(key, v), -1);
          break;
        case 'log_frequency':
          if (clear) reset('logFrequency');
          else base.logFrequency = parseCount(key, str(key, v), 0);
          break;
        default:
          throw new TritonError('INVALID_ARG', `unknown trace setting '${key}'`);
      }
    }
    const candidate = model === undefined ? (base as TraceSettings) : { ...this.global, ...base };
    const reason = this.invalidReason(candidate);
    if (reason && candidate.level.length > 0) {
      throw new TritonError('INVALID_ARG', `Attempting to set invalid trace setting :${reason}`);
    }
    if (model === undefined) {
      if (this.sink instanceof TritonTraceFile) void this.sink.flush();
      this.global = base as TraceSettings;
      this.globalSampler.sample = 0;
    } else {
      this.models.set(model, { override: base, sampler: { sample: 0 } });
    }
    this.refresh();
    return this.settings(model);
  }

  /** Writes buffered traces (trace file) or exports pending spans, then releases the exporter. */
  async close(): Promise<void> {
    try {
      await this.sink?.close();
    } catch (e) {
      this.log.error(`failed to write traces: ${(e as Error).message}`);
    }
  }
}
