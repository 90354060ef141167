/**
 * Model warmup (`model_warmup` in the config; Triton's docs/user_guide/model_configuration.md
 * "Model Warmup"): before a model version reports ready, each warmup sample runs `count` times
 * (at least once) on every model instance. A sample gives, per input, the datatype and dims (without
 * the batch dim) and the data: `zero_data`, `random_data` or `input_data_file` (raw bytes read from
 * `<model>/warmup/<file>`, BYTES as 4-byte length-prefixed elements); `batch_size` (≥ 1) is
 * prepended for batching models. A failing sample fails the load.
 */
import { randomFillSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelConfig, ModelWarmup } from '../protocol/model-config/types.js';
import type { ModelInstance } from './backend.js';
import { configTypeToDatatype, elementByteSize, shapeElementCount } from '../protocol/datatypes.js';
import { TritonError } from '../protocol/errors.js';
import type { InferenceRequest } from './request.js';
import { type Tensor } from './tensor.js';
import { serializeBytesTensor } from '../protocol/bytes-tensor.js';

/**
 * Builds the request of one warmup sample.
 * @throws TritonError INVALID_ARG for an unknown datatype, a variable dim, a missing data source or
 *   an unreadable/mis-sized data file.
 */
function warmupRequest(config: ModelConfig, sample: ModelWarmup, modelDir: string): InferenceRequest {
  const m = config.name;
  const batch = Math.max(1, sample.batch_size);
  const inputs: Tensor[] = Object.entries(sample.inputs).map(([name, input]) => {
    const what = `warmup sample '${sample.name}' of model '${m}', input '${name}'`;
    const datatype = configTypeToDatatype(input.data_type);
    if (!datatype) throw new TritonError('INVALID_ARG', `${what}: invalid data_type ${input.data_type}`);
    if (input.dims.some((d) => d < 0))
      throw new TritonError('INVALID_ARG', `${what}: dims must be fixed, got [${input.dims.join(',')}]`);
    const shape = config.max_batch_size > 0 ? [batch, ...input.dims] : input.dims.slice();
    const count = shapeElementCount(shape);
    let data: Uint8Array;
    if (input.input_data_file) {
      const file = path.join(modelDir, 'warmup', input.input_data_file);
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(file);
      } catch (e) {
        throw new TritonError('INVALID_ARG', `${what}: cannot read '${file}': ${(e as Error).message}`);
      }
      if (datatype === 'BYTES') {
        data = bytes;
      } else {
        const per = shapeElementCount(input.dims) * elementByteSize(datatype);
        if (bytes.length !== per && bytes.length !== per * batch) {
          throw new TritonError(
            'INVALID_ARG',
            `${what}: '${file}' has ${bytes.length} bytes, expected ${per} per batch element`,
          );
        }
        // One sample's bytes are repeated for each batch element.
        data =
          bytes.length === per * batch ? bytes : Buffer.concat(Array.from({ length: batch }, () => bytes));
      }
    } else if (input.zero_data || input.random_data) {
      if (datatype === 'BYTES') {
        const el = input.zero_data ? '' : 'warmup';
        data = serializeBytesTensor(Array.from({ length: count }, () => el));
      } else {
        data = new Uint8Array(count * elementByteSize(datatype));
        if (input.random_data) {
          randomFillSync(data);
          // Keep random values valid for their type: 0/1 booleans, finite small floats.
          if (datatype === 'BOOL') data.forEach((v, i) => (data[i] = v & 1));
          if (datatype === 'FP32') new Float32Array(data.buffer).forEach((_, i, a) => (a[i] = Math.random()));
          if (datatype === 'FP64') new Float64Array(data.buffer).forEach((_, i, a) => (a[i] = Math.random()));
          if (datatype === 'FP16') new Uint16Array(data.buffer).forEach((_, i, a) => (a[i] = 0x3800)); // 0.5
        }
      }
    } else {
      throw new TritonError('INVALID_ARG', `${what}: needs zero_data, random_data or input_data_file`);
    }
    return { name, datatype, shape, data };
  });
  return { model: m, id: `warmup:${sample.name}`, inputs, parameters: {} };
}

/**
 * Runs every warmup sample `count` times (at least once) on every instance.
 * @throws TritonError naming the sample and the instance's error when a run fails.
 */
export async function runWarmup(
  config: ModelConfig,
  instances: ModelInstance[],
  modelDir: string,
): Promise<void> {
  for (const sample of config.model_warmup) {
    const times = Math.max(1, sample.count);
    await Promise.all(
      instances.map(async (instance) => {
        for (let i = 0; i < times; i++) {
          const { results } = await instance.execute([warmupRequest(config, sample, modelDir)]);
          const r = results[0];
          if (r instanceof TritonError) {
            throw new TritonError(
              'INVALID_ARG',
              `warmup sample '${sample.name}' failed on instance ${instance.name} of model '${config.name}': ${r.message}`,
            );
          }
        }
      }),
    );
  }
}
