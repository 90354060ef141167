/**
 * Messages between the ONNX Runtime backend (event-loop thread) and its model-instance worker threads.
 *
 * Tensor bytes travel as (ArrayBuffer, byteOffset, byteLength) triples; ArrayBuffers are transferred,
 * never structured-cloned, so a tensor's bytes are not copied on the way (see `packRequests`).
 * The description of the tensors (which input, where its bytes are, its shape) is packed into one
 * Float64Array per message (`encodeTensors`/`decodeTensors`): structured-cloning an object per
 * tensor costs milliseconds for a batch of dozens of requests with dozens of inputs each, copying
 * one typed array costs nothing. Tensors are named by their index in the config's inputs/outputs,
 * which both sides know.
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

/** Event loop → worker: a batch to run, or the end. */
export type ToWorker =
  | {
      type: 'run';
      id: number;
      /** `encodeTensors` of each request's inputs (indices into the config inputs). */
      meta: Float64Array;
      /** `encodeNames` of each request's requested outputs (indices into the config outputs). */
      wanted: Float64Array;
      /**
       * Requests per execution, when the message holds several executions run one after the other
       * (the default scheduler's bundles); absent, all requests form one execution.
       */
      sizes?: number[];
      buffers: ArrayBuffer[];
    }
  | { type: 'close' };

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
      /** `encodeTensors` of each request's outputs (empty for a request that failed). */
      meta: Float64Array;
      /** Requests that failed, by index in the message. */
      errors?: Array<{ index: number; code: ErrorCode; message: string }>;
      buffers: ArrayBuffer[];
      /** One entry per execution. */
      timings: ExecuteTimings[];
    };

/**
 * Packs per-request tensor lists: `[requests, (count, (index, buffer, byteOffset, byteLength, rank,
 * ...dims) × count) × requests]`, `index` being the tensor's position in `specs`.
 * @throws Error for a tensor name not in `specs` (requests are validated before they get here).
 */
export function encodeTensors(lists: WireTensor[][], specs: Map<string, number>): Float64Array {
  let size = 1;
  for (const l of lists) {
    size += 1;
    for (const t of l) size += 5 + t.shape.length;
  }
  const out = new Float64Array(size);
  let k = 0;
  out[k++] = lists.length;
  for (const l of lists) {
    out[k++] = l.length;
    for (const t of l) {
      const index = specs.get(t.name);
      if (index === undefined) throw new Error(`tensor '${t.name}' is not in the model configuration`);
      out[k++] = index;
      out[k++] = t.buffer;
      out[k++] = t.byteOffset;
      out[k++] = t.byteLength;
      out[k++] = t.shape.length;
      for (const d of t.shape) out[k++] = d;
    }
  }
  return out;
}

/** Unpacks `encodeTensors`; names and datatypes come from `specs` by index. */
export function decodeTensors(meta: Float64Array, specs: TensorSpec[]): WireTensor[][] {
  let k = 0;
  const n = meta[k++];
  const lists: WireTensor[][] = [];
  for (let r = 0; r < n; r++) {
    const count = meta[k++];
    const list: WireTensor[] = [];
    for (let i = 0; i < count; i++) {
      const spec = specs[meta[k++]];
      const buffer = meta[k++];
      const byteOffset = meta[k++];
      const byteLength = meta[k++];
      const rank = meta[k++];
      const shape: number[] = new Array(rank);
      for (let d = 0; d < rank; d++) shape[d] = meta[k++];
      list.push({ name: spec.name, datatype: spec.datatype, shape, buffer, byteOffset, byteLength });
    }
    lists.push(list);
  }
  return lists;
}

/** Packs per-request name lists as indices: `[requests, (count, index × count) × requests]`. */
export function encodeNames(lists: string[][], specs: Map<string, number>): Float64Array {
  const out = new Float64Array(1 + lists.reduce((n, l) => n + 1 + l.length, 0));
  let k = 0;
  out[k++] = lists.length;
  for (const l of lists) {
    out[k++] = l.length;
    for (const name of l) {
      const index = specs.get(name);
      if (index === undefined) throw new Error(`tensor '${name}' is not in the model configuration`);
      out[k++] = index;
    }
  }
  return out;
}

/** Unpacks `encodeNames` into names from `specs`. */
export function decodeNames(meta: Float64Array, specs: TensorSpec[]): string[][] {
  let k = 0;
  const n = meta[k++];
  const lists: string[][] = [];
  for (let r = 0; r < n; r++) {
    const count = meta[k++];
    const list: string[] = [];
    for (let i = 0; i < count; i++) list.push(specs[meta[k++]].name);
    lists.push(list);
  }
  return lists;
}
