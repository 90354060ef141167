/**
 * Inputs, requested outputs and results of the client library, the same for HTTP and gRPC.
 *
 * Tensor bytes are kept in the layout both protocols carry (KServe v2 binary tensor data / gRPC
 * `raw_input_contents`, Triton docs/protocol/extension_binary_data.md): little-endian, row-major, no
 * padding; BOOL one byte 0/1; FP16/BF16 as 16-bit patterns; BYTES as, per element, a 4-byte
 * little-endian length and the bytes.
 */
import {
  elementByteSize,
  isDatatype,
  shapeElementCount,
  typedView,
  integerRange,
  type Datatype,
  type NumericArray,
} from '../protocol/datatypes.js';
import {
  countBytesElements,
  deserializeBytesTensor,
  serializeBytesTensor,
} from '../protocol/bytes-tensor.js';
import { clientError } from './errors.js';

export type { Datatype, NumericArray } from '../protocol/datatypes.js';

/** A request or response parameter value. `bigint` travels as a 64-bit integer. */
export type ParameterValue = string | number | boolean | bigint;

/**
 * What `InferInput.setData` accepts:
 * - a typed array matching the datatype: `Float32Array` (FP32), `Float64Array` (FP64),
 *   `Int8Array`/`Int16Array`/`Int32Array`/`BigInt64Array` (INT8…INT64),
 *   `Uint8Array`/`Uint16Array`/`Uint32Array`/`BigUint64Array` (UINT8…UINT64), `Uint8Array` of 0/1
 *   (BOOL), `Uint16Array` of bit patterns (FP16, BF16);
 * - a plain array: `number[]` (numeric types; `bigint[]` too for INT64/UINT64), `boolean[]` (BOOL),
 *   `string[]` or `Uint8Array[]` (BYTES elements; strings are encoded as UTF-8);
 * - a Node.js `Buffer` of raw tensor bytes in the wire layout, for any datatype (for BYTES: the
 *   length-prefixed serialization).
 */
export type InferInputData =
  NumericArray | Buffer | number[] | Array<number | bigint> | boolean[] | string[] | Uint8Array[];

/** Options of `InferInput.setData`. */
export interface SetDataOptions {
  /**
   * Send this input's bytes in binary form (HTTP binary tensor data; gRPC `raw_input_contents`) —
   * the default. `false` sends it as JSON `data` over HTTP and as typed `contents` over gRPC (one
   * input with `false` makes a gRPC request use typed contents for all its inputs, as the protocol
   * does not allow mixing). FP16 and BF16 can only travel in binary.
   */
  binary?: boolean;
}

const TYPED_FOR: Record<Exclude<Datatype, 'BYTES'>, string> = {
  BOOL: 'Uint8Array',
  UINT8: 'Uint8Array',
  UINT16: 'Uint16Array',
  UINT32: 'Uint32Array',
  UINT64: 'BigUint64Array',
  INT8: 'Int8Array',
  INT16: 'Int16Array',
  INT32: 'Int32Array',
  INT64: 'BigInt64Array',
  FP16: 'Uint16Array',
  FP32: 'Float32Array',
  FP64: 'Float64Array',
  BF16: 'Uint16Array',
};

function checkShape(shape: readonly number[], what: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw clientError(
      `${what}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  return [...shape];
}

function typedName(v: unknown): string {
  return (v as object)?.constructor?.name ?? typeof v;
}

/**
 * An input tensor of an inference request: name, shape, datatype and data.
 *
 * ```ts
 * const x = new InferInput('INPUT0', [1, 16], 'INT32').setData(Int32Array.from({ length: 16 }, (_, i) => i));
 * const s = new InferInput('TEXT', [2], 'BYTES').setData(['hello', 'world']);
 * ```
 */
export class InferInput {
  private _shape: number[];
  private _data?: Uint8Array;
  private _binary = true;

  /**
   * @param name input name as in the model configuration.
   * @param shape dims, with the batch dimension first for a batching model (e.g. `[1, 16]`).
   * @param datatype wire datatype: BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES, BF16.
   * @throws InferenceServerError for an unknown datatype or a shape that is not non-negative integers.
   */
  constructor(
    readonly name: string,
    shape: readonly number[],
    readonly datatype: Datatype,
  ) {
    if (!isDatatype(datatype))
      throw clientError(`input '${name}': unknown datatype ${JSON.stringify(datatype)}`);
    this._shape = checkShape(shape, `input '${name}'`);
  }

  /** The shape (a copy). */
  get shape(): number[] {
    return [...this._shape];
  }

  /**
   * Changes the shape (data set later must match it).
   * @throws InferenceServerError for dims that are not non-negative integers.
   */
  setShape(shape: readonly number[]): this {
    this._shape = checkShape(shape, `input '${this.name}'`);
    return this;
  }

  /** True when the input goes in binary form (see SetDataOptions.binary). */
  get binary(): boolean {
    return this._binary;
  }

  /** The tensor bytes in the wire layout (undefined before setData). Not a copy. */
  get rawData(): Uint8Array | undefined {
    return this._data;
  }

  /**
   * Sets the data. Typed arrays and Buffers are referenced, not copied (do not modify them until
   * the request is sent); plain arrays are converted once.
   * @throws InferenceServerError when the data's type does not fit the datatype, an element is out
   *   of the datatype's range, or the element count (byte size for raw Buffers) does not match the
   *   shape.
   */
  setData(data: InferInputData, options: SetDataOptions = {}): this {
    this._binary = options.binary ?? true;
    const dt = this.datatype;
    const what = `input '${this.name}'`;
    const count = shapeElementCount(this._shape);
    let bytes: Uint8Array;
    if (Buffer.isBuffer(data)) {
      bytes = data;
    } else if (dt === 'BYTES') {
      if (!Array.isArray(data) || !data.every((e) => typeof e === 'string' || e instanceof Uint8Array)) {
        throw clientError(
          `${what}: BYTES data must be a string[], a Uint8Array[] or a Buffer of serialized elements, got ${typedName(data)}`,
        );
      }
      bytes = serializeBytesTensor(data as Array<string | Uint8Array>);
    } else if (Array.isArray(data)) {
      bytes = this.fromArray(data as unknown[], dt, what);
    } else if (ArrayBuffer.isView(data)) {
      const expected = TYPED_FOR[dt];
      if (typedName(data) !== expected) {
        throw clientError(
          `${what}: got ${typedName(data)} data for datatype ${dt}; expected ${expected}, a plain array or a Buffer of raw bytes`,
        );
      }
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      throw clientError(`${what}: unsupported data of type ${typedName(data)} for datatype ${dt}`);
    }
    if (dt === 'BYTES') {
      let n: number;
      try {
        n = countBytesElements(bytes, what);
      } catch (e) {
        throw clientError((e as Error).message);
      }
      if (n !== count) {
        throw clientError(
          `${what}: got ${n} BYTES elements but shape [${this._shape.join(',')}] needs ${count}`,
        );
      }
    } else {
      const size = count * elementByteSize(dt);
      if (bytes.byteLength !== size) {
        throw clientError(
          `${what}: got ${bytes.byteLength / elementByteSize(dt)} ${dt} elements (${bytes.byteLength} bytes) but shape [${this._shape.join(',')}] needs ${count} (${size} bytes)`,
        );
      }
    }
    this._data = bytes;
    return this;
  }

  private fromArray(values: unknown[], dt: Exclude<Datatype, 'BYTES'>, what: string): Uint8Array {
    if (dt === 'FP16' || dt === 'BF16') {
      throw clientError(`${what}: ${dt} data must be a Uint16Array of bit patterns or a Buffer of raw bytes`);
    }
    const bad = (i: number, expected: string) =>
      clientError(`${what}: element ${i} is ${String(values[i])}, expected ${expected} for ${dt}`);
    let out: NumericArray;
    if (dt === 'INT64' || dt === 'UINT64') {
      const big = dt === 'INT64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
      const [lo, hi] = dt === 'INT64' ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
        else throw bad(i, 'an integer (number or bigint)');
        if (b < lo || b > hi) throw bad(i, `an integer in [${lo}, ${hi}]`);
        big[i] = b;
      }
      out = big;
    } else if (dt === 'BOOL') {
      const u8 = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v === 'boolean') u8[i] = v ? 1 : 0;
        else if (v === 0 || v === 1) u8[i] = v;
        else throw bad(i, 'true or false');
      }
      out = u8;
    } else if (dt === 'FP32' || dt === 'FP64') {
      for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'number') throw bad(i, 'a number');
      out = dt === 'FP32' ? Float32Array.from(values as number[]) : Float64Array.from(values as number[]);
    } else {
      const [lo, hi] = integerRange(dt)!;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
          throw bad(i, `an integer in [${lo}, ${hi}]`);
        }
      }
      const Ctor = {
        INT8: Int8Array,
        INT16: Int16Array,
        INT32: Int32Array,
        UINT8: Uint8Array,
        UINT16: Uint16Array,
        UINT32: Uint32Array,
      }[dt as 'INT8'];
      out = Ctor.from(values as number[]);
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
}

/** Options of a requested output. */
export interface RequestedOutputOptions {
  /** Receive it in binary (HTTP; default true). gRPC outputs are always binary. */
  binary?: boolean;
  /**
   * Classification extension: when > 0, receive the top `classCount` classes instead of the
   * tensor, as BYTES `"value:index[:label]"` of shape `[batch, classCount]` (`[classCount]` for a
   * non-batching model).
   */
  classCount?: number;
  /** Other output parameters. */
  parameters?: Record<string, ParameterValue>;
}

/** An output to return (omit the list to get every output of the model). */
export class InferRequestedOutput {
  /** Binary (HTTP) — see RequestedOutputOptions.binary. */
  readonly binary: boolean;
  /** Classification count (0 = the tensor itself). */
  readonly classCount: number;
  /** Extra parameters. */
  readonly parameters: Record<string, ParameterValue>;

  /**
   * @param name output name as in the model configuration.
   * @throws InferenceServerError for a classCount that is not a non-negative integer.
   */
  constructor(
    readonly name: string,
    options: RequestedOutputOptions = {},
  ) {
    this.binary = options.binary ?? true;
    this.classCount = options.classCount ?? 0;
    if (!Number.isSafeInteger(this.classCount) || this.classCount < 0) {
      throw clientError(
        `output '${name}': classCount must be a non-negative integer, got ${options.classCount}`,
      );
    }
    this.parameters = { ...options.parameters };
  }
}

/** Metadata of one output of a response. */
export interface OutputTensorInfo {
  name: string;
  datatype: Datatype;
  shape: number[];
  /** Output parameters, if any (HTTP's `binary_data_size` is not included). */
  parameters?: Record<string, ParameterValue>;
}

/** A response in protocol-neutral form (KServe v2 field names; no tensor data). */
export interface InferResponseInfo {
  model_name: string;
  model_version: string;
  /** Only present when the request had an id. */
  id?: string;
  parameters?: Record<string, ParameterValue>;
  outputs: OutputTensorInfo[];
}

/** One decoded output: its metadata and its bytes in the wire layout. */
export interface ResultTensor extends OutputTensorInfo {
  data: Uint8Array;
}

/** The result of an inference request, with accessors for each output. */
export class InferResult {
  private readonly byName: Map<string, ResultTensor>;

  /** Built by the transports; `tensors` in response order. */
  constructor(
    private readonly info: Omit<InferResponseInfo, 'outputs'>,
    private readonly tensors: ResultTensor[],
  ) {
    this.byName = new Map(tensors.map((t) => [t.name, t]));
  }

  /** The response without tensor data: model_name, model_version, id, parameters, outputs. */
  getResponse(): InferResponseInfo {
    const outputs = this.tensors.map(({ name, datatype, shape, parameters }) =>
      parameters ? { name, datatype, shape: [...shape], parameters } : { name, datatype, shape: [...shape] },
    );
    return { ...this.info, outputs };
  }

  /** Output names in response order. */
  get outputNames(): string[] {
    return this.tensors.map((t) => t.name);
  }

  /** An output's name, datatype, shape and parameters, or undefined when the response lacks it. */
  output(name: string): OutputTensorInfo | undefined {
    const t = this.byName.get(name);
    if (!t) return undefined;
    const { data: _data, ...info } = t;
    return { ...info, shape: [...info.shape] };
  }

  private get(name: string): ResultTensor {
    const t = this.byName.get(name);
    if (!t)
      throw clientError(`no output '${name}' in the response (outputs: ${this.outputNames.join(', ')})`);
    return t;
  }

  /** An output's bytes in the wire layout (a view, not a copy). @throws InferenceServerError when absent. */
  rawBytes(name: string): Uint8Array {
    return this.get(name).data;
  }

  /**
   * An output as a typed array of its datatype: Float32Array (FP32), Int32Array (INT32),
   * BigInt64Array (INT64), Uint8Array of 0/1 (BOOL), Uint16Array bit patterns (FP16/BF16), …
   * Row-major over the output's shape. A view of the response bytes when they are aligned, else a copy.
   * @throws InferenceServerError when the output is absent or BYTES (use asStrings / asBytes).
   */
  asTypedArray<T extends NumericArray = NumericArray>(name: string): T {
    const t = this.get(name);
    if (t.datatype === 'BYTES') {
      throw clientError(`output '${name}' is BYTES: read it with asStrings() or asBytes()`);
    }
    return typedView(t.datatype, t.data) as T;
  }

  /** A BYTES output's elements as byte views, row-major. @throws InferenceServerError when absent or not BYTES. */
  asBytes(name: string): Uint8Array[] {
    const t = this.get(name);
    if (t.datatype !== 'BYTES')
      throw clientError(`output '${name}' is ${t.datatype}, not BYTES: use asTypedArray()`);
    try {
      return deserializeBytesTensor(t.data, `output '${name}'`);
    } catch (e) {
      throw clientError((e as Error).message);
    }
  }

  /** A BYTES output's elements decoded as UTF-8 strings, row-major. @throws as asBytes. */
  asStrings(name: string): string[] {
    return this.asBytes(name).map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'));
  }
}
