/**
 * A small ONNX graph builder over `onnx-proto` (protobufjs bindings of `onnx.proto`, ONNX v1.10).
 *
 * It builds a single-graph `ModelProto` from plain descriptions of the graph inputs and outputs, nodes,
 * attributes and initializers and returns the serialized bytes, ready to be written as `model.onnx` or
 * passed to `ort.InferenceSession.create(bytes)`. It does no shape inference and no checking beyond what
 * is needed to encode the protobuf correctly; onnxruntime validates the graph when it loads it.
 *
 * @example
 * ```ts
 * const bytes = buildOnnxModel({
 *   inputs: [{ name: 'A', elemType: OnnxDataType.FLOAT, shape: ['batch', 4] }],
 *   outputs: [{ name: 'B', elemType: OnnxDataType.FLOAT, shape: ['batch', 4] }],
 *   nodes: [{ opType: 'Relu', inputs: ['A'], outputs: ['B'] }],
 * });
 * ```
 */
import os from 'node:os';
import onnxProto from 'onnx-proto';
import type { Datatype } from '../protocol/datatypes.js';

const { onnx } = onnxProto;

/**
 * ONNX `TensorProto.DataType` element types (the numeric enum of `onnx.proto`): FLOAT = 1, UINT8 = 2,
 * INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, STRING = 8, BOOL = 9, FLOAT16 = 10,
 * DOUBLE = 11, UINT32 = 12, UINT64 = 13, COMPLEX64 = 14, COMPLEX128 = 15, BFLOAT16 = 16.
 */
export const OnnxDataType = onnx.TensorProto.DataType;
/** A numeric ONNX `TensorProto.DataType` value (see {@link OnnxDataType}). */
export type OnnxDataType = onnxProto.onnx.TensorProto.DataType;

/** Triton / KServe v2 wire datatype names (the server's `Datatype`). */
export type TritonDatatype = Datatype;

/**
 * Triton datatype → ONNX element type. `BYTES` maps to ONNX `STRING` (onnxruntime string tensors);
 * `BF16` maps to `BFLOAT16`, which onnxruntime-node cannot feed or fetch from JavaScript.
 */
const TRITON_TO_ONNX_TYPE: Readonly<Record<TritonDatatype, OnnxDataType>> = {
  BOOL: OnnxDataType.BOOL,
  UINT8: OnnxDataType.UINT8,
  UINT16: OnnxDataType.UINT16,
  UINT32: OnnxDataType.UINT32,
  UINT64: OnnxDataType.UINT64,
  INT8: OnnxDataType.INT8,
  INT16: OnnxDataType.INT16,
  INT32: OnnxDataType.INT32,
  INT64: OnnxDataType.INT64,
  FP16: OnnxDataType.FLOAT16,
  FP32: OnnxDataType.FLOAT,
  FP64: OnnxDataType.DOUBLE,
  BYTES: OnnxDataType.STRING,
  BF16: OnnxDataType.BFLOAT16,
};

/**
 * ONNX element type for a Triton wire datatype (`'FP32'` → `FLOAT`, `'BYTES'` → `STRING`).
 *
 * @throws {Error} when `dt` is not a known Triton datatype.
 */
export function tritonToOnnxType(dt: string): OnnxDataType {
  if (!Object.prototype.hasOwnProperty.call(TRITON_TO_ONNX_TYPE, dt)) {
    throw new Error(`unknown Triton datatype '${dt}'`);
  }
  return TRITON_TO_ONNX_TYPE[dt as TritonDatatype];
}

/** Size in bytes of one element of each fixed-size ONNX type (STRING and UNDEFINED are absent). */
const ONNX_ELEMENT_BYTES: Partial<Record<number, number>> = {
  [OnnxDataType.FLOAT]: 4,
  [OnnxDataType.UINT8]: 1,
  [OnnxDataType.INT8]: 1,
  [OnnxDataType.UINT16]: 2,
  [OnnxDataType.INT16]: 2,
  [OnnxDataType.INT32]: 4,
  [OnnxDataType.INT64]: 8,
  [OnnxDataType.BOOL]: 1,
  [OnnxDataType.FLOAT16]: 2,
  [OnnxDataType.DOUBLE]: 8,
  [OnnxDataType.UINT32]: 4,
  [OnnxDataType.UINT64]: 8,
  [OnnxDataType.COMPLEX64]: 8,
  [OnnxDataType.COMPLEX128]: 16,
  [OnnxDataType.BFLOAT16]: 2,
};

/**
 * A graph input or output: its name, element type and shape. Each dimension is either a fixed size
 * (a non-negative integer) or a symbolic name such as `'batch'` (a dynamic dimension; equal names
 * denote equal sizes). Omit `shape` for a tensor of unknown rank.
 */
export interface OnnxValueInfo {
  name: string;
  elemType: OnnxDataType;
  shape?: readonly (number | string)[];
  docString?: string;
}

/**
 * A node attribute value. Tagged forms pick the attribute type explicitly; bare values are inferred:
 * an integer `number` or a `bigint` → INT, a non-integer `number` → FLOAT, `string` → STRING (UTF-8),
 * `number[]` → INTS if every element is an integer else FLOATS, `string[]` → STRINGS.
 * Use `{ float: 1 }` for a float attribute whose value happens to be integral.
 * An empty bare array is ambiguous and rejected; use a tagged form.
 */
export type OnnxAttributeValue =
  | number
  | bigint
  | string
  | readonly number[]
  | readonly string[]
  | { readonly int: number | bigint }
  | { readonly float: number }
  | { readonly string: string }
  | { readonly ints: readonly (number | bigint)[] }
  | { readonly floats: readonly number[] }
  | { readonly strings: readonly string[] }
  | { readonly tensor: OnnxTensor };

/** A graph node: `opType` from `domain` (default `''`, the standard ONNX domain). */
export interface OnnxNode {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  /** Node name; defaults to `<opType>_<index>`. */
  name?: string;
  domain?: string;
  attributes?: Readonly<Record<string, OnnxAttributeValue>>;
  docString?: string;
}

/**
 * A constant tensor (graph initializer or TENSOR attribute). `data` holds the elements in row-major
 * order: a typed array whose byte length is `product(dims) × element size` for fixed-size types
 * (FLOAT16/BFLOAT16 as `Uint16Array` bit patterns, BOOL as `Uint8Array` of 0/1), or a `string[]`
 * (each encoded as UTF-8) for `STRING`. `dims: []` is a scalar.
 */
export interface OnnxTensor {
  name?: string;
  elemType: OnnxDataType;
  dims: readonly number[];
  data: ArrayBufferView | readonly string[];
}

/** Everything {@link buildOnnxModel} needs. */
export interface OnnxModelSpec {
  inputs: readonly OnnxValueInfo[];
  outputs: readonly OnnxValueInfo[];
  nodes: readonly OnnxNode[];
  /** Constant tensors; each must have a `name`, which nodes refer to as an input. */
  initializers?: readonly OnnxTensor[];
  /** Graph name; default `'nereid_graph'`. */
  graphName?: string;
  /** ONNX IR version; default 8 (onnx 1.10+, understood by every onnxruntime ≥ 1.10). */
  irVersion?: number;
  /** Opset version of the default domain; default 13. */
  opsetVersion?: number;
  /** Additional opset imports, e.g. `{ 'com.microsoft': 1 }`. */
  extraOpsets?: Readonly<Record<string, number>>;
  /** Default `'nereid'`. */
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Stored as `metadata_props` (visible through onnxruntime's model metadata). */
  metadata?: Readonly<Record<string, string>>;
}

const utf8 = new TextEncoder();

function valueInfo(v: OnnxValueInfo): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: v.elemType };
  if (v.shape !== undefined) {
    tensorType.shape = {
      dim: v.shape.map((d) => {
        if (typeof d === 'string') return { dimParam: d };
        if (!Number.isInteger(d) || d < 0) {
          throw new Error(`'${v.name}': dimension ${d} must be a non-negative integer or a symbolic name`);
        }
        return { dimValue: d };
      }),
    };
  }
  return { name: v.name, type: { tensorType }, docString: v.docString };
}

/**
 * Encodes a constant tensor as a `TensorProto`: fixed-size elements go to `raw_data` (little-endian),
 * strings to `string_data`.
 *
 * @throws {Error} when the data does not match `dims` and `elemType`, or on a big-endian host.
 */
export function tensorProto(t: OnnxTensor): onnxProto.onnx.ITensorProto {
  for (const d of t.dims) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`tensor '${t.name ?? ''}': bad dimension ${d}`);
  }
  const count = t.dims.reduce((a, b) => a * b, 1);
  const base: onnxProto.onnx.ITensorProto = { name: t.name, dataType: t.elemType, dims: [...t.dims] };
  if (t.elemType === OnnxDataType.STRING) {
    if (!Array.isArray(t.data)) throw new Error(`tensor '${t.name ?? ''}': STRING data must be a string[]`);
    const strings = t.data as readonly string[];
    if (strings.length !== count) {
      throw new Error(`tensor '${t.name ?? ''}': ${strings.length} strings for ${count} elements`);
    }
    return { ...base, stringData: strings.map((s) => utf8.encode(s)) };
  }
  const size = ONNX_ELEMENT_BYTES[t.elemType];
  if (size === undefined) throw new Error(`tensor '${t.name ?? ''}': unsupported element type ${t.elemType}`);
  if (!ArrayBuffer.isView(t.data)) {
    throw new Error(`tensor '${t.name ?? ''}': numeric data must be a typed array`);
  }
  if (t.data.byteLength !== count * size) {
    throw new Error(
      `tensor '${t.name ?? ''}': ${t.data.byteLength} bytes of data, expected ${count} × ${size} bytes`,
    );
  }
  if (size > 1 && os.endianness() !== 'LE') {
    throw new Error('onnx-builder: raw_data encoding requires a little-endian host');
  }
  // Copy so the proto does not alias (and later encode) a caller's larger buffer.
  const raw = new Uint8Array(t.data.byteLength);
  raw.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return { ...base, rawData: raw };
}

function isIntegral(x: number | bigint): boolean {
  return typeof x === 'bigint' || Number.isInteger(x);
}

function toInt(x: number | bigint, what: string): number {
  const n = Number(x);
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: ${x} is not a safe integer`);
  return n;
}

/**
 * Encodes one node attribute (see {@link OnnxAttributeValue} for how bare values are typed).
 *
 * @throws {Error} for an empty bare array, a mixed array, or an integer outside ±2^53.
 */
export function attributeProto(name: string, value: OnnxAttributeValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  const what = `attribute '${name}'`;
  if (typeof value === 'number' || typeof value === 'bigint') {
    return isIntegral(value)
      ? { name, type: T.INT, i: toInt(value, what) }
      : { name, type: T.FLOAT, f: Number(value) };
  }
  if (typeof value === 'string') return { name, type: T.STRING, s: utf8.encode(value) };
  if (Array.isArray(value)) {
    const arr = value as readonly (number | string)[];
    if (arr.length === 0) throw new Error(`${what}: empty array is ambiguous, use a tagged value`);
    if (arr.every((v) => typeof v === 'string')) {
      return { name, type: T.STRINGS, strings: (arr as string[]).map((s) => utf8.encode(s)) };
    }
    if (!arr.every((v) => typeof v === 'number')) throw new Error(`${what}: mixed array`);
    const nums = arr as number[];
    return nums.every(isIntegral)
      ? { name, type: T.INTS, ints: nums.map((n) => toInt(n, what)) }
      : { name, type: T.FLOATS, floats: [...nums] };
  }
  const v = value as Exclude<OnnxAttributeValue, number | bigint | string | readonly unknown[]>;
  if ('int' in v) return { name, type: T.INT, i: toInt(v.int, what) };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('string' in v) return { name, type: T.STRING, s: utf8.encode(v.string) };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints.map((n) => toInt(n, what)) };
  if ('floats' in v) return { name, type: T.FLOATS, floats: [...v.floats] };
  if ('strings' in v) return { name, type: T.STRINGS, strings: v.strings.map((s) => utf8.encode(s)) };
  return { name, type: T.TENSOR, t: tensorProto(v.tensor) };
}

/**
 * Builds and serializes an ONNX model with a single graph.
 *
 * @param spec graph inputs/outputs, nodes, initializers and model-level options (IR version 8,
 *   default-domain opset 13 and producer `'nereid'` unless overridden).
 * @returns the `ModelProto` bytes (protobuf binary), i.e. the content of a `model.onnx` file.
 * @throws {Error} for malformed shapes, attributes or initializer data, or an unnamed initializer.
 *   The graph itself (op semantics, type consistency) is validated only when a runtime loads it.
 */
export function buildOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const initializer = (spec.initializers ?? []).map((t) => {
    if (!t.name) throw new Error('every initializer needs a name');
    return tensorProto(t);
  });
  const node = spec.nodes.map((n, i): onnxProto.onnx.INodeProto => ({
    name: n.name ?? `${n.opType}_${i}`,
    opType: n.opType,
    domain: n.domain ?? '',
    input: [...n.inputs],
    output: [...n.outputs],
    attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attributeProto(k, v)),
    docString: n.docString,
  }));
  const opsetImport: onnxProto.onnx.IOperatorSetIdProto[] = [
    { domain: '', version: spec.opsetVersion ?? 13 },
    ...Object.entries(spec.extraOpsets ?? {}).map(([domain, version]) => ({ domain, version })),
  ];
  const model: onnxProto.onnx.IModelProto = {
    irVersion: spec.irVersion ?? 8,
    opsetImport,
    producerName: spec.producerName ?? 'nereid',
    producerVersion: spec.producerVersion ?? '',
    docString: spec.docString ?? '',
    graph: {
      name: spec.graphName ?? 'nereid_graph',
      node,
      initializer,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
    },
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
