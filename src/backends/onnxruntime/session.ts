/**
 * The ONNX Runtime session of a model instance's thread: onnxruntime-node's native
 * `InferenceSession` binding, called directly and synchronously.
 *
 * onnxruntime-node's public `InferenceSession.run()` checks its arguments, defers the native call to
 * a `setImmediate`, copies the result map and resolves two promises. For a small model that is
 * about 2.5 µs of a 12 µs run (`simple`: two [1,16] INT32 inputs), and an instance thread has
 * nothing else to do while a run executes, so it calls the binding's synchronous `run` itself. The
 * binding is the object onnxruntime-node's own backend wraps (`onnxruntime-node/dist/binding.js`;
 * the package is pinned to 1.29.x, whose core library `nereid setup gpu` also matches). Its results
 * are onnxruntime-common `Tensor`s, as from the public API.
 */
import { binding, initOrt, type Binding } from 'onnxruntime-node/dist/binding.js';
import type * as ort from 'onnxruntime-node';
import type { GraphTensor } from './protocol.js';

/**
 * ORT type names by ONNX `TensorProto.DataType` number (onnx.proto), the numbers the binding reports
 * in its metadata; holes are types JavaScript cannot carry (BFLOAT16 = 16, complex, float8).
 */
const ORT_TYPE_NAMES: ReadonlyArray<string | undefined> = [
  undefined,
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  undefined,
  'uint4',
  'int4',
];

/**
 * An input in CPU memory as the binding reads it (its `location`, `type`, `dims` and `data`): a
 * plain object, cheaper to build than an `ort.Tensor` (whose constructor checks and sizes its data)
 * and read the same way. `data` is a typed array of `type` holding product(`dims`) elements.
 */
export interface CpuFeed {
  location: 'cpu';
  /** ORT type name (`float32`, `int64`, …). */
  type: string;
  dims: readonly number[];
  data: ArrayBufferView;
}

/** Input tensors by graph input name. */
export type Feeds = Record<string, ort.Tensor | CpuFeed>;
/** Output tensors by graph output name. */
export type Fetched = Record<string, ort.Tensor>;

/** One loaded model: its graph's inputs and outputs, and a synchronous run. */
export class OrtSession {
  /** The graph's inputs as ORT reports them (dims -1 where symbolic). */
  readonly inputs: GraphTensor[];
  /** The graph's outputs. */
  readonly outputs: GraphTensor[];
  private readonly native: Binding.InferenceSession;
  private readonly noOptions = {};

  /**
   * Loads the model file.
   * @param modelPath path of the `.onnx` file.
   * @param options onnxruntime-node `SessionOptions` (execution providers already checked against
   *   the build, see `availableProviders`).
   * @throws Error with ORT's message when the model cannot be loaded, or when a graph tensor has an
   *   element type JavaScript cannot carry (BFLOAT16, complex, float8).
   */
  constructor(modelPath: string, options: ort.InferenceSession.SessionOptions) {
    initOrt();
    this.native = new binding.InferenceSession();
    this.native.loadModel(modelPath, options);
    this.inputs = this.native.inputMetadata.map(graphTensor);
    this.outputs = this.native.outputMetadata.map(graphTensor);
  }

  /**
   * Runs the graph on this thread and returns when it is done.
   * @param feeds every graph input (tensors whose data views the caller's bytes; not copied).
   * @param fetches the outputs wanted, each mapped to null (ORT allocates them).
   * @returns the wanted outputs; their data are fresh arrays owned by the caller.
   * @throws Error with ORT's message (wrong shape or type, missing input, kernel failure).
   */
  run(feeds: Feeds, fetches: Record<string, null>): Fetched {
    return this.native.run(feeds as Record<string, ort.Tensor>, fetches, this.noOptions) as Fetched;
  }

  /** Frees the native session; the object must not be used afterwards. */
  release(): void {
    this.native.dispose();
  }
}

function graphTensor(m: Binding.ValueMetadata): GraphTensor {
  if (!m.isTensor) return { name: m.name, shape: [] };
  const type = ORT_TYPE_NAMES[m.type];
  if (type === undefined) {
    throw new Error(
      `graph tensor '${m.name}' has ONNX element type ${m.type}, which onnxruntime-node cannot pass to or from JavaScript`,
    );
  }
  return { name: m.name, type, shape: m.shape.map((d) => (d >= 0 ? d : -1)) };
}
