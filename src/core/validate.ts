/**
 * Checks an inference request against its model's configuration before it is queued, with the
 * messages of Triton's core (`src/infer_request.cc` Normalize, `src/model.cc` GetInput/GetOutput).
 */
import type { ModelConfig, ModelInput, ModelOutput } from '../protocol/model-config/types.js';
import { configTypeToDatatype, elementByteSize, shapeElementCount } from '../protocol/datatypes.js';
import { invalidArg } from '../protocol/errors.js';
import type { InferenceRequest } from './request.js';
import { formatShape } from './tensor.js';
import { countBytesElements } from '../protocol/bytes-tensor.js';

const BATCH_NOTE =
  'NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended ' +
  'to each input shape. If you want to specify the full shape including the batch dim in your input dims ' +
  'config, try setting max_batch_size to zero. See the model configuration docs for more info on max_batch_size.';

/** Config tensors indexed by name, prepared once per model version. */
export interface TensorIndex {
  inputs: Map<string, ModelInput>;
  /** Wire datatype of each input. */
  datatypes: Map<string, string | undefined>;
  outputs: Map<string, ModelOutput>;
  required: string[];
}

/** Builds the lookup tables `validateRequest` uses. */
export function indexTensors(config: ModelConfig): TensorIndex {
  return {
    inputs: new Map(config.input.map((i) => [i.name, i])),
    datatypes: new Map(config.input.map((i) => [i.name, configTypeToDatatype(i.data_type)])),
    outputs: new Map(config.output.map((o) => [o.name, o])),
    required: config.input.filter((i) => !i.optional).map((i) => i.name),
  };
}

function prefix(req: InferenceRequest): string {
  return `[request id: ${req.id || '<id_unknown>'}] `;
}

/**
 * Validates `req` for the model and returns its batch size (1 for a model without batching).
 * @throws TritonError INVALID_ARG with Triton's message for: wrong input count or missing required
 *   inputs, unknown input or output, duplicate input or requested output, datatype mismatch, shape mismatch (with the
 *   implicit-batch-dimension note), batch size over max_batch_size or differing between inputs,
 *   byte size or BYTES element count mismatch.
 */
export function validateRequest(config: ModelConfig, index: TensorIndex, req: InferenceRequest): number {
  const model = config.name;
  const maxBatch = config.max_batch_size;
  const seen = new Set<string>();
  for (const t of req.inputs) {
    if (seen.has(t.name)) throw invalidArg(`${prefix(req)}input '${t.name}' already exists in request`);
    seen.add(t.name);
  }
  const missing = index.required.filter((n) => !seen.has(n));
  const total = index.inputs.size;
  const requiredCount = index.required.length;
  if (missing.length > 0 || req.inputs.length > total) {
    const expected =
      requiredCount === total ? `${total} inputs` : `number of inputs between ${requiredCount} and ${total}`;
    throw invalidArg(
      `${prefix(req)}expected ${expected} but got ${req.inputs.length} inputs for model '${model}'. ` +
        `Got input(s) [${req.inputs.map((t) => `'${t.name}'`).join(',')}], but missing required input(s) ` +
        `[${missing.map((n) => `'${n}'`).join(',')}]. Please provide all required input(s).`,
    );
  }

  let batch = 1;
  let first: string | undefined;
  for (const t of req.inputs) {
    const cfg = index.inputs.get(t.name);
    if (!cfg) throw invalidArg(`unexpected inference input '${t.name}' for model '${model}'`);
    const expectedType = index.datatypes.get(t.name);
    if (t.datatype !== expectedType) {
      throw invalidArg(
        `${prefix(req)}inference input '${t.name}' data-type is '${t.datatype}', but model '${model}' expects '${expectedType}'`,
      );
    }
    let dims = t.shape;
    if (maxBatch > 0) {
      if (t.shape.length === 0) {
        throw invalidArg(
          `${prefix(req)}input '${t.name}' has no shape but model requires batch dimension for '${model}'`,
        );
      }
      const b = t.shape[0];
      if (first === undefined) {
        batch = b;
        first = t.name;
      } else if (b !== batch) {
        throw invalidArg(
          `${prefix(req)}input '${t.name}' batch size does not match other inputs for '${model}'`,
        );
      }
      dims = t.shape.slice(1);
    }
    const shapeOk =
      dims.length === cfg.dims.length && dims.every((d, i) => cfg.dims[i] === -1 || cfg.dims[i] === d);
    if (!shapeOk) {
      const full = maxBatch > 0 ? [-1, ...cfg.dims] : cfg.dims;
      throw invalidArg(
        `${prefix(req)}unexpected shape for input '${t.name}' for model '${model}'. Expected ` +
          `${formatShape(full)}, got ${formatShape(t.shape)}. ${maxBatch > 0 ? BATCH_NOTE : ''}`.trimEnd(),
      );
    }
    if (maxBatch > 0 && t.shape[0] > maxBatch) {
      throw invalidArg(`${prefix(req)}inference request batch-size must be <= ${maxBatch} for '${model}'`);
    }
    const count = shapeElementCount(t.shape);
    if (t.datatype === 'BYTES') {
      const got = countBytesElements(t.data, `input '${t.name}' for model '${model}'`);
      if (got !== count) {
        throw invalidArg(
          got < count
            ? `${prefix(req)}expected ${count} string elements for inference input '${t.name}' for model '${model}', got ${got}`
            : // Triton stops counting at the first element past the expected count.
              `${prefix(req)}unexpected number of string elements ${count + 1} for inference input '${t.name}' for model '${model}', expecting ${count}`,
        );
      }
    } else {
      const bytes = count * elementByteSize(t.datatype);
      if (t.data.byteLength !== bytes) {
        throw invalidArg(
          `${prefix(req)}input byte size mismatch for input '${t.name}' for model '${model}'. Expected ${bytes}, got ${t.data.byteLength}`,
        );
      }
    }
  }
  if (req.outputs) {
    const requested = new Set<string>();
    for (const o of req.outputs) {
      if (requested.has(o.name))
        throw invalidArg(`${prefix(req)}output '${o.name}' already exists in request`);
      requested.add(o.name);
      if (!index.outputs.has(o.name))
        throw invalidArg(`unexpected inference output '${o.name}' for model '${model}'`);
    }
  }
  return maxBatch > 0 ? batch : 1;
}
