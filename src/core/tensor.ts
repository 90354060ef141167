/**
 * Tensors as the core carries them: name, datatype, shape and the raw bytes.
 *
 * The byte layout is the one of Triton's binary tensor data extension
 * (server docs/protocol/extension_binary_data.md): little-endian, row-major, no padding; BOOL is one
 * byte 0/1; BYTES is, for each element, a 4-byte little-endian length followed by that many bytes.
 * Keeping one layout end to end lets the HTTP binary body, gRPC `raw_input_contents` and the
 * model-instance workers share buffers without re-encoding.
 */
import { type Datatype, elementByteSize, shapeElementCount } from './datatypes.js';
import { invalidArg } from './errors.js';

/** A named tensor. `data` holds the raw bytes described in this module's comment. */
export interface Tensor {
  /** Tensor name as in the model configuration. */
  name: string;
  /** Wire datatype. */
  datatype: Datatype;
  /** Shape, including the batch dimension when the model batches; every dim ≥ 0. */
  shape: number[];
  /** Raw bytes (see module comment). May be a view into a larger buffer. */
  data: Uint8Array;
}

/**
 * Serializes BYTES elements as Triton does: a 4-byte little-endian length then the bytes, per element.
 * @param elements the elements; strings are encoded as UTF-8.
 * @returns one freshly allocated buffer.
 */
export function serializeBytesTensor(elements: ReadonlyArray<Uint8Array | string>): Buffer {
  const parts = elements.map((e) => (typeof e === 'string' ? Buffer.from(e, 'utf8') : e));
  let total = 0;
  for (const p of parts) total += 4 + p.byteLength;
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.byteLength, off);
    off += 4;
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/**
 * Splits a serialized BYTES tensor into its elements (views, no copies).
 * @throws TritonError INVALID_ARG when a length prefix runs past the end of the buffer.
 */
export function deserializeBytesTensor(data: Uint8Array, what = 'BYTES tensor'): Uint8Array[] {
  const out: Uint8Array[] = [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  while (off < data.byteLength) {
    if (off + 4 > data.byteLength) throw invalidArg(`${what}: truncated 4-byte length prefix at byte ${off}`);
    const len = view.getUint32(off, true);
    off += 4;
    if (off + len > data.byteLength) {
      throw invalidArg(
        `${what}: element of ${len} bytes at byte ${off} runs past the end (${data.byteLength} bytes)`,
      );
    }
    out.push(data.subarray(off, off + len));
    off += len;
  }
  return out;
}

/**
 * Counts the elements of a serialized BYTES tensor, validating its framing.
 * @throws TritonError INVALID_ARG on a truncated element.
 */
export function countBytesElements(data: Uint8Array, what = 'BYTES tensor'): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  let n = 0;
  while (off < data.byteLength) {
    if (off + 4 > data.byteLength) throw invalidArg(`${what}: truncated 4-byte length prefix at byte ${off}`);
    off += 4 + view.getUint32(off, true);
    if (off > data.byteLength) throw invalidArg(`${what}: element ${n} runs past the end of the data`);
    n++;
  }
  return n;
}

/** Expected byte size of a fixed-size tensor of `shape`, or undefined for BYTES. */
export function expectedByteSize(datatype: Datatype, shape: readonly number[]): number | undefined {
  const size = elementByteSize(datatype);
  return size === 0 ? undefined : size * shapeElementCount(shape);
}

/** Formats a shape as Triton prints it in messages: `[-1,16]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
