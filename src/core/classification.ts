/**
 * Triton's classification extension (server docs/protocol/extension_classification.md,
 * `src/classification.cc`): an output requested with `classification: k` is replaced by its top-k
 * entries per batch item, as BYTES strings `"<value>:<index>[:<label>]"` sorted by value, highest
 * first. Floating-point values print with 6 decimals (C++ `std::to_string`), integers as integers.
 * Shape: `[batch, k]` for a batching model, `[k]` otherwise; k is capped at the elements per item.
 */
import { typedView } from '../protocol/datatypes.js';
import { invalidArg } from '../protocol/errors.js';
import { type Tensor } from './tensor.js';
import { serializeBytesTensor } from '../protocol/bytes-tensor.js';

/**
 * Builds the classification tensor for `output`.
 * @param output a numeric output tensor.
 * @param k number of classes to keep (≥ 1).
 * @param batched whether the model batches (first dim is the batch).
 * @param labels class labels by index (from the output's `label_filename`), may be empty.
 * @throws TritonError INVALID_ARG for BYTES outputs.
 */
export function classify(
  output: Tensor,
  k: number,
  batched: boolean,
  labels: readonly string[],
  model: string,
): Tensor {
  if (output.datatype === 'BYTES') {
    throw invalidArg(
      `classification is not supported for output '${output.name}' of model '${model}': datatype BYTES`,
    );
  }
  const isFloat = output.datatype === 'FP32' || output.datatype === 'FP64';
  const isHalf = output.datatype === 'FP16' || output.datatype === 'BF16';
  const view = typedView(output.datatype, output.data);
  const values: number[] = Array.from(view as ArrayLike<number | bigint>, (v) => Number(v));
  if (isHalf) {
    for (let i = 0; i < values.length; i++) values[i] = halfToFloat(values[i], output.datatype === 'BF16');
  }
  const batch = batched ? (output.shape[0] ?? 1) : 1;
  const per = batch === 0 ? 0 : values.length / batch;
  const kk = Math.min(k, per);
  const strings: string[] = [];
  for (let b = 0; b < batch; b++) {
    const idx = Array.from({ length: per }, (_, i) => i);
    const base = b * per;
    idx.sort((x, y) => values[base + y] - values[base + x] || x - y);
    for (let i = 0; i < kk; i++) {
      const v = values[base + idx[i]];
      const text = isFloat || isHalf ? v.toFixed(6) : String(v);
      const label = labels[idx[i]];
      strings.push(label ? `${text}:${idx[i]}:${label}` : `${text}:${idx[i]}`);
    }
  }
  return {
    name: output.name,
    datatype: 'BYTES',
    shape: batched ? [batch, kk] : [kk],
    data: serializeBytesTensor(strings),
  };
}

function halfToFloat(bits: number, bf16: boolean): number {
  if (bf16) {
    const buf = new DataView(new ArrayBuffer(4));
    buf.setUint32(0, bits << 16);
    return buf.getFloat32(0);
  }
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
