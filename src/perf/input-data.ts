/**
 * Input tensors for `nereid perf`: the model's inputs (from its metadata and configuration), data
 * generated (`--input-data random|zero`) or read from perf_analyzer's JSON input-data format
 * (perf_analyzer docs/input_data.md), and the infer requests built from them once, before the load
 * starts.
 *
 * JSON input data: `{"data": [ {<input>: <values>, ...}, ... ]}` where `<values>` is a flat (or
 * nested) row-major array, `{"b64": "..."}` (raw little-endian bytes; BYTES elements with their 4-byte
 * lengths) or `{"content": <array or b64>, "shape": [...]}`. Each entry is one batch-1 element; a
 * request of batch size b takes b consecutive entries (wrapping round), as perf_analyzer does.
 * Streams for sequence models (`"data": [[...], [...]]`) are read one after the other.
 */
import * as fs from 'node:fs';
import { elementByteSize, isDatatype, shapeElementCount, type Datatype } from '../protocol/datatypes.js';
import { serializeBytesTensor } from '../protocol/bytes-tensor.js';
import { PerfError } from './options.js';

/** One model input as perf sees it. */
export interface ModelInput {
  name: string;
  datatype: Datatype;
  /** Dims without the batch dimension (-1 = variable). */
  dims: number[];
}

/** What perf needs to know about the model. */
export interface ModelInfo {
  name: string;
  /** Versions listed by the model metadata. */
  versions: string[];
  /** The model's `platform` (e.g. onnxruntime_onnx). */
  platform: string;
  inputs: ModelInput[];
  /** Output names. */
  outputs: string[];
  /** `max_batch_size` from the configuration; 0 = the model does not batch. */
  maxBatchSize: number;
  /** The configuration has `sequence_batching`: requests go in sequences with correlation ids. */
  sequential: boolean;
}

/** One batch-1 element of one input: its shape (no batch dimension) and raw bytes. */
export interface TensorElement {
  shape: number[];
  bytes: Uint8Array;
}

/** One data entry ("step"): an element for every input, by name. */
export type DataStep = Map<string, TensorElement>;

/** A request's input: the tensor as sent (shape with the batch dimension when the model batches). */
export interface RequestInput {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: Buffer;
}

/** One pre-built request: its inputs, plus the HTTP binary-extension body made from them. */
export interface PreparedRequest {
  inputs: RequestInput[];
  /** JSON header + tensor bytes (`Inference-Header-Content-Length` = headerLength). */
  httpBody: Buffer;
  headerLength: number;
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads model metadata (`GET /v2/models/<m>`) and configuration (`GET .../config`) JSON into a
 * ModelInfo. Without a configuration, a model whose every input starts with a -1 dim is taken to batch.
 * @throws PerfError when the metadata lacks inputs or has an unknown datatype.
 */
export function parseModelInfo(metadata: Json, config: Json | undefined): ModelInfo {
  if (!isObject(metadata) || !Array.isArray(metadata.inputs)) {
    throw new PerfError(`the server's model metadata has no 'inputs': ${JSON.stringify(metadata)}`);
  }
  const raw = metadata.inputs as Json[];
  let maxBatchSize: number;
  if (isObject(config) && typeof config.max_batch_size === 'number') {
    maxBatchSize = config.max_batch_size;
  } else {
    const allBatched =
      raw.length > 0 && raw.every((i) => isObject(i) && Array.isArray(i.shape) && i.shape[0] === -1);
    maxBatchSize = allBatched ? Number.MAX_SAFE_INTEGER : 0;
  }
  const inputs = raw.map((i): ModelInput => {
    if (!isObject(i) || typeof i.name !== 'string' || !Array.isArray(i.shape)) {
      throw new PerfError(`the server's model metadata has a malformed input: ${JSON.stringify(i)}`);
    }
    if (!isDatatype(i.datatype)) {
      throw new PerfError(`input '${i.name}' has unknown datatype ${JSON.stringify(i.datatype)}`);
    }
    const shape = (i.shape as Json[]).map(Number);
    return { name: i.name, datatype: i.datatype, dims: maxBatchSize > 0 ? shape.slice(1) : shape };
  });
  const outputs = Array.isArray(metadata.outputs)
    ? (metadata.outputs as Json[]).filter(isObject).map((o) => String(o.name))
    : [];
  return {
    name: String(metadata.name ?? ''),
    versions: Array.isArray(metadata.versions) ? (metadata.versions as Json[]).map(String) : [],
    platform: String(metadata.platform ?? ''),
    inputs,
    outputs,
    maxBatchSize,
    sequential: isObject(config) && isObject(config.sequence_batching),
  };
}

const shapeText = (s: readonly number[]) => `[${s.join(',')}]`;

/**
 * Checks `--shape` entries against the model: every name must be an input, with the input's rank and
 * fixed dims.
 * @throws PerfError naming the input and the mismatch.
 */
export function checkShapes(model: ModelInfo, shapes: Record<string, number[]>): void {
  for (const [name, shape] of Object.entries(shapes)) {
    const input = model.inputs.find((i) => i.name === name);
    if (!input) {
      throw new PerfError(
        `--shape given for '${name}', which is not an input of model '${model.name}' (inputs: ${model.inputs.map((i) => i.name).join(', ')})`,
      );
    }
    checkCompatible(input, shape, `--shape ${name}`);
  }
}

function checkCompatible(input: ModelInput, shape: number[], where: string): void {
  const ok = shape.length === input.dims.length && input.dims.every((d, k) => d === -1 || d === shape[k]);
  if (!ok) {
    throw new PerfError(
      `${where}: shape ${shapeText(shape)} does not fit input '${input.name}' with dims ${shapeText(input.dims)} (shapes exclude the batch dimension)`,
    );
  }
}

/** The concrete shape of an input: the given one, else `--shape`, else its dims when all are fixed. */
function resolveShape(
  input: ModelInput,
  shapes: Record<string, number[]>,
  given: number[] | undefined,
  where: string,
): number[] {
  const shape = given ?? shapes[input.name] ?? (input.dims.includes(-1) ? undefined : input.dims);
  if (!shape) {
    throw new PerfError(
      `input '${input.name}' has variable dims ${shapeText(input.dims)}: give its shape with --shape ${input.name}:${input.dims.map((d) => (d === -1 ? 'N' : d)).join(',')}` +
        ` or a "shape" in the input data`,
    );
  }
  checkCompatible(input, shape, where);
  return shape;
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomString(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALNUM[Math.floor(Math.random() * ALNUM.length)];
  return s;
}

/** Options of `generateData`. */
export interface GenerateOptions {
  /** zeros, or random values (integers 0–127, floats in [0,1), random booleans). */
  mode: 'random' | 'zero';
  /** `--shape` entries. */
  shapes: Record<string, number[]>;
  /** Length of random BYTES elements. */
  stringLength: number;
  /** The value of every BYTES element, instead of random strings. */
  stringData?: string;
}

/**
 * One data step generated for every input (perf_analyzer generates once and reuses it). BYTES inputs
 * get random strings of `stringLength` characters, or `stringData`, in both modes (as perf_analyzer).
 * @throws PerfError for an input with variable dims and no `--shape`.
 */
export function generateData(model: ModelInfo, o: GenerateOptions): DataStep[] {
  const step: DataStep = new Map();
  for (const input of model.inputs) {
    const shape = resolveShape(input, o.shapes, undefined, `input '${input.name}'`);
    const count = shapeElementCount(shape);
    let bytes: Uint8Array;
    if (input.datatype === 'BYTES') {
      const els = Array.from({ length: count }, () => o.stringData ?? randomString(o.stringLength));
      bytes = serializeBytesTensor(els);
    } else if (o.mode === 'zero') {
      bytes = Buffer.alloc(count * elementByteSize(input.datatype));
    } else {
      const values = Array.from({ length: count }, () => randomValue(input.datatype));
      bytes = encodeValues(input.datatype, values, `input '${input.name}'`);
    }
    step.set(input.name, { shape, bytes });
  }
  return [step];
}

function randomValue(dt: Datatype): number | boolean {
  if (dt === 'BOOL') return Math.random() < 0.5;
  if (dt === 'FP16' || dt === 'BF16' || dt === 'FP32' || dt === 'FP64') return Math.random();
  return Math.floor(Math.random() * 128);
}

/**
 * Reads perf_analyzer JSON input-data files (their entries appended in order).
 * @throws PerfError when a file cannot be read or parsed, or an entry does not fit the model.
 */
export function loadInputData(
  files: string[],
  model: ModelInfo,
  shapes: Record<string, number[]>,
): DataStep[] {
  const steps: DataStep[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new PerfError(`--input-data: cannot read '${file}': ${(e as Error).message}`);
    }
    let json: Json;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new PerfError(`--input-data: '${file}' is not valid JSON: ${(e as Error).message}`);
    }
    steps.push(...parseInputData(json, model, shapes, file));
  }
  return steps;
}

/**
 * Parses one perf_analyzer input-data document (see the module comment).
 * @param source the file name, for messages.
 * @throws PerfError naming the entry and input for a missing `data` array, a missing input, a wrong
 *   element count or byte size, a bad value or a shape that does not fit the model.
 */
export function parseInputData(
  json: Json,
  model: ModelInfo,
  shapes: Record<string, number[]>,
  source = 'input data',
): DataStep[] {
  if (!isObject(json) || !Array.isArray(json.data)) {
    throw new PerfError(`${source}: expected a JSON object with a "data" array`);
  }
  const entries: Json[] = [];
  for (const e of json.data as Json[]) {
    if (Array.isArray(e)) entries.push(...e);
    else entries.push(e);
  }
  if (entries.length === 0) throw new PerfError(`${source}: "data" has no entries`);
  return entries.map((entry, k) => {
    const where = `${source}: data[${k}]`;
    if (!isObject(entry)) throw new PerfError(`${where} must be an object of input names to values`);
    for (const name of Object.keys(entry)) {
      if (!model.inputs.some((i) => i.name === name)) {
        throw new PerfError(
          `${where} has '${name}', which is not an input of model '${model.name}' (inputs: ${model.inputs.map((i) => i.name).join(', ')})`,
        );
      }
    }
    const step: DataStep = new Map();
    for (const input of model.inputs) {
      if (!(input.name in entry)) throw new PerfError(`${where} has no data for input '${input.name}'`);
      step.set(input.name, readTensor(input, entry[input.name], shapes, `${where}.${input.name}`));
    }
    return step;
  });
}

function readTensor(
  input: ModelInput,
  v: Json,
  shapes: Record<string, number[]>,
  where: string,
): TensorElement {
  let content: Json = v;
  let given: number[] | undefined;
  if (isObject(v) && 'content' in v) {
    content = v.content;
    if (v.shape !== undefined) {
      if (!Array.isArray(v.shape) || !v.shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
        throw new PerfError(`${where}: "shape" must be an array of non-negative integers`);
      }
      given = v.shape as number[];
    }
  }
  const shape = resolveShape(input, shapes, given, where);
  const count = shapeElementCount(shape);
  if (isObject(content) && typeof content.b64 === 'string') {
    const bytes = Buffer.from(content.b64, 'base64');
    if (input.datatype === 'BYTES') {
      const n = countBytesElements(bytes);
      if (n !== count) {
        throw new PerfError(
          `${where}: b64 holds ${n < 0 ? 'malformed' : n} BYTES elements, shape ${shapeText(shape)} needs ${count}`,
        );
      }
    } else if (bytes.length !== count * elementByteSize(input.datatype)) {
      throw new PerfError(
        `${where}: b64 holds ${bytes.length} bytes, shape ${shapeText(shape)} of ${input.datatype} needs ${count * elementByteSize(input.datatype)}`,
      );
    }
    return { shape, bytes };
  }
  if (!Array.isArray(content)) {
    throw new PerfError(
      `${where}: expected an array of values, {"b64": ...} or {"content": ..., "shape": [...]}`,
    );
  }
  const flat: Json[] = [];
  flatten(content, flat);
  if (flat.length !== count) {
    throw new PerfError(`${where}: has ${flat.length} elements, shape ${shapeText(shape)} needs ${count}`);
  }
  return { shape, bytes: encodeValues(input.datatype, flat, where) };
}

function flatten(v: Json, out: Json[]): void {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else out.push(v);
}

/** Number of length-prefixed elements in a serialized BYTES tensor, or -1 when malformed. */
function countBytesElements(b: Uint8Array): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let n = 0;
  let off = 0;
  while (off < b.byteLength) {
    if (off + 4 > b.byteLength) return -1;
    off += 4 + view.getUint32(off, true);
    if (off > b.byteLength) return -1;
    n++;
  }
  return n;
}

const INT_RANGE: Partial<Record<Datatype, [bigint, bigint]>> = {
  INT8: [-128n, 127n],
  INT16: [-32768n, 32767n],
  INT32: [-2147483648n, 2147483647n],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT8: [0n, 255n],
  UINT16: [0n, 65535n],
  UINT32: [0n, 4294967295n],
  UINT64: [0n, 2n ** 64n - 1n],
};

/**
 * Encodes JSON values as one tensor's raw bytes (little-endian, row-major). BOOL takes true/false or
 * 0/1; integers take numbers or decimal strings (for exact 64-bit values); FP16/BF16 are rounded to
 * nearest even; BYTES elements take strings (numbers and booleans are written as text).
 * @param where names the tensor in messages.
 * @throws PerfError naming the element for a value of the wrong type or out of range.
 */
export function encodeValues(dt: Datatype, values: readonly Json[], where: string): Buffer {
  const bad = (i: number, expected: string): never => {
    throw new PerfError(`${where}: element ${i} is ${JSON.stringify(values[i])}, expected ${expected}`);
  };
  if (dt === 'BYTES') {
    return serializeBytesTensor(
      values.map((v, i) =>
        typeof v === 'string'
          ? v
          : typeof v === 'number' || typeof v === 'boolean'
            ? String(v)
            : bad(i, 'a string'),
      ),
    );
  }
  const size = elementByteSize(dt);
  const out = Buffer.alloc(values.length * size);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const off = i * size;
    switch (dt) {
      case 'BOOL':
        if (v === true || v === 1) out[off] = 1;
        else if (v !== false && v !== 0) bad(i, 'true, false, 0 or 1');
        break;
      case 'FP32':
      case 'FP64':
      case 'FP16':
      case 'BF16': {
        if (typeof v !== 'number') bad(i, 'a number');
        const x = v as number;
        if (dt === 'FP32') out.writeFloatLE(x, off);
        else if (dt === 'FP64') out.writeDoubleLE(x, off);
        else out.writeUInt16LE(dt === 'FP16' ? floatToHalf(x) : floatToBfloat16(x), off);
        break;
      }
      default: {
        const [lo, hi] = INT_RANGE[dt]!;
        let n: bigint | undefined;
        if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
        else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) n = BigInt(v.trim());
        if (n === undefined || n < lo || n > hi) bad(i, `an integer in [${lo}, ${hi}] for ${dt}`);
        writeInt(out, dt, off, n!);
      }
    }
  }
  return out;
}

function writeInt(out: Buffer, dt: Datatype, off: number, n: bigint): void {
  switch (dt) {
    case 'INT8':
      out.writeInt8(Number(n), off);
      break;
    case 'UINT8':
      out.writeUInt8(Number(n), off);
      break;
    case 'INT16':
      out.writeInt16LE(Number(n), off);
      break;
    case 'UINT16':
      out.writeUInt16LE(Number(n), off);
      break;
    case 'INT32':
      out.writeInt32LE(Number(n), off);
      break;
    case 'UINT32':
      out.writeUInt32LE(Number(n), off);
      break;
    case 'INT64':
      out.writeBigInt64LE(n, off);
      break;
    case 'UINT64':
      out.writeBigUInt64LE(n, off);
      break;
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 half-precision bits of `v`, rounded to nearest even (overflow → ±Inf). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** bfloat16 bits of `v` (the top half of its float32 bits), rounded to nearest even. */
export function floatToBfloat16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/**
 * Builds one request per data step: the request starting at step s holds steps s, s+1, …, s+b-1
 * (wrapping round), batched along a new first dimension when the model batches. Each HTTP body asks
 * for every output in binary (`binary_data_output: true`).
 * @throws PerfError when the batch size does not suit the model, or elements of a batch differ in shape.
 */
export function buildRequests(model: ModelInfo, steps: DataStep[], batchSize: number): PreparedRequest[] {
  if (model.maxBatchSize === 0 && batchSize > 1) {
    throw new PerfError(
      `-b ${batchSize}: model '${model.name}' does not support batching (max_batch_size 0); use -b 1`,
    );
  }
  if (model.maxBatchSize > 0 && batchSize > model.maxBatchSize) {
    throw new PerfError(
      `-b ${batchSize} is larger than the max_batch_size ${model.maxBatchSize} of model '${model.name}'`,
    );
  }
  const requests: PreparedRequest[] = [];
  for (let s = 0; s < steps.length; s++) {
    const inputs: RequestInput[] = model.inputs.map((input) => {
      const parts: Uint8Array[] = [];
      let shape: number[] | undefined;
      for (let k = 0; k < batchSize; k++) {
        const el = steps[(s + k) % steps.length].get(input.name)!;
        if (shape && shapeText(shape) !== shapeText(el.shape)) {
          throw new PerfError(
            `input '${input.name}': cannot batch elements of shapes ${shapeText(shape)} and ${shapeText(el.shape)} together (data entries ${s} and ${(s + k) % steps.length})`,
          );
        }
        shape = el.shape;
        parts.push(el.bytes);
      }
      return {
        name: input.name,
        datatype: input.datatype,
        shape: model.maxBatchSize > 0 ? [batchSize, ...shape!] : shape!,
        data: Buffer.concat(parts),
      };
    });
    // The header ends with its `parameters` object: the HTTP transport adds sequence parameters there.
    const header = Buffer.from(
      JSON.stringify({
        inputs: inputs.map((i) => ({
          name: i.name,
          datatype: i.datatype,
          shape: i.shape,
          parameters: { binary_data_size: i.data.length },
        })),
        parameters: { binary_data_output: true },
      }),
    );
    requests.push({
      inputs,
      httpBody: Buffer.concat([header, ...inputs.map((i) => i.data)]),
      headerLength: header.length,
    });
  }
  return requests;
}
