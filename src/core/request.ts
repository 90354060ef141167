/**
 * Inference requests and responses as the core sees them, independent of HTTP or gRPC.
 *
 * Field meanings follow the KServe v2 inference request/response (kserve/open-inference-protocol
 * inference_rest.md) with Triton's parameters extension (server docs/protocol/extension_parameters.md).
 */
import type { TritonError } from '../protocol/errors.js';
import type { Tensor } from './tensor.js';
import type { RequestTrace } from './trace.js';

/** A request or response parameter value (`parameters` map entries). */
export type ParameterValue = string | number | boolean;

/** One entry of the request's `outputs` list. */
export interface RequestedOutput {
  /** Output tensor name. */
  name: string;
  /**
   * Classification extension: when > 0, the output is replaced by its top-N classes as BYTES
   * `"value:index[:label]"` (server docs/protocol/extension_classification.md).
   */
  classification?: number;
  /** Other output parameters, passed through for frontends (e.g. `binary_data`). */
  parameters?: Record<string, ParameterValue>;
}

/** An inference request addressed to one model. */
export interface InferenceRequest {
  /** Model name. */
  model: string;
  /** Model version; undefined or '' means "the version policy's latest ready version". */
  version?: string;
  /** Client request id, echoed in the response; '' when the client sent none. */
  id: string;
  /** Input tensors; with a batching model each shape starts with the batch size. */
  inputs: Tensor[];
  /** Requested outputs; undefined means every output of the model. */
  outputs?: RequestedOutput[];
  /** Request parameters (e.g. `priority`, `timeout`, `binary_data_output`). */
  parameters: Record<string, ParameterValue>;
  /**
   * True when every input's bytes live in ArrayBuffers that belong to this request alone, so a model
   * instance may take (transfer) them instead of copying. Frontends set it for bodies they allocated.
   */
  ownsBuffers?: boolean;
  /**
   * An object shared by requests whose inputs have the same names, datatypes, shapes and byte sizes
   * (only their data differ) — e.g. requests parsed from the same header. The core then validates
   * such requests once per model version (BYTES inputs, whose element counts depend on the data,
   * are still checked every time).
   */
  shapeKey?: object;
  /**
   * Aborted when the client goes away (HTTP disconnect, gRPC cancel); a queued request is then
   * dropped and answered CANCELLED. An `AbortSignal` or the lighter {@link Cancellation}.
   */
  signal?: CancelSignal;
  /**
   * The request's trace when it was sampled for tracing (server docs/user_guide/trace.md): the core
   * records REQUEST_START, QUEUE_START, COMPUTE_*, REQUEST_END on it. Undefined when not traced.
   */
  trace?: RequestTrace;
  /**
   * Set by the core on requests to decoupled models (`model_transaction_policy { decoupled: true }`,
   * server docs/user_guide/decoupled_models.md): the model instance calls it for every response it
   * sends — outputs or an error —, `final` on the last call (`response` undefined: only the
   * TRITONSERVER_RESPONSE_COMPLETE_FINAL flag, no response). Calls after the final one are ignored.
   */
  responseSender?: ResponseSender;
}

/** Receives the responses of one request to a decoupled model (see InferenceRequest.responseSender). */
export type ResponseSender = (response: ExecuteResult | undefined, final: boolean) => void;

/**
 * Receives the responses of `InferenceServer.inferStream`: zero or more responses, then one call
 * with `final` true. An error is always final; `response` undefined with `final` is a bare final flag.
 */
export type StreamCallback = (response: InferenceResponse | TritonError | undefined, final: boolean) => void;

/** The response to an InferenceRequest. */
export interface InferenceResponse {
  /** Model name. */
  model: string;
  /** Version that served the request, as a decimal string. */
  version: string;
  /** The request's id ('' when none). */
  id: string;
  /** Response parameters, if any. */
  parameters?: Record<string, ParameterValue>;
  /** Output tensors in the order requested (or the model's output order when all were requested). */
  outputs: Tensor[];
}

/** What a model instance returns per request of a batch: its outputs, or the error that request got. */
export type ExecuteResult = { outputs: Tensor[] } | TritonError;

/** Time spent by a model instance on one execution, in nanoseconds (Triton's compute_* statistics). */
export interface ExecuteTimings {
  /** Preparing inputs (gather, copies, conversions). */
  computeInputNs: number;
  /** The backend's own run. */
  computeInferNs: number;
  /** Preparing outputs (scatter, conversions). */
  computeOutputNs: number;
}

/** The part of `AbortSignal` the schedulers use; `AbortSignal` satisfies it. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A one-shot cancellation signal, cheaper than AbortController/AbortSignal (no EventTarget): one
 * listener at a time, which is all a scheduler registers. Frontends create one per request.
 */
export class Cancellation implements CancelSignal {
  private listener: (() => void) | undefined;
  private state = false;

  /** True once `cancel()` was called. */
  get aborted(): boolean {
    return this.state;
  }

  /** Sets the listener called (once) on cancel; replaces any earlier one. */
  addEventListener(_type: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  /** Removes the listener if it is `listener`. */
  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) this.listener = undefined;
  }

  /** Cancels: marks the signal aborted and calls the listener, once. */
  cancel(): void {
    if (this.state) return;
    this.state = true;
    const l = this.listener;
    this.listener = undefined;
    l?.();
  }
}
