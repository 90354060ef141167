/**
 * Tensor data in the KServe v2 JSON form (kserve/open-inference-protocol inference_rest.md,
 * "Tensor Data"): `data` is a flat or nested row-major array; BOOL as true/false, BYTES as strings,
 * numbers otherwise. FP16/BF16 cannot travel as JSON (Triton refuses them with the messages used here).
 */
import {
  allocTyped,
  shapeElementCount,
  typedView,
  integerRange,
  type Datatype,
  type NumericArray,
} from '../../core/datatypes.js';
import { invalidArg } from '../../core/errors.js';
import { deserializeBytesTensor, serializeBytesTensor, type Tensor } from '../../core/tensor.js';

/** Flattens nested arrays into `out` (row-major). */
function flatten(data: unknown, out: unknown[]): void {
  if (Array.isArray(data)) {
    for (const d of data) flatten(d, out);
  } else {
    out.push(data);
  }
}

/**
 * Converts an input's JSON `data` into tensor bytes.
 * @param what text naming the tensor and model for messages, e.g. `input 'INPUT0' for model 'simple'`.
 * @returns the raw bytes in a buffer of their own.
 * @throws TritonError INVALID_ARG when the element count differs from the shape, an element has the
 *   wrong JSON type or is out of range, or the datatype cannot travel as JSON (FP16, BF16).
 */
export function jsonToBytes(
  datatype: Datatype,
  shape: number[],
  data: unknown,
  what: string,
  name: string,
): Uint8Array {
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw invalidArg(
      `receiving ${datatype} data via JSON is not supported. Please use the binary data format for input ${name}`,
    );
  }
  const flat: unknown[] = [];
  flatten(data, flat);
  const count = shapeElementCount(shape);
  if (datatype === 'BYTES') {
    for (let i = 0; i < flat.length; i++) {
      if (typeof flat[i] !== 'string') {
        throw invalidArg(
          `${what}: element ${i} of 'data' is ${JSON.stringify(flat[i])}; BYTES elements must be JSON strings`,
        );
      }
    }
    if (flat.length !== count) {
      throw invalidArg(
        `${what}: 'data' has ${flat.length} elements but shape [${shape.join(',')}] needs ${count}`,
      );
    }
    return serializeBytesTensor(flat as string[]);
  }
  if (flat.length !== count) {
    throw invalidArg(
      `${what}: 'data' has ${flat.length} elements but shape [${shape.join(',')}] needs ${count}`,
    );
  }
  const out = allocTyped(datatype, count);
  if (datatype === 'BOOL') {
    const u8 = out as Uint8Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'boolean')
        throw invalidArg(`${what}: element ${i} of 'data' is ${JSON.stringify(v)}, expected true or false`);
      u8[i] = v ? 1 : 0;
    }
  } else if (datatype === 'FP32' || datatype === 'FP64') {
    const f = out as Float32Array | Float64Array;
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number')
        throw invalidArg(`${what}: element ${i} of 'data' is ${JSON.stringify(v)}, expected a number`);
      f[i] = v;
    }
  } else {
    const [lo, hi] = integerRange(datatype)!;
    const big = datatype === 'INT64' || datatype === 'UINT64';
    for (let i = 0; i < count; i++) {
      const v = flat[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
        throw invalidArg(
          `${what}: element ${i} of 'data' is ${JSON.stringify(v)}, expected an integer in [${lo}, ${hi}] for ${datatype}`,
        );
      }
      if (big) (out as BigInt64Array)[i] = BigInt(v);
      else (out as Int32Array)[i] = v;
    }
  }
  return new Uint8Array(out.buffer);
}

/**
 * Writes a tensor's `data` as JSON text (a flat array). INT64/UINT64 print their exact digits.
 * @throws TritonError INVALID_ARG for FP16/BF16 outputs, which Triton only sends in binary.
 */
export function tensorDataJson(t: Tensor): string {
  if (t.datatype === 'FP16' || t.datatype === 'BF16') {
    throw invalidArg(
      `sending ${t.datatype} data via JSON is not supported. Please use the binary data format for output`,
    );
  }
  if (t.datatype === 'BYTES') {
    const strings = deserializeBytesTensor(t.data, `output '${t.name}'`).map((b) =>
      Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'),
    );
    return JSON.stringify(strings);
  }
  const view: NumericArray = typedView(t.datatype, t.data);
  if (t.datatype === 'BOOL') return JSON.stringify(Array.from(view as Uint8Array, (v) => v !== 0));
  if (t.datatype === 'INT64' || t.datatype === 'UINT64') return `[${(view as BigInt64Array).join(',')}]`;
  return JSON.stringify(Array.from(view as Float32Array));
}
