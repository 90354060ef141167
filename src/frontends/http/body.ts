/**
 * Request bodies: read without copies when small, into one buffer of their own when large (so
 * tensor bytes can be handed to model instances without copies), capped at `--http-max-input-size`,
 * and decompressed for `Content-Encoding: gzip|deflate` (the cap applies to the decompressed size
 * too).
 */
import type { IncomingMessage } from 'node:http';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import { TritonError, invalidArg } from '../../protocol/errors.js';

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

  const raw = await collect(req, declared, maxBytes);
  if (encoding === 'gzip' || encoding === 'deflate') {
    try {
      const out = await (encoding === 'gzip' ? gunzip : inflate)(raw.data, { maxOutputLength: maxBytes });
      return { data: out, owned: false };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger/.test(err.message)) {
        throw tooLarge(`more than ${maxBytes} (decompressed)`, maxBytes);
      }
      throw invalidArg(`failed to decompress the ${encoding} request body: ${err.message}`);
    }
  }
  return raw;
}

/** Bodies up to this size are kept in the chunks Node read them into (no copy, not transferable). */
const SMALL_BODY = 64 * 1024;

/**
 * Reads the raw body. A small body that arrives in one chunk is used as it is; a larger one is
 * copied into one buffer of its own (allocated at its Content-Length when known), so it can be
 * transferred to a model instance's thread without another copy.
 */
function collect(req: IncomingMessage, declared: number | undefined, maxBytes: number): Promise<Body> {
  return new Promise<Body>((resolve, reject) => {
    const known = declared !== undefined && Number.isSafeInteger(declared);
    const big = known && declared! > SMALL_BODY;
    const whole = big ? Buffer.allocUnsafeSlow(declared!) : undefined;
    const chunks: Buffer[] = [];
    let total = 0;
    const fail = (e: Error) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', fail);
      req.off('aborted', onAborted);
      reject(e);
    };
    const onAborted = () =>
      fail(invalidArg('the client closed the connection before sending the whole body'));
    const onData = (chunk: Buffer) => {
      if (known && total + chunk.length > declared!) {
        fail(invalidArg(`request body is longer than its Content-Length of ${declared} bytes`));
        return;
      }
      if (!known && total + chunk.length > maxBytes) {
        fail(tooLarge(`more than ${maxBytes}`, maxBytes));
        return;
      }
      if (whole) chunk.copy(whole, total);
      else chunks.push(chunk);
      total += chunk.length;
    };
    const onEnd = () => {
      req.off('data', onData);
      req.off('error', fail);
      req.off('aborted', onAborted);
      if (known && total < declared!) {
        reject(invalidArg(`request body ended after ${total} of its ${declared} bytes`));
        return;
      }
      if (whole) resolve({ data: whole, owned: true });
      else if (chunks.length === 1) resolve({ data: chunks[0], owned: false });
      else if (total > SMALL_BODY) {
        const data = Buffer.allocUnsafeSlow(total);
        let off = 0;
        for (const c of chunks) {
          c.copy(data, off);
          off += c.length;
        }
        resolve({ data, owned: true });
      } else resolve({ data: Buffer.concat(chunks, total), owned: false });
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', fail);
    req.once('aborted', onAborted);
  });
}
