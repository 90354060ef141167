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
 * - BLS: the stub's `bls` frames run on the server through `ModelLoadContext.infer/inferStream`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { ModelInstance } from '../../core/backend.js';
import { asTritonError, TritonError } from '../../protocol/errors.js';
import type { Logger } from '../../core/logger.js';
import type {
  ExecuteResult,
  ExecuteTimings,
  InferenceRequest,
  InferenceResponse,
  ParameterValue,
  StreamCallback,
} from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import { encodeFrame, ERROR_CODES, errorCodeNumber, FrameReader, type Frame, type Meta } from './protocol.js';

/** What a stub needs to start and serve. */
export interface StubSettings {
  /** Model name (for messages). */
  model: string;
  /** Instance name (`<group>_<index>`). */
  instance: string;
  /** Python interpreter to run the stub with. */
  python: string;
  /** Path of `nereid_stub.py`. */
  stubPath: string;
  /** Environment of the stub process. */
  env: NodeJS.ProcessEnv;
  /** The model file (`model.py`). */
  modelPath: string;
  /** `initialize(args)`'s dict (Triton's keys, string values). */
  args: Record<string, string>;
  /** The model is decoupled. */
  decoupled: boolean;
  /** Output names in config order: what a request without `outputs` asks for. */
  outputs: string[];
  /** Time allowed for start + initialize and for finalize, in ms (`stub-timeout-seconds`). */
  timeoutMs: number;
  /** Log of this instance (lines are prefixed with model:version/instance). */
  logger: Logger;
  /** BLS: runs a request on the server. */
  infer?: (request: InferenceRequest) => Promise<InferenceResponse>;
  /** BLS to decoupled models. */
  inferStream?: (request: InferenceRequest, onResponse: StreamCallback) => Promise<void>;
}

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

let socketSeq = 0;

/** A stub process and the socket to it. */
class Stub {
  readonly child: ChildProcess;
  private socket: Socket | undefined;
  /** Frames written before the socket is connected. */
  private queued: Uint8Array[][] = [];
  /** Set when the process exited: how it ended, for messages. */
  exit: string | undefined;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;

  constructor(
    private readonly settings: StubSettings,
    onFrame: (frame: Frame) => void,
    onExit: (stub: Stub, how: string) => void,
  ) {
    const socketPath = path.join(os.tmpdir(), `nereid-${process.pid}-${++socketSeq}.sock`);
    this.child = spawn(settings.python, [settings.stubPath, socketPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: settings.env,
    });
    const log = settings.logger;
    readline.createInterface({ input: this.child.stdout! }).on('line', (line) => log.info(line));
    readline.createInterface({ input: this.child.stderr! }).on('line', (line) => log.warn(line));
    this.exited = new Promise((resolve) => {
      const done = (how: string) => {
        if (this.exit !== undefined) return;
        this.exit = how;
        this.socket?.destroy();
        fs.rm(socketPath, { force: true }, () => undefined);
        this.closeShm();
        resolve();
        onExit(this, how);
      };
      this.child.once('exit', (code, signal) => done(signal ? `killed by ${signal}` : `exit code ${code}`));
      this.child.once('error', (e) => done(`could not start '${settings.python}': ${e.message}`));
    });
    try {
      this.shmPath = path.join(SHM_DIR, `nereid-${process.pid}-${socketSeq}.shm`);
      this.shmFd = fs.openSync(this.shmPath, 'w+', 0o600);
    } catch {
      this.shmPath = undefined;
    }
    const reader = new FrameReader(onFrame, (e) => {
      log.error(`${e.message}; stopping the stub`);
      this.kill();
    });
    void this.connect(socketPath, reader);
  }

  /** Connects to the stub's socket (retrying until it listens) and sends what was queued. */
  private async connect(socketPath: string, reader: FrameReader): Promise<void> {
    for (let delay = 2; this.exit === undefined; delay = Math.min(delay * 2, 50)) {
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const s = net.connect({
          path: socketPath,
          onread: {
            buffer: () => reader.nextBuffer(),
            callback: (n: number) => {
              reader.onRead(n);
              return true;
            },
          },
        });
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (socket) {
        if (this.exit !== undefined) {
          socket.destroy();
          return;
        }
        socket.on('error', () => undefined); // the 'exit' event reports the failure
        this.socket = socket;
        for (const parts of this.queued) this.write(parts);
        this.queued = [];
        return;
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  private write(parts: Uint8Array[]): void {
    const socket = this.socket!;
    if (parts.length === 1) {
      socket.write(parts[0]);
      return;
    }
    socket.cork();
    for (const p of parts) socket.write(p);
    socket.uncork();
  }

  /** Writes one frame (queued until connected; dropped when the process is gone). */
  send(meta: Meta, tensors?: readonly Tensor[]): void {
    if (this.exit !== undefined) return;
    const parts = encodeFrame(meta, tensors);
    if (!this.socket) this.queued.push(parts);
    else if (!this.socket.destroyed) this.write(parts);
  }

  kill(): void {
    if (this.exit === undefined) this.child.kill('SIGKILL');
  }

  /** Path of the shared-memory file for large execute inputs (undefined when unavailable). */
  shmPath: string | undefined;
  private shmFd: number | undefined;
  /** The execute whose inputs are in the shared-memory file and not yet answered. */
  shmOwner: number | undefined;

  /** Removes the shared-memory file's name (once the stub has opened it) or closes it entirely. */
  closeShm(keepOpen = false): void {
    if (this.shmPath) fs.rm(this.shmPath, { force: true }, () => undefined);
    this.shmPath = undefined;
    if (!keepOpen && this.shmFd !== undefined) {
      fs.closeSync(this.shmFd);
      this.shmFd = undefined;
    }
  }

  /**
   * Sends an execute frame whose tensors go through the shared-memory file (one pwritev of the
   * requests' buffers; the stub preadv's them into its numpy arrays) when the file is free and the
   * payload is large; otherwise through the socket.
   */
  sendExecute(id: number, meta: Meta, tensors: readonly Tensor[]): void {
    let total = 0;
    for (const t of tensors) total += t.data.byteLength;
    if (this.shmFd !== undefined && this.shmOwner === undefined && total >= SHM_MIN_BYTES && this.socket) {
      try {
        const written = fs.writevSync(
          this.shmFd,
          tensors.map((t) => t.data),
          0,
        );
        if (written === total) {
          meta.tensors = tensors.map((t) => [t.name, t.datatype, t.shape, t.data.byteLength]);
          meta.shm = [0, total];
          this.shmOwner = id;
          this.send(meta);
          return;
        }
      } catch {
        // e.g. ENOSPC on a small /dev/shm: use the socket from now on.
      }
      fs.closeSync(this.shmFd);
      this.shmFd = undefined;
    }
    this.send(meta, tensors);
  }
}

/** Folder of the shared-memory files. */
const SHM_DIR = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
/** Execute payloads from this size go through the shared-memory file. */
const SHM_MIN_BYTES = 256 * 1024;

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
        correlation_id: p.sequence_id ?? 0,
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
        return this.onBls(stub, meta, tensors);
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

  /** A BLS request from the model: run it on the server, answer with bls_response frame(s). */
  private onBls(stub: Stub, meta: Meta, tensors: Tensor[]): void {
    const bid = meta.bid as number;
    const r = meta.request as {
      model: string;
      version: string;
      id: string;
      correlation_id: number | string;
      flags: number;
      timeout: number;
      parameters: Record<string, ParameterValue>;
      outputs: string[];
    };
    const parameters: Record<string, ParameterValue> = { ...r.parameters };
    if (r.correlation_id) parameters.sequence_id = r.correlation_id;
    if (r.flags & 1) parameters.sequence_start = true;
    if (r.flags & 2) parameters.sequence_end = true;
    if (r.timeout > 0) parameters.timeout = r.timeout;
    const request: InferenceRequest = {
      model: r.model,
      version: r.version || undefined,
      id: r.id,
      inputs: tensors,
      outputs: r.outputs.length > 0 ? r.outputs.map((name) => ({ name })) : undefined,
      parameters,
    };
    const answer = (res: InferenceResponse | TritonError | undefined, final: boolean) => {
      if (res instanceof TritonError) {
        stub.send({
          t: 'bls_response',
          bid,
          final,
          response: { error: [errorCodeNumber(res.code), res.message] },
        });
      } else if (res) {
        stub.send(
          { t: 'bls_response', bid, final, response: res.parameters ? { parameters: res.parameters } : {} },
          res.outputs,
        );
      } else {
        stub.send({ t: 'bls_response', bid, final });
      }
    };
    const { infer, inferStream } = this.settings;
    if (meta.decoupled === true && inferStream) {
      void inferStream(request, answer);
    } else if (infer) {
      infer(request).then(
        (res) => answer(res, true),
        (e) => answer(asTritonError(e), true),
      );
    } else {
      answer(new TritonError('UNSUPPORTED', 'BLS is not available in this server'), true);
    }
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

/** The stub process died before initialize finished (as opposed to initialize raising). */
class StubCrash extends Error {}

/**
 * Runs `TritonPythonModel.auto_complete_config` in a short-lived stub (as Triton does before
 * creating instances).
 * @param configJson the config as Triton's JSON text.
 * @returns the completed config as JSON text.
 * @throws TritonError INTERNAL with the Python exception when model.py cannot be imported or
 *   auto_complete_config raises (e.g. a ValueError from ModelConfig.add_input), or on timeout.
 */
export function runAutoComplete(
  settings: Pick<
    StubSettings,
    'model' | 'python' | 'stubPath' | 'env' | 'modelPath' | 'timeoutMs' | 'logger'
  >,
  configJson: string,
): Promise<string> {
  const full: StubSettings = {
    ...settings,
    instance: `${settings.model}_autocomplete`,
    args: {},
    decoupled: false,
    outputs: [],
  };
  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (e: Error | undefined, config?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(config!);
      stub.kill();
    };
    const stub = new Stub(
      full,
      ({ meta }) => {
        if (meta.t === 'auto_completed') finish(undefined, String(meta.config));
        else if (meta.t === 'init_error') {
          finish(
            new TritonError(
              'INTERNAL',
              `auto_complete_config of model '${settings.model}' failed: ${String(meta.message)}`,
            ),
          );
        }
      },
      (_s, how) =>
        finish(new TritonError('INTERNAL', `auto-complete stub of model '${settings.model}' ${how}`)),
    );
    const timer = setTimeout(
      () =>
        finish(
          new TritonError(
            'INTERNAL',
            `auto_complete_config of model '${settings.model}' did not finish within ${settings.timeoutMs / 1000} s`,
          ),
        ),
      settings.timeoutMs,
    );
    stub.send({ t: 'auto_complete', model_path: settings.modelPath, config: configJson });
  });
}
