/**
 * Triton's model configuration schema (`inference.ModelConfig`, common `protobuf/model_config.proto`)
 * as both sides of the wire see it: the TypeScript types, new defaulted messages, and the JSON form
 * served by `GET /v2/models/{model}/config`, carried by gRPC `ModelConfigResponse` and accepted by the
 * model load API's `config` parameter. Reading and writing `config.pbtxt` (text format) is
 * `src/config`'s.
 */
import { ConfigJsonError, fromProto3Json, toProto3Json } from './proto3-json.js';
import { defaultMessage, messageInfo } from './reflect.js';
import { modelConfigType } from './schema.js';
import type { ModelConfig } from './types.js';

export type * from './types.js';
export { ConfigJsonError } from './proto3-json.js';
export { modelConfigType } from './schema.js';

/**
 * A new, fully defaulted message of the config schema, with `fields` set on top: e.g.
 * `newConfigMessage<ModelInput>('ModelInput', { name: 'x', data_type: 'TYPE_FP32', dims: [4] })`.
 * @param typeName a message name inside package `inference` (nested ones dotted, e.g.
 *   `ModelInstanceGroup` or `ModelVersionPolicy.Latest`).
 * @throws {Error} when no such message exists.
 */
export function newConfigMessage<T>(typeName: string, fields: Partial<T> = {}): T {
  const type = modelConfigType().root.lookupType(`inference.${typeName}`);
  return { ...defaultMessage(messageInfo(type)), ...fields } as T;
}

/** A fully defaulted, empty {@link ModelConfig} (what an empty config.pbtxt parses to). */
export function defaultModelConfig(): ModelConfig {
  return defaultMessage(messageInfo(modelConfigType())) as unknown as ModelConfig;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Triton's FixInt/FixUInt: a 64-bit member printed as a string becomes a JSON number. */
function fixInt(obj: unknown, name: string): void {
  if (isObject(obj) && typeof obj[name] === 'string') obj[name] = Number(obj[name]);
}

/** Triton's FixIntArray: an array of 64-bit strings becomes an array of numbers. */
function fixIntArray(obj: unknown, name: string): void {
  if (isObject(obj) && Array.isArray(obj[name])) obj[name] = (obj[name] as unknown[]).map((v) => Number(v));
}

function eachElement(arr: unknown, fn: (el: unknown) => void): void {
  if (Array.isArray(arr)) arr.forEach(fn);
}

function eachValue(map: unknown, fn: (el: unknown) => void): void {
  if (isObject(map)) Object.values(map).forEach(fn);
}

/**
 * Converts a {@link ModelConfig} to the JSON object Triton serves from
 * `GET /v2/models/{model}/config` (ModelConfigToJson in Triton core's
 * model_config_utils.cc): proto3 JSON with proto field names, default-valued
 * scalars/enums/repeated/maps printed (`"max_batch_size": 0`,
 * `"batch_input": []`, `"parameters": {}`), unset message fields absent, enums
 * as names, and 64-bit integers as strings except the ones Triton turns back
 * into JSON numbers:
 * `input[].dims`, `input[].reshape.shape`, `output[].dims`,
 * `output[].reshape.shape`, `version_policy.specific.versions`,
 * `dynamic_batching.{max_queue_delay_microseconds, priority_levels, default_priority_level}`,
 * `dynamic_batching.default_queue_policy.default_timeout_microseconds`,
 * `dynamic_batching.priority_queue_policy{*}.default_timeout_microseconds`,
 * `sequence_batching.{max_sequence_idle_microseconds, direct.max_queue_delay_microseconds, oldest.max_queue_delay_microseconds}`,
 * `sequence_batching.state[].dims`, `ensemble_scheduling.step[].model_version`
 * and `model_warmup[].inputs{*}.dims`. Still strings, as in Triton:
 * `sequence_batching.state[].initial_state[].dims` (Triton looks for
 * `initial_state` on the wrong object), the CUDA graph_spec `dim`s,
 * `instance_group[].secondary_devices[].device_id`, and map keys.
 *
 * @param config the configuration.
 * @returns a new JSON-compatible object (`JSON.stringify` it to serve).
 */
export function modelConfigToJson(config: ModelConfig): Json {
  const json = toProto3Json(modelConfigType(), config);
  for (const name of ['input', 'output']) {
    eachElement(json[name], (io) => {
      fixIntArray(io, 'dims');
      if (isObject(io)) fixIntArray(io.reshape, 'shape');
    });
  }
  const vp = json.version_policy;
  if (isObject(vp)) fixIntArray(vp.specific, 'versions');
  const db = json.dynamic_batching;
  if (isObject(db)) {
    fixInt(db, 'max_queue_delay_microseconds');
    fixInt(db, 'priority_levels');
    fixInt(db, 'default_priority_level');
    fixInt(db.default_queue_policy, 'default_timeout_microseconds');
    eachValue(db.priority_queue_policy, (p) => fixInt(p, 'default_timeout_microseconds'));
  }
  const sb = json.sequence_batching;
  if (isObject(sb)) {
    fixInt(sb, 'max_sequence_idle_microseconds');
    fixInt(sb.oldest, 'max_queue_delay_microseconds');
    fixInt(sb.direct, 'max_queue_delay_microseconds');
    // Triton fixes state[].dims; its initial_state fix-up looks the member up
    // on sequence_batching instead of the state, so initial_state dims stay strings.
    eachElement(sb.state, (state) => fixIntArray(state, 'dims'));
  }
  const ens = json.ensemble_scheduling;
  if (isObject(ens)) eachElement(ens.step, (step) => fixInt(step, 'model_version'));
  eachElement(json.model_warmup, (warmup) => {
    if (isObject(warmup)) eachValue(warmup.inputs, (input) => fixIntArray(input, 'dims'));
  });
  return json;
}

/**
 * Builds a {@link ModelConfig} from its JSON form: what
 * {@link modelConfigToJson} or Triton's `GET .../config` returns, or the
 * `config` parameter of Triton's model load API (JsonToModelConfig). Accepts
 * proto or lowerCamelCase field names, numbers or strings for all integers,
 * enum names (case-insensitive) or numbers; `null` means unset. Missing fields
 * get their defaults.
 *
 * @param json the parsed JSON value, or a JSON string (parsed first).
 * @returns the configuration.
 * @throws {ConfigJsonError} naming the field path (e.g. `input[0].dims[1]`) for
 *   unknown fields, wrong types, unknown enum values, out-of-range integers
 *   or two members of one oneof (and for a string that is not valid JSON).
 */
export function modelConfigFromJson(json: unknown): ModelConfig {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new ConfigJsonError('', `invalid JSON: ${(e as Error).message}`);
    }
  }
  return fromProto3Json(modelConfigType(), value) as unknown as ModelConfig;
}
