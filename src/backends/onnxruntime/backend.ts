/**
 * The ONNX Runtime backend (`backend: "onnxruntime"`, `platform: "onnxruntime_onnx"`), after Triton's
 * onnxruntime_backend: auto-complete of the config from the model, validation of config against
 * model, one session per model instance in its own worker thread. ONNX Runtime's own telemetry is
 * switched off for the process unless the user set `ORT_DISABLE_TELEMETRY` (see telemetry.ts).
 */
import * as fs from 'node:fs';
import { newConfigMessage } from '../../protocol/model-config/index.js';
import type {
  ModelConfig,
  ModelDynamicBatching,
  ModelInput,
  ModelOutput,
} from '../../protocol/model-config/types.js';
import type { Backend, InstancePlacement, ModelInstance, ModelLoadContext } from '../../core/backend.js';
import { configTypeToDatatype, datatypeToConfigType } from '../../protocol/datatypes.js';
import { TritonError } from '../../protocol/errors.js';
import type { InferenceRequest } from '../../core/request.js';
import { formatShape } from '../../core/tensor.js';
import { implicitInputs, implicitOutputs, type ImplicitTensor } from '../../core/sequence.js';
import { OrtInstance } from './instance.js';
import type { GraphTensor, TensorSpec } from './protocol.js';
import { cudaUnavailable, sessionOptions, threadPolicy } from './session-options.js';
import { disableOrtTelemetry } from './telemetry.js';
import { fromOrtType } from './types.js';

type Graph = { inputs: GraphTensor[]; outputs: GraphTensor[] };

function configTypeOf(t: GraphTensor): string | undefined {
  const dt = t.type ? fromOrtType(t.type) : undefined;
  return dt ? datatypeToConfigType(dt) : undefined;
}

/** Config tensors → what the worker needs to know about them. */
function specs(list: Array<ModelInput | ModelOutput>): TensorSpec[] {
  return list.map((t) => ({
    name: t.name,
    datatype: configTypeToDatatype(t.data_type) ?? 'FP32',
    dims: t.dims,
    reshape: t.reshape ? t.reshape.shape : undefined,
  }));
}

/** A sequence model's control and state tensors as config-like inputs/outputs (for the checks). */
function implicitAsConfig(list: ImplicitTensor[]): ModelInput[] {
  return list.map((t) =>
    newConfigMessage<ModelInput>('ModelInput', {
      name: t.name,
      data_type: datatypeToConfigType(t.datatype) as ModelInput['data_type'],
      dims: t.dims,
    }),
  );
}

/** The ONNX Runtime backend. */
export class OnnxRuntimeBackend implements Backend {
  readonly name = 'onnxruntime';
  readonly defaultModelFilename = 'model.onnx';
  private readonly graphs = new Map<string, Promise<Graph>>();

  constructor() {
    // At server start rather than at the first load, so that the whole process (and what it
    // starts) runs with one setting from the beginning (see telemetry.ts).
    disableOrtTelemetry();
  }

  /** Reads the graph's inputs and outputs (one short-lived session per model file version). */
  private graphOf(ctx: ModelLoadContext): Promise<Graph> {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(ctx.modelPath);
    } catch {
      throw new TritonError('INVALID_ARG', `unable to find '${ctx.modelPath}' for model '${ctx.name}'`);
    }
    const key = `${ctx.modelPath}:${stat.mtimeMs}:${stat.size}`;
    let g = this.graphs.get(key);
    if (!g) {
      g = (async () => {
        const probe = await OrtInstance.start(`${ctx.name}_probe`, {
          modelPath: ctx.modelPath,
          sessionOptions: { graphOptimizationLevel: 'disabled', intraOpNumThreads: 1, logSeverityLevel: 3 },
          inputs: [],
          outputs: [],
          maxBatchSize: 0,
        }).catch((e: Error) => {
          throw new TritonError('INVALID_ARG', `unable to load model '${ctx.name}': ${e.message}`);
        });
        await probe.unload();
        return probe.graph;
      })();
      this.graphs.set(key, g);
      g.catch(() => this.graphs.delete(key));
    }
    return g;
  }

  /**
   * Triton's ORT auto-complete, skipped when the config already lists inputs and outputs: adds the model's inputs/outputs the config leaves out (and fills a
   * declared tensor's missing data_type/dims), and when every model input and output has a dynamic
   * first dim and the config's `max_batch_size` is 0, sets it to `default-max-batch-size` (backend
   * config, default 4) and adds `dynamic_batching {}` if that is > 1 and no scheduler is set.
   * @throws TritonError INVALID_ARG when the config asks for batching the model cannot do.
   */
  async autoCompleteConfig(config: ModelConfig, ctx: ModelLoadContext): Promise<ModelConfig> {
    if (config.input.length > 0 && config.output.length > 0) {
      ctx.logger.verbose(
        1,
        `skipping model configuration auto-complete for '${ctx.name}': inputs and outputs already specified`,
      );
      return config;
    }
    const implicit = new Set([...implicitInputs(config), ...implicitOutputs(config)].map((t) => t.name));
    const fullGraph = await this.graphOf(ctx);
    // A sequence model's control and state tensors are fed by the server, not the config's.
    const graph = {
      inputs: fullGraph.inputs.filter((t) => !implicit.has(t.name)),
      outputs: fullGraph.outputs.filter((t) => !implicit.has(t.name)),
    };
    const declared = (list: Array<ModelInput | ModelOutput>, name: string) =>
      list.find((t) => t.name === name);
    // Can the model batch? Every graph tensor needs a dynamic first dim, and config dims, where
    // given, must leave room for it.
    const all = [...graph.inputs, ...graph.outputs];
    let canBatch = all.length > 0 && all.every((t) => t.shape.length > 0 && t.shape[0] === -1);
    for (const t of all) {
      const d = declared([...config.input, ...config.output], t.name);
      if (d && d.dims.length > 0 && !d.reshape && d.dims.length === t.shape.length) canBatch = false;
    }
    if (config.max_batch_size === 0 && canBatch) {
      const raw = ctx.backendConfig['default-max-batch-size'];
      const def = raw === undefined ? 4 : Number(raw);
      if (!Number.isInteger(def) || def < 0) {
        throw new TritonError(
          'INVALID_ARG',
          `backend config default-max-batch-size must be an integer ≥ 0, got '${raw}'`,
        );
      }
      config.max_batch_size = def;
      ctx.logger.warn(
        `autofilled max_batch_size to ${def} for model '${ctx.name}' since batching is supported but no ` +
          `max_batch_size is specified in model configuration`,
      );
      const hasScheduler = config.dynamic_batching || config.sequence_batching || config.ensemble_scheduling;
      if (def > 1 && !hasScheduler)
        config.dynamic_batching = newConfigMessage<ModelDynamicBatching>('ModelDynamicBatching');
    } else if (config.max_batch_size > 0 && !canBatch && all.length > 0) {
      throw new TritonError(
        'INVALID_ARG',
        `autofill failed for model '${ctx.name}': model does not support batching while non-zero ` +
          `max_batch_size is specified (every input and output needs a dynamic first dimension)`,
      );
    }
    const batched = config.max_batch_size > 0;
    const fill = (
      list: Array<ModelInput | ModelOutput>,
      make: (t: GraphTensor) => ModelInput | ModelOutput,
      tensors: GraphTensor[],
    ) => {
      for (const t of tensors) {
        const d = declared(list, t.name);
        if (!d) {
          list.push(make(t));
          continue;
        }
        if (d.data_type === 'TYPE_INVALID')
          d.data_type = (configTypeOf(t) ?? 'TYPE_INVALID') as typeof d.data_type;
        if (d.dims.length === 0 && !d.reshape) d.dims = batched ? t.shape.slice(1) : t.shape.slice();
      }
    };
    const tensor = <T>(type: string, t: GraphTensor) =>
      newConfigMessage<T>(type, {
        name: t.name,
        data_type: configTypeOf(t) ?? 'TYPE_INVALID',
        dims: batched ? t.shape.slice(1) : t.shape,
      } as unknown as Partial<T>);
    fill(config.input, (t) => tensor<ModelInput>('ModelInput', t), graph.inputs);
    fill(config.output, (t) => tensor<ModelOutput>('ModelOutput', t), graph.outputs);
    return config;
  }

  /**
   * Checks the config against the graph: every config input/output exists in the model with the same
   * datatype and compatible dims (after `reshape`), and every model input is in the config.
   * @throws TritonError INVALID_ARG naming the model, tensor and mismatch.
   */
  async validate(config: ModelConfig, ctx: ModelLoadContext, instances: ModelInstance[]): Promise<void> {
    const first = instances[0];
    const graph = first instanceof OrtInstance ? first.graph : await this.graphOf(ctx);
    const batched = config.max_batch_size > 0;
    const check = (
      kind: 'input' | 'output',
      list: Array<ModelInput | ModelOutput>,
      tensors: GraphTensor[],
    ) => {
      for (const c of list) {
        const g = tensors.find((t) => t.name === c.name);
        if (!g) {
          throw new TritonError(
            'INVALID_ARG',
            `unable to load model '${ctx.name}', configuration expects ${kind} '${c.name}' but the model has ` +
              `${kind}s: ${tensors.map((t) => `'${t.name}'`).join(', ')}`,
          );
        }
        const modelType = configTypeOf(g);
        if (modelType !== c.data_type) {
          throw new TritonError(
            'INVALID_ARG',
            `unable to load model '${ctx.name}', configuration expects datatype ${c.data_type} for ${kind} ` +
              `'${c.name}', model provides ${modelType ?? g.type ?? 'a non-tensor value'}`,
          );
        }
        const dims = c.reshape ? c.reshape.shape : c.dims;
        const full = batched ? [-1, ...dims] : dims;
        const ok =
          g.shape.length === 0 ||
          (g.shape.length === full.length &&
            g.shape.every((d, i) => d === -1 || full[i] === -1 || d === full[i]));
        if (!ok) {
          throw new TritonError(
            'INVALID_ARG',
            `unable to load model '${ctx.name}', ${kind} '${c.name}' dims ${formatShape(g.shape)} don't match ` +
              `configuration dims ${formatShape(full)}` +
              (batched
                ? ` (max_batch_size ${config.max_batch_size} adds the leading batch dimension -1)`
                : ''),
          );
        }
      }
    };
    const inputs = [...config.input, ...implicitAsConfig(implicitInputs(config))];
    check('input', inputs, graph.inputs);
    check('output', [...config.output, ...implicitAsConfig(implicitOutputs(config))], graph.outputs);
    for (const g of graph.inputs) {
      if (!inputs.some((c) => c.name === g.name)) {
        throw new TritonError(
          'INVALID_ARG',
          `unable to load model '${ctx.name}', model input '${g.name}' is not in the configuration`,
        );
      }
    }
  }

  /** ONNX models on CPU get 2 instances per group when the group gives no count, as Triton's ORT backend. */
  /** GPU instances need ONNX Runtime's CUDA execution provider (`nereid setup gpu`). */
  gpuUnavailable(): string | undefined {
    return cudaUnavailable();
  }

  defaultInstanceCount(kind: string): number {
    return kind === 'KIND_CPU' ? 2 : 1;
  }

  async createInstance(
    config: ModelConfig,
    ctx: ModelLoadContext,
    placement: InstancePlacement,
  ): Promise<ModelInstance> {
    const outputs = specs(config.output);
    const all = outputs.map((o) => o.name);
    const wanted = (r: InferenceRequest) => (r.outputs ? r.outputs.map((o) => o.name) : all);
    try {
      const instance = await OrtInstance.start(
        placement.name,
        {
          modelPath: ctx.modelPath,
          sessionOptions: sessionOptions(config, ctx.backendConfig, placement, (l) => ctx.logger.warn(l)),
          inputs: specs([...config.input, ...implicitAsConfig(implicitInputs(config))]),
          outputs: [...outputs, ...specs(implicitAsConfig(implicitOutputs(config)))],
          maxBatchSize: config.max_batch_size,
          threadPolicy: threadPolicy(ctx.backendConfig, ctx.name),
        },
        wanted,
      );
      if (instance.threadPolicyError)
        ctx.logger.verbose(1, `model instance ${placement.name}: ${instance.threadPolicyError}`);
      return instance;
    } catch (e) {
      if (e instanceof TritonError && e.code !== 'INVALID_ARG') throw e;
      throw new TritonError(
        'INVALID_ARG',
        `unable to create instance ${placement.name} of model '${ctx.name}': ${(e as Error).message}`,
      );
    }
  }
}
