/**
 * One Python model instance: a stub process (`python/nereid_stub.py`) running the model's
 * `TritonPythonModel`, after Triton's python_backend (one stub process per model instance).
 *
 * - Requests go to the stub as `execute` frames (see protocol.ts); responses come back as views of
 *   the received payload. Decoupled models answer through `response` frames, routed to each
 *   request's `responseSender`.
 * - Faults: the stub's exit is seen at once (`'exit'` event). Its in-flight requests fail with an
 *   error naming the model, the instance and how the process ended; the instance reports not ready
 *   and is restarted (initialize runs again) with a growing delay (0 s, 0.25 s, 0.5 s … 5 s) until it
 *   is back. Requests that arrive meanwhile wait for the restarted stub (at most the stub timeout).
 * - The stub's stdout and stderr lines go to the server log, prefixed with model and instance.
 * - BLS: the stub's `bls` frames run on the server (bls.ts).
 * - The process itself, its socket and shared-memory file: stub.ts.
 */
import type { ModelInstance } from '../../core/backend.js';
import { asTritonError, TritonError } from '../../protocol/errors.js';
import type { ExecuteResult, ExecuteTimings, InferenceRequest, ParameterValue } from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import { correlationIdOf, type CorrelationId } from '../../core/sequence.js';
import { serveBls } from './bls.js';
import { ERROR_CODES, type Frame, type Meta } from './protocol.js';
import { Stub, StubCrash, type StubSettings } from './stub.js';

/** Request parameters Triton turns into request fields instead of passing to the model. */
const NOT_PASSED = new Set([
  'sequence_id',
  'sequence_start',
  'sequence_end',
  'priority',
  'timeout',
  'binary_data_output',
]);

/** Restart delays after a stub dies, in ms; the last one repeats. */
const RESTART_DELAYS_MS = [0, 250, 500, 1000, 2000, 5000];

/** Attempts to start a stub at load time when it dies (not when initialize raises). */
const START_ATTEMPTS = 3;

/** An execute in flight on the stub. */
interface Execution {
  requests: InferenceRequest[];
  resolve: (r: { results: ExecuteResult[]; timings: ExecuteTimings }) => void;
  reject: (e: Error) => void;
  /** Decoupled: requests whose final response has not come yet. */
  open: Set<number>;
  /** Decoupled: the stub reported that execute returned. */
  executed: boolean;
  /** Removes cancellation listeners. */
  cleanup: () => void;
  start: number;
}

/** One model instance served by a stub process. */
export class PythonInstance implements ModelInstance {
  private stub: Stub | undefined;
  private state: 'starting' | 'ready' | 'restarting' | 'unloaded' = 'starting';
  private nextId = 1;
  private readonly executions = new Map<number, Execution>();
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private lastError = '';
  private hasIsReady = false;
  private userReady = true;
  private readyCheckAt = 0;
  private readyCheckInFlight = false;
  private pendingInit:
    | { resolve: (pid: number) => void; reject: (e: Error) => void; crashed: (how: string) => void }
    | undefined;
  private pendingFinalize: (() => void) | undefined;
  /** Process id of the current stub (tests and logs). */
  pid = 0;

  private constructor(private readonly settings: StubSettings) {}

  /** Instance name. */
  get name(): string {
    return this.settings.instance;
  }

  /**
   * Starts the stub and runs `initialize`. A stub that dies during start-up (not one whose
   * initialize raises) is started again, up to 3 attempts.
   * @throws TritonError INTERNAL with the Python exception (`<Type>: <message>` and frames) when
   *   model.py cannot be imported or initialize raises, or when it does not finish within the
   *   stub timeout.
   */
  static async start(settings: StubSettings): Promise<PythonInstance> {
    const instance = new PythonInstance(settings);
    for (let attempt = 1; ; attempt++) {
      try {
        await instance.launch();
        instance.state = 'ready';
        return instance;
      } catch (e) {
        if (!(e instanceof StubCrash) || attempt >= START_ATTEMPTS) {
          instance.state = 'unloaded';
          throw asTritonError(e);
        }
        settings.logger.warn(`${e.message}; starting it again (attempt ${attempt + 1} of ${START_ATTEMPTS})`);
      }
    }
  }

  /** Spawns a stub and waits for initialize; rejects with StubCrash when the process dies. */
  private launch(): Promise<void> {
    const s = this.settings;
    const stub = new Stub(
      s,
      (frame) => this.onFrame(stub, frame),
      (dead, how) => this.onExit(dead, how),
    );
    this.stub = stub;
    const timeout = setTimeout(() => {
      this.pendingInit?.reject(
        new TritonError(
          'INTERNAL',
          `initialize of model instance '${s.instance}' (model '${s.model}') did not finish within ` +
            `${s.timeoutMs / 1000} s (backend config stub-timeout-seconds)`,
        ),
      );
      stub.kill();
    }, s.timeoutMs);
    return new Promise<number>((resolve, reject) => {
      this.pendingInit = {
        resolve,
        reject,
        crashed: (how) =>
          reject(
            new StubCrash(
              `stub process of model instance '${s.instance}' (model '${s.model}') ${how} during initialize`,
            ),
          ),
      };
      stub.send({
        t: 'init',
        model_path: s.modelPath,
        args: s.args,
        decoupled: s.decoupled,
        shm_path: stub.shmPath,
      });
    })
      .then((pid) => {
        this.pid = pid;
      })
      .finally(() => {
        clearTimeout(timeout);
        this.pendingInit = undefined;
      });
  }

  isReady(): boolean {
    if (this.state !== 'ready') return false;
    if (this.hasIsReady && !this.readyCheckInFlight && performance.now() - this.readyCheckAt > 1000) {
      // The model's own is_ready(): asked in the background, the answer counts from then on.
      this.readyCheckInFlight = true;
      this.readyCheckAt = performance.now();
      this.stub?.send({ t: 'is_ready' });
    }
    return this.userReady;
  }

  async execute(
    requests: InferenceRequest[],
  ): Promise<{ results: ExecuteResult[]; timings: ExecuteTimings }> {
    if (this.state !== 'ready') await this.waitReady();
    const stub = this.stub!;
    const id = this.nextId++;
    const tensors: Tensor[] = [];
    const wire = requests.map((r) => {
      const inputs = r.inputs.map((t) => tensors.push(t) - 1);
      const parameters: Record<string, ParameterValue> = {};
      for (const [k, v] of Object.entries(r.parameters)) {
        if (!NOT_PASSED.has(k) && !k.startsWith('triton_')) parameters[k] = v;
      }
      const p = r.parameters;
      const flags = (p.sequence_start === true ? 1 : 0) | (p.sequence_end === true ? 2 : 0);
      return {
        id: r.id,
        ...correlationIdMessage(correlationIdOf(p.sequence_id)),
        flags,
        parameters,
        outputs: r.outputs ? r.outputs.map((o) => o.name) : this.settings.outputs,
        inputs,
      };
    });
    return new Promise((resolve, reject) => {
      const detach: Array<() => void> = [];
      requests.forEach((r, index) => {
        const signal = r.signal;
        if (!signal) return;
        const onAbort = () => stub.send({ t: 'cancel', id, index });
        signal.addEventListener('abort', onAbort, { once: true });
        detach.push(() => signal.removeEventListener('abort', onAbort));
      });
      this.executions.set(id, {
        requests,
        resolve,
        reject,
        open: new Set(requests.map((_, i) => i)),
        executed: false,
        cleanup: () => detach.forEach((d) => d()),
        start: performance.now(),
      });
      stub.sendExecute(id, { t: 'execute', id, requests: wire }, tensors);
    });
  }

  /** Waits until the stub is (back) up; rejects after the stub timeout or on unload. */
  private waitReady(): Promise<void> {
    if (this.state === 'unloaded') {
      return Promise.reject(new TritonError('UNAVAILABLE', `model instance '${this.name}' is unloaded`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new TritonError(
            'UNAVAILABLE',
            `model instance '${this.name}' of model '${this.settings.model}' is not ready: its stub ` +
              `process is restarting${this.lastError ? ` (${this.lastError})` : ''}`,
          ),
        );
      }, this.settings.timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private onFrame(stub: Stub, { meta, tensors }: Frame): void {
    if (stub !== this.stub) return;
    switch (meta.t) {
      case 'ready':
        this.hasIsReady = meta.has_is_ready === true;
        stub.closeShm(meta.shm === true);
        this.pendingInit?.resolve(meta.pid as number);
        return;
      case 'init_error':
        this.pendingInit?.reject(
          new TritonError(
            'INTERNAL',
            `failed to initialize model instance '${this.name}' of model '${this.settings.model}': ${String(meta.message)}`,
          ),
        );
        return;
      case 'responses':
        return this.onResponses(meta, tensors);
      case 'executed':
        return this.onExecuted(meta);
      case 'response':
        return this.onResponse(meta, tensors);
      case 'bls':
        return serveBls(stub, meta, tensors, this.settings);
      case 'log':
        return this.onLog(meta);
      case 'is_ready':
        this.readyCheckInFlight = false;
        this.userReady = meta.ready === true;
        return;
      case 'finalized':
        if (meta.error) this.settings.logger.error(`finalize raised ${String(meta.error)}`);
        this.pendingFinalize?.();
        return;
      default:
        this.settings.logger.warn(`unknown message '${meta.t}' from the Python stub`);
    }
  }

  private static errorOf(e: unknown): TritonError {
    const [code, message] = e as [number, string];
    return new TritonError(ERROR_CODES[code] ?? 'INTERNAL', message);
  }

  private static timings(meta: Meta, start: number): ExecuteTimings {
    const t = (meta.timings as number[] | undefined) ?? [0, 0, 0];
    const total = (performance.now() - start) * 1e6;
    // Time outside the stub's execute (framing, transfer) counts as input and output handling.
    const outside = Math.max(0, total - t[1]);
    return { computeInputNs: outside / 2, computeInferNs: t[1], computeOutputNs: outside / 2 };
  }

  private onResponses(meta: Meta, tensors: Tensor[]): void {
    const id = meta.id as number;
    if (this.stub?.shmOwner === id) this.stub.shmOwner = undefined;
    const ex = this.executions.get(id);
    if (!ex) return;
    this.executions.delete(id);
    ex.cleanup();
    if (meta.error) {
      ex.reject(PythonInstance.errorOf(meta.error));
      return;
    }
    const list = meta.responses as Array<{ outputs: number[]; error?: [number, string] }>;
    const results: ExecuteResult[] = list.map((r) =>
      r.error ? PythonInstance.errorOf(r.error) : { outputs: r.outputs.map((i) => tensors[i]) },
    );
    ex.resolve({ results, timings: PythonInstance.timings(meta, ex.start) });
  }

  private onExecuted(meta: Meta): void {
    const id = meta.id as number;
    if (this.stub?.shmOwner === id) this.stub.shmOwner = undefined;
    const ex = this.executions.get(id);
    if (!ex) return;
    ex.executed = true;
    const timings = PythonInstance.timings(meta, ex.start);
    if (meta.error) {
      const err = PythonInstance.errorOf(meta.error);
      ex.resolve({ results: ex.requests.map(() => err), timings });
      for (const i of ex.open) ex.requests[i].responseSender?.(err, true);
      ex.open.clear();
    } else {
      ex.resolve({ results: ex.requests.map(() => ({ outputs: [] })), timings });
    }
    if (ex.open.size === 0) {
      this.executions.delete(id);
      ex.cleanup();
    }
  }

  private onResponse(meta: Meta, tensors: Tensor[]): void {
    const id = meta.id as number;
    const ex = this.executions.get(id);
    if (!ex) return;
    const index = meta.index as number;
    const final = ((meta.flags as number) & 1) === 1;
    const r = meta.response as { error?: [number, string] } | undefined;
    const result: ExecuteResult | undefined = r
      ? r.error
        ? PythonInstance.errorOf(r.error)
        : { outputs: tensors }
      : undefined;
    ex.requests[index]?.responseSender?.(result, final);
    if (final) {
      ex.open.delete(index);
      if (ex.open.size === 0 && ex.executed) {
        this.executions.delete(id);
        ex.cleanup();
      }
    }
  }

  private onLog(meta: Meta): void {
    const log = this.settings.logger;
    const msg = String(meta.msg);
    if (meta.level === 'E') log.error(msg);
    else if (meta.level === 'W') log.warn(msg);
    else if (meta.level === 'V') log.verbose(1, msg);
    else log.info(msg);
  }

  private onExit(stub: Stub, how: string): void {
    if (stub !== this.stub) return;
    if (this.pendingInit) {
      this.pendingInit.crashed(how);
      return;
    }
    this.pendingFinalize?.();
    if (this.state === 'unloaded') {
      this.failAll(new TritonError('UNAVAILABLE', `model instance '${this.name}' was unloaded`));
      return;
    }
    const s = this.settings;
    const message =
      `Failed to process the request(s) for model instance '${s.instance}', message: stub process ` +
      `(pid ${stub.child.pid}) of model '${s.model}' ${how}; it is being restarted`;
    s.logger.error(`stub process (pid ${stub.child.pid}) ${how}: restarting it`);
    this.failAll(new TritonError('INTERNAL', message));
    this.state = 'restarting';
    void this.restart();
  }

  /** Fails every execution in flight (and every open decoupled request) with `error`. */
  private failAll(error: TritonError): void {
    const executions = [...this.executions.values()];
    this.executions.clear();
    for (const ex of executions) {
      ex.cleanup();
      if (ex.executed) {
        for (const i of ex.open) ex.requests[i].responseSender?.(error, true);
      } else {
        ex.reject(error);
        for (const i of ex.open) ex.requests[i].responseSender?.(error, true);
      }
    }
  }

  /** Starts stubs with growing delays until one initializes, or the instance is unloaded. */
  private async restart(): Promise<void> {
    for (let attempt = 0; this.state === 'restarting'; attempt++) {
      const delay = RESTART_DELAYS_MS[Math.min(attempt, RESTART_DELAYS_MS.length - 1)];
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (this.state !== 'restarting') return;
      try {
        await this.launch();
      } catch (e) {
        this.lastError = (e as Error).message;
        this.settings.logger.error(`restart of the stub failed: ${this.lastError}`);
        continue;
      }
      if (this.state !== 'restarting') {
        this.stub?.kill();
        return;
      }
      this.state = 'ready';
      this.lastError = '';
      this.settings.logger.info(`stub process restarted (pid ${this.pid})`);
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w.resolve();
      return;
    }
  }

  /** Calls the model's finalize() and ends the stub (killed after the stub timeout). */
  async unload(): Promise<void> {
    if (this.state === 'unloaded') return;
    this.state = 'unloaded';
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters)
      w.reject(new TritonError('UNAVAILABLE', `model instance '${this.name}' is unloaded`));
    const stub = this.stub;
    if (!stub || stub.exit !== undefined) return;
    const finalized = new Promise<void>((resolve) => (this.pendingFinalize = resolve));
    stub.send({ t: 'finalize' });
    const timer = setTimeout(() => stub.kill(), this.settings.timeoutMs);
    await finalized;
    await Promise.race([stub.exited, new Promise((r) => setTimeout(r, 2000))]);
    clearTimeout(timer);
    stub.kill();
    await stub.exited;
    this.failAll(new TritonError('UNAVAILABLE', `model instance '${this.name}' was unloaded`));
  }
}

/**
 * A correlation id for the stub's JSON: numbers and strings as they are; a uint64 beyond 2^53 as
 * its digits with `correlation_id_uint64` set (the stub makes it a Python int).
 */
function correlationIdMessage(id: CorrelationId): {
  correlation_id: number | string;
  correlation_id_uint64?: true;
} {
  return typeof id === 'bigint'
    ? { correlation_id: id.toString(), correlation_id_uint64: true }
    : { correlation_id: id };
}
