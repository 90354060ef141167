/**
 * The stub process of a Python model instance (`python/nereid_stub.py`, after Triton's
 * python_backend stub): spawning it, the Unix socket and the frames to and from it (protocol.ts),
 * the shared-memory file for large execute payloads, its exit, and the short-lived stub that runs
 * `auto_complete_config`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { TritonError } from '../../protocol/errors.js';
import type { Logger } from '../../core/logger.js';
import type { InferenceRequest, InferenceResponse, StreamCallback } from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import { encodeFrame, FrameReader, type Frame, type Meta } from './protocol.js';

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

/** Folder of the shared-memory files. */
const SHM_DIR = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
/** Execute payloads from this size go through the shared-memory file. */
const SHM_MIN_BYTES = 256 * 1024;

let socketSeq = 0;

/** A stub process and the socket to it. */
export class Stub {
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

/** The stub process died before initialize finished (as opposed to initialize raising). */
export class StubCrash extends Error {}

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
