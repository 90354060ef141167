/**
 * The small interface every backend implements (ONNX Runtime, Python, …).
 *
 * It mirrors the shape of Triton's backend API (server docs/user_guide/backend.md: model
 * initialization with auto-complete, one model instance per instance-group entry, execute on a batch
 * of requests) without its C details.
 */
import type { ModelConfig } from '../protocol/model-config/types.js';
import type { Logger } from './logger.js';
import type {
  ExecuteResult,
  ExecuteTimings,
  InferenceRequest,
  InferenceResponse,
  StreamCallback,
} from './request.js';

/** Everything a backend needs to know about the model version being loaded. */
export interface ModelLoadContext {
  /** Model name (the model directory's name). */
  name: string;
  /** Version number. */
  version: number;
  /** `<repository>/<model>` directory. */
  modelDir: string;
  /** `<repository>/<model>/<version>` directory. */
  versionDir: string;
  /** The model file or directory: `<versionDir>/<default_model_filename or backend default>`. */
  modelPath: string;
  /** `--backend-config=<backend>,<key>=<value>` settings for this backend. */
  backendConfig: Record<string, string>;
  /** Logger bound to this model. */
  logger: Logger;
  /**
   * Runs an inference on the server that loads this model (any model it serves), for backends whose
   * models call other models (the Python backend's BLS). Same errors as `InferenceServer.infer`.
   */
  infer?(request: InferenceRequest): Promise<InferenceResponse>;
  /** As `infer`, for any model, decoupled ones included (see `InferenceServer.inferStream`). */
  inferStream?(request: InferenceRequest, onResponse: StreamCallback): Promise<void>;
}

/** What one execution produced: one result per request, in order, and where the time went. */
export interface ExecutionOutcome {
  results: ExecuteResult[];
  timings: ExecuteTimings;
}

/** One model instance: a session (ORT) or stub process (Python) that executes batches of requests. */
export interface ModelInstance {
  /** Instance name as Triton forms it: `<group name>_<index>` (e.g. `simple_0_1`). */
  readonly name: string;
  /**
   * Executes requests together (a batch when the model batches, else one request).
   * Inputs have been validated against the config. Resolves with one result per request, in order.
   * Must not reject for per-request problems (return a TritonError for that request instead);
   * rejecting fails the whole batch.
   */
  execute(requests: InferenceRequest[]): Promise<ExecutionOutcome>;
  /**
   * Optional: runs several executions back to back in one hand-off to the instance, each entry of
   * `batches` being one execution exactly as `execute` would run it. The default scheduler uses it
   * to pay the hand-off (a thread wake-up and message each way, ~40 µs of CPU) once for several short
   * one-request executions. Resolves with one outcome per execution, in order; rejecting fails them
   * all.
   */
  executeSeveral?(batches: InferenceRequest[][]): Promise<ExecutionOutcome[]>;
  /** Releases the instance (session, thread, process). */
  unload(): Promise<void>;
  /**
   * False while the instance cannot serve (e.g. its stub process died and is being restarted); the
   * model version then reports not ready. Absent means always ready.
   */
  isReady?(): boolean;
}

/** Placement of one instance, from the model's `instance_group`. */
export interface InstancePlacement {
  /** Instance name (`<group name>_<index within group>`). */
  name: string;
  /** `KIND_CPU`, `KIND_GPU` or `KIND_MODEL` (KIND_AUTO is resolved before instances are created). */
  kind: string;
  /** GPU device id for KIND_GPU, else 0. */
  deviceId: number;
  /** Index of this instance among all instances of the model (0-based). */
  index: number;
  /** Total instances of the model. */
  total: number;
}

/** A backend: knows how to complete configs and create instances for its models. */
export interface Backend {
  /** Backend name as in `config.pbtxt` `backend:` (e.g. `onnxruntime`). */
  readonly name: string;
  /** Model file name used when the config has no `default_model_filename` (e.g. `model.onnx`). */
  readonly defaultModelFilename: string;
  /**
   * Fills in what the config leaves out, from the model itself (Triton's auto-complete): inputs,
   * outputs, datatypes, dims, max_batch_size. Called unless auto-complete is disabled.
   * @returns the completed config (may be the same object, modified).
   * @throws TritonError when the model cannot be read.
   */
  autoCompleteConfig(config: ModelConfig, ctx: ModelLoadContext): Promise<ModelConfig>;
  /**
   * Checks the final config against the model; called once per model version, after its instances
   * were created (so a backend can read the model through an instance instead of loading it again).
   * @throws TritonError naming the model, tensor and mismatch when config and model disagree.
   */
  validate?(config: ModelConfig, ctx: ModelLoadContext, instances: ModelInstance[]): Promise<void>;
  /**
   * Whether this backend can place instances on this machine's GPUs: undefined when it can, else
   * why not (e.g. a missing execution provider). A backend without this method has no GPU support:
   * KIND_AUTO groups run on CPU and KIND_GPU groups fail to load.
   */
  gpuUnavailable?(): string | undefined;
  /** Default instance count for an instance group of `kind` that gives no `count`. */
  defaultInstanceCount?(kind: string): number;
  /**
   * Creates one model instance.
   * @throws TritonError when the instance cannot be created (e.g. missing execution provider).
   */
  createInstance(
    config: ModelConfig,
    ctx: ModelLoadContext,
    placement: InstancePlacement,
  ): Promise<ModelInstance>;
}
