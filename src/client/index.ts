/**
 * `nereid/client`: a TypeScript client for KServe v2 / Triton inference servers over HTTP/REST and
 * gRPC, with one interface for both (see InferenceServerClient).
 */
export { InferenceServerClient, type ClientOptions } from './client.js';
export {
  codeFromGrpc,
  codeFromHttp,
  InferenceServerError,
  type InferenceErrorCode,
  type InferenceServerErrorDetails,
} from './errors.js';
export {
  InferInput,
  InferRequestedOutput,
  InferResult,
  type Datatype,
  type InferInputData,
  type InferResponseInfo,
  type NumericArray,
  type OutputTensorInfo,
  type ParameterValue,
  type RequestedOutputOptions,
  type SetDataOptions,
} from './tensors.js';
export type {
  CallOptions,
  InferenceStatistics,
  InferOptions,
  LoadModelOptions,
  ModelMetadata,
  ModelStatistics,
  RepositoryIndexEntry,
  ServerMetadata,
  StatisticDuration,
  StreamCallback,
  StreamInferOptions,
  TensorMetadata,
  UnloadModelOptions,
} from './types.js';
export { GrpcTransport } from './grpc.js';
export { HttpTransport } from './http.js';
