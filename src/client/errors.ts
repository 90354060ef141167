/**
 * The client library's error: what the server answered (its message and status) or what the
 * client refused before sending (bad shapes, datatypes, data).
 */

/**
 * Protocol-neutral error codes: Triton's `TRITONSERVER_ERROR_*` names (as the server's core uses
 * them) plus gRPC's DEADLINE_EXCEEDED. The same failure gives the same code over HTTP and gRPC.
 */
export type InferenceErrorCode =
  | 'INVALID_ARG'
  | 'NOT_FOUND'
  | 'UNAVAILABLE'
  | 'UNSUPPORTED'
  | 'INTERNAL'
  | 'ALREADY_EXISTS'
  | 'CANCELLED'
  | 'DEADLINE_EXCEEDED'
  | 'UNKNOWN';

/** Where an error came from and how the server labelled it. */
export interface InferenceServerErrorDetails {
  /**
   * The server's status as the protocol states it: the HTTP status code as a string (`"400"`) or
   * the gRPC status name (`"INVALID_ARGUMENT"`); undefined for errors raised by the client itself.
   */
  status?: string;
  /** Protocol-neutral code (default: derived from `status`, else INVALID_ARG). */
  code?: InferenceErrorCode;
  /** HTTP status code, for HTTP replies. */
  httpStatus?: number;
  /** Numeric gRPC status code, for gRPC replies. */
  grpcCode?: number;
  /** The id of the request that failed (stream errors carry it). */
  requestId?: string;
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

/** The protocol-neutral code of a gRPC status (Triton's mapping, server `src/grpc/grpc_utils.cc`, reversed). */
export function codeFromGrpc(code: number): InferenceErrorCode {
  switch (GRPC_STATUS_NAMES[code]) {
    case 'INVALID_ARGUMENT':
      return 'INVALID_ARG';
    case 'NOT_FOUND':
      return 'NOT_FOUND';
    case 'UNAVAILABLE':
      return 'UNAVAILABLE';
    case 'UNIMPLEMENTED':
      return 'UNSUPPORTED';
    case 'INTERNAL':
      return 'INTERNAL';
    case 'ALREADY_EXISTS':
      return 'ALREADY_EXISTS';
    case 'CANCELLED':
      return 'CANCELLED';
    case 'DEADLINE_EXCEEDED':
      return 'DEADLINE_EXCEEDED';
    default:
      return 'UNKNOWN';
  }
}

/** The protocol-neutral code of an HTTP status (Triton's mapping, server `src/http_server.cc`, reversed). */
export function codeFromHttp(status: number): InferenceErrorCode {
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

/**
 * An error from the inference server or from the client's own checks.
 *
 * `message` is the server's message verbatim (e.g. `Request for unknown model: 'm' is not found`),
 * `status` how the protocol labelled it, `code` the same label for both protocols.
 */
export class InferenceServerError extends Error {
  /** `"400"` (HTTP) / `"INVALID_ARGUMENT"` (gRPC); undefined when the client raised the error. */
  readonly status?: string;
  /** Protocol-neutral code. */
  readonly code: InferenceErrorCode;
  /** HTTP status code (HTTP replies only). */
  readonly httpStatus?: number;
  /** Numeric gRPC status (gRPC replies only). */
  readonly grpcCode?: number;
  /** Id of the failed request, when known (stream errors). */
  readonly requestId?: string;

  /** @param message the server's message, or the client's. */
  constructor(message: string, details: InferenceServerErrorDetails = {}) {
    super(message);
    this.name = 'InferenceServerError';
    this.status = details.status;
    this.httpStatus = details.httpStatus;
    this.grpcCode = details.grpcCode;
    this.requestId = details.requestId;
    this.code =
      details.code ??
      (details.grpcCode !== undefined
        ? codeFromGrpc(details.grpcCode)
        : details.httpStatus !== undefined
          ? codeFromHttp(details.httpStatus)
          : 'INVALID_ARG');
  }
}

/** A client-side check failed: an InferenceServerError with no server status. */
export function clientError(message: string): InferenceServerError {
  return new InferenceServerError(message);
}
