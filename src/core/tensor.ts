/**
 * Tensors as the core carries them: name, datatype, shape and the raw bytes.
 *
 * The byte layout is the one of Triton's binary tensor data extension
 * (server docs/protocol/extension_binary_data.md): little-endian, row-major, no padding; BOOL is one
 * byte 0/1; BYTES is, for each element, a 4-byte little-endian length followed by that many bytes.
 * Keeping one layout end to end lets the HTTP binary body, gRPC `raw_input_contents` and the
 * model-instance workers share buffers without re-encoding.
 */
import type { Datatype } from '../protocol/datatypes.js';

/** A named tensor. `data` holds the raw bytes described in this module's comment. */
export interface Tensor {
  /** Tensor name as in the model configuration. */
  name: string;
  /** Wire datatype. */
  datatype: Datatype;
  /** Shape, including the batch dimension when the model batches; every dim ≥ 0. */
  shape: number[];
  /** Raw bytes (see module comment). May be a view into a larger buffer. */
  data: Uint8Array;
}

/** Formats a shape as Triton prints it in messages: `[-1,16]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
