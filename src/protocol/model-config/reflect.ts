// Schema helpers shared by the text-format and JSON codecs: a flattened view of
// a protobufjs message type, default values, and integer range checks.
//
// The in-memory message shape used across src/protocol/model-config and src/config (and the generated
// types.ts) is: fields keyed by their proto (snake_case) name; scalars, enums,
// repeated fields and maps always present with proto3 defaults; enums as value
// names; all integer types as JS numbers (limited to the safe-integer range);
// bytes as Buffer; singular message fields and oneof members present only when
// set.

import protobuf from 'protobufjs';

/** Protobuf scalar type names as protobufjs spells them. */
export type ScalarType =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

/** The integer subset of {@link ScalarType}. */
export type IntegerType = Exclude<ScalarType, 'double' | 'float' | 'bool' | 'string' | 'bytes'>;

/** What a field (or a map value) holds. */
export type ValueKind =
  | { kind: 'scalar'; scalar: ScalarType }
  | { kind: 'enum'; enumType: protobuf.Enum }
  | { kind: 'message'; messageType: protobuf.Type };

/**
 * How a field is stored: `singular` (scalar/enum without presence, always
 * present with its default), `optional` (singular message, oneof member or
 * proto3 `optional`: present only when set), `repeated` (always an array) or
 * `map` (always a `Record<string, V>`).
 */
export type FieldLabel = 'singular' | 'optional' | 'repeated' | 'map';

/** A flattened description of one message field. */
export interface FieldInfo {
  /** Proto field name (snake_case), also the object key. */
  name: string;
  /** lowerCamelCase JSON name (accepted on JSON input). */
  jsonName: string;
  /** Field number. */
  number: number;
  /** Storage label. */
  label: FieldLabel;
  /** Value type (for maps: the value type). */
  value: ValueKind;
  /** Map key type (maps only). */
  key?: ScalarType;
  /** Name of the oneof the field belongs to (also synthetic proto3-optional oneofs). */
  oneof?: string;
  /** Map fields only: the synthetic `key`/`value` entry message. */
  entry?: MessageInfo;
}

/** A flattened description of one message type. */
export interface MessageInfo {
  /** Full name without the leading dot, e.g. `inference.ModelInput`. */
  fullName: string;
  /** Fields in declaration order. */
  fields: FieldInfo[];
  /** Fields by proto name. */
  byName: Map<string, FieldInfo>;
  /** Fields by JSON (lowerCamelCase) name. */
  byJsonName: Map<string, FieldInfo>;
  /** The protobufjs type (absent for synthetic map entries). */
  type?: protobuf.Type;
}

/** Raised by the helpers below for a bad value; callers add file/path context. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

const SCALARS = new Set<string>([
  'double',
  'float',
  'int32',
  'uint32',
  'sint32',
  'fixed32',
  'sfixed32',
  'int64',
  'uint64',
  'sint64',
  'fixed64',
  'sfixed64',
  'bool',
  'string',
  'bytes',
]);

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const UINT32_MAX = 2n ** 32n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const INTEGER_LIMITS: Record<IntegerType, readonly [bigint, bigint]> = {
  int32: [INT32_MIN, INT32_MAX],
  sint32: [INT32_MIN, INT32_MAX],
  sfixed32: [INT32_MIN, INT32_MAX],
  uint32: [0n, UINT32_MAX],
  fixed32: [0n, UINT32_MAX],
  int64: [INT64_MIN, INT64_MAX],
  sint64: [INT64_MIN, INT64_MAX],
  sfixed64: [INT64_MIN, INT64_MAX],
  uint64: [0n, UINT64_MAX],
  fixed64: [0n, UINT64_MAX],
};

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** True for the integer scalar types. */
export function isIntegerType(scalar: ScalarType): scalar is IntegerType {
  return scalar in INTEGER_LIMITS;
}

/** True for the 64-bit integer scalar types (printed as strings in proto3 JSON). */
export function is64BitType(scalar: ScalarType): boolean {
  return scalar.endsWith('64') && scalar !== 'double';
}

/**
 * Checks an integer against the range of its proto type and against
 * JavaScript's safe-integer range, and returns it as a number.
 * @throws {ValueError} when the value does not fit.
 */
export function integerToNumber(scalar: IntegerType, value: bigint): number {
  const [min, max] = INTEGER_LIMITS[scalar];
  if (value < min || value > max) {
    throw new ValueError(`value ${value} is out of range for ${scalar} (${min}..${max})`);
  }
  if (value > MAX_SAFE || value < MIN_SAFE) {
    throw new ValueError(
      `value ${value} is beyond JavaScript's safe integer range (±${Number.MAX_SAFE_INTEGER}) and is not supported`,
    );
  }
  return Number(value);
}

/** lowerCamelCase JSON name of a proto field name, as protoc derives it. */
function toJsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** The proto3 default of a scalar type (a fresh Buffer for bytes). */
function scalarDefault(scalar: ScalarType): number | boolean | string | Buffer {
  switch (scalar) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'bytes':
      return Buffer.alloc(0);
    default:
      return 0;
  }
}

/** Name of the enum value numbered 0 (the proto3 default), or the first value. */
function enumDefault(enumType: protobuf.Enum): string {
  return enumType.valuesById[0] ?? Object.keys(enumType.values)[0] ?? '';
}

/** The default of a singular value: scalar default, enum zero name, or a defaulted message. */
export function valueDefault(value: ValueKind): unknown {
  switch (value.kind) {
    case 'scalar':
      return scalarDefault(value.scalar);
    case 'enum':
      return enumDefault(value.enumType);
    case 'message':
      return defaultMessage(messageInfo(value.messageType));
  }
}

/**
 * A new message object with every non-optional field set to its default
 * (0, false, "", empty Buffer, zero enum name, [] or {}); optional fields are
 * left absent.
 */
export function defaultMessage(info: MessageInfo): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const f of info.fields) {
    switch (f.label) {
      case 'singular':
        obj[f.name] = valueDefault(f.value);
        break;
      case 'repeated':
        obj[f.name] = [];
        break;
      case 'map':
        obj[f.name] = {};
        break;
      case 'optional':
        break;
    }
  }
  return obj;
}

/** Sets `obj[key] = value` without ever touching the prototype (safe for `__proto__` keys). */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Map key string of a parsed key value (decimal for integers, "true"/"false" for bools). */
export function mapKeyString(key: unknown): string {
  return String(key);
}

const cache = new WeakMap<protobuf.Type, MessageInfo>();

function valueKindOf(
  typeName: string,
  resolved: protobuf.Type | protobuf.Enum | null,
  where: string,
): ValueKind {
  if (resolved instanceof protobuf.Type) return { kind: 'message', messageType: resolved };
  if (resolved instanceof protobuf.Enum) return { kind: 'enum', enumType: resolved };
  if (SCALARS.has(typeName)) return { kind: 'scalar', scalar: typeName as ScalarType };
  throw new Error(`unsupported type "${typeName}" for ${where}`);
}

function entryInfo(parent: string, field: protobuf.MapField, value: ValueKind): MessageInfo {
  const entryName = toJsonName(field.name).replace(/^./, (c) => c.toUpperCase()) + 'Entry';
  const key: FieldInfo = {
    name: 'key',
    jsonName: 'key',
    number: 1,
    label: 'singular',
    value: { kind: 'scalar', scalar: field.keyType as ScalarType },
  };
  const val: FieldInfo = {
    name: 'value',
    jsonName: 'value',
    number: 2,
    label: value.kind === 'message' ? 'optional' : 'singular',
    value,
  };
  return {
    fullName: `${parent}.${entryName}`,
    fields: [key, val],
    byName: new Map([
      ['key', key],
      ['value', val],
    ]),
    byJsonName: new Map([
      ['key', key],
      ['value', val],
    ]),
  };
}

/**
 * The flattened, cached description of a protobufjs message type (resolving
 * its field types on first use).
 * @throws {Error} if a field type cannot be resolved or is unsupported (groups, extensions).
 */
export function messageInfo(type: protobuf.Type): MessageInfo {
  const cached = cache.get(type);
  if (cached) return cached;
  const fullName = type.fullName.replace(/^\./, '');
  const info: MessageInfo = { fullName, fields: [], byName: new Map(), byJsonName: new Map(), type };
  cache.set(type, info);
  for (const field of type.fieldsArray) {
    field.resolve();
    const where = `${fullName}.${field.name}`;
    const value = valueKindOf(field.type, field.resolvedType, where);
    let fi: FieldInfo;
    if (field.map) {
      const mf = field as unknown as protobuf.MapField;
      if (
        !SCALARS.has(mf.keyType) ||
        mf.keyType === 'double' ||
        mf.keyType === 'float' ||
        mf.keyType === 'bytes'
      ) {
        throw new Error(`unsupported map key type "${mf.keyType}" for ${where}`);
      }
      fi = {
        name: field.name,
        jsonName: toJsonName(field.name),
        number: field.id,
        label: 'map',
        value,
        key: mf.keyType as ScalarType,
        entry: entryInfo(fullName, mf, value),
      };
    } else {
      const hasPresence = field.partOf !== null || value.kind === 'message';
      fi = {
        name: field.name,
        jsonName: toJsonName(field.name),
        number: field.id,
        label: field.repeated ? 'repeated' : hasPresence ? 'optional' : 'singular',
        value,
      };
      if (field.partOf) fi.oneof = field.partOf.name;
    }
    info.fields.push(fi);
    info.byName.set(fi.name, fi);
    info.byJsonName.set(fi.jsonName, fi);
  }
  return info;
}
