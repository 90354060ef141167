/**
 * Triton's binary tensor data extension for HTTP (server docs/protocol/extension_binary_data.md):
 * an infer request or response body is a JSON header of `Inference-Header-Content-Length` bytes
 * followed by the binary tensors, back to back, in the order their JSON entries appear; an entry
 * whose tensor is binary says so with the parameter `binary_data_size` (bytes) instead of `data`.
 * A header length of 0 on a request means the whole body is the raw bytes of the model's only input.
 */
import type { Datatype } from './datatypes.js';

/** The HTTP header holding the JSON header's length in bytes, as Triton writes it. */
export const HEADER_LENGTH_HEADER = 'Inference-Header-Content-Length';

/** {@link HEADER_LENGTH_HEADER} as Node's `IncomingMessage.headers` keys it (lowercase). */
export const HEADER_LENGTH_KEY = 'inference-header-content-length';

/** The parameter that marks a tensor entry as binary and gives its byte size. */
export const BINARY_DATA_SIZE = 'binary_data_size';

/**
 * The JSON text of one tensor entry of an infer request (`inputs[]`) or response (`outputs[]`):
 * `{"name":…,"datatype":…,"shape":[…],"parameters":{"binary_data_size":N}}` for a binary tensor of
 * N bytes, or `{"name":…,"datatype":…,"shape":[…],"data":<dataJson>}` for a JSON one.
 * Key order as Triton writes it.
 * @param data `{ binarySize }` (bytes that follow the header) or `{ json }` (the `data` array text).
 */
export function tensorEntryJson(
  name: string,
  datatype: Datatype,
  shape: readonly number[],
  data: { binarySize: number } | { json: string },
): string {
  const head = `{"name":${JSON.stringify(name)},"datatype":"${datatype}","shape":[${shape.join(',')}]`;
  return 'binarySize' in data
    ? `${head},"parameters":{"${BINARY_DATA_SIZE}":${data.binarySize}}}`
    : `${head},"data":${data.json}}`;
}
