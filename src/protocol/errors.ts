/**
 * Errors with Triton's status codes, and how each code travels: the one list of codes the server
 * raises, its frontends answer with and the client reads back.
 *
 * The codes are `TRITONSERVER_Error_Code` from Triton's `tritonserver.h`. Over HTTP a code becomes a
 * status (INTERNAL→500, NOT_FOUND→404, UNAVAILABLE→503, UNSUPPORTED→501, everything else→400: server
 * `src/http_server.cc` HttpCodeFromError) with `{"error": "<message>"}`; over gRPC a status code
 * (server `src/grpc/grpc_utils.cc` GrpcStatusUtil::Create) with the message as details.
 */

/** Triton's error codes (names as in `TRITONSERVER_ERROR_*`). */
export type ErrorCode =
  | 'UNKNOWN'
  | 'INTERNAL'
  | 'NOT_FOUND'
  | 'INVALID_ARG'
  | 'UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'ALREADY_EXISTS'
  | 'CANCELLED';

/**
 * Why a request failed, as the `reason` label of `nv_inference_request_failure` (Triton core
 * `FailureReason`, `src/metric_model_reporter.cc`): REJECTED by the scheduler (queue full, queue
 * timeout), CANCELED by the client, BACKEND (the model instance's execution failed), OTHER
 * (validation and everything else).
 */
export type FailureReason = 'REJECTED' | 'CANCELED' | 'BACKEND' | 'OTHER';

/**
 * An error with a Triton status code; `message` is what clients see (`{"error": "..."}` over HTTP,
 * the status details over gRPC).
 */
export class TritonError extends Error {
  /**
   * Why the request it fails failed, set where that is known: the scheduler that refuses it
   * (REJECTED), a cancellation (CANCELED, the default for code CANCELLED), the core when a model
   * instance's execution produced it (BACKEND). Undefined reads as OTHER.
   */
  reason: FailureReason | undefined;

  /**
   * @param code Triton status code.
   * @param message client-visible text.
   * @param reason the failure reason, when the caller knows it (see {@link TritonError.reason}).
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    reason?: FailureReason,
  ) {
    super(message);
    this.name = 'TritonError';
    this.reason = reason ?? (code === 'CANCELLED' ? 'CANCELED' : undefined);
  }
}

/** Shorthand for `new TritonError('INVALID_ARG', message)`. */
export function invalidArg(message: string): TritonError {
  return new TritonError('INVALID_ARG', message);
}

/** Wraps any thrown value as a TritonError (code INTERNAL unless it already is one). */
export function asTritonError(e: unknown): TritonError {
  if (e instanceof TritonError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new TritonError('INTERNAL', message);
}

/** Triton's HTTP status for an error code (server `src/http_server.cc` HttpCodeFromError). */
export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'INTERNAL':
      return 500;
    case 'NOT_FOUND':
      return 404;
    case 'UNAVAILABLE':
      return 503;
    case 'UNSUPPORTED':
      return 501;
    default:
      return 400;
  }
}

/** gRPC status names by number (grpc/doc/statuscodes.md). */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

/** A gRPC status name. */
export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/** The gRPC status name of each error code (Triton's GrpcStatusUtil::Create). */
const GRPC_STATUS_OF: Record<ErrorCode, GrpcStatusName> = {
  INTERNAL: 'INTERNAL',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_ARG: 'INVALID_ARGUMENT',
  UNAVAILABLE: 'UNAVAILABLE',
  UNSUPPORTED: 'UNIMPLEMENTED',
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  CANCELLED: 'CANCELLED',
  UNKNOWN: 'UNKNOWN',
};

/** Triton's numeric gRPC status code for an error code (`grpc.status` values). */
export function grpcStatusOf(code: ErrorCode): number {
  return GRPC_STATUS_NAMES.indexOf(GRPC_STATUS_OF[code]);
}

/**
 * The error code a client reads from a gRPC status: Triton's mapping reversed, plus gRPC's own
 * DEADLINE_EXCEEDED (a client-side deadline); UNKNOWN for the rest.
 */
export function codeFromGrpcStatus(status: number): ErrorCode | 'DEADLINE_EXCEEDED' {
  const name = GRPC_STATUS_NAMES[status];
  if (name === 'DEADLINE_EXCEEDED') return name;
  for (const code of Object.keys(GRPC_STATUS_OF) as ErrorCode[])
    if (GRPC_STATUS_OF[code] === name) return code;
  return 'UNKNOWN';
}

/**
 * The error code a client reads from an HTTP status: Triton's mapping reversed (400 → INVALID_ARG),
 * with 405 (a route that exists for another method) read as UNSUPPORTED; UNKNOWN for the rest.
 */
export function codeFromHttpStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'INVALID_ARG';
    case 404:
      return 'NOT_FOUND';
    case 405:
    case 501:
      return 'UNSUPPORTED';
    case 500:
      return 'INTERNAL';
    case 503:
      return 'UNAVAILABLE';
    default:
      return 'UNKNOWN';
  }
}
