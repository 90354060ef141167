/**
 * ModelInfer requests and responses: protobuf messages ↔ the core's InferenceRequest and
 * InferenceResponse, with the rules and messages of Triton's gRPC frontend (server
 * `src/grpc/infer_handler.cc` SetInferenceRequestMetadata / InferGRPCToInput, `src/grpc/grpc_utils.cc`,
 * `src/common.cc` GetModelVersionFromString; protocol: docs/protocol/extension_*.md).
 *
 * Tensor data: `raw_input_contents` entries are passed to the core as they were decoded — views into
 * the received message, no copy; typed `contents` are converted once into the raw layout
 * (little-endian, row-major, BOOL one byte, BYTES 4-byte length-prefixed). Outputs always go back in
 * `raw_output_contents`, as Triton does.
 */
import { isDatatype, type Datatype } from '../../protocol/datatypes.js';
import { invalidArg } from '../../protocol/errors.js';
import { markBigInteger } from '../../protocol/exact-json.js';
import type {
  InferenceRequest,
  InferenceResponse,
  ParameterValue,
  RequestedOutput,
} from '../../core/request.js';
import type { Tensor } from '../../core/tensor.js';
import type {
  InferInputTensorMsg,
  InferParameterMsg,
  InferTensorContentsMsg,
  ModelInferRequestMsg,
  ModelInferResponseMsg,
} from '../../protocol/grpc/messages.js';
import { hasField, longToBigInt, longToNumber, messageType } from '../../protocol/grpc/protos.js';
import {
  CONTENT_FIELDS,
  contentsToBytes,
  parameterKind,
  parameterValue,
  toInferParameter,
} from '../../protocol/grpc/tensors.js';

/** The request parameter keys starting with `triton_` that clients may send (Triton's list). */
const TRITON_RESERVED_REQUEST_PARAMS = ['triton_enable_empty_final_response'] as const;

/** A decoded ModelInferRequest and whether its bytes live in a buffer of their own. */
export interface DecodedInfer {
  message: ModelInferRequestMsg;
  /**
   * True when the message was decoded from an ArrayBuffer holding nothing but this (framed) message,
   * so tensor views into it may be handed to a model instance without copying.
   */
  exclusive: boolean;
}

/**
 * Decodes a ModelInferRequest from the bytes grpc-js hands over. grpc-js assembles each message of
 * 4 KiB or more into a buffer of its own (5-byte frame header + message); smaller ones come from
 * Node's shared buffer pool and are marked not exclusive.
 * @throws Error when the bytes are not a valid message (grpc-js answers INTERNAL).
 */
export function decodeInferRequest(buf: Buffer): DecodedInfer {
  const message = messageType('ModelInferRequest').decode(buf) as unknown as ModelInferRequestMsg;
  const exclusive = buf.byteOffset <= 5 && buf.buffer.byteLength === buf.byteOffset + buf.byteLength;
  return { message, exclusive };
}

/**
 * Parses a gRPC model version string as Triton does (std::stol: leading integer; empty = any).
 * @returns the version as a decimal string, or undefined for "use the version policy".
 * @throws TritonError INVALID_ARG with Triton's messages for text that is not an integer or is negative.
 */
export function parseModelVersion(version: string | undefined): string | undefined {
  if (!version) return undefined;
  const m = /^\s*([+-]?\d+)/.exec(version);
  const n = m ? Number(m[1]) : NaN;
  if (!m || !Number.isSafeInteger(n)) {
    throw invalidArg(
      `failed to get model version from specified version string '${version}' (details: stol), version should be an integral value > 0`,
    );
  }
  if (n < 0) {
    throw invalidArg(
      `invalid model version specified '${version}' , version should be an integral value > 0`,
    );
  }
  return String(n);
}

/** Request-level state Triton keeps outside the core request (server `StateParameters`). */
export interface StreamState {
  /** `triton_enable_empty_final_response`: send an empty final response for decoupled models. */
  enableEmptyFinalResponse: boolean;
}

/**
 * Request parameters, type-checked as Triton's SetInferenceRequestMetadata does.
 * @throws TritonError INVALID_ARG with Triton's messages.
 */
function requestParameters(
  raw: Record<string, InferParameterMsg> | undefined,
  state: StreamState,
): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  if (!raw) return out;
  for (const [key, p] of Object.entries(raw)) {
    const kind = parameterKind(p);
    const bad = (expected: string) =>
      invalidArg(`invalid value type for '${key}' parameter, expected ${expected}.`);
    if (key === 'sequence_id') {
      if (kind !== 'int64_param' && kind !== 'string_param') throw bad('int64_param or string_param');
      if (kind === 'int64_param') {
        // Triton takes the int64 as a uint64 correlation id (a negative one wraps round); beyond
        // 2^53 it travels as a marked string, which the core reads as a bigint.
        const id = BigInt.asUintN(64, longToBigInt(p.int64_param!, false));
        out[key] = id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : markBigInteger(id);
        continue;
      }
    } else if (key === 'sequence_start' || key === 'sequence_end') {
      if (kind !== 'bool_param') throw bad('bool_param');
    } else if (key === 'priority') {
      if (kind === 'int64_param') {
        if (longToNumber(p.int64_param) < 0)
          throw invalidArg(`invalid value for 'priority', expected value >= 0.`);
      } else if (kind !== 'uint64_param') {
        throw bad('int64_param or uint64_param');
      }
    } else if (key === 'timeout') {
      if (kind !== 'int64_param') throw bad('int64_param');
    } else if (key.startsWith('triton_')) {
      if (!(TRITON_RESERVED_REQUEST_PARAMS as readonly string[]).includes(key)) {
        throw invalidArg(
          `parameter keys starting with 'triton_' are reserved for Triton usage. Only the following keys ` +
            `starting with 'triton_' are allowed: ${TRITON_RESERVED_REQUEST_PARAMS.join(' ')}`,
        );
      }
      if (kind !== 'bool_param') throw bad('bool_param');
      state.enableEmptyFinalResponse = p.bool_param === true;
      continue;
    } else if (kind !== 'int64_param' && kind !== 'bool_param' && kind !== 'string_param') {
      throw bad('int64_param, bool_param, or string_param');
    }
    out[key] = parameterValue(p)!;
  }
  return out;
}

/** Tensor-level parameters (every kind accepted, as Triton passes them on). */
function tensorParameters(
  raw: Record<string, InferParameterMsg> | undefined,
): Record<string, ParameterValue> {
  const out: Record<string, ParameterValue> = {};
  if (!raw) return out;
  for (const [key, p] of Object.entries(raw)) {
    const v = parameterValue(p);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/**
 * Typed `contents` → raw tensor bytes in a fresh buffer.
 * @throws TritonError INVALID_ARG (Triton's messages) when a field does not match the datatype or
 *   more than one field is set.
 */
function typedContents(
  contents: InferTensorContentsMsg,
  datatype: Datatype,
  input: string,
  model: string,
): Uint8Array {
  let data: Uint8Array | undefined;
  for (const { field, types } of CONTENT_FIELDS) {
    const values = contents[field] as unknown[] | undefined;
    if (!values || values.length === 0) continue;
    if (data !== undefined) {
      throw invalidArg(
        `unexpected explicit tensor data for input tensor '${input}' for model '${model}', binary data was already supplied.`,
      );
    }
    if (!types.includes(datatype)) {
      // Triton names the 32-bit type for int/uint contents given to a tensor of another type.
      const given = types[types.length - 1];
      throw invalidArg(
        `unexpected explicit tensor data for input tensor '${input}' for model '${model}' of type '${given}', expected datatype '${datatype}'`,
      );
    }
    data = contentsToBytes(datatype, values);
  }
  return data ?? new Uint8Array(0);
}

function inputShape(t: InferInputTensorMsg, model: string): number[] {
  const shape = (t.shape ?? []).map((d) => longToNumber(d));
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw invalidArg(
      `input '${t.name}' for model '${model}': 'shape' must hold non-negative integers, got [${shape.join(',')}]`,
    );
  }
  return shape;
}

/**
 * Builds the core request from a decoded ModelInferRequest.
 * @param version the model version already parsed with parseModelVersion.
 * @param state receives request state kept outside the core (triton_enable_empty_final_response).
 * @throws TritonError INVALID_ARG naming the model and the tensor (Triton's messages where Triton has
 *   one): bad parameter types, reserved `triton_` keys, bad datatypes or shapes, `contents` mixed with
 *   `raw_input_contents`, a missing or extra raw entry, contents of the wrong type, shared-memory
 *   parameters (not supported), bad classification counts.
 */
export function parseInferRequest(
  decoded: DecodedInfer,
  version: string | undefined,
  state: StreamState = { enableEmptyFinalResponse: false },
): InferenceRequest {
  const msg = decoded.message;
  const model = msg.model_name;
  const parameters = requestParameters(msg.parameters, state);
  const raw = msg.raw_input_contents ?? [];
  let rawIndex = 0;
  let owned = true;
  const inputs: Tensor[] = (msg.inputs ?? []).map((t): Tensor => {
    const what = `input '${t.name}' for model '${model}'`;
    if (!isDatatype(t.datatype))
      throw invalidArg(`invalid datatype ${JSON.stringify(t.datatype)} for ${what}`);
    const shape = inputShape(t, model);
    const params = tensorParameters(t.parameters);
    if (params.shared_memory_region !== undefined) {
      throw invalidArg(
        `${what}: shared memory is not supported by this server (system_shared_memory is not listed in its extensions)`,
      );
    }
    const contents = hasField(t, 'contents') ? t.contents! : undefined;
    let data: Uint8Array;
    if (contents && raw.length > 0) {
      throw invalidArg(
        `contents field must not be specified when using raw_input_contents for '${t.name}' for model '${model}'`,
      );
    } else if (contents) {
      // FP16/BF16 have no typed field: any contents for them fail the type check.
      data = typedContents(contents, t.datatype, t.name, model);
    } else if (rawIndex < raw.length) {
      data = raw[rawIndex++];
      if (!decoded.exclusive) owned = false;
      if (data.byteLength === 0) data = new Uint8Array(0);
    } else {
      throw invalidArg(`unable to find data for input tensor '${t.name}' for model '${model}' in request.`);
    }
    return { name: t.name, datatype: t.datatype, shape, data };
  });
  if (rawIndex < raw.length) {
    throw invalidArg(
      `unexpected additional input data for model '${model}': ${raw.length} raw_input_contents for ${rawIndex} raw inputs`,
    );
  }

  let outputs: RequestedOutput[] | undefined;
  if (msg.outputs && msg.outputs.length > 0) {
    outputs = msg.outputs.map((o): RequestedOutput => {
      const what = `output '${o.name}' for model '${model}'`;
      const p = tensorParameters(o.parameters);
      if (p.shared_memory_region !== undefined) {
        throw invalidArg(`${what}: shared memory is not supported by this server`);
      }
      let classification: number | undefined;
      const cls = o.parameters?.classification;
      if (cls !== undefined) {
        if (parameterKind(cls) !== 'int64_param') {
          throw invalidArg(`invalid value type for 'classification' parameter, expected int64_param`);
        }
        classification = longToNumber(cls.int64_param);
        if (classification <= 0) {
          throw invalidArg(`invalid value for 'classification' parameter, expected >= 0`);
        }
      }
      return { name: o.name, classification, parameters: p };
    });
  }
  return {
    model,
    version,
    id: msg.id ?? '',
    inputs,
    outputs,
    parameters,
    ownsBuffers: owned,
  };
}

/**
 * The ModelInferResponse for a core response: outputs in `raw_output_contents` (views of the
 * output bytes; the encoder copies them once into the message).
 * @param extra response parameters to add (e.g. `triton_final_response` on streams).
 */
export function encodeInferResponse(
  res: InferenceResponse,
  extra?: Record<string, InferParameterMsg>,
): ModelInferResponseMsg {
  let parameters: Record<string, InferParameterMsg> | undefined;
  if (res.parameters || extra) {
    parameters = {};
    for (const [k, v] of Object.entries(res.parameters ?? {})) parameters[k] = toInferParameter(v);
    Object.assign(parameters, extra);
  }
  return {
    model_name: res.model,
    model_version: res.version,
    id: res.id,
    parameters,
    outputs: res.outputs.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_output_contents: res.outputs.map((t) => t.data),
  };
}
