/**
 * The pieces of `inference.ModelInferRequest` / `ModelInferResponse` both sides convert: parameter
 * values (`InferParameter`) and typed tensor contents (`InferTensorContents`), Triton's common
 * `protobuf/grpc_service.proto`. Raw contents (`raw_input_contents`, `raw_output_contents`) need no
 * conversion: they hold the tensor bytes as they are.
 */
import { allocTyped, typedView, type Datatype } from '../datatypes.js';
import { deserializeBytesTensor, serializeBytesTensor } from '../bytes-tensor.js';
import type { InferParameterMsg, InferTensorContentsMsg } from './messages.js';
import { hasField, longToBigInt, longToNumber, type ProtoLong } from './protos.js';

/** A parameter value either side reads or writes; bigint only from the client. */
export type InferParameterValue = string | number | boolean | bigint;

const PARAMETER_KINDS = [
  'bool_param',
  'int64_param',
  'string_param',
  'double_param',
  'uint64_param',
] as const;

/** The name of the member set in an InferParameter, or undefined when none is. */
export function parameterKind(p: InferParameterMsg): keyof InferParameterMsg | undefined {
  for (const k of PARAMETER_KINDS) if (hasField(p, k)) return k;
  return undefined;
}

/** An InferParameter's value (64-bit integers as numbers, exact up to 2^53); undefined when unset. */
export function parameterValue(p: InferParameterMsg): string | number | boolean | undefined {
  const kind = parameterKind(p);
  if (kind === undefined) return undefined;
  const v = p[kind]!;
  return kind === 'int64_param' || kind === 'uint64_param'
    ? longToNumber(v as ProtoLong)
    : (v as string | number | boolean);
}

/**
 * A value as an InferParameter: booleans → `bool_param`, strings → `string_param`, integers and
 * bigints → `int64_param` (taken modulo 2^64 into int64's range), other numbers → `double_param`.
 */
export function toInferParameter(v: InferParameterValue): InferParameterMsg {
  if (typeof v === 'boolean') return { bool_param: v };
  if (typeof v === 'string') return { string_param: v };
  // A uint64 beyond 2^63 (a correlation id) travels as the int64 of the same bits, as Triton reads it back.
  if (typeof v === 'bigint') return { int64_param: BigInt.asIntN(64, v).toString() as unknown as number };
  return Number.isInteger(v) ? { int64_param: v } : { double_param: v };
}

/** The datatypes each `contents` field may carry, in Triton's checking order. FP16/BF16 have none. */
export const CONTENT_FIELDS: ReadonlyArray<{
  field: keyof InferTensorContentsMsg;
  types: readonly Datatype[];
}> = [
  { field: 'bool_contents', types: ['BOOL'] },
  { field: 'int_contents', types: ['INT8', 'INT16', 'INT32'] },
  { field: 'int64_contents', types: ['INT64'] },
  { field: 'uint_contents', types: ['UINT8', 'UINT16', 'UINT32'] },
  { field: 'uint64_contents', types: ['UINT64'] },
  { field: 'fp32_contents', types: ['FP32'] },
  { field: 'fp64_contents', types: ['FP64'] },
  { field: 'bytes_contents', types: ['BYTES'] },
];

/** The `contents` field that carries `datatype`, or undefined for FP16/BF16 (raw contents only). */
export function contentsField(datatype: Datatype): keyof InferTensorContentsMsg | undefined {
  return CONTENT_FIELDS.find((f) => f.types.includes(datatype))?.field;
}

/**
 * The values of a `contents` field → tensor bytes of `datatype` in a fresh buffer. Narrower integer
 * types keep the low bytes of each value, as Triton's little-endian copy does.
 * @param values the field's elements (`int_contents` for INT8..INT32, and so on; see CONTENT_FIELDS).
 * @throws Error for FP16/BF16, which have no contents field.
 */
export function contentsToBytes(datatype: Datatype, values: readonly unknown[]): Uint8Array {
  if (datatype === 'BYTES') return serializeBytesTensor(values as Uint8Array[]);
  if (datatype === 'FP16' || datatype === 'BF16') throw new Error(`${datatype} has no typed contents field`);
  const typed = allocTyped(datatype, values.length);
  if (datatype === 'INT64' || datatype === 'UINT64') {
    const unsigned = datatype === 'UINT64';
    const big = typed as BigInt64Array | BigUint64Array;
    for (let i = 0; i < values.length; i++) big[i] = longToBigInt(values[i] as ProtoLong, unsigned);
  } else if (datatype === 'BOOL') {
    for (let i = 0; i < values.length; i++) (typed as Uint8Array)[i] = values[i] ? 1 : 0;
  } else {
    (typed as Float32Array).set(values as number[]);
  }
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
}

/**
 * Tensor bytes → typed `contents` (64-bit integers as decimal strings, which the encoder accepts).
 * @throws Error for FP16/BF16, which have no contents field.
 */
export function bytesToContents(datatype: Datatype, bytes: Uint8Array): InferTensorContentsMsg {
  if (datatype === 'BYTES') return { bytes_contents: deserializeBytesTensor(bytes) };
  if (datatype === 'FP16' || datatype === 'BF16') throw new Error(`${datatype} has no typed contents field`);
  const view = typedView(datatype, bytes);
  switch (datatype) {
    case 'BOOL':
      return { bool_contents: Array.from(view as Uint8Array, (v) => v !== 0) };
    case 'INT8':
    case 'INT16':
    case 'INT32':
      return { int_contents: Array.from(view as Int32Array) };
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
      return { uint_contents: Array.from(view as Uint32Array) };
    case 'INT64':
      return { int64_contents: Array.from(view as BigInt64Array, (v) => v.toString() as unknown as number) };
    case 'UINT64':
      return {
        uint64_contents: Array.from(view as BigUint64Array, (v) => v.toString() as unknown as number),
      };
    case 'FP32':
      return { fp32_contents: Array.from(view as Float32Array) };
    default:
      return { fp64_contents: Array.from(view as Float64Array) };
  }
}
