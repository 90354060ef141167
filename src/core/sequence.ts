/**
 * Sequence models (`sequence_batching` in the model configuration): what the server knows about
 * them besides scheduling — the control inputs it feeds (START, END, READY, CORRID), the implicit
 * state it keeps between requests of a sequence, the correlation id a request carries, and the
 * load-time checks, with Triton's messages (core `src/model_config_utils.cc`
 * GetBooleanSequenceControlProperties / GetTypedSequenceControlProperties,
 * `src/sequence_batch_scheduler/sequence_batch_scheduler.cc`, `src/infer_request.cc`
 * ValidateCorrelationId; docs/user_guide/architecture.md "Stateful Models",
 * docs/user_guide/implicit_state_management.md).
 *
 * Control and state tensors are inputs of the model that the client does not send: the sequence
 * batcher adds them to each request before execution, so a backend sees them as ordinary inputs
 * (see {@link implicitInputs}).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  configTypeToDatatype,
  elementByteSize,
  shapeElementCount,
  type Datatype,
} from '../protocol/datatypes.js';
import { invalidArg, TritonError } from '../protocol/errors.js';
import { bigIntegerOf } from '../protocol/exact-json.js';
import type {
  ModelConfig,
  ModelSequenceBatching,
  ModelSequenceBatching_Control_Kind,
} from '../protocol/model-config/types.js';
import type { InferenceRequest, ParameterValue } from './request.js';
import type { Tensor } from './tensor.js';
import { serializeBytesTensor } from '../protocol/bytes-tensor.js';

/** Triton's default `max_sequence_idle_microseconds` (1 s). */
export const SEQUENCE_IDLE_DEFAULT_US = 1_000_000;

/** Folder of a model holding `initial_state` data files (Triton's `kInitialStateFolder`). */
export const INITIAL_STATE_FOLDER = 'initial_state';

/** A START, END or READY control: the input it feeds and its false/true values. */
export interface BooleanControl {
  name: string;
  datatype: 'INT32' | 'FP32' | 'BOOL';
  values: [number, number];
}

/** A sequence's implicit state (`sequence_batching.state[]`). */
export interface StateSpec {
  /** Model input that receives the state, model output that produces the next one. */
  inputName: string;
  outputName: string;
  datatype: Datatype;
  /** Config dims (no batch dim); -1 variable. */
  dims: number[];
  /** Shape (no batch dim) and bytes of the state at a sequence's start. */
  initialShape: number[];
  initialData: Uint8Array;
}

/** How sequences are batched. */
export type SequenceStrategy =
  | {
      kind: 'direct';
      /** `direct.max_queue_delay_microseconds`, in ms. */
      delayMs: number;
      /** `direct.minimum_slot_utilization` (0 = do not wait for utilization). */
      minimumSlotUtilization: number;
    }
  | {
      kind: 'oldest';
      /** `oldest.max_candidate_sequences`: sequence slots per model instance. */
      candidates: number;
      preferredBatchSizes: number[];
      delayMs: number;
      preserveOrdering: boolean;
    };

/** Everything the sequence batcher needs to know about a sequence model. */
export interface SequenceSpec {
  model: string;
  /** `max_batch_size > 0`: control and state tensors get a batch dim of 1. */
  batched: boolean;
  /** Sequence slots per model instance for the direct strategy (max_batch_size, at least 1). */
  directSlots: number;
  start?: BooleanControl;
  end?: BooleanControl;
  ready?: BooleanControl;
  corrid?: { name: string; datatype: Datatype };
  states: StateSpec[];
  /** `max_sequence_idle_microseconds` (default 1 s), in ms. */
  idleMs: number;
  strategy: SequenceStrategy;
}

const KIND_NAMES: Record<ModelSequenceBatching_Control_Kind, string> = {
  CONTROL_SEQUENCE_START: 'CONTROL_SEQUENCE_START',
  CONTROL_SEQUENCE_READY: 'CONTROL_SEQUENCE_READY',
  CONTROL_SEQUENCE_END: 'CONTROL_SEQUENCE_END',
  CONTROL_SEQUENCE_CORRID: 'CONTROL_SEQUENCE_CORRID',
};

/** Triton's checks that apply to every control kind: named inputs, each named once. */
function checkControlNames(sb: ModelSequenceBatching, model: string): void {
  const seen = new Set<string>();
  for (const input of sb.control_input) {
    if (!input.name) throw invalidArg(`sequence batching control tensor must have a name for ${model}`);
    if (seen.has(input.name)) {
      throw invalidArg(
        `sequence batching control tensor '${input.name}' is specified for multiple control kinds for ${model}`,
      );
    }
    seen.add(input.name);
  }
}

/** The START/END/READY control of `kind`, checked as Triton checks it; undefined when absent. */
function booleanControl(
  sb: ModelSequenceBatching,
  model: string,
  kind: ModelSequenceBatching_Control_Kind,
): BooleanControl | undefined {
  let found: BooleanControl | undefined;
  const kindName = KIND_NAMES[kind];
  for (const input of sb.control_input) {
    for (const c of input.control) {
      if (c.kind !== kind) continue;
      if (found) throw invalidArg(`sequence batching specifies multiple ${kindName} tensors for ${model}`);
      const lists = [c.int32_false_true, c.fp32_false_true, c.bool_false_true].filter((l) => l.length > 0);
      if (lists.length === 0) {
        throw invalidArg(
          `sequence batching must specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for ${kindName} for ${model}`,
        );
      }
      if (lists.length > 1) {
        throw invalidArg(
          `sequence batching specifies more than one from 'int32_false_true', 'fp32_false_true' and 'bool_false_true' for ${kindName} for ${model}`,
        );
      }
      const [field, datatype, values] =
        c.int32_false_true.length > 0
          ? (['int32_false_true', 'INT32', c.int32_false_true] as const)
          : c.fp32_false_true.length > 0
            ? (['fp32_false_true', 'FP32', c.fp32_false_true] as const)
            : (['bool_false_true', 'BOOL', c.bool_false_true.map((b) => (b ? 1 : 0))] as const);
      if (values.length !== 2) {
        throw invalidArg(
          `sequence batching control '${field}' must have exactly 2 entries for ${kindName} for ${model}`,
        );
      }
      found = { name: input.name, datatype, values: [values[0], values[1]] };
    }
  }
  return found;
}

/** The CORRID control, checked as Triton checks it; undefined when absent. */
function corridControl(sb: ModelSequenceBatching, model: string): SequenceSpec['corrid'] {
  let found: SequenceSpec['corrid'];
  const kindName = KIND_NAMES.CONTROL_SEQUENCE_CORRID;
  for (const input of sb.control_input) {
    for (const c of input.control) {
      if (c.kind !== 'CONTROL_SEQUENCE_CORRID') continue;
      if (found) throw invalidArg(`sequence batching specifies multiple ${kindName} tensors for ${model}`);
      if (c.int32_false_true.length > 0 || c.fp32_false_true.length > 0 || c.bool_false_true.length > 0) {
        throw invalidArg(
          `sequence batching must not specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for ${kindName} for ${model}`,
        );
      }
      if (!['TYPE_UINT64', 'TYPE_INT64', 'TYPE_UINT32', 'TYPE_INT32', 'TYPE_STRING'].includes(c.data_type)) {
        throw invalidArg(
          `unexpected data type for control ${kindName} for ${model}. Allowed data types are TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 and TYPE_STRING`,
        );
      }
      found = { name: input.name, datatype: configTypeToDatatype(c.data_type)! };
    }
  }
  return found;
}

/** A state's starting value: `initial_state` (zeros or a data file), else zeros of its dims (-1 → 1). */
function initialState(
  state: ModelSequenceBatching['state'][number],
  model: string,
  modelDir: string,
): { shape: number[]; data: Uint8Array } {
  const datatype = configTypeToDatatype(state.data_type);
  if (!datatype) throw invalidArg(`state '${state.input_name}' of model '${model}' has no valid data_type`);
  const init = state.initial_state;
  if (init.length === 0) {
    const shape = state.dims.map((d) => (d === -1 ? 1 : d));
    const count = shapeElementCount(shape);
    return {
      shape,
      data:
        datatype === 'BYTES' ? new Uint8Array(4 * count) : new Uint8Array(count * elementByteSize(datatype)),
    };
  }
  if (init.length > 1) throw invalidArg(`State input name '${state.input_name}' specified more than once.`);
  const s = init[0];
  if (s.data_type !== state.data_type) {
    throw invalidArg(
      `The data type used for 'initial_state' field of state '${state.input_name}' does not match the state data type.`,
    );
  }
  if (!s.name) {
    throw invalidArg(
      `Field 'name' must be set when using initial_state for state input '${state.input_name}'.`,
    );
  }
  if (s.dims.length !== state.dims.length) {
    throw invalidArg(
      `Number of dimensions in 'initial_state' doesn't match the size of 'state' dimensions for state input '${state.input_name}'. ${s.dims.length} != ${state.dims.length}`,
    );
  }
  s.dims.forEach((d, i) => {
    if (d === -1) {
      throw invalidArg(
        `'initial_state' field for state input name '${state.input_name}' contains variable dimensions.`,
      );
    }
    if (state.dims[i] !== -1 && d !== state.dims[i]) {
      throw invalidArg(
        `'initial_state' dim for input name '${state.input_name}' doesn't match 'state' dim description. ${d} != ${state.dims[i]}`,
      );
    }
  });
  const count = shapeElementCount(s.dims);
  if (s.data_file !== undefined) {
    let file: Buffer;
    try {
      file = fs.readFileSync(path.join(modelDir, INITIAL_STATE_FOLDER, s.data_file));
    } catch (e) {
      throw invalidArg(
        `unable to read initial_state data file '${s.data_file}' of state '${state.input_name}': ${(e as Error).message}`,
      );
    }
    if (datatype === 'BYTES') return { shape: s.dims, data: file };
    const bytes = count * elementByteSize(datatype);
    if (bytes > file.length) {
      throw invalidArg(
        `initial_state setting expects ${bytes} bytes, but the data provided from ${s.data_file}only has ${file.length} bytes.`,
      );
    }
    return { shape: s.dims, data: new Uint8Array(file.subarray(0, bytes)) };
  }
  if (s.zero_data === undefined) {
    throw invalidArg(`initial_state setting expects state'${state.input_name}' to have state_data set`);
  }
  return {
    shape: s.dims,
    data:
      datatype === 'BYTES' ? new Uint8Array(4 * count) : new Uint8Array(count * elementByteSize(datatype)),
  };
}

/**
 * Checks a model's `sequence_batching` and reads what it needs (initial state files) before the
 * model loads; applies Triton's defaults (idle time 1 s; oldest: preferred size max_batch_size).
 * @param modelDir the model's folder (`<repository>/<model>`).
 * @throws TritonError INVALID_ARG with Triton's message for malformed controls, a CORRID of a type
 *   it does not allow, oldest preferred sizes outside [1, max_batch_size], a direct slot
 *   utilization outside [0, 1], bad initial states, or controls/states that clash with inputs.
 */
export function sequenceSpec(config: ModelConfig, modelDir: string): SequenceSpec {
  const sb = config.sequence_batching;
  if (!sb) throw new TritonError('INTERNAL', `model '${config.name}' has no sequence_batching`);
  const model = config.name;
  if (sb.iterative_sequence) {
    throw new TritonError('UNSUPPORTED', `iterative_sequence of model '${model}' is not supported by Nereid`);
  }
  checkControlNames(sb, model);
  const spec: SequenceSpec = {
    model,
    batched: config.max_batch_size > 0,
    directSlots: Math.max(1, config.max_batch_size),
    start: booleanControl(sb, model, 'CONTROL_SEQUENCE_START'),
    end: booleanControl(sb, model, 'CONTROL_SEQUENCE_END'),
    ready: booleanControl(sb, model, 'CONTROL_SEQUENCE_READY'),
    corrid: corridControl(sb, model),
    states: [],
    idleMs: (sb.max_sequence_idle_microseconds || SEQUENCE_IDLE_DEFAULT_US) / 1000,
    strategy: { kind: 'direct', delayMs: 0, minimumSlotUtilization: 0 },
  };
  if (sb.oldest) {
    const preferred =
      sb.oldest.preferred_batch_size.length > 0
        ? sb.oldest.preferred_batch_size
        : config.max_batch_size > 0
          ? [config.max_batch_size]
          : [];
    for (const size of preferred) {
      if (size <= 0) throw invalidArg(`sequence batching preferred batch size must be positive for ${model}`);
      if (size > config.max_batch_size) {
        throw invalidArg(`sequence batching preferred batch size must be <= max batch size for ${model}`);
      }
    }
    if (sb.oldest.max_candidate_sequences < 1) {
      throw invalidArg(`sequence batching oldest max_candidate_sequences must be positive for ${model}`);
    }
    spec.strategy = {
      kind: 'oldest',
      candidates: sb.oldest.max_candidate_sequences,
      preferredBatchSizes: preferred,
      delayMs: sb.oldest.max_queue_delay_microseconds / 1000,
      preserveOrdering: sb.oldest.preserve_ordering,
    };
  } else if (sb.direct) {
    const u = sb.direct.minimum_slot_utilization;
    if (u < 0 || u > 1) {
      throw invalidArg(`sequence batching minimum slot utilization must be in range (0.0, 1.0] for ${model}`);
    }
    spec.strategy = {
      kind: 'direct',
      delayMs: sb.direct.max_queue_delay_microseconds / 1000,
      minimumSlotUtilization: u,
    };
  }
  const inputs = new Set(config.input.map((i) => i.name));
  for (const c of sb.control_input) {
    if (inputs.has(c.name)) {
      throw invalidArg(
        `sequence batching control tensor '${c.name}' of model '${model}' is also listed as an input; control inputs are fed by the server`,
      );
    }
  }
  for (const state of sb.state) {
    const { shape, data } = initialState(state, model, modelDir);
    spec.states.push({
      inputName: state.input_name,
      outputName: state.output_name,
      datatype: configTypeToDatatype(state.data_type)!,
      dims: state.dims,
      initialShape: shape,
      initialData: data,
    });
  }
  return spec;
}

/** A tensor a backend must accept or produce besides the config's inputs and outputs. */
export interface ImplicitTensor {
  name: string;
  datatype: Datatype;
  /** Dims without the batch dim; -1 variable. */
  dims: number[];
}

/**
 * The inputs of a sequence model that the server feeds (control inputs, dims [1], and state inputs);
 * empty for other models. Backends treat them as model inputs the config declares.
 */
export function implicitInputs(config: ModelConfig): ImplicitTensor[] {
  const sb = config.sequence_batching;
  if (!sb) return [];
  const out: ImplicitTensor[] = [];
  for (const input of sb.control_input) {
    const c = input.control[0];
    if (!c) continue;
    const datatype: Datatype =
      c.kind === 'CONTROL_SEQUENCE_CORRID'
        ? (configTypeToDatatype(c.data_type) ?? 'UINT64')
        : c.int32_false_true.length > 0
          ? 'INT32'
          : c.fp32_false_true.length > 0
            ? 'FP32'
            : 'BOOL';
    out.push({ name: input.name, datatype, dims: [1] });
  }
  for (const s of sb.state) {
    const datatype = configTypeToDatatype(s.data_type);
    if (datatype) out.push({ name: s.input_name, datatype, dims: s.dims });
  }
  return out;
}

/** The state outputs of a sequence model that the config's `output` does not list. */
export function implicitOutputs(config: ModelConfig): ImplicitTensor[] {
  const sb = config.sequence_batching;
  if (!sb) return [];
  const listed = new Set(config.output.map((o) => o.name));
  return sb.state.flatMap((s) => {
    const datatype = configTypeToDatatype(s.data_type);
    return datatype && !listed.has(s.output_name) ? [{ name: s.output_name, datatype, dims: s.dims }] : [];
  });
}

/**
 * A correlation id: a uint64 — a number up to 2^53 − 1, a bigint beyond — or a string; 0 and ''
 * mean none. (A value has one form only, so ids compare equal as Map keys.)
 */
export type CorrelationId = number | bigint | string;

/**
 * The correlation id a `sequence_id` request parameter holds: a number, a string, or a uint64
 * beyond 2^53 as the frontends pass it (a marked string of `protocol/exact-json.ts`: HTTP's exact
 * JSON, gRPC's int64 parameter), which becomes a bigint; 0 when absent.
 */
export function correlationIdOf(raw: ParameterValue | undefined): CorrelationId {
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'string') return bigIntegerOf(raw) ?? raw;
  return 0;
}

/** The START/END flags of a request. */
export interface SequenceFlags {
  start: boolean;
  end: boolean;
}

/**
 * A request's correlation id and flags, from its `sequence_id`, `sequence_start` and
 * `sequence_end` parameters, checked against the model as Triton checks them.
 * @throws TritonError INVALID_ARG with Triton's messages for a missing (0 or '') id or one whose
 *   type the model's CORRID control does not take; UNSUPPORTED for a string id over 128 characters.
 */
export function sequenceOf(req: InferenceRequest, spec: SequenceSpec): { id: CorrelationId } & SequenceFlags {
  const p = req.parameters;
  const id = correlationIdOf(p.sequence_id);
  if (typeof id === 'string' && id.length > 128) {
    throw new TritonError('UNSUPPORTED', 'string correlation ID cannot be longer than 128 characters');
  }
  if (id === 0 || id === '') {
    throw invalidArg(
      `inference request to model '${spec.model}' must specify a non-zero or non-empty correlation ID`,
    );
  }
  const corrid = spec.corrid;
  if (corrid) {
    const isString = typeof id === 'string';
    if (isString !== (corrid.datatype === 'BYTES')) {
      throw invalidArg(
        `[request id: ${req.id || '<id_unknown>'}] sequence batching control '${corrid.name}' data-type is '${isString ? 'BYTES' : 'UINT64'}', but model '${spec.model}' expects '${corrid.datatype}'`,
      );
    }
  }
  return { id, start: p.sequence_start === true, end: p.sequence_end === true };
}

/** One element of `datatype` holding `value`, as tensor bytes. */
function scalarBytes(datatype: Datatype, value: number | bigint | string): Uint8Array {
  if (datatype === 'BYTES') return serializeBytesTensor([String(value)]);
  const bytes = new Uint8Array(elementByteSize(datatype));
  const view = new DataView(bytes.buffer);
  switch (datatype) {
    case 'BOOL':
      view.setUint8(0, Number(value) ? 1 : 0);
      break;
    case 'INT32':
      view.setInt32(0, Number(value), true);
      break;
    case 'UINT32':
      view.setUint32(0, Number(value) >>> 0, true);
      break;
    case 'INT64':
      view.setBigInt64(0, BigInt.asIntN(64, BigInt(value)), true);
      break;
    case 'UINT64':
      view.setBigUint64(0, BigInt.asUintN(64, BigInt(value)), true);
      break;
    case 'FP32':
      view.setFloat32(0, Number(value), true);
      break;
    default:
      throw new TritonError('INTERNAL', `no control tensor of datatype ${datatype}`);
  }
  return bytes;
}

/** What the control inputs of one batch row say. */
export interface ControlValues {
  start: boolean;
  end: boolean;
  /** False for the padding rows of empty sequence slots. */
  ready: boolean;
  /** The row's correlation id (0 for padding rows). */
  corrid: CorrelationId;
}

/**
 * The control tensors of one batch row: each of START, END, READY with its false/true value, and
 * CORRID with the correlation id, shape [1] (or [1, 1] for a batching model).
 */
export function controlTensors(spec: SequenceSpec, v: ControlValues): Tensor[] {
  const shape = spec.batched ? [1, 1] : [1];
  const out: Tensor[] = [];
  const bool = (c: BooleanControl | undefined, on: boolean) => {
    if (c)
      out.push({
        name: c.name,
        datatype: c.datatype,
        shape,
        data: scalarBytes(c.datatype, c.values[on ? 1 : 0]),
      });
  };
  bool(spec.start, v.start);
  bool(spec.end, v.end);
  bool(spec.ready, v.ready);
  if (spec.corrid) {
    const id =
      spec.corrid.datatype === 'BYTES' ? String(v.corrid) : typeof v.corrid === 'string' ? 0 : v.corrid;
    out.push({
      name: spec.corrid.name,
      datatype: spec.corrid.datatype,
      shape,
      data: scalarBytes(spec.corrid.datatype, id),
    });
  }
  return out;
}
