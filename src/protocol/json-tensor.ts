/**
 * Tensor data in the KServe v2 JSON form (kserve/open-inference-protocol inference_rest.md,
 * "Tensor Data"): `data` is a flat or nested row-major array; BOOL as true/false, BYTES as strings,
 * numbers otherwise. FP16/BF16 cannot travel as JSON (Triton refuses them with the messages used
 * here). The server reads request inputs and writes response outputs with it; the client writes
 * request inputs and reads response outputs.
 */
import {
  allocTyped,
  integerRange,
  shapeElementCount,
  typedView,
  type Datatype,
  type NumericArray,
} from './datatypes.js';
import { invalidArg } from './errors.js';
import { deserializeBytesTensor, serializeBytesTensor } from './bytes-tensor.js';
import { bigIntegerOf, jsonText } from './exact-json.js';

/** True when `datatype` can travel as JSON `data` (every datatype but FP16 and BF16). */
export function jsonCarries(datatype: Datatype): boolean {
  return datatype !== 'FP16' && datatype !== 'BF16';
}

/** Flattens nested arrays into `out` (row-major). */
function flatten(data: unknown, out: unknown[]): void {
  if (Array.isArray(data)) {
    for (const d of data) flatten(d, out);
  } else {
    out.push(data);
  }
}

/** How {@link jsonDataToBytes} treats values. */
export interface JsonReadOptions {
  /**
   * The data comes from a server's response: INT64/UINT64 numbers beyond 2^53 that JSON.parse
   * rounded are taken as they are instead of refused (parse with parseJsonExact to keep their
   * digits), and `null` floats (how JSON.stringify writes NaN and infinities) read as NaN.
   * Default false.
   */
  fromServer?: boolean;
}

/**
 * Converts a tensor's JSON `data` into tensor bytes (little-endian, row-major; BYTES length-prefixed).
 * INT64/UINT64 take their whole range when the JSON was read with `parseJsonExact`.
 * @param shape the tensor's shape; the element count must match it.
 * @param what text naming the tensor and model for messages, e.g. `input 'INPUT0' for model 'simple'`.
 * @param name the tensor name alone (Triton's FP16 message names it).
 * @returns the bytes in a buffer of their own (byteLength = element count × element size).
 * @throws TritonError INVALID_ARG when the element count differs from the shape, an element has the
 *   wrong JSON type or is out of range for the datatype, or the datatype cannot travel as JSON.
 */
export function jsonDataToBytes(
  datatype: Datatype,
  shape: readonly number[],
  data: unknown,
  what: string,
  name: string,
  options: JsonReadOptions = {},
): Uint8Array {
  if (!jsonCarries(datatype)) {
    throw invalidArg(
      `receiving ${datatype} data via JSON is not supported. Please use the binary data format for input ${name}`,
    );
  }
  const flat: unknown[] = [];
  flatten(data, flat);
  const count = shapeElementCount(shape);
  if (datatype === 'BYTES') {
    for (let i = 0; i < flat.length; i++) {
      if (typeof flat[i] !== 'string' || bigIntegerOf(flat[i]) !== undefined) {
        throw invalidArg(
          `${what}: element ${i} of 'data' is ${jsonText(flat[i])}; BYTES elements must be JSON strings`,
        );
      }
    }
  }
  if (flat.length !== count) {
    throw invalidArg(
      `${what}: 'data' has ${flat.length} elements but shape [${shape.join(',')}] needs ${count}`,
    );
  }
  if (datatype === 'BYTES') return serializeBytesTensor(flat as string[]);
  const out = allocTyped(datatype, count);
  if (datatype === 'BOOL') {
    const u8 = out as Uint8Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'boolean')
        throw invalidArg(`${what}: element ${i} of 'data' is ${jsonText(v)}, expected true or false`);
      u8[i] = v ? 1 : 0;
    }
  } else if (datatype === 'FP32' || datatype === 'FP64') {
    const f = out as Float32Array | Float64Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      const big = bigIntegerOf(v);
      if (typeof v === 'number') f[i] = v;
      else if (big !== undefined) f[i] = Number(big);
      else if (v === null && options.fromServer)
        f[i] = NaN; // how JSON.stringify writes NaN and ±Infinity
      else throw invalidArg(`${what}: element ${i} of 'data' is ${jsonText(v)}, expected a number`);
    }
  } else if (datatype === 'INT64' || datatype === 'UINT64') {
    // The full 64-bit range: literals beyond 2^53 arrive as marked strings (exact-json.ts).
    const [lo, hi] = datatype === 'INT64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
    const big = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      let b = bigIntegerOf(v);
      if (
        b === undefined &&
        typeof v === 'number' &&
        (Number.isSafeInteger(v) || (options.fromServer && Number.isInteger(v)))
      )
        b = BigInt(v);
      if (b === undefined || b < lo || b > hi) {
        throw invalidArg(
          `${what}: element ${i} of 'data' is ${jsonText(v)}, expected an integer in [${lo}, ${hi}] for ${datatype}`,
        );
      }
      big[i] = b;
    }
  } else {
    const [lo, hi] = integerRange(datatype)!;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
        throw invalidArg(
          `${what}: element ${i} of 'data' is ${jsonText(v)}, expected an integer in [${lo}, ${hi}] for ${datatype}`,
        );
      }
      (out as Int32Array)[i] = v;
    }
  }
  return new Uint8Array(out.buffer);
}

/** How {@link bytesToJsonData} writes values. */
export interface JsonWriteOptions {
  /**
   * Refuse what JSON cannot carry exactly instead of approximating it: BYTES elements that are not
   * UTF-8 (otherwise decoded with replacement characters) and NaN or infinite floats (otherwise
   * written as `null`). Default false.
   */
  exact?: boolean;
}

/**
 * Writes tensor bytes as the JSON text of a flat `data` array. INT64/UINT64 print their exact digits.
 * @param what text naming the tensor for messages, e.g. `output 'OUTPUT0'`.
 * @throws TritonError INVALID_ARG for FP16/BF16 (Triton's message: they only travel in binary), for
 *   malformed BYTES framing, and with `exact` for non-UTF-8 BYTES or non-finite floats.
 */
export function bytesToJsonData(
  datatype: Datatype,
  bytes: Uint8Array,
  what: string,
  options: JsonWriteOptions = {},
): string {
  if (!jsonCarries(datatype)) {
    throw invalidArg(
      `sending ${datatype} data via JSON is not supported. Please use the binary data format for output`,
    );
  }
  if (datatype === 'BYTES') {
    const elements = deserializeBytesTensor(bytes, what);
    if (!options.exact) {
      return JSON.stringify(
        elements.map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('utf8')),
      );
    }
    const decoder = new TextDecoder('utf-8', { fatal: true });
    return JSON.stringify(
      elements.map((e) => {
        try {
          return decoder.decode(e);
        } catch {
          throw invalidArg(`${what}: BYTES element is not UTF-8 text; send it in binary form`);
        }
      }),
    );
  }
  const view: NumericArray = typedView(datatype, bytes);
  if (datatype === 'BOOL') return JSON.stringify(Array.from(view as Uint8Array, (v) => v !== 0));
  if (datatype === 'INT64' || datatype === 'UINT64') return `[${(view as BigInt64Array).join(',')}]`;
  const nums = Array.from(view as Float32Array);
  if (options.exact && !nums.every(Number.isFinite)) {
    throw invalidArg(`${what}: NaN and infinities cannot travel as JSON; send it in binary form`);
  }
  return JSON.stringify(nums);
}
