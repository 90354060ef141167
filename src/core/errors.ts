/**
 * Errors carried through the core with Triton's status codes.
 *
 * The codes are `TRITONSERVER_Error_Code` from Triton's `tritonserver.h`; frontends map them to HTTP
 * statuses (INTERNAL→500, NOT_FOUND→404, UNAVAILABLE→503, UNSUPPORTED→501, everything else→400, as in
 * Triton's `src/http_server.cc`) and to gRPC codes (`src/grpc/grpc_utils.cc`).
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

/** An error with a Triton status code; `message` is what clients see in `{"error": "..."}`. */
export class TritonError extends Error {
  /** @param code Triton status code. @param message client-visible text. */
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TritonError';
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
