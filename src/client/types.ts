/**
 * Shapes of what the client returns and accepts, shared by the HTTP and gRPC transports. Field
 * names are the KServe v2 / Triton JSON names (server docs/protocol/*.md), so both protocols give
 * identical objects.
 */
import type { InferenceServerError } from './errors.js';
import type { InferInput, InferRequestedOutput, InferResult, ParameterValue } from './tensors.js';

/** Per-call options. */
export interface CallOptions {
  /** Client-side deadline in milliseconds; on expiry the call fails with code DEADLINE_EXCEEDED. */
  timeout?: number;
  /** Extra HTTP headers / gRPC metadata. */
  headers?: Record<string, string>;
}

/** Server metadata (`GET /v2`, ServerMetadata). */
export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

/** A tensor in model metadata; `-1` marks a variable dimension (the batch dimension included). */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** Model metadata (`GET /v2/models/{m}`, ModelMetadata). */
export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** A count and a cumulative duration in nanoseconds. */
export interface StatisticDuration {
  count: number;
  ns: number;
}

/** Statistics of one model version (Triton statistics extension; numbers, not 64-bit strings). */
export interface ModelStatistics {
  name: string;
  version: string;
  /** Milliseconds since the epoch. */
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: Record<string, StatisticDuration>;
  response_stats: Record<string, Record<string, StatisticDuration>>;
  batch_stats: Array<{
    batch_size: number;
    compute_input: StatisticDuration;
    compute_infer: StatisticDuration;
    compute_output: StatisticDuration;
  }>;
  memory_usage: Array<{ type: string; id: number; byte_size: number }>;
}

/** `{ model_stats: [...] }`, as the statistics endpoints answer. */
export interface InferenceStatistics {
  model_stats: ModelStatistics[];
}

/** One entry of the repository index; version/state/reason are absent when the server has none. */
export interface RepositoryIndexEntry {
  name: string;
  version?: string;
  state?: string;
  reason?: string;
}

/** Options of loadModel (Triton's model repository extension). */
export interface LoadModelOptions extends CallOptions {
  /** A model configuration to load the model with (JSON text or object). */
  config?: string | Record<string, unknown>;
  /** Model files by `<version>/<file name>` (sent as `file:<version>/<file name>`); needs `config`. */
  files?: Record<string, Uint8Array>;
}

/** Options of unloadModel. */
export interface UnloadModelOptions extends CallOptions {
  /** Also unload models that depend on it (ensembles). */
  unloadDependents?: boolean;
}

/** Options of infer / asyncStreamInfer. */
export interface InferOptions extends CallOptions {
  /** Outputs to return; all of the model's when omitted. */
  outputs?: InferRequestedOutput[];
  /** Request id, echoed in the response. */
  requestId?: string;
  /** Model version; the version policy's choice when omitted. */
  modelVersion?: string;
  /**
   * Request parameters (e.g. `priority`, `timeout` in µs, `sequence_id`, custom ones). Over gRPC
   * booleans become bool_param, integers int64_param (bigint too), strings string_param.
   */
  parameters?: Record<string, ParameterValue>;
  /**
   * Binary tensor data for every input and output (default true). `false`: JSON over HTTP, typed
   * `contents` over gRPC (FP16/BF16 then cannot be sent). Per-input choices: InferInput.setData's
   * `binary` option; per-output: InferRequestedOutput's.
   */
  binary?: boolean;
}

/** Options of asyncStreamInfer. */
export interface StreamInferOptions extends Omit<InferOptions, 'timeout' | 'headers'> {
  /** Ask for an empty final response from decoupled models (`triton_enable_empty_final_response`). */
  enableEmptyFinalResponse?: boolean;
}

/** Receives every response (or error) of a stream, in the order the server sends them. */
export type StreamCallback = (
  result: InferResult | undefined,
  error: InferenceServerError | undefined,
) => void;

/** What a protocol implementation provides; InferenceServerClient delegates to one. */
export interface Transport {
  /** Which protocol this is. */
  readonly protocol: 'http' | 'grpc';
  /** `GET /v2/health/live` / ServerLive. */
  isServerLive(options?: CallOptions): Promise<boolean>;
  /** `GET /v2/health/ready` / ServerReady. */
  isServerReady(options?: CallOptions): Promise<boolean>;
  /** `GET /v2/models/{m}[/versions/{v}]/ready` / ModelReady; false for unknown models. */
  isModelReady(name: string, version?: string, options?: CallOptions): Promise<boolean>;
  /** `GET /v2` / ServerMetadata. */
  getServerMetadata(options?: CallOptions): Promise<ServerMetadata>;
  /** `GET /v2/models/{m}[/versions/{v}]` / ModelMetadata. */
  getModelMetadata(name: string, version?: string, options?: CallOptions): Promise<ModelMetadata>;
  /** The configuration as Triton's JSON (`GET …/config`; ModelConfig converted to that form). */
  getModelConfig(name: string, version?: string, options?: CallOptions): Promise<Record<string, unknown>>;
  /** `GET /v2/models[/{m}[/versions/{v}]]/stats` / ModelStatistics. */
  getInferenceStatistics(
    name?: string,
    version?: string,
    options?: CallOptions,
  ): Promise<InferenceStatistics>;
  /** `POST /v2/repository/index` / RepositoryIndex. */
  getModelRepositoryIndex(ready?: boolean, options?: CallOptions): Promise<RepositoryIndexEntry[]>;
  /** `POST /v2/repository/models/{m}/load` / RepositoryModelLoad. */
  loadModel(name: string, options?: LoadModelOptions): Promise<void>;
  /** `POST /v2/repository/models/{m}/unload` / RepositoryModelUnload. */
  unloadModel(name: string, options?: UnloadModelOptions): Promise<void>;
  /** `POST /v2/models/{m}[/versions/{v}]/infer` / ModelInfer. */
  infer(model: string, inputs: InferInput[], options?: InferOptions): Promise<InferResult>;
  /** Releases connections. */
  close(): void;
}
