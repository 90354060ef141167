/**
 * The framing between the server and a Python stub process (`python/nereid_stub.py`).
 *
 * The stub listens on a Unix socket whose path it gets as its argument (in the temporary folder,
 * removed once connected); the server connects to it and reads with node's `onread` option, so a
 * large payload is read straight into its own buffer. The stub's stdout and stderr stay free for
 * the model's `print()` and tracebacks, which the server copies into its log. Both directions
 * carry the same frames:
 *
 * ```
 *   offset  size  field
 *   0       4     meta length M, uint32 little-endian
 *   4       8     payload length P, uint64 little-endian
 *   12      M     meta: UTF-8 JSON object, {"t": <message type>, ..., "tensors": [[name, datatype,
 *                 shape, byte size], ...]}
 *   12+M    P     payload: the bytes of the listed tensors back to back, in list order, in Triton's
 *                 binary tensor layout (little-endian, row-major, BOOL one byte, BYTES 4-byte
 *                 little-endian length-prefixed elements — src/core/tensor.ts)
 * ```
 *
 * Tensor bytes never go through JSON: the server writes a frame with one corked `writev` of the
 * requests' own buffers (no copy in node), the stub reads each tensor with `readinto` into a fresh
 * numpy buffer that becomes the input array (no further copy) and answers with one `os.writev` of
 * the output arrays' memory; the server reads a large payload into one buffer (the kernel's copy is
 * the only one) and hands output tensors on as views of it.
 *
 * Messages (meta `t`), server → stub:
 * - `init` {model_path, args (initialize's dict), decoupled} → `ready` {pid, has_is_ready} or
 *   `init_error` {message}
 * - `auto_complete` {model_path, config (JSON text)} → `auto_completed` {config} or `init_error`
 * - `execute` {id, requests: [{id, correlation_id, correlation_id_uint64? (a uint64 beyond 2^53,
 *   as digits), flags, parameters, outputs: [names], inputs: [tensor indices]}]} → `responses` {id, responses: [{outputs: [tensor indices],
 *   error?: [code, message], parameters?}], timings: [input, infer, output ns]} or
 *   `responses` {id, error} for the whole batch; decoupled models answer `executed` {id, error?}
 *   when execute returns, and `response` {id, index, flags, response?} for every response sent
 * - `cancel` {id, index}: the client cancelled that request (`is_cancelled()`)
 * - `is_ready` → `is_ready` {ready}
 * - `finalize` → `finalized` {error?}, then the stub exits
 * - `bls_response` {bid, final, response?: {outputs, error?, parameters?}}: answer to a BLS request
 *
 * stub → server only: `bls` {bid, decoupled, request: {model, version, id, correlation_id, flags,
 * timeout, parameters, outputs, inputs}} and `log` {level: I|W|E|V, msg}.
 *
 * Error codes are TRITONSERVER_Error_Code numbers (0 UNKNOWN … 7 CANCELLED).
 */
import type { Datatype } from '../../protocol/datatypes.js';
import type { ErrorCode } from '../../protocol/errors.js';
import type { Tensor } from '../../core/tensor.js';

/** Bytes before the meta JSON. */
const PREFIX_BYTES = 12;

/** TRITONSERVER_Error_Code numbers → the core's error codes. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'UNKNOWN',
  'INTERNAL',
  'NOT_FOUND',
  'INVALID_ARG',
  'UNAVAILABLE',
  'UNSUPPORTED',
  'ALREADY_EXISTS',
  'CANCELLED',
];

/** The core's error code → its TRITONSERVER_Error_Code number. */
export function errorCodeNumber(code: ErrorCode): number {
  const n = ERROR_CODES.indexOf(code);
  return n < 0 ? 1 : n;
}

/** A tensor's entry in a frame's `tensors` list: [name, datatype, shape, byte size]. */
export type WireTensor = [string, Datatype, number[], number];

/** A frame's meta object. */
export interface Meta {
  /** Message type. */
  t: string;
  /** Tensors in the payload. */
  tensors?: WireTensor[];
  [key: string]: unknown;
}

/** A decoded frame: meta and its tensors (views into the received payload). */
export interface Frame {
  meta: Meta;
  tensors: Tensor[];
}

/**
 * Encodes a frame as the list of buffers to write: prefix + meta, then every tensor's bytes as
 * they are (no copies). Fills `meta.tensors`.
 */
export function encodeFrame(meta: Meta, tensors: readonly Tensor[] = []): Uint8Array[] {
  let payload = 0;
  if (tensors.length > 0) {
    meta.tensors = tensors.map((t) => {
      payload += t.data.byteLength;
      return [t.name, t.datatype, t.shape, t.data.byteLength];
    });
  }
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const head = Buffer.allocUnsafe(PREFIX_BYTES + json.length);
  head.writeUInt32LE(json.length, 0);
  head.writeUInt32LE(payload % 0x1_0000_0000, 4);
  head.writeUInt32LE(Math.floor(payload / 0x1_0000_0000), 8);
  json.copy(head, PREFIX_BYTES);
  const out: Uint8Array[] = [head];
  for (const t of tensors) if (t.data.byteLength > 0) out.push(t.data);
  return out;
}

/** Payloads up to this size are read into the reader's scratch buffer (then copied out). */
const SMALL_PAYLOAD = 64 * 1024;

/**
 * Splits the byte stream from a stub into frames, for a socket read with node's `onread` option:
 * `nextBuffer()` gives the memory the next read fills, `onRead(n)` reports how much it got. Headers
 * and small frames are read into a reusable scratch buffer (small payloads are then copied out);
 * a large payload is read straight into a buffer of its own, which its tensors are views of, so
 * its bytes are copied once, by the kernel.
 */
export class FrameReader {
  private scratch = Buffer.allocUnsafe(2 * SMALL_PAYLOAD);
  private start = 0;
  private end = 0;
  /** A large payload being read in place. */
  private big: { meta: Meta; buf: Buffer; filled: number } | undefined;

  /** @param onFrame called for every complete frame, in order. @param onError bad framing. */
  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onError: (e: Error) => void,
  ) {}

  /** The memory the next read should fill (never empty). */
  nextBuffer(): Uint8Array {
    if (this.big) return this.big.buf.subarray(this.big.filled);
    if (this.end === this.scratch.length) this.reserve(this.end - this.start + 1);
    return this.scratch.subarray(this.end);
  }

  /** `n` bytes were read into the buffer `nextBuffer()` gave last. */
  onRead(n: number): void {
    if (this.big) {
      this.big.filled += n;
      if (this.big.filled === this.big.buf.length) {
        const { meta, buf } = this.big;
        this.big = undefined;
        this.emit(meta, buf);
      }
      return;
    }
    this.end += n;
    this.parse();
  }

  /** Makes room for `bytes` unread bytes from `start` (compacting, or growing the scratch buffer). */
  private reserve(bytes: number): void {
    if (this.start > 0) {
      this.scratch.copy(this.scratch, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    if (bytes > this.scratch.length) {
      const grown = Buffer.allocUnsafe(Math.max(bytes, this.scratch.length * 2));
      this.scratch.copy(grown, 0, 0, this.end);
      this.scratch = grown;
    }
  }

  private parse(): void {
    for (;;) {
      const avail = this.end - this.start;
      if (avail < PREFIX_BYTES) return;
      const metaLength = this.scratch.readUInt32LE(this.start);
      const payload =
        this.scratch.readUInt32LE(this.start + 4) + this.scratch.readUInt32LE(this.start + 8) * 0x1_0000_0000;
      if (avail < PREFIX_BYTES + metaLength) {
        if (this.start + PREFIX_BYTES + metaLength > this.scratch.length)
          this.reserve(PREFIX_BYTES + metaLength);
        return;
      }
      const bodyStart = this.start + PREFIX_BYTES + metaLength;
      const have = this.end - bodyStart;
      if (have < payload && payload <= SMALL_PAYLOAD) {
        if (bodyStart + payload > this.scratch.length) this.reserve(PREFIX_BYTES + metaLength + payload);
        return;
      }
      let meta: Meta;
      try {
        meta = JSON.parse(this.scratch.toString('utf8', this.start + PREFIX_BYTES, bodyStart)) as Meta;
      } catch (e) {
        this.onError(new Error(`bad frame from the Python stub: ${(e as Error).message}`));
        return;
      }
      if (have >= payload) {
        const body = Buffer.allocUnsafe(payload);
        this.scratch.copy(body, 0, bodyStart, bodyStart + payload);
        this.start = bodyStart + payload;
        if (this.start === this.end) this.start = this.end = 0;
        this.emit(meta, body);
        continue;
      }
      // A large payload: what is here goes first, the rest is read in place.
      const buf = Buffer.allocUnsafe(payload);
      this.scratch.copy(buf, 0, bodyStart, this.end);
      this.start = this.end = 0;
      this.big = { meta, buf, filled: have };
      return;
    }
  }

  private emit(meta: Meta, payload: Buffer): void {
    const tensors: Tensor[] = [];
    let off = 0;
    for (const [name, datatype, shape, size] of meta.tensors ?? []) {
      tensors.push({ name, datatype, shape, data: payload.subarray(off, off + size) });
      off += size;
    }
    this.onFrame({ meta, tensors });
  }
}
