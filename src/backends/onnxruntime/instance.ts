/**
 * The event-loop side of an ONNX Runtime model instance: a worker thread holding one session.
 */
import { Worker } from 'node:worker_threads';
import type { ExecutionOutcome, ModelInstance } from '../../core/backend.js';
import { TritonError } from '../../protocol/errors.js';
import type { ExecuteResult, InferenceRequest } from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import {
  namesLength,
  readTensors,
  RESULT_FIXED_WORDS,
  RUN_FIXED_WORDS,
  wakeWorker,
  writeNames,
  type FromWorker,
  type GraphTensor,
  type ExecutionError,
  type ToWorker,
  type WireTensor,
  type WorkerData,
  type WorkerInit,
} from './protocol.js';
import { disableOrtTelemetry } from './telemetry.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

type Pending = {
  /** Requests per execution. */
  sizes: number[];
  resolve: (r: ExecutionOutcome[]) => void;
  reject: (e: Error) => void;
};

/**
 * Builds a run message (see `ToWorker`): the head buffer, with the description of the requests'
 * inputs and wanted outputs followed by their packed bytes, then the buffers requests hand over.
 * `groups` gives the requests per execution. A request that owns its buffers hands them over as
 * they are (no copy; the worker gathers them). The inputs of all other requests of an execution are
 * copied once into the head, laid out input by input — every request's `INPUT0`, then every
 * request's `INPUT1`, each run 8-byte aligned — which is the batch tensor itself: the worker uses
 * each run as it is, so batch-1 requests cost one copy in all. (Transferring a shared buffer would
 * take it from its other users, and structured-cloning a view would copy all of its buffer.)
 * @param inputIndex config input name → position.
 * @param wanted the outputs each request wants.
 * @param outputIndex config output name → position.
 * @throws Error for a tensor name not in the config (requests are validated before they get here).
 */
export function packRun(
  id: number,
  requests: InferenceRequest[],
  groups: number[],
  inputIndex: Map<string, number>,
  wanted: string[][],
  outputIndex: Map<string, number>,
): ArrayBuffer[] {
  const inputs = inputIndex.size;
  const n = requests.length;
  // Pass 1: each tensor's config position (looked up once), which requests hand over their
  // buffers, and the bytes of each execution's packed runs.
  const owned: boolean[] = new Array(n);
  const positions: number[] = [];
  /** Per execution and config input: byte offset of its run (relative to the packed area). */
  const cursor: number[] = new Array(groups.length * inputs).fill(0);
  let packedBytes = 0;
  let words = RUN_FIXED_WORDS + groups.length + namesLength(wanted) + 1;
  let first = 0;
  for (let g = 0; g < groups.length; g++) {
    const end = first + groups[g];
    const base = g * inputs;
    for (let i = first; i < end; i++) {
      const r = requests[i];
      const own =
        r.ownsBuffers === true && r.inputs.every((t) => !(t.data.buffer instanceof SharedArrayBuffer));
      owned[i] = own;
      words += 1;
      for (const t of r.inputs) {
        const index = inputIndex.get(t.name);
        if (index === undefined) throw new Error(`tensor '${t.name}' is not in the model configuration`);
        positions.push(index);
        words += 5 + t.shape.length;
        if (!own) cursor[base + index] += t.data.byteLength;
      }
    }
    for (let j = 0; j < inputs; j++) {
      const runBytes = cursor[base + j];
      cursor[base + j] = packedBytes;
      packedBytes += (runBytes + 7) & ~7;
    }
    first = end;
  }

  // Pass 2: the head, its description and the packed bytes.
  const headBytes = words * 8;
  const head = new ArrayBuffer(headBytes + packedBytes);
  const meta = new Float64Array(head, 0, words);
  const bytesOut = new Uint8Array(head);
  const buffers: ArrayBuffer[] = [head];
  const ownedBuffers = new Map<ArrayBuffer, number>();
  let k = 0;
  meta[k++] = id;
  meta[k++] = words;
  meta[k++] = groups.length;
  for (const size of groups) meta[k++] = size;
  meta[k++] = n;
  let p = 0;
  first = 0;
  for (let g = 0; g < groups.length; g++) {
    const end = first + groups[g];
    const base = g * inputs;
    for (let i = first; i < end; i++) {
      const r = requests[i];
      meta[k++] = r.inputs.length;
      for (const t of r.inputs) {
        const index = positions[p++];
        const bytes = t.data;
        let buffer: number;
        let byteOffset: number;
        if (owned[i]) {
          const ab = bytes.buffer as ArrayBuffer;
          let b = ownedBuffers.get(ab);
          if (b === undefined) {
            b = buffers.push(ab) - 1;
            ownedBuffers.set(ab, b);
          }
          buffer = b;
          byteOffset = bytes.byteOffset;
        } else {
          byteOffset = headBytes + cursor[base + index];
          if (bytes.byteLength === 8) {
            // One 8-byte element (an INT64/FP64 of a batch-1 request): cheaper than a set() call.
            for (let q = 0; q < 8; q++) bytesOut[byteOffset + q] = bytes[q];
          } else {
            bytesOut.set(bytes, byteOffset);
          }
          cursor[base + index] += bytes.byteLength;
          buffer = 0;
        }
        meta[k++] = index;
        meta[k++] = buffer;
        meta[k++] = byteOffset;
        meta[k++] = bytes.byteLength;
        const shape = t.shape;
        meta[k++] = shape.length;
        for (let d = 0; d < shape.length; d++) meta[k++] = shape[d];
      }
    }
    first = end;
  }
  writeNames(wanted, outputIndex, meta, k);
  return buffers;
}

/** One ORT session in its own worker thread. */
export class OrtInstance implements ModelInstance {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private readonly inputIndex: Map<string, number>;
  private readonly outputIndex: Map<string, number>;

  private constructor(
    readonly name: string,
    private readonly worker: Worker,
    /** The worker's wake-up word (`WorkerData.wake`). */
    private readonly wake: Int32Array,
    /** The graph's inputs and outputs as ORT reports them. */
    readonly graph: { inputs: GraphTensor[]; outputs: GraphTensor[] },
    private readonly outputNames: (r: InferenceRequest) => string[],
    private readonly init: WorkerInit,
    /** Why `init.threadPolicy` could not be applied to the instance's thread, if it could not. */
    readonly threadPolicyError?: string,
  ) {
    this.inputIndex = new Map(init.inputs.map((t, i) => [t.name, i]));
    this.outputIndex = new Map(init.outputs.map((t, i) => [t.name, i]));
    worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    worker.on('error', (e) => this.failAll(`model instance ${name} failed: ${e.message}`));
    worker.on('exit', (code) => {
      if (!this.closed) this.failAll(`model instance ${name} stopped unexpectedly (exit code ${code})`);
    });
  }

  /**
   * Starts the worker and creates the session.
   * @param outputNames which outputs a request wants (all config outputs when it names none).
   * @throws TritonError INVALID_ARG with ORT's message when the session cannot be created.
   */
  static async start(
    name: string,
    init: WorkerInit,
    outputNames: (r: InferenceRequest) => string[] = () => init.outputs.map((o) => o.name),
  ): Promise<OrtInstance> {
    // Before the thread can initialise ONNX Runtime (its first session does), see telemetry.ts.
    disableOrtTelemetry();
    const wake = new SharedArrayBuffer(4);
    const workerData: WorkerData = { ...init, wake };
    const worker = new Worker(WORKER_URL, { workerData, name: `ort:${name}` });
    type Ready = { inputs: GraphTensor[]; outputs: GraphTensor[]; threadPolicyError?: string };
    const ready = await new Promise<Ready>((resolve, reject) => {
      const onMessage = (msg: FromWorker) => {
        worker.off('error', onError);
        if (Array.isArray(msg)) return;
        if (msg.type === 'ready') resolve(msg);
        else if (msg.type === 'init-error') reject(new TritonError('INVALID_ARG', msg.message));
      };
      const onError = (e: Error) => reject(new TritonError('INTERNAL', e.message));
      worker.once('message', onMessage);
      worker.once('error', onError);
    }).catch(async (e) => {
      await worker.terminate();
      throw e;
    });
    const graph = { inputs: ready.inputs, outputs: ready.outputs };
    return new OrtInstance(
      name,
      worker,
      new Int32Array(wake),
      graph,
      outputNames,
      init,
      ready.threadPolicyError,
    );
  }

  execute(requests: InferenceRequest[]): Promise<ExecutionOutcome> {
    return this.send(requests).then((outcomes) => outcomes[0]);
  }

  /** Several executions in one message to the worker, run there one after the other. */
  executeSeveral(batches: InferenceRequest[][]): Promise<ExecutionOutcome[]> {
    return this.send(
      batches.flat(),
      batches.map((b) => b.length),
    );
  }

  /**
   * Posts requests to the worker: one execution of all of them, or executions of `sizes[i]`
   * requests each, in order.
   */
  private send(requests: InferenceRequest[], sizes?: number[]): Promise<ExecutionOutcome[]> {
    if (this.closed)
      return Promise.reject(new TritonError('UNAVAILABLE', `model instance ${this.name} is unloaded`));
    const id = this.nextId++;
    const groups = sizes ?? [requests.length];
    let run: ArrayBuffer[];
    try {
      run = packRun(id, requests, groups, this.inputIndex, requests.map(this.outputNames), this.outputIndex);
    } catch (e) {
      return Promise.reject(new TritonError('INVALID_ARG', (e as Error).message));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { sizes: groups, resolve, reject });
      this.worker.postMessage(run satisfies ToWorker, run);
      wakeWorker(this.wake);
    });
  }

  private onMessage(msg: FromWorker): void {
    let buffers: ArrayBuffer[];
    let errors: ExecutionError[] | undefined;
    if (Array.isArray(msg)) buffers = msg;
    else if (msg.type === 'result') ({ buffers, errors } = msg);
    else return;
    const head = buffers[0];
    const meta = new Float64Array(head, 0, head.byteLength >>> 3);
    const id = meta[0];
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    try {
      p.resolve(this.outcomes(meta, buffers, errors, p.sizes));
    } catch (e) {
      // A malformed result is a bug, but it must fail its requests rather than strand them.
      p.reject(
        new TritonError(
          'INTERNAL',
          `model instance ${this.name} sent an unreadable result: ${(e as Error).message}`,
        ),
      );
    }
  }

  /** Reads a result head into one outcome per execution (`sizes`: requests per execution). */
  private outcomes(
    meta: Float64Array,
    buffers: ArrayBuffer[],
    errors: ExecutionError[] | undefined,
    sizes: number[],
  ): ExecutionOutcome[] {
    const executions = meta[2];
    const lists: WireTensor[][] = [];
    readTensors(meta, RESULT_FIXED_WORDS + 3 * executions, this.init.outputs, lists);
    const results: ExecuteResult[] = new Array(lists.length);
    for (let i = 0; i < lists.length; i++) {
      const list = lists[i];
      const outputs: Tensor[] = new Array(list.length);
      for (let j = 0; j < list.length; j++) {
        const t = list[j];
        outputs[j] = {
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          data: new Uint8Array(buffers[t.buffer], t.byteOffset, t.byteLength),
        };
      }
      results[i] = { outputs };
    }
    if (errors) for (const e of errors) results[e.index] = new TritonError(e.code, e.message);
    const outcomes: ExecutionOutcome[] = new Array(executions);
    let first = 0;
    for (let x = 0; x < executions; x++) {
      const size = sizes[x];
      const w = RESULT_FIXED_WORDS + 3 * x;
      outcomes[x] = {
        results: size === results.length ? results : results.slice(first, first + size),
        timings: { computeInputNs: meta[w], computeInferNs: meta[w + 1], computeOutputNs: meta[w + 2] },
      };
      first += size;
    }
    return outcomes;
  }

  private failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new TritonError('INTERNAL', message));
    this.pending.clear();
  }

  async unload(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    wakeWorker(this.wake);
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
    this.failAll(`model instance ${this.name} was unloaded`);
  }
}
