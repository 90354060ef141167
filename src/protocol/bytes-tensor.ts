/**
 * The BYTES tensor codec both sides of the wire use: each element is a 4-byte little-endian length
 * followed by that many bytes, elements back to back (server docs/protocol/extension_binary_data.md,
 * "raw" BYTES layout; the same bytes travel in gRPC `raw_input_contents`).
 */
import { invalidArg } from './errors.js';

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
