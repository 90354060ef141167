/**
 * The framing between the server and a Python stub process (`python/nereid_stub.py`).
 *
 * The stub gets one Unix stream socket as its file descriptor 3 (node's extra `'pipe'` stdio entry);
 * its stdout and stderr stay free for the model's `print()` and tracebacks, which the server copies
 * into its log. Both directions carry the same frames:
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
 * the output arrays' memory; the server hands output tensors on as views of the received payload.
 *
 * Messages (meta `t`), server → stub:
 * - `init` {model_path, args (initialize's dict), decoupled} → `ready` {pid, has_is_ready} or
 *   `init_error` {message}
 * - `auto_complete` {model_path, config (JSON text)} → `auto_completed` {config} or `init_error`
 * - `execute` {id, requests: [{id, correlation_id, flags, parameters, outputs: [names],
 *   inputs: [tensor indices]}]} → `responses` {id, responses: [{outputs: [tensor indices],
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
import type { Datatype } from '../../core/datatypes.js';
import type { ErrorCode } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';

/** Bytes before the meta JSON. */
export const PREFIX_BYTES = 12;

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

/**
 * Splits the byte stream from a stub into frames. Small frames are views of the received chunks;
 * a payload spread over several chunks is gathered once into a buffer of its own.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Header of the frame being read, once its prefix and meta are in. */
  private current: { meta: Meta; payload: number } | undefined;
  /** Destination of a large payload being gathered, and how much of it is filled. */
  private gather: { buf: Buffer; filled: number } | undefined;

  /** @param onFrame called for every complete frame, in order. @param onError bad framing. */
  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onError: (e: Error) => void,
  ) {}

  /** Feeds bytes received from the stub. */
  push(chunk: Buffer): void {
    if (this.gather) {
      const g = this.gather;
      const take = Math.min(chunk.length, g.buf.length - g.filled);
      chunk.copy(g.buf, g.filled, 0, take);
      g.filled += take;
      if (g.filled < g.buf.length) return;
      this.gather = undefined;
      this.finish(g.buf);
      chunk = chunk.subarray(take);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.drain();
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let off = 0;
      while (off < n) {
        const c = this.chunks[0];
        const k = Math.min(c.length, n - off);
        c.copy(out, off, 0, k);
        off += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }

  private peekPrefix(): { metaLength: number; payload: number } {
    const head = this.chunks[0].length >= PREFIX_BYTES ? this.chunks[0] : Buffer.concat(this.chunks);
    return {
      metaLength: head.readUInt32LE(0),
      payload: head.readUInt32LE(4) + head.readUInt32LE(8) * 0x1_0000_0000,
    };
  }

  private drain(): void {
    for (;;) {
      if (!this.current) {
        if (this.buffered < PREFIX_BYTES) return;
        const { metaLength, payload } = this.peekPrefix();
        if (this.buffered < PREFIX_BYTES + metaLength) return;
        this.take(PREFIX_BYTES);
        let meta: Meta;
        try {
          meta = JSON.parse(this.take(metaLength).toString('utf8')) as Meta;
        } catch (e) {
          this.onError(new Error(`bad frame from the Python stub: ${(e as Error).message}`));
          return;
        }
        this.current = { meta, payload };
      }
      const need = this.current.payload;
      if (this.buffered >= need) {
        this.finish(need === 0 ? Buffer.alloc(0) : this.take(need));
        continue;
      }
      // A large payload: gather what is here and the rest as it arrives into one buffer.
      const buf = Buffer.allocUnsafe(need);
      let filled = 0;
      for (const c of this.chunks) {
        c.copy(buf, filled);
        filled += c.length;
      }
      this.chunks = [];
      this.buffered = 0;
      this.gather = { buf, filled };
      return;
    }
  }

  private finish(payload: Buffer): void {
    const meta = this.current!.meta;
    this.current = undefined;
    const tensors: Tensor[] = [];
    let off = 0;
    for (const [name, datatype, shape, size] of meta.tensors ?? []) {
      tensors.push({ name, datatype, shape, data: payload.subarray(off, off + size) });
      off += size;
    }
    this.onFrame({ meta, tensors });
  }
}
