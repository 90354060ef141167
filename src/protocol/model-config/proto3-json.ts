// Proto3 JSON mapping for message objects of the shape described in
// reflect.ts, driven by a protobufjs type. Output follows protobuf's
// MessageToJsonString with preserve_proto_field_names and
// always_print_primitive_fields (what Triton uses); input follows
// JsonStringToMessage (proto or lowerCamelCase names, numbers or strings for
// integers, enum names or numbers).

import type protobuf from 'protobufjs';
import {
  type FieldInfo,
  type IntegerType,
  type MessageInfo,
  type ScalarType,
  type ValueKind,
  ValueError,
  defaultMessage,
  integerToNumber,
  is64BitType,
  isIntegerType,
  messageInfo,
  setOwn,
} from './reflect.js';

/**
 * A value that does not fit the schema in JSON input. The message reads
 * `field.path: reason` (no path for the top-level object).
 */
export class ConfigJsonError extends Error {
  /** Field path, e.g. `input[0].dims[1]` or `parameters["k"].string_value`. */
  readonly fieldPath: string;
  /** The reason alone. */
  readonly reason: string;

  /**
   * @param fieldPath field path ('' for the top level)
   * @param reason what is wrong
   */
  constructor(fieldPath: string, reason: string) {
    super(fieldPath ? `${fieldPath}: ${reason}` : reason);
    this.name = 'ConfigJsonError';
    this.fieldPath = fieldPath;
    this.reason = reason;
  }
}

// ---- message -> JSON --------------------------------------------------------

function scalarToJson(scalar: ScalarType, v: unknown): unknown {
  switch (scalar) {
    case 'float':
    case 'double': {
      const n = Number(v);
      if (Number.isNaN(n)) return 'NaN';
      if (n === Infinity) return 'Infinity';
      if (n === -Infinity) return '-Infinity';
      return n;
    }
    case 'bytes':
      return Buffer.from((v ?? []) as Uint8Array).toString('base64');
    case 'bool':
      return Boolean(v);
    case 'string':
      return String(v ?? '');
    default:
      return is64BitType(scalar) ? String(v ?? 0) : Number(v ?? 0);
  }
}

function valueToJson(value: ValueKind, v: unknown): unknown {
  switch (value.kind) {
    case 'message':
      return messageToJson(messageInfo(value.messageType), (v ?? {}) as Record<string, unknown>);
    case 'enum':
      return v ?? value.enumType.valuesById[0];
    case 'scalar':
      return scalarToJson(value.scalar, v);
  }
}

function messageToJson(info: MessageInfo, obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of info.fields) {
    const v = obj[f.name];
    switch (f.label) {
      case 'map': {
        const m: Record<string, unknown> = {};
        for (const [k, val] of Object.entries((v ?? {}) as Record<string, unknown>)) {
          setOwn(m, k, valueToJson(f.value, val));
        }
        out[f.name] = m;
        break;
      }
      case 'repeated':
        out[f.name] = ((v ?? []) as unknown[]).map((el) => valueToJson(f.value, el));
        break;
      case 'optional':
        if (v !== undefined && v !== null) out[f.name] = valueToJson(f.value, v);
        break;
      case 'singular':
        out[f.name] = valueToJson(f.value, v);
        break;
    }
  }
  return out;
}

/**
 * Converts a message object to its proto3 JSON form, like protobuf's
 * `MessageToJsonString` with `preserve_proto_field_names` and
 * `always_print_primitive_fields`: proto (snake_case) field names in
 * declaration order; scalars, enums, repeated fields and maps always printed
 * (defaults included, empty `[]`/`{}`); singular message fields and oneof
 * members only when set; enums as names; 64-bit integers as decimal strings;
 * NaN/±Infinity as "NaN"/"Infinity"/"-Infinity"; bytes as base64.
 *
 * @param type the protobufjs message type.
 * @param message the message object (missing fields are treated as defaults).
 * @returns a new plain JSON-compatible object.
 */
export function toProto3Json(type: protobuf.Type, message: object): Record<string, unknown> {
  return messageToJson(messageInfo(type), message as Record<string, unknown>);
}

// ---- JSON -> message --------------------------------------------------------

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function joinPath(path: string, seg: string): string {
  if (seg.startsWith('[')) return `${path}${seg}`;
  return path ? `${path}.${seg}` : seg;
}

function integerFromJson(scalar: IntegerType, v: unknown, path: string): number {
  let big: bigint;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new ConfigJsonError(path, `expected an integer, got ${kindOf(v)}`);
    if (!Number.isSafeInteger(v)) {
      throw new ConfigJsonError(
        path,
        `value ${v} is beyond JavaScript's safe integer range (±${Number.MAX_SAFE_INTEGER}); pass it as a string`,
      );
    }
    big = BigInt(v);
  } else if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) {
    big = BigInt(v.trim());
  } else {
    throw new ConfigJsonError(path, `expected an integer, got ${kindOf(v)}`);
  }
  try {
    return integerToNumber(scalar, big);
  } catch (e) {
    if (e instanceof ValueError) throw new ConfigJsonError(path, e.message);
    throw e;
  }
}

function scalarFromJson(scalar: ScalarType, v: unknown, path: string): unknown {
  switch (scalar) {
    case 'bool':
      if (typeof v !== 'boolean') throw new ConfigJsonError(path, `expected true or false, got ${kindOf(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw new ConfigJsonError(path, `expected a string, got ${kindOf(v)}`);
      return v;
    case 'bytes':
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/\-_]*={0,2}$/.test(v)) {
        throw new ConfigJsonError(path, `expected a base64 string, got ${kindOf(v)}`);
      }
      return Buffer.from(v, 'base64');
    case 'float':
    case 'double': {
      if (typeof v === 'number') return v;
      if (typeof v === 'string') {
        if (v === 'NaN') return NaN;
        if (v === 'Infinity') return Infinity;
        if (v === '-Infinity') return -Infinity;
        const n = Number(v);
        if (v.trim() !== '' && !Number.isNaN(n)) return n;
      }
      throw new ConfigJsonError(path, `expected a number, got ${kindOf(v)}`);
    }
    default:
      if (!isIntegerType(scalar)) throw new ConfigJsonError(path, `unsupported field type ${scalar}`);
      return integerFromJson(scalar, v, path);
  }
}

function enumFromJson(enumType: protobuf.Enum, v: unknown, path: string): string {
  const fullName = enumType.fullName.replace(/^\./, '');
  const valid = Object.keys(enumType.values).join(', ');
  if (typeof v === 'string') {
    if (Object.prototype.hasOwnProperty.call(enumType.values, v)) return v;
    // Triton parses JSON configs with case_insensitive_enum_parsing.
    const upper = v.toUpperCase();
    const match = Object.keys(enumType.values).find((n) => n.toUpperCase() === upper);
    if (match !== undefined) return match;
    throw new ConfigJsonError(
      path,
      `unknown value ${JSON.stringify(v)} for enum ${fullName}; valid values: ${valid}`,
    );
  }
  if (typeof v === 'number' && Number.isInteger(v)) {
    const name = enumType.valuesById[v];
    if (name !== undefined) return name;
    throw new ConfigJsonError(path, `unknown number ${v} for enum ${fullName}; valid values: ${valid}`);
  }
  throw new ConfigJsonError(path, `expected an enum value name (string), got ${kindOf(v)}`);
}

function valueFromJson(value: ValueKind, v: unknown, path: string): unknown {
  switch (value.kind) {
    case 'message':
      return messageFromJson(messageInfo(value.messageType), v, path);
    case 'enum':
      return enumFromJson(value.enumType, v, path);
    case 'scalar':
      return scalarFromJson(value.scalar, v, path);
  }
}

function mapKeyFromJson(f: FieldInfo, k: string, path: string): string {
  const key = f.key as ScalarType;
  if (key === 'string') return k;
  if (key === 'bool') {
    if (k === 'true' || k === 'false') return k;
    throw new ConfigJsonError(path, `map key ${JSON.stringify(k)} is not a boolean ("true" or "false")`);
  }
  if (!isIntegerType(key) || !/^-?\d+$/.test(k)) {
    throw new ConfigJsonError(path, `map key ${JSON.stringify(k)} is not an integer`);
  }
  return String(integerFromJson(key, k, path));
}

function messageFromJson(info: MessageInfo, json: unknown, path: string): Record<string, unknown> {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigJsonError(path, `expected an object for message ${info.fullName}, got ${kindOf(json)}`);
  }
  const obj = defaultMessage(info);
  const seen = new Map<string, string>();
  const oneofs = new Map<string, string>();
  for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
    const fpath = joinPath(path, k);
    const f = info.byName.get(k) ?? info.byJsonName.get(k);
    if (f === undefined) throw new ConfigJsonError(fpath, `unknown field in message ${info.fullName}`);
    const prev = seen.get(f.name);
    if (prev !== undefined) throw new ConfigJsonError(fpath, `field given twice (also as "${prev}")`);
    seen.set(f.name, k);
    if (v === null) continue; // null means "default" in proto3 JSON
    if (f.oneof !== undefined) {
      const other = oneofs.get(f.oneof);
      if (other !== undefined) {
        throw new ConfigJsonError(
          fpath,
          `oneof "${f.oneof}" already has "${other}" set; only one member may be set`,
        );
      }
      oneofs.set(f.oneof, f.name);
    }
    switch (f.label) {
      case 'map': {
        if (typeof v !== 'object' || Array.isArray(v)) {
          throw new ConfigJsonError(fpath, `expected an object (map), got ${kindOf(v)}`);
        }
        const m = obj[f.name] as Record<string, unknown>;
        for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) {
          const epath = `${fpath}[${JSON.stringify(mk)}]`;
          if (mv === null) throw new ConfigJsonError(epath, 'map values cannot be null');
          setOwn(m, mapKeyFromJson(f, mk, epath), valueFromJson(f.value, mv, epath));
        }
        break;
      }
      case 'repeated': {
        if (!Array.isArray(v)) throw new ConfigJsonError(fpath, `expected an array, got ${kindOf(v)}`);
        obj[f.name] = v.map((el, i) => {
          const epath = `${fpath}[${i}]`;
          if (el === null) throw new ConfigJsonError(epath, 'repeated elements cannot be null');
          return valueFromJson(f.value, el, epath);
        });
        break;
      }
      default:
        obj[f.name] = valueFromJson(f.value, v, fpath);
    }
  }
  return obj;
}

/**
 * Parses the proto3 JSON form of a message (as produced by
 * {@link toProto3Json} or protobuf's `MessageToJsonString`) into a message
 * object of the shape `parseTextFormat` returns. Accepts proto or
 * lowerCamelCase field names; integers as JSON numbers or decimal strings
 * (64-bit values must stay within Number.MAX_SAFE_INTEGER); floats as numbers,
 * numeric strings or "NaN"/"Infinity"/"-Infinity"; enums by name (matched
 * case-insensitively, as Triton's JsonToModelConfig does) or number; bytes as
 * base64; `null` for a field means "unset".
 *
 * @param type the protobufjs message type.
 * @param json the parsed JSON value (must be an object).
 * @returns the message object with defaults filled.
 * @throws {ConfigJsonError} naming the field path for unknown fields, wrong
 *   value types, unknown enum values, out-of-range integers or two members of
 *   one oneof.
 */
export function fromProto3Json(type: protobuf.Type, json: unknown): Record<string, unknown> {
  return messageFromJson(messageInfo(type), json, '');
}
