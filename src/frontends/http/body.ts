/**
 * Request bodies: read into one buffer of their own (so tensor bytes can be handed to model
 * instances without copies), capped at `--http-max-input-size`, and decompressed for
 * `Content-Encoding: gzip|deflate` (the cap applies to the decompressed size too).
 */
import type { IncomingMessage } from 'node:http';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { TritonError, invalidArg } from '../../core/errors.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/** A request body and whether its ArrayBuffer belongs to it alone. */
export interface Body {
  data: Buffer;
  /** True when `data.buffer` holds only this body (safe to transfer to a worker). */
  owned: boolean;
}

/** Message for a body over the limit (Triton: "... exceeds the maximum allowed value ..."). */
function tooLarge(size: number | string, max: number): TritonError {
  return invalidArg(
    `request body of ${size} bytes exceeds the maximum allowed value of ${max} bytes. Use --http-max-input-size to increase the limit`,
  );
}

/**
 * Reads the whole body.
 * @param maxBytes `--http-max-input-size` in bytes.
 * @throws TritonError INVALID_ARG (HTTP 400) when the body (or its decompressed form) exceeds
 *   `maxBytes` — checked from Content-Length before reading and while streaming, so an oversized
 *   body is never buffered — or cannot be decompressed; UNSUPPORTED (501) for an unknown encoding.
 */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Body> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (!['identity', 'gzip', 'deflate', ''].includes(encoding)) {
    throw new TritonError('UNSUPPORTED', 'Unsupported compression type');
  }
  const lengthHeader = req.headers['content-length'];
  const declared = lengthHeader !== undefined ? Number(lengthHeader) : undefined;
  if (declared !== undefined && declared > maxBytes) throw tooLarge(declared, maxBytes);

  let data: Buffer;
  if (declared !== undefined && Number.isSafeInteger(declared)) {
    // One allocation of the announced size (not from Node's shared pool), filled as chunks arrive.
    data = Buffer.allocUnsafeSlow(declared);
    let off = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      if (off + chunk.length > declared)
        throw invalidArg(`request body is longer than its Content-Length of ${declared} bytes`);
      chunk.copy(data, off);
      off += chunk.length;
    }
    if (off < declared) throw invalidArg(`request body ended after ${off} of its ${declared} bytes`);
  } else {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(`more than ${maxBytes}`, maxBytes);
      chunks.push(chunk);
    }
    data = Buffer.allocUnsafeSlow(total);
    let off = 0;
    for (const c of chunks) {
      c.copy(data, off);
      off += c.length;
    }
  }
  if (encoding === 'gzip' || encoding === 'deflate') {
    try {
      const out = await (encoding === 'gzip' ? gunzip : inflate)(data, { maxOutputLength: maxBytes });
      return { data: out, owned: false };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger/.test(err.message)) {
        throw tooLarge(`more than ${maxBytes} (decompressed)`, maxBytes);
      }
      throw invalidArg(`failed to decompress the ${encoding} request body: ${err.message}`);
    }
  }
  return { data, owned: true };
}
