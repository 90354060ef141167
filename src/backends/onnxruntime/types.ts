/**
 * Datatype names of ONNX Runtime (onnxruntime-common `Tensor.Type`) against Triton's.
 * The table is the one of Triton's onnxruntime_backend (`src/onnxruntime_utils.cc`); ORT has no BF16
 * there.
 */
import type { Datatype } from '../../protocol/datatypes.js';

const TO_ORT: Partial<Record<Datatype, string>> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const FROM_ORT: Record<string, Datatype> = Object.fromEntries(
  Object.entries(TO_ORT).map(([dt, ort]) => [ort, dt as Datatype]),
);

/** ORT type name for a Triton datatype, or undefined when ONNX Runtime cannot carry it (BF16). */
export function toOrtType(dt: Datatype): string | undefined {
  return TO_ORT[dt];
}

/** Triton datatype for an ORT type name, or undefined for types Triton has no name for. */
export function fromOrtType(t: string): Datatype | undefined {
  return FROM_ORT[t];
}
