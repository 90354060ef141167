/**
 * A model instance's thread: owns one ONNX Runtime session (`OrtSession`) and runs batches on it.
 *
 * A run blocks the thread it is called on, so every instance executes here, never on the event
 * loop; the executions of a bundle run one after the other within one message. Input bytes arrive
 * in transferred ArrayBuffers; inputs of several requests are gathered into one batch tensor (the
 * only copy, needed because ORT takes contiguous tensors); outputs go back split per request,
 * copied into the reply's head buffer when small (`COPY_LIMIT`), else as views into one
 * transferred buffer per output (see `packResult`). The thread never returns to its event loop
 * once the session is ready: it sleeps on the instance's wake-up word (`WorkerData.wake`) and takes
 * its messages with `receiveMessageOnPort`, until a `close` message ends it.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { elementByteSize, typedView, type Datatype } from '../../protocol/datatypes.js';
import { deserializeBytesTensor } from '../../protocol/bytes-tensor.js';
import {
  COPY_LIMIT,
  readNames,
  readTensors,
  RESULT_FIXED_WORDS,
  RUN_FIXED_WORDS,
  tensorsLength,
  writeTensors,
  type ExecutionError,
  type FromWorker,
  type TensorSpec,
  type ToWorker,
  type WireRequest,
  type WireTensor,
  type WorkerData,
} from './protocol.js';
import { OrtSession, type CpuFeed, type Feeds, type Fetched } from './session.js';
import { fromOrtType, toOrtType } from './types.js';
import type { ExecuteTimings } from '../../core/request.js';

const init = workerData as WorkerData;
/** Config outputs by name. */
const outSpecs = new Map(init.outputs.map((o) => [o.name, o]));
/** Config outputs by name → position. */
const outIndex = new Map(init.outputs.map((o, i) => [o.name, i]));
const port = parentPort!;
const utf8 = new TextDecoder('utf-8', { fatal: true });

class RequestError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** The model-side shape of a request tensor: applies the config's `reshape` (keeping the batch dim). */
function modelShape(spec: TensorSpec | undefined, shape: number[], batched: boolean): number[] {
  if (!spec?.reshape) return shape;
  const rest = batched ? shape.slice(1) : shape;
  // Variable (-1) entries of the reshape take the request's variable dims, in order.
  const variable = rest.filter((_, i) => spec.dims[i] === -1);
  let k = 0;
  const target = spec.reshape.map((d) => (d === -1 ? (variable[k++] ?? 1) : d));
  return batched ? [shape[0], ...target] : target;
}

/**
 * The config-side shape of a model output that has a `reshape` (the inverse of modelShape): the
 * config's `dims`, whose variable (-1) entries take the model shape's values at the reshape's -1
 * positions, in order, as Triton reports reshaped outputs.
 */
function configShape(spec: TensorSpec, shape: number[], batched: boolean): number[] {
  const rest = batched ? shape.slice(1) : shape;
  const variable = rest.filter((_, i) => spec.reshape![i] === -1);
  let k = 0;
  const target = spec.dims.map((d) => (d === -1 ? (variable[k++] ?? 1) : d));
  return batched ? [shape[0], ...target] : target;
}

function bytesOf(t: WireTensor, buffers: ArrayBuffer[]): Uint8Array {
  return new Uint8Array(buffers[t.buffer], t.byteOffset, t.byteLength);
}

/**
 * One request's input as it is, when that needs no work: a numeric tensor without `reshape` whose
 * bytes are aligned for its element type (a view, no copy). Undefined otherwise (see gatherInput).
 */
function directFeed(
  t: WireTensor,
  buffers: ArrayBuffer[],
  spec: TensorSpec | undefined,
): CpuFeed | undefined {
  if (spec?.reshape || t.datatype === 'BYTES') return undefined;
  const type = toOrtType(t.datatype);
  const size = elementByteSize(t.datatype);
  if (type === undefined || t.byteOffset % size !== 0 || t.byteLength % size !== 0) return undefined;
  const data = typedView(t.datatype, new Uint8Array(buffers[t.buffer], t.byteOffset, t.byteLength));
  return { location: 'cpu', type, dims: t.shape, data };
}

/** Builds one ORT input tensor from the same-named input of every request (concatenated on dim 0). */
function gatherInput(
  name: string,
  parts: WireTensor[],
  owners: number[],
  buffers: ArrayBuffer[],
  spec: TensorSpec | undefined,
): ort.Tensor {
  const batched = init.maxBatchSize > 0;
  const first = parts[0];
  const dt: Datatype = first.datatype;
  const ortType = toOrtType(dt);
  if (!ortType) throw new Error(`datatype ${dt} of input '${name}' is not supported by ONNX Runtime`);
  let shape = first.shape.slice();
  if (parts.length > 1) shape[0] = parts.reduce((n, p) => n + p.shape[0], 0);
  shape = modelShape(spec, shape, batched);

  if (dt === 'BYTES') {
    const strings: string[] = [];
    parts.forEach((p, i) => {
      for (const el of deserializeBytesTensor(bytesOf(p, buffers), `input '${name}'`)) {
        try {
          strings.push(utf8.decode(el));
        } catch {
          throw new RequestError(
            owners[i],
            `input '${name}' holds bytes that are not valid UTF-8; ONNX Runtime string tensors carry UTF-8 text only`,
          );
        }
        if (el.includes(0)) {
          // onnxruntime-node cuts strings at a NUL byte: refuse rather than change the data.
          throw new RequestError(
            owners[i],
            `input '${name}' holds a NUL byte; ONNX Runtime string tensors from JavaScript end at the first NUL`,
          );
        }
      }
    });
    return new ort.Tensor('string', strings, shape);
  }

  let bytes: Uint8Array;
  const contiguous = parts.every(
    (p, i) =>
      i === 0 ||
      (p.buffer === parts[i - 1].buffer &&
        p.byteOffset === parts[i - 1].byteOffset + parts[i - 1].byteLength),
  );
  if (contiguous) {
    // One run of bytes already (a single request, or requests packed input by input): no gather.
    const last = parts[parts.length - 1];
    bytes = new Uint8Array(
      buffers[first.buffer],
      first.byteOffset,
      last.byteOffset + last.byteLength - first.byteOffset,
    );
  } else {
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    bytes = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      bytes.set(bytesOf(p, buffers), off);
      off += p.byteLength;
    }
  }
  const data = typedView(dt, bytes);
  return new ort.Tensor(ortType as 'float32', data as Float32Array, shape);
}

/**
 * One execution's outputs: per request, its output tensors, whose `buffer` indexes `sources` and
 * whose `byteOffset` is relative to that source's first byte.
 */
interface Split {
  tensors: WireTensor[][];
  /** The outputs' bytes, one view per output. */
  sources: Uint8Array[];
}

/** Splits each output along the batch dim into per-request ranges of one source view. */
function scatterOutputs(requests: WireRequest[], results: Fetched, wanted: string[]): Split {
  const batched = init.maxBatchSize > 0;
  const n = requests.length;
  const perRequest: WireTensor[][] = new Array(n);
  const batchSizes: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    perRequest[i] = [];
    const r = requests[i];
    batchSizes[i] = batched && r.inputs.length > 0 ? r.inputs[0].shape[0] : 1;
  }
  const sources: Uint8Array[] = [];

  for (const name of wanted) {
    const value = results[name];
    const spec = outSpecs.get(name);
    const dt: Datatype = spec?.datatype ?? fromOrtType(value.type) ?? 'FP32';
    let dims = value.dims.slice();
    if (spec?.reshape) dims = configShape(spec, dims, batched);
    let rowElems = 0;
    if (batched) {
      rowElems = 1;
      for (let d = 1; d < dims.length; d++) rowElems *= dims[d];
    }

    if (dt === 'BYTES') {
      scatterStrings(name, value.data as string[], dims, rowElems, requests, batchSizes, perRequest, sources);
      continue;
    }

    const data = value.data as unknown as ArrayBufferView;
    const buffer = sources.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) - 1;
    if (n === 1 && (!batched || dims[0] === batchSizes[0])) {
      // One request (the default scheduler's executions): the whole output is its own.
      if (requests[0].outputs.includes(name)) {
        perRequest[0].push({
          name,
          datatype: dt,
          shape: dims,
          buffer,
          byteOffset: 0,
          byteLength: data.byteLength,
        });
      }
      continue;
    }
    const rowBytes = rowElems * elementByteSize(dt);
    let row = 0;
    for (let i = 0; i < n; i++) {
      const b = batchSizes[i];
      if (requests[i].outputs.includes(name)) {
        let shape = dims;
        if (batched) {
          shape = dims.slice();
          shape[0] = b;
        }
        perRequest[i].push({
          name,
          datatype: dt,
          shape,
          buffer,
          byteOffset: row * rowBytes,
          byteLength: batched ? b * rowBytes : data.byteLength,
        });
      }
      row += b;
    }
  }
  return { tensors: perRequest, sources };
}

/** scatterOutputs for a BYTES output: ORT's strings re-encoded per request as length-prefixed UTF-8. */
function scatterStrings(
  name: string,
  strings: string[],
  dims: number[],
  rowElems: number,
  requests: WireRequest[],
  batchSizes: number[],
  perRequest: WireTensor[][],
  sources: Uint8Array[],
): void {
  const batched = init.maxBatchSize > 0;
  const encoded = strings.map((s) => Buffer.from(s, 'utf8'));
  const total = encoded.reduce((n, e) => n + 4 + e.byteLength, 0);
  const ab = new ArrayBuffer(total);
  const u8 = new Uint8Array(ab);
  const view = new DataView(ab);
  const buffer = sources.push(u8) - 1;
  let off = 0;
  let el = 0;
  for (let i = 0; i < requests.length; i++) {
    const count = batched ? batchSizes[i] * rowElems : encoded.length;
    if (!requests[i].outputs.includes(name)) {
      el += count;
      continue;
    }
    const start = off;
    for (let k = 0; k < count; k++) {
      const e = encoded[el++];
      view.setUint32(off, e.byteLength, true);
      u8.set(e, off + 4);
      off += 4 + e.byteLength;
    }
    const shape = batched ? [batchSizes[i], ...dims.slice(1)] : dims;
    perRequest[i].push({
      name,
      datatype: 'BYTES',
      shape,
      buffer,
      byteOffset: start,
      byteLength: off - start,
    });
  }
}

/**
 * Builds a result message (see `FromWorker`): the head with the timings and the description of
 * every request's outputs, small outputs copied in after it, and larger ones in their own buffers
 * (sliced out first when ORT's array does not span its whole buffer, so that it can be transferred).
 */
function packResult(
  id: number,
  timings: ExecuteTimings[],
  tensors: WireTensor[][],
  sources: Uint8Array[],
): ArrayBuffer[] {
  const words = RESULT_FIXED_WORDS + 3 * timings.length + tensorsLength(tensors);
  let headBytes = words * 8;
  const buffers: ArrayBuffer[] = [new ArrayBuffer(0)];
  /** Per source: index of its buffer in the message and its offset there. */
  const where: number[] = new Array(sources.length * 2);
  for (let i = 0; i < sources.length; i++) {
    const src = sources[i];
    if (src.byteLength <= COPY_LIMIT) {
      where[2 * i] = 0;
      where[2 * i + 1] = headBytes;
      headBytes += (src.byteLength + 7) & ~7;
    } else {
      const whole = src.byteOffset === 0 && src.byteLength === src.buffer.byteLength;
      where[2 * i] = buffers.push(whole ? (src.buffer as ArrayBuffer) : src.slice().buffer) - 1;
      where[2 * i + 1] = 0;
    }
  }
  const head = new ArrayBuffer(headBytes);
  buffers[0] = head;
  const bytes = new Uint8Array(head);
  for (let i = 0; i < sources.length; i++) if (where[2 * i] === 0) bytes.set(sources[i], where[2 * i + 1]);
  for (const list of tensors)
    for (const t of list) {
      const s = t.buffer;
      t.buffer = where[2 * s];
      t.byteOffset += where[2 * s + 1];
    }
  const meta = new Float64Array(head, 0, words);
  let k = 0;
  meta[k++] = id;
  meta[k++] = words;
  meta[k++] = timings.length;
  for (const t of timings) {
    meta[k++] = t.computeInputNs;
    meta[k++] = t.computeInferNs;
    meta[k++] = t.computeOutputNs;
  }
  writeTensors(tensors, outIndex, meta, k);
  return buffers;
}

/**
 * Puts this thread under SCHED_BATCH (Linux, with util-linux's `chrt`): a batch thread that wakes
 * up — a run message arrived — does not preempt the thread that was running, which on a machine with
 * few cores is usually the event loop that just sent it, in the middle of serving other requests.
 * Its share of CPU is unchanged. Threads ORT starts later from this one inherit the policy.
 * Returns why it could not be applied, or undefined.
 */
function applyBatchPolicy(): string | undefined {
  if (process.platform !== 'linux') return `SCHED_BATCH is Linux-only (platform ${process.platform})`;
  try {
    // "/proc/thread-self" links to "<pid>/task/<tid>": the kernel's id of this very thread.
    const tid = readlinkSync('/proc/thread-self').split('/').pop()!;
    execFileSync('chrt', ['--batch', '--pid', '0', tid], { stdio: 'ignore', timeout: 5000 });
    return undefined;
  } catch (e) {
    return `cannot set SCHED_BATCH with chrt: ${(e as Error).message}`;
  }
}

function main(): void {
  const threadPolicyError = init.threadPolicy === 'batch' ? applyBatchPolicy() : undefined;
  let session: OrtSession;
  try {
    session = new OrtSession(init.modelPath, init.sessionOptions as ort.InferenceSession.SessionOptions);
  } catch (e) {
    port.postMessage({ type: 'init-error', message: (e as Error).message } satisfies FromWorker);
    return;
  }
  const inSpecs = new Map(init.inputs.map((i) => [i.name, i]));
  port.postMessage({
    type: 'ready',
    inputs: session.inputs,
    outputs: session.outputs,
    ...(threadPolicyError ? { threadPolicyError } : {}),
  } satisfies FromWorker);

  /** Runs one execution; per-request failures come back as errors, indexed within `requests`. */
  function execute(
    requests: WireRequest[],
    buffers: ArrayBuffer[],
  ): { split?: Split; errors?: ExecutionError[]; timings: ExecuteTimings } {
    const t0 = performance.now();
    try {
      const feeds: Feeds = {};
      const fetches: Record<string, null> = {};
      // Every request's tensors grouped by input name, in request order (one pass over the batch).
      let wanted: string[];
      if (requests.length === 1) {
        // One request (the default scheduler's executions): its tensors as they are.
        const r = requests[0];
        for (const t of r.inputs) {
          const spec = inSpecs.get(t.name);
          feeds[t.name] = directFeed(t, buffers, spec) ?? gatherInput(t.name, [t], [0], buffers, spec);
        }
        wanted = r.outputs;
      } else {
        const byName = new Map<string, { parts: WireTensor[]; owners: number[] }>();
        requests.forEach((r, i) => {
          for (const t of r.inputs) {
            let g = byName.get(t.name);
            if (!g) byName.set(t.name, (g = { parts: [], owners: [] }));
            g.parts.push(t);
            g.owners.push(i);
          }
        });
        for (const [name, g] of byName)
          feeds[name] = gatherInput(name, g.parts, g.owners, buffers, inSpecs.get(name));
        wanted = [...new Set(requests.flatMap((r) => r.outputs))];
      }
      for (const name of wanted) fetches[name] = null;
      const t1 = performance.now();
      const out = session.run(feeds, fetches);
      const t2 = performance.now();
      const split = scatterOutputs(requests, out, wanted);
      const t3 = performance.now();
      return {
        split,
        timings: {
          computeInputNs: Math.round((t1 - t0) * 1e6),
          computeInferNs: Math.round((t2 - t1) * 1e6),
          computeOutputNs: Math.round((t3 - t2) * 1e6),
        },
      };
    } catch (e) {
      const message = (e as Error).message;
      const errors = requests.map((_, index) =>
        e instanceof RequestError && e.index !== index
          ? {
              index,
              code: 'UNAVAILABLE' as const,
              message: `batch failed because of another request: ${message}`,
            }
          : {
              index,
              code: e instanceof RequestError ? ('INVALID_ARG' as const) : ('INTERNAL' as const),
              message,
            },
      );
      return {
        errors,
        timings: {
          computeInputNs: 0,
          computeInferNs: Math.round((performance.now() - t0) * 1e6),
          computeOutputNs: 0,
        },
      };
    }
  }

  /** Runs one bundle and posts its result. */
  function onRun(buffers: ArrayBuffer[]): void {
    const head = buffers[0];
    const meta = new Float64Array(head, 0, head.byteLength >>> 3);
    const id = meta[0];
    const executions = meta[2];
    const sizes: number[] = new Array(executions);
    for (let x = 0; x < executions; x++) sizes[x] = meta[RUN_FIXED_WORDS + x];
    const inputLists: WireTensor[][] = [];
    const outputLists: string[][] = [];
    const k = readTensors(meta, RUN_FIXED_WORDS + executions, init.inputs, inputLists);
    readNames(meta, k, init.outputs, outputLists);
    const requests: WireRequest[] = inputLists.map((inputs, i) => ({ inputs, outputs: outputLists[i] }));
    // Each execution's outputs, merged into one reply: source and error indices shifted.
    const tensors: WireTensor[][] = [];
    const sources: Uint8Array[] = [];
    const errors: ExecutionError[] = [];
    const timings: ExecuteTimings[] = [];
    let first = 0;
    for (let x = 0; x < executions; x++) {
      const size = sizes[x];
      // A bundle's executions run one after the other, each a run of its own.
      const r = execute(executions === 1 ? requests : requests.slice(first, first + size), buffers);
      timings.push(r.timings);
      if (r.split) {
        const shift = sources.length;
        for (const src of r.split.sources) sources.push(src);
        for (const list of r.split.tensors) {
          if (shift > 0) for (const t of list) t.buffer += shift;
          tensors.push(list);
        }
      } else {
        for (const e of r.errors!) errors.push({ ...e, index: e.index + first });
        for (let i = 0; i < size; i++) tensors.push([]);
      }
      first += size;
    }
    const out = packResult(id, timings, tensors, sources);
    port.postMessage(
      (errors.length > 0 ? { type: 'result', buffers: out, errors } : out) satisfies FromWorker,
      out,
    );
  }

  // The thread does nothing but runs, so it takes its messages itself instead of through its event
  // loop: it sleeps on the wake-up word until the event loop bumps it, then drains the port. The
  // word is read before draining, so a message posted during the drain makes the wait return at once.
  const wake = new Int32Array(init.wake);
  for (;;) {
    const seen = Atomics.load(wake, 0);
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      const msg = m.message as ToWorker;
      if (!Array.isArray(msg)) {
        session.release();
        port.close();
        return;
      }
      onRun(msg);
    }
    Atomics.wait(wake, 0, seen);
  }
}

main();
