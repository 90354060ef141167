/**
 * The protobuf schema of the gRPC API, loaded with protobufjs from the embedded proto texts, and
 * `@grpc/grpc-js` service definitions built from it (no generated code, no .proto files at run time).
 *
 * Field names stay snake_case (`keepCase`), as in Triton's grpc_service.proto (common
 * `protobuf/grpc_service.proto`) and health.proto. Decoded messages are protobufjs message objects:
 * 64-bit integers come back as `Long` (see {@link longToNumber}), `bytes` fields as `Buffer` views
 * into the received message (no copies), unset singular message fields as `null`.
 *
 * This module is shared by the server frontend and the client library; it imports nothing of the
 * server.
 */
import type * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { newModelConfigRoot } from '../model-config/schema.js';
import { GRPC_SERVICE_PROTO, HEALTH_PROTO } from './grpc_service_proto.js';

/** Fully qualified name of the inference service. */
export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';
/** Fully qualified name of the health service. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/**
 * Largest message either side accepts or sends: 2^31 - 1 bytes, gRPC's own limit (Triton sets its
 * limits to INT_MAX too).
 */
export const MAX_GRPC_MESSAGE_SIZE = 2 ** 31 - 1;

let root: protobuf.Root | undefined;

/**
 * The resolved protobufjs Root holding packages `inference` (model_config.proto and
 * grpc_service.proto) and `grpc.health.v1`. Built once.
 */
export function grpcRoot(): protobuf.Root {
  if (!root) {
    const r = newModelConfigRoot();
    protobuf.parse(GRPC_SERVICE_PROTO, r, { keepCase: true });
    protobuf.parse(HEALTH_PROTO, r, { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

/**
 * A message type by name, in package `inference` unless the name starts with `inference.` or
 * `grpc.`: `messageType('ModelInferRequest')`, `messageType('grpc.health.v1.HealthCheckResponse')`.
 * @throws Error when there is no such message.
 */
export function messageType(name: string): protobuf.Type {
  let type = types.get(name);
  if (!type) {
    const full = name.startsWith('inference.') || name.startsWith('grpc.') ? name : `inference.${name}`;
    type = grpcRoot().lookupType(full);
    types.set(name, type);
  }
  return type;
}

const types = new Map<string, protobuf.Type>();

/** A 64-bit protobuf integer as protobufjs decodes it (a `Long` when the long package is present). */
export type ProtoLong =
  number | { toNumber(): number; toString(): string; low: number; high: number; unsigned: boolean };

/** A decoded 64-bit integer as a JS number (exact up to 2^53). */
export function longToNumber(v: ProtoLong | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** A decoded 64-bit integer as a bigint (exact), signed or unsigned as its field. */
export function longToBigInt(v: ProtoLong, unsigned: boolean): bigint {
  if (typeof v === 'number') return BigInt(v);
  const big = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
  return unsigned ? big : BigInt.asIntN(64, big);
}

/** Custom (de)serializers for some methods, by method name. */
export interface CodecOverrides {
  /** Replaces the request deserializer (server side), e.g. to note whether the buffer is exclusive. */
  requestDeserialize?: Record<string, (buf: Buffer) => unknown>;
}

/**
 * A grpc-js service definition for `serviceName` (fully qualified), with protobufjs encode/decode
 * as (de)serializers; method keys are the RPC names (`ModelInfer`, `Check`).
 * Serializers take plain objects (enums as numbers, 64-bit integers as numbers or Longs, bytes as
 * Buffer/Uint8Array) or message objects.
 * @throws Error when the service does not exist.
 */
export function serviceDefinition(
  serviceName: string,
  overrides: CodecOverrides = {},
): grpc.ServiceDefinition {
  const service = grpcRoot().lookupService(serviceName);
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methodsArray) {
    method.resolve();
    const req = method.resolvedRequestType!;
    const res = method.resolvedResponseType!;
    def[method.name] = {
      path: `/${serviceName}/${method.name}`,
      requestStream: !!method.requestStream,
      responseStream: !!method.responseStream,
      requestSerialize: (m: unknown) => req.encode(m as protobuf.Message).finish() as Buffer,
      requestDeserialize: overrides.requestDeserialize?.[method.name] ?? ((b: Buffer) => req.decode(b)),
      responseSerialize: (m: unknown) => res.encode(m as protobuf.Message).finish() as Buffer,
      responseDeserialize: (b: Buffer) => res.decode(b),
      originalName: method.name,
    };
  }
  return def as grpc.ServiceDefinition;
}

/** True when the decoded message `m` has field `name` set (own property, not a prototype default). */
export function hasField(m: object, name: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, name) && (m as Record<string, unknown>)[name] != null;
}
