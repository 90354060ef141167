/**
 * Messages between the ONNX Runtime backend (event-loop thread) and its model-instance worker threads.
 *
 * Tensor bytes travel as (ArrayBuffer, byteOffset, byteLength) triples; ArrayBuffers are transferred,
 * never structured-cloned, so a tensor's bytes are not copied on the way (see `packTensors`).
 */
import type { Datatype } from '../../core/datatypes.js';
import type { ExecuteTimings } from '../../core/request.js';
import type { ErrorCode } from '../../core/errors.js';

/** A tensor as it crosses the thread boundary. */
export interface WireTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Index into the message's `buffers`. */
  buffer: number;
  byteOffset: number;
  byteLength: number;
}

/** How a config tensor maps onto the ONNX graph. */
export interface TensorSpec {
  name: string;
  datatype: Datatype;
  /** `dims` from the config (without the batch dim). */
  dims: number[];
  /** `reshape.shape` from the config: the model's shape (without batch dim) when it differs from `dims`. */
  reshape?: number[];
}

/** Data given to a worker when it starts. */
export interface WorkerInit {
  /** Path of the `.onnx` file. */
  modelPath: string;
  /** onnxruntime-node SessionOptions (structured-cloneable). */
  sessionOptions: Record<string, unknown>;
  /** Config inputs (empty while probing a model for auto-complete). */
  inputs: TensorSpec[];
  /** Config outputs. */
  outputs: TensorSpec[];
  /** The model's `max_batch_size` (0 = no batch dimension). */
  maxBatchSize: number;
}

/** One request of a batch sent to a worker. */
export interface WireRequest {
  inputs: WireTensor[];
  /** Names of the outputs this request wants. */
  outputs: string[];
}

/** Event loop → worker. */
export type ToWorker =
  { type: 'run'; id: number; requests: WireRequest[]; buffers: ArrayBuffer[] } | { type: 'close' };

/** The graph's inputs/outputs as ONNX Runtime reports them. */
export interface GraphTensor {
  name: string;
  /** ORT type name (`float32`, `int64`, `string`, …) or undefined for non-tensor values. */
  type?: string;
  /** Dims; -1 for symbolic or unknown ones. */
  shape: number[];
}

/** Worker → event loop. */
export type FromWorker =
  | { type: 'ready'; inputs: GraphTensor[]; outputs: GraphTensor[] }
  | { type: 'init-error'; message: string }
  | {
      type: 'result';
      id: number;
      results: Array<{ outputs: WireTensor[] } | { error: { code: ErrorCode; message: string } }>;
      buffers: ArrayBuffer[];
      timings: ExecuteTimings;
    };
