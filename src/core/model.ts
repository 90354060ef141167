/**
 * A loaded model version: its final config, model instances, scheduler and statistics.
 * Loading follows Triton's order (core `src/backend_model.cc`): auto-complete → normalize → instances,
 * with the backend's config/model validation once the instances exist, then warmup; only then is the
 * version ready. The scheduler is the dynamic batcher when `dynamic_batching` is set on a batching
 * model, else the default scheduler.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { newConfigMessage } from '../protocol/model-config/index.js';
import type {
  ModelConfig,
  ModelInstanceGroup,
  ModelVersionPolicy_Latest,
} from '../protocol/model-config/types.js';
import type {
  Backend,
  ExecutionOutcome,
  InstancePlacement,
  ModelInstance,
  ModelLoadContext,
} from './backend.js';
import { classify } from './classification.js';
import { asTritonError, TritonError } from '../protocol/errors.js';
import type {
  ExecuteResult,
  ExecuteTimings,
  InferenceRequest,
  InferenceResponse,
  StreamCallback,
} from './request.js';
import { DefaultScheduler } from './scheduler/default-scheduler.js';
import { DynamicBatcher, validateDynamicBatching } from './scheduler/dynamic-batcher.js';
import { SequenceBatcher } from './scheduler/sequence-batcher.js';
import { sequenceSpec, type SequenceSpec } from './sequence.js';
import type { Logger } from './logger.js';
import { runWarmup } from './warmup.js';
import type { Scheduler } from './scheduler/scheduler.js';
import { ModelStats } from './stats.js';
import type { Tensor } from './tensor.js';
import { listGpus, type GpuInventory } from './gpu.js';
import { nowNs } from './trace.js';
import { indexTensors, validateRequest, type TensorIndex } from './validate.js';

/**
 * Fills in what Triton's core fills in every config before serving it (core
 * `src/model_config_utils.cc` NormalizeModelConfig / NormalizeInstanceGroup): `version_policy`
 * defaults to `latest { 1 }`; no `instance_group` means one group named after the model; each group
 * gets a name (`<model>_<index>` when unnamed); KIND_AUTO becomes KIND_GPU on every GPU when the
 * machine has GPUs and the backend can use them, else KIND_CPU (logged); KIND_GPU without `gpus`
 * means every GPU; a count of 0 becomes the backend's default (2 for ONNX Runtime on CPU).
 * @param gpus the machine's GPUs (`listGpus()`).
 * @throws TritonError INVALID_ARG for a KIND_GPU group on a machine without a usable GPU (naming
 *   what is missing) or one listing a GPU that does not exist.
 */
export function normalizeConfig(
  config: ModelConfig,
  backend: Backend,
  gpus: GpuInventory = listGpus(),
  log?: (line: string) => void,
): void {
  config.version_policy ??= {
    latest: newConfigMessage<ModelVersionPolicy_Latest>('ModelVersionPolicy.Latest', { num_versions: 1 }),
  };
  if (config.instance_group.length === 0) {
    config.instance_group.push(
      newConfigMessage<ModelInstanceGroup>('ModelInstanceGroup', { name: config.name }),
    );
  }
  const ids = gpus.gpus.map((g) => g.index);
  // Why GPU instances cannot run here ([] when they can).
  const gpuProblems = () =>
    [ids.length === 0 ? (gpus.reason ?? 'no GPU found') : undefined, backend.gpuUnavailable?.()].filter(
      (p): p is string => p !== undefined,
    );
  config.instance_group.forEach((g, i) => {
    if (!g.name) g.name = `${config.name}_${i}`;
    if (g.kind === 'KIND_AUTO') {
      const problems = gpuProblems();
      if (!backend.gpuUnavailable) problems.push(`backend '${backend.name}' places no instance on a GPU`);
      if (problems.length === 0) {
        g.kind = 'KIND_GPU';
      } else {
        g.kind = 'KIND_CPU';
        log?.(
          `model '${config.name}': instance group '${g.name}' (KIND_AUTO) runs on CPU: ${problems.join('; ')}`,
        );
      }
    }
    if (g.kind === 'KIND_GPU') {
      const problems = gpuProblems();
      if (problems.length > 0) {
        throw new TritonError(
          'INVALID_ARG',
          `model '${config.name}': instance group '${g.name}' has kind KIND_GPU but no GPU can be used: ${problems.join('; ')}`,
        );
      }
      if (g.gpus.length === 0) g.gpus = ids.slice();
      const unknown = g.gpus.find((id) => !ids.includes(id));
      if (unknown !== undefined) {
        throw new TritonError(
          'INVALID_ARG',
          `model '${config.name}': instance group '${g.name}' specifies invalid or unsupported gpu id ${unknown}; GPUs available: ${ids.join(', ')}`,
        );
      }
    }
    if (g.count < 1) g.count = backend.defaultInstanceCount?.(g.kind) ?? 1;
  });
}

/**
 * Instance placements from a normalized `instance_group`: `count` instances per group (per listed
 * GPU for KIND_GPU), named `<group name>_<index within the group>`; passive instances are created
 * but not scheduled.
 */
function instancePlacements(config: ModelConfig): Array<InstancePlacement & { passive: boolean }> {
  const out: Array<InstancePlacement & { passive: boolean }> = [];
  for (const g of config.instance_group) {
    const devices = g.kind === 'KIND_GPU' && g.gpus.length > 0 ? g.gpus : [0];
    let inGroup = 0;
    for (const deviceId of devices) {
      for (let i = 0; i < g.count; i++) {
        const name = `${g.name}_${inGroup++}`;
        out.push({ name, kind: g.kind, deviceId, index: out.length, total: 0, passive: g.passive });
      }
    }
  }
  for (const p of out) p.total = out.length;
  return out;
}

/** A TritonError that failed requests in a model instance's execution: its failure reason is BACKEND. */
function fromBackend(e: TritonError): TritonError {
  e.reason ??= 'BACKEND';
  return e;
}

/**
 * Wraps a model instance for what the core observes at execution: errors it returns or throws get
 * failure reason BACKEND (unless they carry one already, e.g. CANCELED), and traced requests get
 * COMPUTE_START, COMPUTE_INPUT_END, COMPUTE_OUTPUT_START and COMPUTE_END (the middle two placed
 * from the instance's ExecuteTimings). One `.then` per execution.
 */
function observedInstance(instance: ModelInstance): ModelInstance {
  const observe = (
    requests: InferenceRequest[],
    out: ExecutionOutcome,
    start: bigint | undefined,
    end?: bigint,
  ) => {
    for (const r of out.results) if (r instanceof TritonError) fromBackend(r);
    if (start !== undefined) traceCompute(requests, start, out.timings, end);
    return out;
  };
  const failed = (e: unknown): never => {
    throw fromBackend(asTritonError(e));
  };
  const traceStart = (requests: InferenceRequest[]) => {
    for (const r of requests) if (r.trace) return nowNs();
    return undefined;
  };
  const several = instance.executeSeveral?.bind(instance);
  return {
    name: instance.name,
    unload: () => instance.unload(),
    execute(requests: InferenceRequest[]) {
      const start = traceStart(requests);
      return instance.execute(requests).then((out) => observe(requests, out, start), failed);
    },
    executeSeveral: several
      ? (batches: InferenceRequest[][]) => {
          const start = traceStart(batches.flat());
          return several(batches).then((outs) => {
            // The executions ran back to back: each traced one is placed after those before it.
            let at = start;
            return outs.map((out, i) => {
              if (at === undefined) return observe(batches[i], out, undefined);
              const t = out.timings;
              const end =
                i === outs.length - 1
                  ? undefined
                  : at + BigInt(Math.round(t.computeInputNs + t.computeInferNs + t.computeOutputNs));
              observe(batches[i], out, at, end);
              at = end;
              return out;
            });
          }, failed);
        }
      : undefined,
  };
}

function traceCompute(
  requests: InferenceRequest[],
  start: bigint,
  t: ExecuteTimings,
  end: bigint = nowNs(),
): void {
  const inputEnd = start + BigInt(Math.round(t.computeInputNs));
  let outputStart = end - BigInt(Math.round(t.computeOutputNs));
  if (outputStart < inputEnd) outputStart = inputEnd;
  for (const r of requests) {
    const trace = r.trace;
    if (!trace) continue;
    trace.record('COMPUTE_START', start);
    trace.record('COMPUTE_INPUT_END', inputEnd < end ? inputEnd : end);
    trace.record('COMPUTE_OUTPUT_START', outputStart < end ? outputStart : end);
    trace.record('COMPUTE_END', end);
  }
}

/**
 * Unloads the instances of a version that failed to load. Their unload errors are logged; the load
 * error stays the one reported.
 */
async function unloadAfterFailedLoad(instances: ModelInstance[], ctx: ModelLoadContext): Promise<void> {
  const settled = await Promise.allSettled(instances.map((i) => i.unload()));
  settled.forEach((s, i) => {
    if (s.status === 'rejected') {
      ctx.logger.error(`instance '${instances[i].name}' did not unload: ${asTritonError(s.reason).message}`);
    }
  });
}

/** A loaded, servable model version. */
export class ModelVersion {
  readonly stats = new ModelStats();
  /** Seconds the version took to load (`nv_model_load_duration_secs`); set by the server. */
  loadDurationSecs = 0;
  private readonly index: TensorIndex;
  private readonly scheduler: Scheduler;
  private readonly labels = new Map<string, string[]>();
  private inflight = 0;
  /** Batch sizes of request shapes already validated (see InferenceRequest.shapeKey). */
  private readonly validated = new WeakMap<object, number>();
  private accepting = true;

  private constructor(
    readonly config: ModelConfig,
    readonly version: number,
    private readonly instances: ModelInstance[],
    scheduled: ModelInstance[],
    modelDir: string,
    sequence: SequenceSpec | undefined,
    logger: Logger,
  ) {
    this.index = indexTensors(config);
    const observed = scheduled.map(observedInstance);
    this.scheduler = sequence
      ? new SequenceBatcher(config, sequence, observed, this.stats, undefined, logger)
      : config.dynamic_batching && config.max_batch_size > 0
        ? new DynamicBatcher(config, observed, this.stats)
        : new DefaultScheduler(observed, this.stats);
    for (const o of config.output) {
      if (o.label_filename) {
        const text = fs.readFileSync(path.join(modelDir, o.label_filename), 'utf8');
        this.labels.set(
          o.name,
          text.split('\n').map((l) => l.replace(/\r$/, '')),
        );
      }
    }
  }

  /**
   * Loads a model version: completes and validates the config with the backend, then creates every
   * instance (in parallel).
   * @param autoComplete run the backend's auto-complete (off with `--disable-auto-complete-config`).
   * @throws TritonError describing why the version cannot load; instances already created are unloaded.
   */
  static async load(
    config: ModelConfig,
    backend: Backend,
    ctx: ModelLoadContext,
    autoComplete: boolean,
  ): Promise<ModelVersion> {
    if (autoComplete) config = await backend.autoCompleteConfig(config, ctx);
    if (config.input.length === 0)
      throw new TritonError('INVALID_ARG', `model '${ctx.name}' must specify at least one input`);
    if (config.output.length === 0)
      throw new TritonError('INVALID_ARG', `model '${ctx.name}' must specify at least one output`);
    normalizeConfig(config, backend, listGpus(), (line) => ctx.logger.info(line));
    validateDynamicBatching(config);
    const sequence = config.sequence_batching ? sequenceSpec(config, ctx.modelDir) : undefined;
    const placements = instancePlacements(config);
    const settled = await Promise.allSettled(placements.map((p) => backend.createInstance(config, ctx, p)));
    const instances = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    try {
      if (failed) throw asTritonError(failed.reason);
      await backend.validate?.(config, ctx, instances);
      await runWarmup(config, instances, ctx.modelDir);
    } catch (e) {
      await unloadAfterFailedLoad(instances, ctx);
      throw e;
    }
    const scheduled = instances.filter((_, i) => !placements[i].passive);
    try {
      return new ModelVersion(config, ctx.version, instances, scheduled, ctx.modelDir, sequence, ctx.logger);
    } catch (e) {
      await unloadAfterFailedLoad(instances, ctx);
      throw new TritonError('INVALID_ARG', `unable to load model '${ctx.name}': ${(e as Error).message}`);
    }
  }

  /** Model name. */
  get name(): string {
    return this.config.name;
  }

  /** Requests queued and not yet executing (`nv_inference_pending_request_count`). */
  pendingRequests(): number {
    return this.scheduler.pending();
  }

  /**
   * Validates, queues and executes a request, then applies classification to requested outputs.
   * @throws TritonError INVALID_ARG for a request that does not fit the config (see validateRequest),
   *   UNAVAILABLE when the version is unloading, or the backend's error for this request.
   */
  async infer(req: InferenceRequest): Promise<InferenceResponse> {
    const start = performance.now();
    const trace = req.trace;
    if (trace) {
      trace.modelVersion = this.version;
      trace.requestId = req.id;
      trace.record('REQUEST_START');
    }
    let batchSize: number;
    try {
      if (this.decoupled) {
        throw new TritonError(
          'UNSUPPORTED',
          `model '${this.name}' uses the decoupled transaction policy: its responses can only be received ` +
            `through a streaming API (gRPC ModelStreamInfer, or exec(decoupled=True) in BLS)`,
        );
      }
      batchSize = this.admit(req, start);
    } catch (e) {
      trace?.record('REQUEST_END');
      throw e;
    }
    if (trace) {
      trace.record('QUEUE_START');
      if (trace.tracesTensors) for (const t of req.inputs) trace.tensor('TENSOR_QUEUE_INPUT', t);
    }
    this.inflight++;
    try {
      const { result, queueMs } = await new Promise<{ result: ExecuteResult; queueMs: number }>((resolve) =>
        this.scheduler.enqueue({
          request: req,
          batchSize,
          enqueuedAt: start,
          done: (result, queueMs) => resolve({ result, queueMs }),
          state: undefined,
        }),
      );
      if (result instanceof TritonError) {
        this.stats.recordRequest(
          false,
          (performance.now() - start) * 1e6,
          undefined,
          result.reason ?? 'OTHER',
        );
        throw result;
      }
      const outputs = this.finishOutputs(req, result.outputs);
      this.stats.recordRequest(true, (performance.now() - start) * 1e6, queueMs * 1e6);
      if (trace?.tracesTensors) for (const t of outputs) trace.tensor('TENSOR_BACKEND_OUTPUT', t);
      return { model: this.name, version: String(this.version), id: req.id, outputs };
    } finally {
      this.inflight--;
      trace?.record('REQUEST_END');
    }
  }

  /**
   * Checks that the version accepts requests and validates `req` against the config.
   * @returns the request's batch size.
   * @throws TritonError UNAVAILABLE while unloading, INVALID_ARG (see validateRequest).
   */
  private admit(req: InferenceRequest, start: number): number {
    if (!this.accepting)
      throw new TritonError('UNAVAILABLE', `model '${this.name}' version ${this.version} is unloading`);
    try {
      const known = req.shapeKey ? this.validated.get(req.shapeKey) : undefined;
      if (known !== undefined) return known;
      const batchSize = validateRequest(this.config, this.index, req);
      if (req.shapeKey && req.inputs.every((t) => t.datatype !== 'BYTES'))
        this.validated.set(req.shapeKey, batchSize);
      return batchSize;
    } catch (e) {
      this.stats.recordRequest(false, (performance.now() - start) * 1e6, undefined);
      throw e;
    }
  }

  /** True for `model_transaction_policy { decoupled: true }`: zero or more responses per request. */
  get decoupled(): boolean {
    return this.config.model_transaction_policy?.decoupled === true;
  }

  /**
   * Readiness of the version: false while one of its instances cannot serve (a Python stub that
   * died and is being restarted). Requests are still accepted meanwhile; they wait for the instance.
   */
  isReady(): boolean {
    for (const i of this.instances) if (i.isReady && !i.isReady()) return false;
    return true;
  }

  /**
   * Runs a request on any model, decoupled or not, delivering its responses to `onResponse`
   * (server docs/user_guide/decoupled_models.md): a model that is not decoupled gives exactly one
   * final response; a decoupled one gives what its instance sends, then the final flag. Every error
   * (validation, execution) is delivered as a final response; the promise never rejects and
   * resolves after the final call.
   */
  async inferStream(req: InferenceRequest, onResponse: StreamCallback): Promise<void> {
    if (!this.decoupled) {
      try {
        onResponse(await this.infer(req), true);
      } catch (e) {
        onResponse(asTritonError(e), true);
      }
      return;
    }
    const start = performance.now();
    let batchSize: number;
    try {
      batchSize = this.admit(req, start);
    } catch (e) {
      onResponse(asTritonError(e), true);
      return;
    }
    this.inflight++;
    try {
      await new Promise<void>((resolve) => {
        let finished = false;
        let queueNs: number | undefined;
        const send = (response: ExecuteResult | undefined, final: boolean) => {
          if (finished) return;
          if (final) finished = true;
          let out: InferenceResponse | TritonError | undefined;
          if (response instanceof TritonError) {
            out = response;
          } else if (response) {
            const wanted = req.outputs ? new Set(req.outputs.map((o) => o.name)) : undefined;
            const outputs = wanted ? response.outputs.filter((t) => wanted.has(t.name)) : response.outputs;
            out = { model: this.name, version: String(this.version), id: req.id, outputs };
          }
          try {
            onResponse(out, final);
          } finally {
            if (final) {
              const failed = response instanceof TritonError;
              this.stats.recordRequest(
                !failed,
                (performance.now() - start) * 1e6,
                failed ? undefined : queueNs,
                failed ? (response.reason ?? 'OTHER') : undefined,
              );
              resolve();
            }
          }
        };
        req.responseSender = send;
        this.scheduler.enqueue({
          request: req,
          batchSize,
          enqueuedAt: start,
          done: (result, queueMs) => {
            queueNs = queueMs * 1e6;
            if (result instanceof TritonError) send(result, true);
          },
          state: undefined,
        });
      });
    } finally {
      this.inflight--;
    }
  }

  /** Orders outputs as requested and applies classification. */
  private finishOutputs(req: InferenceRequest, outputs: Tensor[]): Tensor[] {
    if (!req.outputs) return outputs;
    const byName = new Map(outputs.map((t) => [t.name, t]));
    return req.outputs.map((o) => {
      const t = byName.get(o.name);
      if (!t) throw new TritonError('INTERNAL', `model '${this.name}' produced no output '${o.name}'`);
      if (o.classification && o.classification > 0) {
        return classify(
          t,
          o.classification,
          this.config.max_batch_size > 0,
          this.labels.get(o.name) ?? [],
          this.name,
        );
      }
      return t;
    });
  }

  /**
   * Stops accepting requests, lets queued and running ones finish, then unloads every instance (all
   * of them, even when one fails).
   * @throws TritonError INTERNAL naming each instance that failed to unload and why.
   */
  async unload(): Promise<void> {
    this.accepting = false;
    await this.scheduler.idle();
    this.scheduler.close();
    const settled = await Promise.allSettled(this.instances.map((i) => i.unload()));
    const failed = settled.flatMap((s, i) =>
      s.status === 'rejected'
        ? [`instance '${this.instances[i].name}': ${asTritonError(s.reason).message}`]
        : [],
    );
    if (failed.length > 0) {
      throw new TritonError(
        'INTERNAL',
        `model '${this.name}' version ${this.version} did not unload cleanly: ${failed.join('; ')}`,
      );
    }
  }

  /** Requests accepted and not yet answered. */
  get inflightRequests(): number {
    return this.inflight;
  }
}
