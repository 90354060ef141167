/**
 * Messages between the ONNX Runtime backend (event-loop thread) and its model-instance worker threads.
 *
 * Tensor bytes travel as (ArrayBuffer, byteOffset, byteLength) triples; ArrayBuffers are transferred,
 * never structured-cloned (see `packRun`). Each message is one "head" ArrayBuffer, transferred: its
 * first bytes describe the tensors (which input, where its bytes are, its shape) as float64 words
 * (`writeTensors`/`readTensors`), and the bytes after the description hold small tensors' bytes.
 * Larger tensors that already own a buffer follow the head in the same message. Structured-cloning
 * an object per tensor costs milliseconds for a batch of dozens of requests with dozens of inputs
 * each, and each typed array or buffer in a message costs microseconds; one transferred buffer per
 * message is the cheapest there is. Tensors are named by their index in the config's
 * inputs/outputs, which both sides know.
 */
import type { Datatype } from '../../protocol/datatypes.js';
import type { ErrorCode } from '../../protocol/errors.js';

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
  /**
   * Linux scheduling policy of the instance's thread (and of the intra-op threads ORT starts from
   * it): `batch` (SCHED_BATCH, see sched(7)) or `normal` (SCHED_OTHER, the default). Absent: normal.
   */
  threadPolicy?: ThreadPolicy;
}

/** What an instance thread starts with: its `WorkerInit` and the wake-up word `OrtInstance.start` adds. */
export interface WorkerData extends WorkerInit {
  /**
   * The instance's wake-up word (an Int32Array of 1 over this buffer). The worker does not use its
   * event loop for runs: it sleeps in `Atomics.wait` on word 0 and takes its messages with
   * `receiveMessageOnPort`. The event loop adds 1 and `Atomics.notify`s after every message it
   * posts (see `wakeWorker`).
   */
  wake: SharedArrayBuffer;
}

/**
 * Tells an instance's thread that a message was posted to it (`WorkerData.wake`). Waking a thread
 * that sleeps in `Atomics.wait` is cheaper than its event loop taking a MessagePort event: 11.5
 * against 14.5 µs of CPU per round trip with both threads on one core, 94.6 against 97.8 µs across
 * two (`bench/worker-handoff.ts`, Node 20, medians of 8 rounds).
 */
export function wakeWorker(word: Int32Array): void {
  Atomics.add(word, 0, 1);
  Atomics.notify(word, 0);
}

/** See `WorkerInit.threadPolicy`. */
export type ThreadPolicy = 'batch' | 'normal';

/** One request of a batch sent to a worker. */
export interface WireRequest {
  inputs: WireTensor[];
  /** Names of the outputs this request wants. */
  outputs: string[];
}

/**
 * Event loop → worker: a run, or the end.
 *
 * A run is an array of ArrayBuffers, all transferred: the head (see `RUN_FIXED_WORDS`) and then the
 * requests' own buffers. A tensor's `buffer` index points into this array; 0 is the head itself,
 * whose bytes after the description hold the packed inputs.
 */
export type ToWorker = ArrayBuffer[] | { type: 'close' };

/**
 * Words (float64) at the start of a run head before the executions' sizes: `[id, words, executions]`.
 * `words` is the length of the whole description in float64 words (packed tensor bytes start at
 * byte `words * 8`); then come `executions` counts of requests per execution (run one after the
 * other), then `writeTensors` of every request's inputs, then `writeNames` of every request's
 * wanted outputs.
 */
export const RUN_FIXED_WORDS = 3;

/**
 * Words at the start of a result head before the timings: `[id, words, executions]`; then three
 * words per execution (`computeInputNs`, `computeInferNs`, `computeOutputNs`), then `writeTensors`
 * of every request's outputs (empty for a failed one). Output bytes up to `COPY_LIMIT` are copied
 * into the head after the description; larger ones travel in their own transferred buffers.
 */
export const RESULT_FIXED_WORDS = 3;

/**
 * Outputs of at most this many bytes are copied into the result head rather than transferred in
 * their own buffer: copying a few KiB costs less than transferring a buffer (about 2 µs per
 * buffer in each direction).
 */
export const COPY_LIMIT = 16 * 1024;

/** A request that failed within a run, by its index in the run. */
export interface ExecutionError {
  index: number;
  code: ErrorCode;
  message: string;
}

/** The graph's inputs/outputs as ONNX Runtime reports them. */
export interface GraphTensor {
  name: string;
  /** ORT type name (`float32`, `int64`, `string`, …) or undefined for non-tensor values. */
  type?: string;
  /** Dims; -1 for symbolic or unknown ones. */
  shape: number[];
}

/**
 * Worker → event loop: the session is ready or failed to load, or a run's result. A result whose
 * requests all succeeded is an array of transferred buffers (head first, see `RESULT_FIXED_WORDS`);
 * one with failed requests carries the same buffers and the errors.
 */
export type FromWorker =
  | {
      type: 'ready';
      inputs: GraphTensor[];
      outputs: GraphTensor[];
      /** Why `WorkerInit.threadPolicy` could not be applied; absent when it was (or was normal). */
      threadPolicyError?: string;
    }
  | { type: 'init-error'; message: string }
  | ArrayBuffer[]
  | { type: 'result'; buffers: ArrayBuffer[]; errors: ExecutionError[] };

/** Float64 words `writeTensors` takes for per-request lists of tensors of these ranks. */
export function tensorsLength(lists: ReadonlyArray<ReadonlyArray<{ shape: readonly number[] }>>): number {
  let size = 1;
  for (const l of lists) {
    size += 1;
    for (const t of l) size += 5 + t.shape.length;
  }
  return size;
}

/**
 * Writes per-request tensor lists into `out` from position `k`: `[requests, (count, (index, buffer,
 * byteOffset, byteLength, rank, ...dims) × count) × requests]`, `index` being the tensor's position
 * in the config's inputs or outputs. Returns the next free position.
 * @throws Error for a tensor name not in `specs` (requests are validated before they get here).
 */
export function writeTensors(
  lists: WireTensor[][],
  specs: Map<string, number>,
  out: Float64Array,
  k: number,
): number {
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
  return k;
}

/**
 * Reads `writeTensors` from position `k` into `lists` (names and datatypes from `specs` by index);
 * returns the next position.
 */
export function readTensors(
  meta: Float64Array,
  k: number,
  specs: TensorSpec[],
  lists: WireTensor[][],
): number {
  const n = meta[k++];
  for (let r = 0; r < n; r++) {
    const count = meta[k++];
    const list: WireTensor[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const spec = specs[meta[k++]];
      const buffer = meta[k++];
      const byteOffset = meta[k++];
      const byteLength = meta[k++];
      const rank = meta[k++];
      const shape: number[] = new Array(rank);
      for (let d = 0; d < rank; d++) shape[d] = meta[k++];
      list[i] = { name: spec.name, datatype: spec.datatype, shape, buffer, byteOffset, byteLength };
    }
    lists.push(list);
  }
  return k;
}

/** Float64 words `writeNames` takes for these per-request name lists. */
export function namesLength(lists: string[][]): number {
  let size = 1;
  for (const l of lists) size += 1 + l.length;
  return size;
}

/**
 * Writes per-request name lists as config indices from position `k`: `[requests, (count, index ×
 * count) × requests]`. Returns the next free position.
 * @throws Error for a name not in `specs`.
 */
export function writeNames(
  lists: string[][],
  specs: Map<string, number>,
  out: Float64Array,
  k: number,
): number {
  out[k++] = lists.length;
  for (const l of lists) {
    out[k++] = l.length;
    for (const name of l) {
      const index = specs.get(name);
      if (index === undefined) throw new Error(`tensor '${name}' is not in the model configuration`);
      out[k++] = index;
    }
  }
  return k;
}

/** Reads `writeNames` from position `k` into `lists` (names from `specs`); returns the next position. */
export function readNames(meta: Float64Array, k: number, specs: TensorSpec[], lists: string[][]): number {
  const n = meta[k++];
  for (let r = 0; r < n; r++) {
    const count = meta[k++];
    const list: string[] = new Array(count);
    for (let i = 0; i < count; i++) list[i] = specs[meta[k++]].name;
    lists.push(list);
  }
  return k;
}
