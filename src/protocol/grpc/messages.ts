/**
 * TypeScript shapes of the grpc_service.proto messages the frontend and the client handle, as
 * protobufjs decodes them (snake_case fields; see protos.ts for Long/bytes/unset conventions) and
 * as they are passed to its encoder (plain objects with the same field names).
 *
 * Field meanings: Triton's common `protobuf/grpc_service.proto` (our copy: grpc_service.proto).
 */
import type { ProtoLong } from './protos.js';

/** `inference.InferParameter`: exactly one member set. */
export interface InferParameterMsg {
  bool_param?: boolean;
  int64_param?: ProtoLong;
  string_param?: string;
  double_param?: number;
  uint64_param?: ProtoLong;
}

/** `inference.InferTensorContents`: typed elements, row-major. */
export interface InferTensorContentsMsg {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: ProtoLong[];
  uint_contents?: number[];
  uint64_contents?: ProtoLong[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

/** `inference.ModelInferRequest.InferInputTensor`. */
export interface InferInputTensorMsg {
  name: string;
  datatype: string;
  shape: ProtoLong[];
  parameters?: Record<string, InferParameterMsg>;
  contents?: InferTensorContentsMsg | null;
}

/** `inference.ModelInferRequest.InferRequestedOutputTensor`. */
export interface InferRequestedOutputMsg {
  name: string;
  parameters?: Record<string, InferParameterMsg>;
}

/** `inference.ModelInferRequest`. */
export interface ModelInferRequestMsg {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, InferParameterMsg>;
  inputs: InferInputTensorMsg[];
  outputs?: InferRequestedOutputMsg[];
  /** One entry per input, in input order, when the request carries raw tensor bytes. */
  raw_input_contents?: Uint8Array[];
}

/** `inference.ModelInferResponse.InferOutputTensor`. */
export interface InferOutputTensorMsg {
  name: string;
  datatype: string;
  shape: ProtoLong[];
  parameters?: Record<string, InferParameterMsg>;
  contents?: InferTensorContentsMsg | null;
}

/** `inference.ModelInferResponse`. */
export interface ModelInferResponseMsg {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, InferParameterMsg>;
  outputs: InferOutputTensorMsg[];
  /** One entry per output, in output order (Triton always answers with raw contents). */
  raw_output_contents: Uint8Array[];
}

/** `inference.ModelStreamInferResponse`. */
export interface ModelStreamInferResponseMsg {
  /** Empty on success. */
  error_message: string;
  infer_response?: ModelInferResponseMsg | null;
}
