/**
 * The event-loop side of an ONNX Runtime model instance: a worker thread holding one session.
 */
import { Worker } from 'node:worker_threads';
import type { ModelInstance } from '../../core/backend.js';
import { TritonError } from '../../core/errors.js';
import type { ExecuteResult, ExecuteTimings, InferenceRequest } from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import {
  decodeTensors,
  encodeNames,
  encodeTensors,
  type FromWorker,
  type GraphTensor,
  type ToWorker,
  type WireRequest,
  type WireTensor,
  type WorkerInit,
} from './protocol.js';

const WORKER_URL = new URL('./worker.js', import.meta.url);

type Pending = {
  resolve: (r: { results: ExecuteResult[]; timings: ExecuteTimings }) => void;
  reject: (e: Error) => void;
};

/**
 * Packs the inputs of a batch for transfer. A request that owns its buffers hands them over as they
 * are (no copy; the worker gathers them). The inputs of all other requests are copied once into one
 * fresh buffer, laid out input by input — every request's `INPUT0`, then every request's `INPUT1`,
 * each run 8-byte aligned — which is the batch tensor itself: the worker uses each run as it is,
 * so batch-1 requests cost one copy in all. (Transferring a shared buffer would take it from its
 * other users, and structured-cloning a view would copy all of its buffer.)
 */
export function packRequests(
  requests: InferenceRequest[],
  outputNames: (r: InferenceRequest) => string[],
): { wire: WireRequest[]; buffers: ArrayBuffer[] } {
  const buffers: ArrayBuffer[] = [];
  const index = new Map<ArrayBuffer, number>();
  const owned = requests.map(
    (r) => r.ownsBuffers === true && r.inputs.every((t) => !(t.data.buffer instanceof SharedArrayBuffer)),
  );
  // Runs of the copied requests: input name → total bytes, in first-seen order.
  const runs = new Map<string, number>();
  requests.forEach((r, i) => {
    if (owned[i]) return;
    for (const t of r.inputs) runs.set(t.name, (runs.get(t.name) ?? 0) + t.data.byteLength);
  });
  let packed: Uint8Array | undefined;
  let packedIndex = -1;
  const cursor = new Map<string, number>();
  if (runs.size > 0) {
    let total = 0;
    for (const [name, bytes] of runs) {
      cursor.set(name, total);
      total += (bytes + 7) & ~7;
    }
    const ab = new ArrayBuffer(total);
    packed = new Uint8Array(ab);
    packedIndex = buffers.push(ab) - 1;
  }
  const wire = requests.map((r, i) => {
    const inputs = r.inputs.map((t): WireTensor => {
      if (owned[i]) {
        const ab = t.data.buffer as ArrayBuffer;
        let b = index.get(ab);
        if (b === undefined) {
          b = buffers.push(ab) - 1;
          index.set(ab, b);
        }
        return {
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          buffer: b,
          byteOffset: t.data.byteOffset,
          byteLength: t.data.byteLength,
        };
      }
      const at = cursor.get(t.name)!;
      packed!.set(t.data, at);
      cursor.set(t.name, at + t.data.byteLength);
      return {
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        buffer: packedIndex,
        byteOffset: at,
        byteLength: t.data.byteLength,
      };
    });
    return { inputs, outputs: outputNames(r) };
  });
  return { wire, buffers };
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

  execute(requests: InferenceRequest[]): Promise<{ results: ExecuteResult[]; timings: ExecuteTimings }> {
    if (this.closed)
      return Promise.reject(new TritonError('UNAVAILABLE', `model instance ${this.name} is unloaded`));
    const id = this.nextId++;
    const { wire, buffers } = packRequests(requests, this.outputNames);
    let meta: Float64Array;
    let wanted: Float64Array;
    try {
      meta = encodeTensors(
        wire.map((r) => r.inputs),
        this.inputIndex,
      );
      wanted = encodeNames(
        wire.map((r) => r.outputs),
        this.outputIndex,
      );
    } catch (e) {
      return Promise.reject(new TritonError('INVALID_ARG', (e as Error).message));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: 'run', id, meta, wanted, buffers };
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
    p.resolve({ results, timings: msg.timings });
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
