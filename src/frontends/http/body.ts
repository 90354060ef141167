/**
 * Request bodies: read without copies when small, into one buffer of their own when large (so
 * tensor bytes can be handed to model instances without copies), and decompressed for
 * `Content-Encoding: gzip|deflate`.
 *
 * Size limits follow Triton (server `src/http_server.cc`): `--http-max-input-size` bounds the JSON
 * header (or a body that is all JSON) and a raw binary body, and a compressed body's decompressed
 * size; the binary tensor data after a JSON header is not bounded by it. A body over its limit is
 * still read to its end — its bytes counted and dropped, never buffered — so the 400 that names its
 * size reaches the client on a connection that stays usable, as Triton's does.
 */
import type { IncomingMessage } from 'node:http';
import { constants as bufferConstants } from 'node:buffer';
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

/** A body larger than its limit, read to its end and dropped; `size` is its length in bytes. */
export class BodyTooLarge extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`request body of ${size} bytes is over the limit of ${limit} bytes`);
  }
}

/** The largest body Node can hold in one buffer (bytes). */
const MAX_BUFFER = bufferConstants.MAX_LENGTH;

/**
 * Reads the whole body.
 * @param maxBytes limit of an uncompressed body in bytes (Infinity: none).
 * @param decompressedLimit limit of a compressed body's decompressed size (`--http-max-input-size`);
 *   the compressed bytes themselves are not limited, as in Triton.
 * @throws BodyTooLarge when an uncompressed body is over `maxBytes` (it has been read to its end);
 *   TritonError INVALID_ARG with Triton's message when a compressed one decompresses to more than
 *   `decompressedLimit`, cannot be decompressed, is cut short, or is longer than its
 *   Content-Length; UNSUPPORTED (501) for an unknown encoding.
 */
export async function readBody(
  req: IncomingMessage,
  maxBytes: number,
  decompressedLimit: number,
): Promise<Body> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (!['identity', 'gzip', 'deflate', ''].includes(encoding)) {
    throw new TritonError('UNSUPPORTED', 'Unsupported compression type');
  }
  const lengthHeader = req.headers['content-length'];
  const declared = lengthHeader !== undefined ? Number(lengthHeader) : undefined;
  const compressed = encoding === 'gzip' || encoding === 'deflate';
  const raw = await collect(req, declared, compressed ? MAX_BUFFER : Math.min(maxBytes, MAX_BUFFER));
  if (compressed) {
    try {
      const out = await (encoding === 'gzip' ? gunzip : inflate)(raw.data, {
        maxOutputLength: decompressedLimit,
      });
      return { data: out, owned: false };
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE' || /Cannot create a Buffer larger/.test(err.message)) {
        throw invalidArg(
          `Decompressed data size exceeds the maximum allowed value of ${decompressedLimit} bytes. ` +
            'Use --http-max-input-size to increase the limit.',
        );
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
 * transferred to a model instance's thread without another copy. Past `maxBytes` the rest is
 * counted and dropped, then BodyTooLarge is thrown.
 */
function collect(req: IncomingMessage, declared: number | undefined, maxBytes: number): Promise<Body> {
  return new Promise<Body>((resolve, reject) => {
    const known = declared !== undefined && Number.isSafeInteger(declared);
    // Over the limit from the start: read it all, keep none of it.
    let dropping = known && declared! > maxBytes;
    const big = known && !dropping && declared! > SMALL_BODY;
    const whole = big ? Buffer.allocUnsafeSlow(declared!) : undefined;
    let chunks: Buffer[] = [];
    let total = 0;
    const detach = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', fail);
      req.off('aborted', onAborted);
    };
    const fail = (e: Error) => {
      detach();
      reject(e);
    };
    const onAborted = () =>
      fail(invalidArg('the client closed the connection before sending the whole body'));
    const onData = (chunk: Buffer) => {
      if (known && total + chunk.length > declared!) {
        fail(invalidArg(`request body is longer than its Content-Length of ${declared} bytes`));
        return;
      }
      total += chunk.length;
      if (dropping) return;
      if (total > maxBytes) {
        dropping = true;
        chunks = [];
        return;
      }
      if (whole) chunk.copy(whole, total - chunk.length);
      else chunks.push(chunk);
    };
    const onEnd = () => {
      detach();
      if (known && total < declared!) {
        reject(invalidArg(`request body ended after ${total} of its ${declared} bytes`));
        return;
      }
      if (dropping) {
        reject(new BodyTooLarge(total, maxBytes));
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
