/**
 * The client library's error: what the server answered (its message and status) or what the
 * client refused before sending (bad shapes, datatypes, data).
 */
import { codeFromGrpcStatus, codeFromHttpStatus, type ErrorCode } from '../protocol/errors.js';

/**
 * Protocol-neutral error codes: Triton's `TRITONSERVER_ERROR_*` names (as the server's core uses
 * them) plus gRPC's DEADLINE_EXCEEDED. The same failure gives the same code over HTTP and gRPC.
 */
export type InferenceErrorCode = ErrorCode | 'DEADLINE_EXCEEDED';

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

/**
 * gRPC status names by number, and the protocol-neutral code of a gRPC or HTTP status (Triton's
 * mappings reversed; the same table the server answers with).
 */
export {
  codeFromGrpcStatus as codeFromGrpc,
  codeFromHttpStatus as codeFromHttp,
  GRPC_STATUS_NAMES,
} from '../protocol/errors.js';

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
        ? codeFromGrpcStatus(details.grpcCode)
        : details.httpStatus !== undefined
          ? codeFromHttpStatus(details.httpStatus)
          : 'INVALID_ARG');
  }
}

/** A client-side check failed: an InferenceServerError with no server status. */
export function clientError(message: string): InferenceServerError {
  return new InferenceServerError(message);
}
