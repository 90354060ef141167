/**
 * The HTTP infer request and response: KServe v2 JSON (kserve/open-inference-protocol
 * inference_rest.md) plus Triton's binary tensor data extension
 * (server docs/protocol/extension_binary_data.md), parameters and classification extensions.
 *
 * Body layout with binary data: `<JSON header of Inference-Header-Content-Length bytes><tensor bytes…>`;
 * inputs with `parameters.binary_data_size` take their bytes from the tail in the order they appear.
 * A header length of 0 means the whole body is the raw bytes of the model's only input.
 */
import type { ModelConfig } from '../../protocol/model-config/types.js';
import {
  configTypeToDatatype,
  elementByteSize,
  isDatatype,
  shapeElementCount,
  type Datatype,
} from '../../protocol/datatypes.js';
import { invalidArg, TritonError } from '../../protocol/errors.js';
import { bigIntegerOf, parseJsonExact } from '../../protocol/exact-json.js';
import type {
  InferenceRequest,
  InferenceResponse,
  ParameterValue,
  RequestedOutput,
} from '../../core/request.js';
import { type Tensor } from '../../core/tensor.js';
import type { Body } from './body.js';
import { BINARY_DATA_SIZE, tensorEntryJson } from '../../protocol/binary-data.js';
import { bytesToJsonData, jsonDataToBytes } from '../../protocol/json-tensor.js';

/** The request plus what the response encoder needs to know. */
export interface ParsedInfer {
  request: InferenceRequest;
  /** Send every output as binary (request `binary_data_output`, or a raw binary request). */
  allBinary: boolean;
  /** Per-output `binary_data` choices. */
  binary: Map<string, boolean>;
  /** The cached header plan the request was read with, if any (see `encodeInferResponse`). */
  plan?: HeaderPlan;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseParameters(
  raw: unknown,
  where: string,
  model: string,
  allowReserved: boolean,
): Record<string, ParameterValue> {
  if (raw === undefined) return {};
  if (!isObject(raw)) throw invalidArg(`${where} of model '${model}': 'parameters' must be a JSON object`);
  for (const k in raw) {
    const v = raw[k];
    if (!allowReserved && k.startsWith('triton_')) {
      throw invalidArg(
        `parameter keys starting with 'triton_' are reserved for Triton usage and should not be specified.`,
      );
    }
    if (!allowReserved && k in TRITON_READ_PARAMETERS) {
      raw[k] = TRITON_READ_PARAMETERS[k](v);
      continue;
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw invalidArg(`parameter '${k}' has invalid type. It should be either 'int', 'bool', or 'string'.`);
    }
  }
  // The parsed JSON object belongs to this request: use it as it is.
  return raw as Record<string, ParameterValue>;
}

const UINT64_END = 2n ** 64n;

/** Triton's INTERNAL error for a request parameter it cannot read: `Unable to parse '<k>': <why>`. */
function unparsable(k: string, why: string): TritonError {
  return new TritonError('INTERNAL', `Unable to parse '${k}': attempt to access JSON ${why}`);
}

/** A uint64 JSON value (a marked string beyond 2^53), else undefined. */
function uint64Of(v: unknown): number | bigint | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const big = bigIntegerOf(v);
  return big !== undefined && big >= 0n && big < UINT64_END ? big : undefined;
}

/**
 * The request parameters Triton's HTTP frontend reads itself, each with its check
 * (`src/http_server.cc` ParseJsonTritonRequestParameters: TritonJson's uint/string/bool accessors;
 * a failure is an INTERNAL error, HTTP 500). Each returns the value to keep.
 */
const TRITON_READ_PARAMETERS: Record<string, (v: unknown) => ParameterValue> = {
  // A uint64, else a string. Ids beyond 2^53 stay marked strings (the core reads them as bigints).
  sequence_id: (v) => {
    if (uint64Of(v) !== undefined) return v as ParameterValue;
    if (typeof v === 'string' && bigIntegerOf(v) === undefined) return v;
    throw unparsable('sequence_id', 'non-string as string');
  },
  sequence_start: (v) => boolParameter('sequence_start', v),
  sequence_end: (v) => boolParameter('sequence_end', v),
  binary_data_output: (v) => boolParameter('binary_data_output', v),
  // uint64: beyond 2^53 (out of any priority range, or a timeout of centuries) as a number.
  priority: (v) => uintParameter('priority', v),
  timeout: (v) => uintParameter('timeout', v),
};

function boolParameter(k: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw unparsable(k, 'non-boolean as boolean');
  return v;
}

function uintParameter(k: string, v: unknown): number {
  const n = uint64Of(v);
  if (n === undefined) throw unparsable(k, 'non-unsigned-integer as unsigned-integer');
  return Number(n);
}

const INT64_MAX = 2n ** 63n - 1n;

/**
 * An input's JSON `shape`, read as Triton's HTTP frontend reads it (unsigned integers; `src/http_server.cc`
 * ParseJsonTritonIO) and checked as its element count is (`GetElementCount`): a negative, fractional or
 * non-numeric dim is Triton's INTERNAL "Unable to parse 'shape'" error; a dim beyond INT64_MAX, or
 * dims whose product or byte size pass INT64_MAX, are its INVALID_ARG messages.
 * @returns the dims as numbers (exact up to 2^53).
 */
function parseShape(raw: unknown, name: string, datatype: Datatype): number[] {
  if (!Array.isArray(raw)) {
    throw new TritonError('INTERNAL', "Unable to parse 'shape': attempt to access JSON non-array as array");
  }
  const dims: bigint[] = [];
  let exact = true;
  for (const d of raw) {
    const big = bigIntegerOf(d);
    if (big !== undefined && big >= 0n) {
      dims.push(big);
      exact = false;
    } else if (typeof d === 'number' && Number.isInteger(d) && d >= 0) {
      if (exact && !Number.isSafeInteger(d)) exact = false;
      dims.push(BigInt(d));
    } else {
      throw new TritonError(
        'INTERNAL',
        "Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer",
      );
    }
  }
  if (exact) {
    let product = 1;
    for (const d of raw as number[]) product *= d;
    if (product <= Number.MAX_SAFE_INTEGER) return raw as number[];
  }
  const shape = `[${dims.join(',')}]`;
  if (dims.some((d) => d > INT64_MAX)) {
    const signed = dims.map((d) => BigInt.asIntN(64, d));
    throw invalidArg(
      `invalid shape for input '${name}': shape [${signed.join(',')}] contains one or more invalid dimensions`,
    );
  }
  let count = 1n;
  for (const d of dims) count *= d;
  if (count > INT64_MAX && !dims.includes(0n)) {
    throw invalidArg(
      `invalid shape for input '${name}': shape ${shape} causes total element count to exceed maximum size of ${INT64_MAX}`,
    );
  }
  const size = BigInt(elementByteSize(datatype));
  if (size > 1n && count > INT64_MAX / size) {
    throw invalidArg(
      `byte size overflow for input '${name}': element count (${count}) * data type size (${size}) exceeds maximum allowed size (${INT64_MAX})`,
    );
  }
  return dims.map(Number);
}

/**
 * Parses an infer request body.
 * @param headerLength `Inference-Header-Content-Length` (undefined when absent: all JSON).
 * @param config the addressed model's config (needed for raw binary requests).
 * @param maxInputSize `--http-max-input-size` in bytes: the most an input given as JSON `data` may
 *   take once converted to tensor bytes (Triton's "JSON input … has a byte_size" check).
 * @throws TritonError INTERNAL for a `shape` that is not an array of unsigned integers (Triton's
 *   JSON error); INVALID_ARG naming the model and tensor for malformed JSON, missing fields,
 *   bad shapes/datatypes/data, binary sizes that do not add up to the body, raw requests to
 *   models with more than one input.
 */
export function parseInferRequest(
  body: Body,
  headerLength: number | undefined,
  model: string,
  version: string | undefined,
  config: () => ModelConfig,
  maxInputSize = 64 * 1024 * 1024,
): ParsedInfer {
  const data = body.data;
  if (headerLength !== undefined && (headerLength < 0 || headerLength > data.length)) {
    throw invalidArg(`inference header size should be in range (0, ${data.length}), got: ${headerLength}`);
  }
  if (headerLength === 0) return parseRawRequest(body, model, version, config());

  const hlen = headerLength ?? data.length;
  const fromPlan = headerLength !== undefined ? fromCachedHeader(body, hlen, model, version) : undefined;
  if (fromPlan) return fromPlan;
  const text = data.toString('utf8', 0, hlen);
  let json: unknown;
  try {
    json = parseJsonExact(text);
  } catch (e) {
    throw invalidArg(`failed to parse the request JSON buffer for model '${model}': ${(e as Error).message}`);
  }
  if (!isObject(json)) throw invalidArg(`the request JSON for model '${model}' must be an object`);
  if (json.id !== undefined && typeof json.id !== 'string') {
    throw invalidArg(`Unable to parse 'id' for model '${model}': 'id' must be a string`);
  }
  const parameters = parseParameters(json.parameters, 'request', model, false);
  if (!Array.isArray(json.inputs)) {
    throw invalidArg(
      `Unable to parse 'inputs' for model '${model}': the request must have an 'inputs' array`,
    );
  }

  let offset = hlen;
  const inputs: Tensor[] = json.inputs.map((raw: unknown, i: number): Tensor => {
    if (!isObject(raw))
      throw invalidArg(`input ${i} of the request for model '${model}' must be a JSON object`);
    const name = raw.name;
    if (typeof name !== 'string')
      throw invalidArg(`Unable to parse 'name' of input ${i} for model '${model}'`);
    const what = `input '${name}' for model '${model}'`;
    const datatype = raw.datatype;
    if (!isDatatype(datatype)) throw invalidArg(`invalid datatype ${JSON.stringify(datatype)} for ${what}`);
    const shape = parseShape(raw.shape, name, datatype);
    const params = parseParameters(raw.parameters, what, model, true);
    if (params.shared_memory_region !== undefined) {
      throw invalidArg(
        `${what}: shared memory is not supported by this server (system_shared_memory is not listed in its extensions)`,
      );
    }
    const binarySize = params[BINARY_DATA_SIZE];
    const hasData = raw.data !== undefined;
    if ((binarySize !== undefined) === hasData) {
      throw invalidArg(
        `${what}: input must set only one of the following fields: 'data', 'binary_data_size' in 'parameters'. ` +
          (hasData ? `But set 'data' 'binary_data_size'` : 'But no field is set'),
      );
    }
    if (hasData) {
      const bytes = datatype === 'BYTES' ? 0 : shapeElementCount(shape) * elementByteSize(datatype);
      if (bytes > maxInputSize) {
        throw invalidArg(
          `JSON input '${name}' has a byte_size (${bytes} bytes) that exceeds the maximum allowed value of ${maxInputSize} bytes. ` +
            'Use --http-max-input-size to increase the limit.',
        );
      }
      return { name, datatype, shape, data: jsonDataToBytes(datatype, shape, raw.data, what, name) };
    }
    if (headerLength === undefined) {
      throw invalidArg(
        `${what}: must specify valid 'Inference-Header-Content-Length' in request header and 'binary_data_size' ` +
          `when passing inputs in binary data format`,
      );
    }
    if (typeof binarySize !== 'number' || !Number.isInteger(binarySize) || binarySize < 0) {
      throw invalidArg(`${what}: 'binary_data_size' must be a non-negative integer`);
    }
    if (offset + binarySize > data.length) {
      throw invalidArg(
        `unexpected size for input '${name}', expecting ${binarySize} additional bytes for model '${model}' ` +
          `(only ${data.length - offset} bytes remain in the body)`,
      );
    }
    const bytes = data.subarray(offset, offset + binarySize);
    offset += binarySize;
    return { name, datatype, shape, data: bytes };
  });
  if (offset !== data.length) {
    throw invalidArg(
      `unexpected additional input data for model '${model}' (${data.length - offset} bytes after the last input)`,
    );
  }

  const binary = new Map<string, boolean>();
  let outputs: RequestedOutput[] | undefined;
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs))
      throw invalidArg(`'outputs' of the request for model '${model}' must be an array`);
    outputs = json.outputs.map((raw: unknown, i: number): RequestedOutput => {
      if (!isObject(raw) || typeof raw.name !== 'string') {
        throw invalidArg(`output ${i} of the request for model '${model}' must be an object with a 'name'`);
      }
      const what = `output '${raw.name}' for model '${model}'`;
      const p = parseParameters(raw.parameters, what, model, true);
      if (p.shared_memory_region !== undefined) {
        throw invalidArg(`${what}: shared memory is not supported by this server`);
      }
      if (p.binary_data !== undefined) binary.set(raw.name, p.binary_data === true);
      const cls = p.classification;
      if (cls !== undefined && (typeof cls !== 'number' || !Number.isInteger(cls) || cls < 0)) {
        throw invalidArg(`${what}: 'classification' must be a non-negative integer`);
      }
      return { name: raw.name, classification: cls as number | undefined, parameters: p };
    });
  }
  const id = typeof json.id === 'string' ? json.id : '';
  const allBinary = parameters.binary_data_output === true;
  if (headerLength !== undefined && hlen <= MAX_CACHED_HEADER && inputs.length > 0) {
    const all = json.inputs as Array<{ data?: unknown }>;
    if (all.every((i) => i.data === undefined)) {
      remember(data, hlen, {
        id,
        parameters,
        outputs,
        allBinary,
        binary,
        inputs: inputs.map((t) => ({
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          size: t.data.byteLength,
        })),
      });
    }
  }
  return {
    request: { model, version, id, inputs, outputs, parameters, ownsBuffers: body.owned },
    allBinary,
    binary,
  };
}

/**
 * What a JSON header of binary inputs says, kept to skip parsing the same header again. Load
 * generators and batch clients send the very same header with every request; a hit replaces
 * JSON.parse and the structural checks by one map look-up. Nothing in a plan is ever modified
 * (requests share its shapes, parameters and requested outputs read-only).
 */
interface HeaderPlan {
  id: string;
  parameters: Record<string, ParameterValue>;
  outputs: RequestedOutput[] | undefined;
  allBinary: boolean;
  binary: Map<string, boolean>;
  inputs: Array<{ name: string; datatype: Tensor['datatype']; shape: number[]; size: number }>;
  /** The JSON header of the last all-binary response to this plan, and what it described. */
  reply?: CachedReply;
}

/** A response header as encoded for a plan, kept while the outputs keep the same description. */
interface CachedReply {
  model: string;
  version: string;
  outputs: Array<{ name: string; datatype: string; shape: number[]; size: number }>;
  header: Buffer;
}

/** Headers longer than this (bytes) are not cached. */
const MAX_CACHED_HEADER = 16 * 1024;
/** Distinct headers remembered (the oldest stored ones are forgotten first). */
const CACHED_HEADERS = 256;
/**
 * Cached plans by header length in bytes; a hit is confirmed by comparing the header's bytes
 * (memcmp), so a request's header is neither decoded to a string nor hashed.
 */
const plans = new Map<number, Array<{ bytes: Buffer; plan: HeaderPlan }>>();
/** Cached entries, oldest first, for forgetting. */
const planOrder: Array<{ bytes: Buffer; plan: HeaderPlan }> = [];

/** Distinct headers of one length remembered (bounds the comparisons of a look-up). */
const CACHED_PER_LENGTH = 8;

function forget(entry: { bytes: Buffer; plan: HeaderPlan }): void {
  planOrder.splice(planOrder.indexOf(entry), 1);
  const list = plans.get(entry.bytes.length)!;
  list.splice(list.indexOf(entry), 1);
  if (list.length === 0) plans.delete(entry.bytes.length);
}

function remember(data: Buffer, hlen: number, plan: HeaderPlan): void {
  if (planOrder.length >= CACHED_HEADERS) forget(planOrder[0]);
  const same = plans.get(hlen);
  if (same && same.length >= CACHED_PER_LENGTH) forget(same[0]);
  // A copy: the body's buffer may be handed to a model instance's thread.
  const entry = { bytes: Buffer.from(data.subarray(0, hlen)), plan };
  planOrder.push(entry);
  const list = plans.get(hlen);
  if (list) list.push(entry);
  else plans.set(hlen, [entry]);
}

/** The cached plan of the first `hlen` bytes of `data`, if any. */
function cachedPlan(data: Buffer, hlen: number): HeaderPlan | undefined {
  const list = plans.get(hlen);
  if (!list) return undefined;
  for (const e of list) if (data.compare(e.bytes, 0, hlen, 0, hlen) === 0) return e.plan;
  return undefined;
}

/** The request from a cached header plan, or undefined (not cached, or sizes that do not add up). */
function fromCachedHeader(
  body: Body,
  hlen: number,
  model: string,
  version: string | undefined,
): ParsedInfer | undefined {
  const plan = cachedPlan(body.data, hlen);
  if (!plan) return undefined;
  const data = body.data;
  let offset = hlen;
  const inputs: Tensor[] = [];
  for (const p of plan.inputs) {
    if (offset + p.size > data.length) return undefined; // the full parse reports it
    inputs.push({
      name: p.name,
      datatype: p.datatype,
      shape: p.shape,
      data: new Uint8Array(data.buffer, data.byteOffset + offset, p.size),
    });
    offset += p.size;
  }
  if (offset !== data.length) return undefined;
  return {
    request: {
      model,
      version,
      id: plan.id,
      inputs,
      outputs: plan.outputs,
      parameters: plan.parameters,
      ownsBuffers: body.owned,
      shapeKey: plan,
    },
    allBinary: plan.allBinary,
    binary: plan.binary,
    plan,
  };
}

/**
 * A raw binary request (header length 0): the body is the bytes of the model's single input, batch
 * 1, with the shape deduced from the config as Triton's core does (`src/infer_request.cc`): one
 * variable dim at most, taken from the body's size; a BYTES input must have shape [1], and the body
 * is its one element (the 4-byte length prefix is added here).
 */
function parseRawRequest(
  body: Body,
  model: string,
  version: string | undefined,
  config: ModelConfig,
): ParsedInfer {
  const log = '[request id: <id_unknown>] ';
  if (config.input.length !== 1) {
    throw invalidArg(
      `${log}Raw request must only have 1 input (found 1) to be deduced but got ${config.input.length} inputs in '${model}' model configuration`,
    );
  }
  const input = config.input[0];
  const datatype = configTypeToDatatype(input.data_type)!;
  const dims = input.dims.slice();
  const variable = dims.filter((d) => d === -1).length;
  if (variable > 1) {
    throw invalidArg(
      `${log}The shape of the raw input '${input.name}' can not be deduced because there are more than one variable-sized dimension`,
    );
  }
  let data = body.data;
  let owned = body.owned;
  if (datatype === 'BYTES') {
    if (variable !== 0 || dims.reduce((n, d) => n * d, 1) !== 1) {
      throw invalidArg(
        `${log}For BYTE datatype raw input '${input.name}', the model must have input shape [1]`,
      );
    }
    const framed = Buffer.allocUnsafeSlow(4 + data.length);
    framed.writeUInt32LE(data.length, 0);
    data.copy(framed, 4);
    data = framed;
    owned = true;
  } else if (variable === 1) {
    const fixed = dims.reduce((n, d) => (d === -1 ? n : n * d), 1) * elementByteSize(datatype);
    if (fixed === 0 || data.length % fixed !== 0) {
      throw invalidArg(
        `${log}The shape of the raw input '${input.name}' can not be deduced because the byte size ${data.length} ` +
          `is not a multiple of the ${fixed} bytes of its fixed dimensions`,
      );
    }
    dims[dims.indexOf(-1)] = data.length / fixed;
  }
  const shape = config.max_batch_size > 0 ? [1, ...dims] : dims;
  return {
    request: {
      model,
      version,
      id: '',
      inputs: [{ name: input.name, datatype, shape, data }],
      parameters: {},
      ownsBuffers: owned,
    },
    allBinary: true,
    binary: new Map(),
  };
}

/** An encoded response: the JSON header and the binary parts that follow it. */
export interface EncodedResponse {
  /** The JSON header: text, or its UTF-8 bytes when they come from the plan's cached reply. */
  header: string | Buffer;
  /** Binary tensor bytes in output order (views, not copies); empty for an all-JSON response. */
  parts: Uint8Array[];
}

/**
 * Encodes an infer response. Outputs go binary when requested per output (`binary_data`), or for
 * all outputs (`binary_data_output` / raw request) unless an output says `binary_data: false`.
 * Key order as Triton: id (only when non-empty), model_name, model_version, parameters, outputs.
 * A request read with a cached header plan (all outputs binary) gets the header bytes encoded for
 * the plan's previous response when its outputs have the same names, datatypes, shapes and sizes.
 * @throws TritonError INVALID_ARG when an FP16/BF16 output would have to be sent as JSON.
 */
export function encodeInferResponse(res: InferenceResponse, parsed: ParsedInfer): EncodedResponse {
  const plan = parsed.plan;
  if (plan?.allBinary && plan.binary.size === 0 && !res.parameters && res.id === plan.id) {
    // A load generator's request again: the header is the same as last time if the outputs are.
    const reply = plan.reply;
    if (reply && sameReply(reply, res))
      return { header: reply.header, parts: res.outputs.map((t) => t.data) };
    const encoded = encodeFresh(res, parsed);
    plan.reply = {
      model: res.model,
      version: res.version,
      outputs: res.outputs.map((t) => ({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape.slice(),
        size: t.data.byteLength,
      })),
      header: Buffer.from(encoded.header),
    };
    return encoded;
  }
  return encodeFresh(res, parsed);
}

/** Whether `res` has the outputs (and model, version) `reply` was encoded for. */
function sameReply(reply: CachedReply, res: InferenceResponse): boolean {
  if (reply.model !== res.model || reply.version !== res.version) return false;
  const outs = res.outputs;
  if (outs.length !== reply.outputs.length) return false;
  for (let i = 0; i < outs.length; i++) {
    const t = outs[i];
    const c = reply.outputs[i];
    if (t.name !== c.name || t.datatype !== c.datatype || t.data.byteLength !== c.size) return false;
    if (t.shape.length !== c.shape.length) return false;
    for (let d = 0; d < c.shape.length; d++) if (t.shape[d] !== c.shape[d]) return false;
  }
  return true;
}

/** Encodes the header text anew (see encodeInferResponse). */
function encodeFresh(res: InferenceResponse, parsed: ParsedInfer): EncodedResponse & { header: string } {
  const parts: Uint8Array[] = [];
  const outs = res.outputs.map((t) => {
    const binary = parsed.binary.get(t.name) ?? parsed.allBinary;
    if (binary) {
      parts.push(t.data);
      return tensorEntryJson(t.name, t.datatype, t.shape, { binarySize: t.data.byteLength });
    }
    return tensorEntryJson(t.name, t.datatype, t.shape, {
      json: bytesToJsonData(t.datatype, t.data, `output '${t.name}'`),
    });
  });
  const id = res.id ? `"id":${JSON.stringify(res.id)},` : '';
  const params = res.parameters ? `,"parameters":${JSON.stringify(res.parameters)}` : '';
  const header =
    `{${id}"model_name":${JSON.stringify(res.model)},"model_version":${JSON.stringify(res.version)}${params},` +
    `"outputs":[${outs.join(',')}]}`;
  return { header, parts };
}
