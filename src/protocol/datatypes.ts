/**
 * Triton / KServe v2 tensor datatypes.
 *
 * The wire names (`BOOL`, `UINT8`, …, `BYTES`, `BF16`) follow the KServe v2 Open Inference Protocol
 * ("Tensor Data Types", kserve/open-inference-protocol inference_rest.md) and Triton's
 * `docs/user_guide/model_configuration.md` ("Datatypes"); the config names (`TYPE_FP32`, `TYPE_STRING`)
 * follow Triton's `model_config.proto` `DataType` enum.
 */

/** A tensor datatype as written on the wire (HTTP JSON `datatype`, gRPC `datatype`). */
export type Datatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES'
  | 'BF16';

/** Every wire datatype, in Triton's enum order. */
export const DATATYPES: readonly Datatype[] = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
  'BF16',
];

const ELEMENT_BYTES: Record<Datatype, number> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
  BYTES: 0,
  BF16: 2,
};

/** True when `s` names a wire datatype. */
export function isDatatype(s: unknown): s is Datatype {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(ELEMENT_BYTES, s);
}

/**
 * Size in bytes of one element of `dt`; 0 for `BYTES`, whose elements have variable length
 * (each serialized as a 4-byte little-endian length followed by the bytes).
 */
export function elementByteSize(dt: Datatype): number {
  return ELEMENT_BYTES[dt];
}

/**
 * Wire datatype for a config `DataType` enum name (`TYPE_FP32` → `FP32`, `TYPE_STRING` → `BYTES`).
 * Returns undefined for `TYPE_INVALID` and unknown names.
 */
export function configTypeToDatatype(t: string): Datatype | undefined {
  if (t === 'TYPE_STRING') return 'BYTES';
  if (!t.startsWith('TYPE_')) return undefined;
  const dt = t.slice(5);
  return isDatatype(dt) && dt !== 'BYTES' ? dt : undefined;
}

/** Config `DataType` enum name for a wire datatype (`BYTES` → `TYPE_STRING`). */
export function datatypeToConfigType(dt: Datatype): string {
  return dt === 'BYTES' ? 'TYPE_STRING' : `TYPE_${dt}`;
}

/** Element count of a shape (product of dims; 1 for a scalar `[]`). Dims must be non-negative. */
export function shapeElementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The typed-array constructor whose elements match `dt`'s bytes, or undefined for BYTES. */
export type NumericArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  new (length: number): NumericArray;
  BYTES_PER_ELEMENT: number;
};

const ARRAY_CTOR: Record<Exclude<Datatype, 'BYTES'>, ArrayCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
  BF16: Uint16Array,
};

/**
 * A typed-array view over `bytes` for a fixed-size datatype, without copying when `bytes` is aligned
 * to the element size; when it is not (e.g. an INT64 tensor at an odd offset of an HTTP body), the
 * bytes are copied once into an aligned array. FP16/BF16 come back as `Uint16Array` bit patterns and
 * BOOL as `Uint8Array` of 0/1.
 * @throws Error for BYTES or when `bytes.byteLength` is not a multiple of the element size.
 */
export function typedView(dt: Datatype, bytes: Uint8Array): NumericArray {
  if (dt === 'BYTES') throw new Error('BYTES tensors have no typed-array view');
  const Ctor = ARRAY_CTOR[dt];
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) {
    throw new Error(`${bytes.byteLength} bytes is not a whole number of ${dt} elements (${size} bytes each)`);
  }
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Ctor(bytes.byteLength / size);
  new Uint8Array(copy.buffer).set(bytes);
  return copy;
}

/**
 * The range of values a JavaScript number may hold for an integer datatype (BOOL as 0/1; INT64 and
 * UINT64 limited to safe integers), or undefined for floating-point types and BYTES.
 */
export function integerRange(dt: Datatype): readonly [number, number] | undefined {
  return INTEGER_RANGES[dt];
}

const INTEGER_RANGES: Partial<Record<Datatype, readonly [number, number]>> = {
  BOOL: [0, 1],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

/** Allocates a zeroed typed array of `count` elements for a fixed-size datatype. */
export function allocTyped(dt: Exclude<Datatype, 'BYTES'>, count: number): NumericArray {
  return new ARRAY_CTOR[dt](count);
}
