/**
 * The gRPC frontend: Triton's `inference.GRPCInferenceService` and `grpc.health.v1.Health` on
 * `@grpc/grpc-js` (server `src/grpc/grpc_server.cc`, `infer_handler.cc`, `stream_infer_handler.cc`;
 * protocol in docs/protocol/*.md and common `protobuf/grpc_service.proto`). It only translates
 * between protobuf messages and calls on the protocol-free core.
 *
 *   ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata, ModelConfig,
 *   ModelStatistics, RepositoryIndex                     answered from the core
 *   RepositoryModelLoad/Unload                             model repository extension (explicit mode)
 *   ModelInfer                                             unary inference
 *   ModelStreamInfer                                       bidirectional streaming inference
 *   LogSettings                                            log settings (extension_logging.md)
 *   TraceSetting                                           trace settings (extension_trace.md)
 *   {System,Cuda}SharedMemory{Status,Register,Unregister},
 *   Health/Watch                                           UNIMPLEMENTED with a message saying why
 *   grpc.health.v1.Health/Check                            SERVING when the server is ready
 *
 * Errors carry Triton's gRPC status for the core's code (`src/grpc/grpc_utils.cc`): INTERNAL,
 * NOT_FOUND, INVALID_ARGUMENT (unknown models included, with the same message as HTTP), UNAVAILABLE,
 * UNIMPLEMENTED (UNSUPPORTED), ALREADY_EXISTS, CANCELLED, else UNKNOWN.
 */
import * as grpc from '@grpc/grpc-js';
import { modelConfigToJson } from '../../protocol/model-config/index.js';
import { asTritonError, grpcStatusOf, TritonError } from '../../protocol/errors.js';
import { withForwardedHeaders } from '../../core/forwarded-headers.js';
import { logSettingsJson, updateLogSettings, type Logger } from '../../core/logger.js';
import {
  allowed,
  requiredHeader,
  type RestrictedCategory,
  type Restrictions,
} from '../../core/restricted.js';
import type { InferenceRequest } from '../../core/request.js';
import type { RequestTrace } from '../../core/trace.js';
import type { InferenceServer, ModelLoadParameters } from '../../core/server.js';
import {
  decodeInferRequest,
  encodeInferResponse,
  parseInferRequest,
  parseModelVersion,
  type DecodedInfer,
  type StreamState,
} from './infer.js';
import type { ModelStreamInferResponseMsg } from '../../protocol/grpc/messages.js';
import {
  HEALTH_SERVICE,
  INFERENCE_SERVICE,
  MAX_GRPC_MESSAGE_SIZE,
  hasField,
  messageType,
  serviceDefinition,
} from '../../protocol/grpc/protos.js';

/** `--grpc-infer-response-compression-level` values (Triton's). */
export type GrpcCompressionLevel = 'none' | 'low' | 'medium' | 'high';

/** gRPC frontend settings (the CLI's `--grpc-*` flags; defaults are tritonserver's). */
export interface GrpcOptions {
  /** `--grpc-port` (8001); 0 picks a free port. */
  port: number;
  /** `--grpc-address` (0.0.0.0). */
  address?: string;
  /** `--grpc-keepalive-time`: ms between keepalive pings on an idle connection (7200000). */
  keepaliveTimeMs?: number;
  /** `--grpc-keepalive-timeout`: ms to wait for a ping's answer before closing (20000). */
  keepaliveTimeoutMs?: number;
  /** `--grpc-keepalive-permit-without-calls` (false); passed to grpc-js, which does not enforce it. */
  keepalivePermitWithoutCalls?: boolean;
  /** `--grpc-http2-max-pings-without-data` (2); passed to grpc-js, which does not enforce it. */
  http2MaxPingsWithoutData?: number;
  /** `--grpc-http2-min-recv-ping-interval-without-data` in ms (300000); not enforced by grpc-js. */
  http2MinRecvPingIntervalWithoutDataMs?: number;
  /** `--grpc-http2-max-ping-strikes` (2); not enforced by grpc-js. */
  http2MaxPingStrikes?: number;
  /**
   * `--grpc-infer-response-compression-level` (none). @grpc/grpc-js cannot compress server
   * messages, so anything but `none` is accepted with a warning and responses go uncompressed (which
   * every gRPC client accepts).
   */
  inferResponseCompressionLevel?: GrpcCompressionLevel;
  /** Largest message received or sent, in bytes (2^31 - 1, as Triton). */
  maxMessageSize?: number;
  /** `--grpc-max-connection-age` in ms: connections are closed (GOAWAY) after this age (none). */
  maxConnectionAgeMs?: number;
  /** `--grpc-max-connection-age-grace` in ms: calls may finish this long after GOAWAY (none). */
  maxConnectionAgeGraceMs?: number;
  /**
   * TLS (`--grpc-use-ssl`, `--grpc-server-cert`, `--grpc-server-key`, `--grpc-root-cert`,
   * `--grpc-use-ssl-mutual`): PEM contents; without it the port is plaintext.
   */
  ssl?: { cert: Buffer; key: Buffer; rootCert?: Buffer; mutual: boolean };
  /**
   * `--grpc-restricted-protocol`: RPC groups that need a metadata entry; the header names include
   * Triton's `triton-grpc-protocol-` prefix.
   */
  restrictedProtocols?: Restrictions;
  /** `--grpc-header-forward-pattern`: metadata forwarded to models as request parameters. */
  headerForwardPattern?: RegExp;
}

/** The restricted-protocol category of each RPC (Triton's `src/grpc/grpc_server.cc`). */
const RPC_CATEGORY: Record<string, RestrictedCategory> = {
  ServerLive: 'health',
  ServerReady: 'health',
  ModelReady: 'health',
  ServerMetadata: 'metadata',
  ModelMetadata: 'metadata',
  ModelConfig: 'model-config',
  ModelStatistics: 'statistics',
  RepositoryIndex: 'model-repository',
  RepositoryModelLoad: 'model-repository',
  RepositoryModelUnload: 'model-repository',
  SystemSharedMemoryStatus: 'shared-memory',
  SystemSharedMemoryRegister: 'shared-memory',
  SystemSharedMemoryUnregister: 'shared-memory',
  CudaSharedMemoryStatus: 'shared-memory',
  CudaSharedMemoryRegister: 'shared-memory',
  CudaSharedMemoryUnregister: 'shared-memory',
  TraceSetting: 'trace',
  LogSettings: 'logging',
  ModelInfer: 'inference',
  ModelStreamInfer: 'inference',
};

/** A metadata entry's value as a string, by lowercase key (the first one when repeated). */
function metadataValue(metadata: grpc.Metadata, key: string): string | undefined {
  const v = metadata.get(key)[0];
  return v === undefined ? undefined : String(v);
}

/** Triton's status for a call to a restricted RPC without the expected metadata entry. */
function restrictedError(restrictions: Restrictions | undefined, category: RestrictedCategory): TritonError {
  return new TritonError(
    'UNAVAILABLE',
    `This protocol is restricted, expecting header '${requiredHeader(restrictions, category)}'`,
  );
}

function serviceError(e: unknown): Partial<grpc.StatusObject> {
  const err = asTritonError(e);
  return { code: grpcStatusOf(err.code), details: err.message };
}

/** Why each not-yet-built RPC answers UNIMPLEMENTED. */
const UNIMPLEMENTED: Record<string, string> = {
  SystemSharedMemoryStatus:
    'system shared memory is not implemented by this server yet (system_shared_memory is not listed in its extensions)',
  SystemSharedMemoryRegister:
    'system shared memory is not implemented by this server yet (system_shared_memory is not listed in its extensions)',
  SystemSharedMemoryUnregister:
    'system shared memory is not implemented by this server yet (system_shared_memory is not listed in its extensions)',
  CudaSharedMemoryStatus:
    'CUDA shared memory is not implemented by this server yet (cuda_shared_memory is not listed in its extensions)',
  CudaSharedMemoryRegister:
    'CUDA shared memory is not implemented by this server yet (cuda_shared_memory is not listed in its extensions)',
  CudaSharedMemoryUnregister:
    'CUDA shared memory is not implemented by this server yet (cuda_shared_memory is not listed in its extensions)',
};

/** A ModelRepositoryParameter (oneof bool_param, int64_param, string_param, bytes_param). */
type RepositoryParameter = {
  bool_param?: boolean;
  int64_param?: number | string;
  string_param?: string;
  bytes_param?: Uint8Array;
};

/**
 * RepositoryModelLoad parameters → core load parameters: `config` must be a string_param and
 * `file:<path>` a bytes_param (Triton's checks and messages); other keys are ignored.
 * @throws TritonError INVALID_ARG naming the parameter.
 */
function loadParameters(parameters: Record<string, RepositoryParameter> | undefined): ModelLoadParameters {
  const out: ModelLoadParameters = {};
  for (const [key, v] of Object.entries(parameters ?? {})) {
    if (key === 'config') {
      if (!hasField(v, 'string_param'))
        throw new TritonError('INVALID_ARG', "Config parameter 'config' must have string type for its value");
      out.config = v.string_param;
    } else if (key.startsWith('file:')) {
      if (!hasField(v, 'bytes_param'))
        throw new TritonError('INVALID_ARG', `File parameter '${key}' must have bytes type for its value`);
      (out.files ??= new Map()).set(key.slice('file:'.length), v.bytes_param ?? new Uint8Array());
    }
  }
  return out;
}

/** A LogSettings setting value (oneof bool_param, uint32_param, string_param). */
type LogSettingValue = { bool_param?: boolean; uint32_param?: number; string_param?: string };

/** Core log settings → LogSettingsResponse settings. */
function logSettingsMessage(json: ReturnType<typeof logSettingsJson>): Record<string, LogSettingValue> {
  return {
    log_file: { string_param: json.log_file },
    log_info: { bool_param: json.log_info },
    log_warning: { bool_param: json.log_warning },
    log_error: { bool_param: json.log_error },
    log_verbose_level: { uint32_param: json.log_verbose_level },
    log_format: { string_param: json.log_format },
  };
}

/** Trace extension settings → TraceSettingResponse settings (every value a list of strings). */
function traceSettingsMessage(json: Record<string, string | string[]>): Record<string, { value: string[] }> {
  const out: Record<string, { value: string[] }> = {};
  for (const [k, v] of Object.entries(json)) out[k] = { value: Array.isArray(v) ? v : [v] };
  return out;
}

/** Stream responses waiting to be written, at most this many before reading pauses. */
const MAX_PENDING_STREAM_RESPONSES = 4096;

type UnaryCall = grpc.ServerUnaryCall<unknown, unknown>;
type Callback = grpc.sendUnaryData<unknown>;

/** An open ModelStreamInfer call, as close() sees it. */
interface OpenStream {
  /** Ends the stream once its pending responses are written (new requests get an error meanwhile). */
  drain(): void;
}

/** The gRPC frontend over one InferenceServer. */
export class GrpcFrontend {
  private readonly server: grpc.Server;
  private readonly streams = new Set<OpenStream>();
  private closing = false;
  private readonly log: Logger;

  constructor(
    private readonly core: InferenceServer,
    private readonly options: GrpcOptions,
  ) {
    this.log = core.logger;
    const max = options.maxMessageSize ?? MAX_GRPC_MESSAGE_SIZE;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': max,
      'grpc.max_send_message_length': max,
      'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 7_200_000,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 20_000,
      'grpc.keepalive_permit_without_calls': options.keepalivePermitWithoutCalls ? 1 : 0,
      'grpc.http2.max_pings_without_data': options.http2MaxPingsWithoutData ?? 2,
      'grpc.http2.min_ping_interval_without_data_ms':
        options.http2MinRecvPingIntervalWithoutDataMs ?? 300_000,
      'grpc.http2.max_ping_strikes': options.http2MaxPingStrikes ?? 2,
      // channelz (gRPC's introspection service) is not served; skip its per-call bookkeeping.
      'grpc.enable_channelz': 0,
    };
    if (options.maxConnectionAgeMs !== undefined)
      channelOptions['grpc.max_connection_age_ms'] = options.maxConnectionAgeMs;
    if (options.maxConnectionAgeGraceMs !== undefined)
      channelOptions['grpc.max_connection_age_grace_ms'] = options.maxConnectionAgeGraceMs;
    const level = options.inferResponseCompressionLevel ?? 'none';
    if (level !== 'none') {
      this.log.warn(
        `--grpc-infer-response-compression-level=${level}: @grpc/grpc-js cannot compress server messages; inference responses are sent uncompressed`,
      );
    }
    this.server = new grpc.Server(channelOptions);
    const infer = (b: Buffer) => decodeInferRequest(b);
    this.server.addService(
      serviceDefinition(INFERENCE_SERVICE, {
        requestDeserialize: { ModelInfer: infer, ModelStreamInfer: infer },
      }),
      this.inferenceHandlers(),
    );
    this.server.addService(serviceDefinition(HEALTH_SERVICE), {
      Check: this.restrict(
        this.unary(() => ({ status: this.core.isReady() ? 1 : 2 })),
        'health',
      ),
      Watch: (call: grpc.ServerWritableStream<unknown, unknown>) =>
        call.emit('error', {
          code: grpc.status.UNIMPLEMENTED,
          details: 'grpc.health.v1.Health/Watch is not implemented by this server: use Check',
        }),
    });
  }

  /** Starts listening; resolves with the bound port. @throws Error when the address cannot be bound. */
  listen(): Promise<number> {
    const address = this.options.address ?? '0.0.0.0';
    const host = address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
    return new Promise((resolve, reject) => {
      const ssl = this.options.ssl;
      const credentials = ssl
        ? grpc.ServerCredentials.createSsl(
            ssl.rootCert ?? null,
            [{ private_key: ssl.key, cert_chain: ssl.cert }],
            ssl.mutual,
          )
        : grpc.ServerCredentials.createInsecure();
      this.server.bindAsync(`${host}:${this.options.port}`, credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      );
    });
  }

  /**
   * Stops accepting calls: open streams end once their pending responses are written (requests
   * arriving meanwhile get Triton's "shutting down" error), in-flight unary calls finish, then the
   * listener closes. After `timeoutMs` whatever is left is cut off.
   */
  close(timeoutMs = 30_000): Promise<void> {
    this.closing = true;
    for (const s of [...this.streams]) s.drain();
    return new Promise((resolve) => {
      // grpc-js does not call tryShutdown's callback for sessions that forceShutdown destroys.
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, timeoutMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * A unary handler that first refuses calls without the metadata entry `--grpc-restricted-protocol`
   * asks for `category` (Triton's UNAVAILABLE "This protocol is restricted…"); the handler itself
   * when the category is open.
   */
  private restrict(handler: grpc.UntypedHandleCall, category: RestrictedCategory): grpc.UntypedHandleCall {
    const restrictions = this.options.restrictedProtocols;
    if (!restrictions?.[category]) return handler;
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    return ((call: UnaryCall, callback: Callback) => {
      if (allowed(restrictions, category, (k) => metadataValue(call.metadata, k))) unary(call, callback);
      else callback(serviceError(restrictedError(restrictions, category)));
    }) as grpc.UntypedHandleCall;
  }

  /** Wraps a synchronous or async handler of a unary RPC; thrown errors become gRPC statuses. */
  private unary<Req>(fn: (req: Req, call: UnaryCall) => unknown): grpc.handleUnaryCall<unknown, unknown> {
    return (call: UnaryCall, callback: Callback) => {
      let result: unknown;
      try {
        result = fn(call.request as Req, call);
      } catch (e) {
        callback(serviceError(e));
        return;
      }
      if (result instanceof Promise) {
        result.then(
          (r) => callback(null, r),
          (e) => callback(serviceError(e)),
        );
      } else {
        callback(null, result);
      }
    };
  }

  private inferenceHandlers(): grpc.UntypedServiceImplementation {
    type NameVersion = { name: string; version: string };
    const core = this.core;
    const handlers: grpc.UntypedServiceImplementation = {
      ServerLive: this.unary(() => ({ live: core.isLive() })),
      ServerReady: this.unary(() => ({ ready: core.isReady() })),
      ModelReady: this.unary((r: NameVersion) => ({
        ready: core.isModelReady(r.name, parseModelVersion(r.version)),
      })),
      ServerMetadata: this.unary(() => core.metadata()),
      ModelMetadata: this.unary((r: NameVersion) => core.modelMetadata(r.name, parseModelVersion(r.version))),
      ModelConfig: this.unary((r: NameVersion) => {
        const config = core.modelConfig(r.name, parseModelVersion(r.version));
        return { config: messageType('ModelConfig').fromObject(modelConfigToJson(config)) };
      }),
      ModelStatistics: this.unary((r: NameVersion) => ({
        model_stats: core.statistics(r.name, parseModelVersion(r.version)),
      })),
      RepositoryIndex: this.unary(async (r: { ready: boolean }) => ({
        models: (await core.repositoryIndex(r.ready)).map((m) => ({
          name: m.name,
          version: m.version ?? '',
          state: m.state ?? '',
          reason: m.reason ?? '',
        })),
      })),
      RepositoryModelLoad: this.unary(
        async (r: { model_name: string; parameters?: Record<string, RepositoryParameter> }) => {
          await core.loadModel(r.model_name, loadParameters(r.parameters));
          return {};
        },
      ),
      RepositoryModelUnload: this.unary(
        async (r: { model_name: string; parameters?: Record<string, RepositoryParameter> }) => {
          const p = r.parameters?.unload_dependents;
          if (p && !hasField(p, 'bool_param')) {
            throw new TritonError('INVALID_ARG', "Unload parameter 'unload_dependents' must be a boolean");
          }
          await core.unloadModel(r.model_name, p?.bool_param === true);
          return {};
        },
      ),
      LogSettings: this.unary((r: { settings?: Record<string, LogSettingValue> }) => {
        const update: Record<string, unknown> = {};
        for (const [key, v] of Object.entries(r.settings ?? {})) {
          const kind = (['bool_param', 'uint32_param', 'string_param'] as const).find((k) => hasField(v, k));
          update[key] = kind === undefined ? null : v[kind];
        }
        let json;
        try {
          json = updateLogSettings(this.log.settings, update);
        } catch (e) {
          throw new TritonError('INVALID_ARG', (e as Error).message);
        }
        return { settings: logSettingsMessage(json) };
      }),
      TraceSetting: this.unary(
        (r: { settings?: Record<string, { value?: string[] }>; model_name?: string }) => {
          const model = r.model_name ? r.model_name : undefined;
          if (model !== undefined) core.modelConfig(model);
          const entries = Object.entries(r.settings ?? {});
          if (entries.length === 0 && model === undefined) {
            return { settings: traceSettingsMessage(core.tracer.settings()) };
          }
          const update: Record<string, unknown> = {};
          for (const [key, v] of entries) {
            const values = v.value ?? [];
            update[key] = values.length === 0 ? null : key === 'trace_level' ? values : values[0];
          }
          return { settings: traceSettingsMessage(core.tracer.update(model, update)) };
        },
      ),
      ModelInfer: this.unary((decoded: DecodedInfer, call) => this.infer(decoded, call)),
      ModelStreamInfer: (call: grpc.ServerDuplexStream<DecodedInfer, ModelStreamInferResponseMsg>) =>
        this.streamInfer(call),
    };
    for (const [method, why] of Object.entries(UNIMPLEMENTED)) {
      handlers[method] = this.unary(() => {
        throw new TritonError('UNSUPPORTED', why);
      });
    }
    // Every unary RPC checks its restricted-protocol category (ModelStreamInfer checks in streamInfer).
    for (const [method, category] of Object.entries(RPC_CATEGORY)) {
      const handler = handlers[method];
      if (handler && method !== 'ModelStreamInfer') handlers[method] = this.restrict(handler, category);
    }
    return handlers;
  }

  /**
   * Samples a gRPC request for tracing: GRPC_WAITREAD_START/END when its message has been read (grpc-js
   * hands handlers whole messages, so both mark the handler's start); the W3C `traceparent` metadata
   * entry is the OpenTelemetry parent.
   */
  private startTrace(model: string, metadata: grpc.Metadata): RequestTrace | undefined {
    const trace = this.core.tracer.start(model, (key) => {
      const v = metadata.get(key)[0];
      return v === undefined ? undefined : String(v);
    });
    if (trace) {
      trace.record('GRPC_WAITREAD_START');
      trace.record('GRPC_WAITREAD_END');
    }
    return trace;
  }

  /** `--grpc-header-forward-pattern`: matching metadata entries become request parameters. */
  private forwardMetadata(request: InferenceRequest, metadata: grpc.Metadata): void {
    const regex = this.options.headerForwardPattern;
    if (!regex) return;
    const entries = Object.entries(metadata.getMap()).map(([k, v]): [string, string] => [k, String(v)]);
    request.parameters = withForwardedHeaders(regex, entries, request.parameters);
  }

  /** Ends a gRPC trace once the response was handed to grpc-js (GRPC_SEND_END). */
  private endTrace(trace: RequestTrace | undefined): void {
    if (!trace) return;
    setImmediate(() => {
      trace.record('GRPC_SEND_END');
      trace.end();
    });
  }

  /** ModelInfer: unknown models are reported before anything about the tensors (as Triton does). */
  private async infer(decoded: DecodedInfer, call: UnaryCall): Promise<unknown> {
    const msg = decoded.message;
    const version = parseModelVersion(msg.model_version);
    if (this.core.getModel(msg.model_name, version).decoupled) {
      throw new TritonError(
        'UNSUPPORTED',
        "ModelInfer RPC doesn't support models with decoupled transaction policy",
      );
    }
    const trace = this.core.tracer.enabled ? this.startTrace(msg.model_name, call.metadata) : undefined;
    const request = parseInferRequest(decoded, version);
    this.forwardMetadata(request, call.metadata);
    const controller = new AbortController();
    const onCancel = () => controller.abort();
    call.once('cancelled', onCancel);
    request.signal = controller.signal;
    request.trace = trace;
    try {
      const response = await this.core.infer(request);
      trace?.record('GRPC_SEND_START');
      return encodeInferResponse(response);
    } finally {
      call.off('cancelled', onCancel);
      this.endTrace(trace);
    }
  }

  /**
   * One request of a stream → its stream response: the inference response with
   * `triton_final_response: true`, or `error_message` with the request's id (Triton's
   * ModelStreamInferHandler). A decoupled model's responses are passed to `write` as they come,
   * each with `triton_final_response` false except the last; a bare final flag becomes an empty
   * response only when the request set `triton_enable_empty_final_response`. Resolves with the
   * response to write in request order (undefined when everything was written already). Never rejects.
   */
  private async streamOne(
    decoded: DecodedInfer,
    inflight: Set<AbortController>,
    write: (response: ModelStreamInferResponseMsg) => void,
    metadata?: grpc.Metadata,
  ): Promise<ModelStreamInferResponseMsg | undefined> {
    const msg = decoded.message;
    const controller = new AbortController();
    inflight.add(controller);
    let trace: RequestTrace | undefined;
    const failed = (e: unknown): ModelStreamInferResponseMsg => {
      const err = asTritonError(e);
      this.log.verbose(1, () => `[request id: ${msg.id || '<id_unknown>'}] Infer failed: ${err.message}`);
      return {
        error_message: err.message,
        infer_response: {
          model_name: '',
          model_version: '',
          id: msg.id ?? '',
          outputs: [],
          raw_output_contents: [],
        },
      };
    };
    try {
      if (this.closing) {
        throw new TritonError(
          'UNAVAILABLE',
          'GRPC server is shutting down and has stopped accepting new requests.',
        );
      }
      const version = parseModelVersion(msg.model_version);
      const model = this.core.getModel(msg.model_name, version);
      const state: StreamState = { enableEmptyFinalResponse: false };
      if (this.core.tracer.enabled && metadata) trace = this.startTrace(msg.model_name, metadata);
      const request = parseInferRequest(decoded, version, state);
      if (metadata) this.forwardMetadata(request, metadata);
      request.signal = controller.signal;
      request.trace = trace;
      if (!model.decoupled) {
        const response = await this.core.infer(request);
        trace?.record('GRPC_SEND_START');
        return {
          error_message: '',
          infer_response: encodeInferResponse(response, { triton_final_response: { bool_param: true } }),
        };
      }
      await this.core.inferStream(request, (response, final) => {
        const flag = { triton_final_response: { bool_param: final } };
        if (response instanceof TritonError) {
          write(failed(response));
        } else if (response) {
          write({ error_message: '', infer_response: encodeInferResponse(response, flag) });
        } else if (final && state.enableEmptyFinalResponse) {
          write({
            error_message: '',
            infer_response: {
              model_name: msg.model_name,
              model_version: String(model.version),
              id: msg.id ?? '',
              parameters: flag,
              outputs: [],
              raw_output_contents: [],
            },
          });
        }
      });
      return undefined;
    } catch (e) {
      return failed(e);
    } finally {
      inflight.delete(controller);
      this.endTrace(trace);
    }
  }

  /**
   * ModelStreamInfer: every request is served as soon as it arrives (several in flight at once);
   * responses are written in request order, as Triton does for non-decoupled models. A bad request
   * gets an `error_message` response and the stream stays open. The stream ends (status OK) after
   * the client half-closes and every response is written; a client cancel aborts what is in flight.
   */
  private streamInfer(call: grpc.ServerDuplexStream<DecodedInfer, ModelStreamInferResponseMsg>): void {
    const restrictions = this.options.restrictedProtocols;
    if (!allowed(restrictions, 'inference', (k) => metadataValue(call.metadata, k))) {
      // Triton ends such a stream with the status once it is established.
      call.emit('error', serviceError(restrictedError(restrictions, 'inference')));
      return;
    }
    const pending: Array<{ done: boolean; response?: ModelStreamInferResponseMsg }> = [];
    const inflight = new Set<AbortController>();
    let readDone = false;
    let draining = false;
    let finished = false;
    let paused = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      this.streams.delete(open);
      if (!call.cancelled) call.end();
    };
    const flush = () => {
      while (pending.length > 0 && pending[0].done) {
        const { response } = pending.shift()!;
        if (response && !finished && !call.cancelled) call.write(response);
      }
      if (paused && pending.length < MAX_PENDING_STREAM_RESPONSES / 2) {
        paused = false;
        call.resume();
      }
      if ((readDone || draining) && pending.length === 0) finish();
    };
    const open: OpenStream = {
      drain: () => {
        draining = true;
        flush();
      },
    };
    this.streams.add(open);
    if (this.closing) open.drain();
    call.on('data', (decoded: DecodedInfer) => {
      if (finished) return;
      const slot: { done: boolean; response?: ModelStreamInferResponseMsg } = { done: false };
      pending.push(slot);
      if (!paused && pending.length >= MAX_PENDING_STREAM_RESPONSES) {
        paused = true;
        call.pause();
      }
      const writeNow = (response: ModelStreamInferResponseMsg) => {
        if (!finished && !call.cancelled) call.write(response);
      };
      void this.streamOne(decoded, inflight, writeNow, call.metadata).then((response) => {
        slot.done = true;
        slot.response = response;
        flush();
      });
    });
    call.on('end', () => {
      readDone = true;
      flush();
    });
    call.on('cancelled', () => {
      for (const c of inflight) c.abort();
      pending.length = 0;
      finish();
    });
  }
}
