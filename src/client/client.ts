/**
 * InferenceServerClient: one interface to Nereid (or Triton) over HTTP/REST or gRPC, modelled on
 * Triton's Python `tritonclient.http` / `tritonclient.grpc` (same operations, TypeScript names).
 */
import type * as grpc from '@grpc/grpc-js';
import { clientError } from './errors.js';
import { GrpcTransport } from './grpc.js';
import { HttpTransport } from './http.js';
import type { InferInput, InferResult } from './tensors.js';
import type {
  CallOptions,
  InferenceStatistics,
  InferOptions,
  LoadModelOptions,
  ModelMetadata,
  RepositoryIndexEntry,
  ServerMetadata,
  StreamCallback,
  StreamInferOptions,
  Transport,
  UnloadModelOptions,
} from './types.js';

/** Client settings. */
export interface ClientOptions {
  /**
   * The protocol, when the URL does not say: `http://…` is HTTP and `grpc://…` gRPC; a bare
   * `host:port` is HTTP unless this says `grpc`.
   */
  protocol?: 'http' | 'grpc';
  /** Extra grpc-js channel options (gRPC only), e.g. keepalive settings. */
  grpcChannelOptions?: grpc.ChannelOptions;
}

/**
 * A client of a KServe v2 / Triton inference server.
 *
 * ```ts
 * import { InferenceServerClient, InferInput, InferRequestedOutput } from 'nereid/client';
 * const client = new InferenceServerClient('grpc://localhost:8001'); // or 'http://localhost:8000'
 * const a = new InferInput('INPUT0', [1, 16], 'INT32').setData(Int32Array.from({ length: 16 }, (_, i) => i));
 * const b = new InferInput('INPUT1', [1, 16], 'INT32').setData(new Int32Array(16).fill(1));
 * const result = await client.infer('simple', [a, b], { outputs: [new InferRequestedOutput('OUTPUT0')] });
 * result.asTypedArray<Int32Array>('OUTPUT0'); // Int32Array [1, 2, …, 16]
 * client.close();
 * ```
 *
 * Every method rejects with InferenceServerError (the server's message and status) on failure.
 */
export class InferenceServerClient {
  private readonly transport: Transport;

  /**
   * @param url `http://host:port` (HTTP/REST, default port 8000), `grpc://host:port` (gRPC, default
   *   port 8001), or `host:port` with `options.protocol`.
   * @throws InferenceServerError for an unsupported scheme.
   */
  constructor(url: string, options: ClientOptions = {}) {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
    const protocol = scheme ?? options.protocol ?? 'http';
    if (scheme === 'http' || (!scheme && protocol === 'http')) {
      this.transport = new HttpTransport(scheme ? url : `http://${url}`);
    } else if (protocol === 'grpc') {
      this.transport = new GrpcTransport(url, options.grpcChannelOptions);
    } else {
      throw clientError(`unsupported URL scheme '${scheme}' in '${url}': use http:// or grpc://`);
    }
  }

  /** The protocol in use. */
  get protocol(): 'http' | 'grpc' {
    return this.transport.protocol;
  }

  /** Releases connections (and cancels an open stream). */
  close(): void {
    this.transport.close();
  }

  /** True when the server is live (`GET /v2/health/live`, ServerLive). */
  isServerLive(options?: CallOptions): Promise<boolean> {
    return this.transport.isServerLive(options);
  }

  /** True when the server is ready (`GET /v2/health/ready`, ServerReady). */
  isServerReady(options?: CallOptions): Promise<boolean> {
    return this.transport.isServerReady(options);
  }

  /** True when the model (version) is ready; false for unknown models. */
  isModelReady(name: string, version?: string, options?: CallOptions): Promise<boolean> {
    return this.transport.isModelReady(name, version, options);
  }

  /** `{ name, version, extensions }`. */
  getServerMetadata(options?: CallOptions): Promise<ServerMetadata> {
    return this.transport.getServerMetadata(options);
  }

  /** `{ name, versions, platform, inputs, outputs }`; tensor shapes have -1 for variable dims. */
  getModelMetadata(name: string, version?: string, options?: CallOptions): Promise<ModelMetadata> {
    return this.transport.getModelMetadata(name, version, options);
  }

  /**
   * The model configuration as Triton's JSON (snake_case, defaults printed, enums as names; the
   * object `GET /v2/models/{m}/config` returns — over gRPC converted to the same form).
   */
  getModelConfig(name: string, version?: string, options?: CallOptions): Promise<Record<string, unknown>> {
    return this.transport.getModelConfig(name, version, options);
  }

  /** `{ model_stats: [...] }` of every model, one model, or one version. */
  getInferenceStatistics(
    name?: string,
    version?: string,
    options?: CallOptions,
  ): Promise<InferenceStatistics> {
    return this.transport.getInferenceStatistics(name, version, options);
  }

  /** The repository index; `ready` keeps only ready models. */
  getModelRepositoryIndex(ready = false, options?: CallOptions): Promise<RepositoryIndexEntry[]> {
    return this.transport.getModelRepositoryIndex(ready, options);
  }

  /** Loads or reloads a model (model repository extension). */
  loadModel(name: string, options?: LoadModelOptions): Promise<void> {
    return this.transport.loadModel(name, options);
  }

  /** Unloads a model (model repository extension). */
  unloadModel(name: string, options?: UnloadModelOptions): Promise<void> {
    return this.transport.unloadModel(name, options);
  }

  /**
   * Runs one inference request.
   * @param model model name.
   * @param inputs the inputs, each with its data set (shapes include the batch dimension of a
   *   batching model).
   * @param options outputs, requestId, modelVersion, parameters, binary, timeout (ms), headers.
   * @returns the result; read outputs with asTypedArray / asStrings / asBytes.
   */
  infer(model: string, inputs: InferInput[], options?: InferOptions): Promise<InferResult> {
    return this.transport.infer(model, inputs, options);
  }

  private grpc(what: string): GrpcTransport {
    if (!(this.transport instanceof GrpcTransport)) {
      throw clientError(`${what} needs gRPC (ModelStreamInfer); this client uses HTTP`);
    }
    return this.transport;
  }

  /**
   * Opens a bidirectional ModelStreamInfer stream (gRPC only). `callback(result, error)` receives
   * each response, or a request's error (`error.requestId` names it); the stream stays open after
   * request errors. Options: `timeout` (ms) for the whole stream, `headers`.
   * @throws InferenceServerError over HTTP, or when a stream is already open.
   */
  startStream(callback: StreamCallback, options?: CallOptions): void {
    this.grpc('startStream').startStream(callback, options);
  }

  /**
   * Sends a request on the open stream (gRPC only); the answer goes to the stream's callback.
   * @throws InferenceServerError when no stream is open.
   */
  asyncStreamInfer(model: string, inputs: InferInput[], options?: StreamInferOptions): void {
    this.grpc('asyncStreamInfer').asyncStreamInfer(model, inputs, options);
  }

  /**
   * Closes the stream after every sent request is answered (or at once with `cancelRequests`).
   * Resolves when the stream has ended.
   */
  stopStream(cancelRequests = false): Promise<void> {
    return this.grpc('stopStream').stopStream(cancelRequests);
  }
}
