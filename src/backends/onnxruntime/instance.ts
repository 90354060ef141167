/**
 * The event-loop side of an ONNX Runtime model instance: a worker thread holding one session.
 */
import { Worker } from 'node:worker_threads';
import type { ExecutionOutcome, ModelInstance } from '../../core/backend.js';
import { TritonError } from '../../core/errors.js';
import type { ExecuteResult, InferenceRequest } from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import {
  decodeTensors,
  encodeNames,
  type FromWorker,
  type GraphTensor,
  type ToWorker,
  type WorkerInit,
} from './protocol.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

type Pending = {
  /** Requests per execution. */
  sizes: number[];
  resolve: (r: ExecutionOutcome[]) => void;
  reject: (e: Error) => void;
};

/**
 * Packs the inputs of requests for transfer and describes them in `meta` (the `encodeTensors`
 * layout, written in place from `k`; returns the next free position). `groups` gives the requests
 * per execution. A request that owns its buffers hands them over as they are (no copy; the worker
 * gathers them). The inputs of all other requests of an execution are copied once into one fresh
 * buffer, laid out input by input — every request's `INPUT0`, then every request's `INPUT1`, each run
 * 8-byte aligned — which is the batch tensor itself: the worker uses each run as it is, so batch-1
 * requests cost one copy in all. (Transferring a shared buffer would take it from its other users,
 * and structured-cloning a view would copy all of its buffer.)
 * @param inputIndex config input name → position.
 * @throws Error for an input name not in the config (requests are validated before they get here).
 */
export function packRequests(
  requests: InferenceRequest[],
  groups: number[],
  inputIndex: Map<string, number>,
  meta: Float64Array,
  k: number,
  buffers: ArrayBuffer[],
): number {
  const inputs = inputIndex.size;
  const runs = new Array<number>(inputs);
  const cursor = new Array<number>(inputs);
  const ownedBuffers = new Map<ArrayBuffer, number>();
  let first = 0;
  for (const n of groups) {
    const end = first + n;
    // Each tensor's config position (looked up once), and bytes per config input over the copied
    // requests of this execution.
    runs.fill(0);
    let copied = false;
    const owned: boolean[] = new Array(n);
    const positions: number[] = [];
    for (let i = first; i < end; i++) {
      const r = requests[i];
      owned[i - first] =
        r.ownsBuffers === true && r.inputs.every((t) => !(t.data.buffer instanceof SharedArrayBuffer));
      if (!owned[i - first]) copied = true;
      for (const t of r.inputs) {
        const index = inputIndex.get(t.name);
        if (index === undefined) throw new Error(`tensor '${t.name}' is not in the model configuration`);
        positions.push(index);
        if (!owned[i - first]) runs[index] += t.data.byteLength;
      }
    }
    let p = 0;
    let packed: Uint8Array | undefined;
    let packedIndex = -1;
    if (copied) {
      let total = 0;
      for (let j = 0; j < inputs; j++) {
        cursor[j] = total;
        total += (runs[j] + 7) & ~7;
      }
      const ab = new ArrayBuffer(total);
      packed = new Uint8Array(ab);
      packedIndex = buffers.push(ab) - 1;
    }
    for (let i = first; i < end; i++) {
      const r = requests[i];
      meta[k++] = r.inputs.length;
      for (const t of r.inputs) {
        const index = positions[p++];
        const bytes = t.data;
        let buffer: number;
        let byteOffset: number;
        if (owned[i - first]) {
          const ab = bytes.buffer as ArrayBuffer;
          let b = ownedBuffers.get(ab);
          if (b === undefined) {
            b = buffers.push(ab) - 1;
            ownedBuffers.set(ab, b);
          }
          buffer = b;
          byteOffset = bytes.byteOffset;
        } else {
          byteOffset = cursor[index];
          if (bytes.byteLength === 8) {
            // One 8-byte element (an INT64/FP64 of a batch-1 request): cheaper than a set() call.
            const src = bytes;
            const dst = packed!;
            for (let q = 0; q < 8; q++) dst[byteOffset + q] = src[q];
          } else {
            packed!.set(bytes, byteOffset);
          }
          cursor[index] = byteOffset + bytes.byteLength;
          buffer = packedIndex;
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
  return k;
}

/** Length of the `encodeTensors` description of the requests' inputs. */
function metaLength(requests: InferenceRequest[]): number {
  let size = 1;
  for (const r of requests) {
    size += 1;
    for (const t of r.inputs) size += 5 + t.shape.length;
  }
  return size;
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
    /** The graph's inputs and outputs as ORT reports them. */
    readonly graph: { inputs: GraphTensor[]; outputs: GraphTensor[] },
    private readonly outputNames: (r: InferenceRequest) => string[],
    private readonly init: WorkerInit,
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
    const worker = new Worker(WORKER_URL, { workerData: init, name: `ort:${name}` });
    const graph = await new Promise<{ inputs: GraphTensor[]; outputs: GraphTensor[] }>((resolve, reject) => {
      const onMessage = (msg: FromWorker) => {
        worker.off('error', onError);
        if (msg.type === 'ready') resolve({ inputs: msg.inputs, outputs: msg.outputs });
        else if (msg.type === 'init-error') reject(new TritonError('INVALID_ARG', msg.message));
      };
      const onError = (e: Error) => reject(new TritonError('INTERNAL', e.message));
      worker.once('message', onMessage);
      worker.once('error', onError);
    }).catch(async (e) => {
      await worker.terminate();
      throw e;
    });
    return new OrtInstance(name, worker, graph, outputNames, init);
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
    const buffers: ArrayBuffer[] = [];
    let meta: Float64Array;
    let wanted: Float64Array;
    try {
      meta = new Float64Array(metaLength(requests));
      meta[0] = requests.length;
      packRequests(requests, groups, this.inputIndex, meta, 1, buffers);
      wanted = encodeNames(requests.map(this.outputNames), this.outputIndex);
    } catch (e) {
      return Promise.reject(new TritonError('INVALID_ARG', (e as Error).message));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { sizes: groups, resolve, reject });
      const msg: ToWorker = sizes
        ? { type: 'run', id, meta, wanted, sizes, buffers }
        : { type: 'run', id, meta, wanted, buffers };
      this.worker.postMessage(msg, buffers);
    });
  }

  private onMessage(msg: FromWorker): void {
    if (msg.type !== 'result') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    const lists = decodeTensors(msg.meta, this.init.outputs);
    const results: ExecuteResult[] = lists.map((list) => ({
      outputs: list.map((t): Tensor => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        data: new Uint8Array(msg.buffers[t.buffer], t.byteOffset, t.byteLength),
      })),
    }));
    for (const e of msg.errors ?? []) results[e.index] = new TritonError(e.code, e.message);
    const outcomes: ExecutionOutcome[] = [];
    let first = 0;
    p.sizes.forEach((size, i) => {
      outcomes.push({ results: results.slice(first, first + size), timings: msg.timings[i] });
      first += size;
    });
    p.resolve(outcomes);
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
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
    this.failAll(`model instance ${this.name} was unloaded`);
  }
}
