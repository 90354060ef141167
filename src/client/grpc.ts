/**
 * The gRPC transport of the client: Triton's `inference.GRPCInferenceService` (common
 * `protobuf/grpc_service.proto`) over `@grpc/grpc-js`, with protobufjs (de)serialization.
 * Inputs go in `raw_input_contents` (typed `contents` when asked for with `binary: false`); outputs
 * come back in `raw_output_contents` and are read as views of the response message.
 * ModelStreamInfer is exposed as startStream / asyncStreamInfer / stopStream (tritonclient.grpc's
 * names).
 */
import * as grpc from '@grpc/grpc-js';
import { modelConfigToJson } from '../protocol/model-config/index.js';
import type { ModelConfig } from '../protocol/model-config/types.js';
import { isDatatype, type Datatype } from '../protocol/datatypes.js';
import type {
  InferParameterMsg,
  InferTensorContentsMsg,
  ModelInferRequestMsg,
  ModelInferResponseMsg,
  ModelStreamInferResponseMsg,
} from '../protocol/grpc/messages.js';
import {
  INFERENCE_SERVICE,
  longToNumber,
  MAX_GRPC_MESSAGE_SIZE,
  messageType,
  serviceDefinition,
} from '../protocol/grpc/protos.js';
import {
  bytesToContents,
  contentsField,
  contentsToBytes,
  parameterValue,
  toInferParameter,
} from '../protocol/grpc/tensors.js';
import { GRPC_STATUS_NAMES } from '../protocol/errors.js';
import { clientError, InferenceServerError } from './errors.js';
import { InferResult, type InferInput, type ParameterValue, type ResultTensor } from './tensors.js';
import type {
  CallOptions,
  InferenceStatistics,
  InferOptions,
  LoadModelOptions,
  ModelMetadata,
  RepositoryIndexEntry,
  ServerMetadata,
  StreamCallback,
  StreamInferOptions,
  Transport,
  UnloadModelOptions,
} from './types.js';

type GenericClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** `toObject` settings giving JSON-like objects: numbers for 64-bit integers, enum names, defaults filled in. */
const TO_OBJECT: {
  longs: NumberConstructor;
  enums: StringConstructor;
  defaults: boolean;
  arrays: boolean;
  objects: boolean;
} = {
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  objects: true,
};

/** Removes `null` members (unset message fields after toObject's defaults), recursively. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = dropNulls(x);
    return out;
  }
  return v;
}

function fromParameters(
  map: Record<string, InferParameterMsg> | undefined,
): Record<string, ParameterValue> | undefined {
  if (!map) return undefined;
  const out: Record<string, ParameterValue> = {};
  for (const [k, p] of Object.entries(map)) {
    const v = parameterValue(p);
    if (v !== undefined) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Typed `contents` of a response output → tensor bytes (servers other than Triton may send them). */
function fromContents(datatype: Datatype, c: InferTensorContentsMsg): Uint8Array {
  const field = contentsField(datatype);
  if (!field) throw clientError(`cannot read ${datatype} data from typed contents`);
  return contentsToBytes(datatype, (c[field] as unknown[] | undefined) ?? []);
}

/** A ModelInferResponse → InferResult. */
function toResult(res: ModelInferResponseMsg): InferResult {
  const raw = res.raw_output_contents ?? [];
  const tensors: ResultTensor[] = (res.outputs ?? []).map((o, i) => {
    const datatype = (isDatatype(o.datatype) ? o.datatype : 'BYTES') as Datatype;
    const data =
      i < raw.length ? raw[i] : o.contents ? fromContents(datatype, o.contents) : new Uint8Array(0);
    const t: ResultTensor = {
      name: o.name,
      datatype,
      shape: (o.shape ?? []).map((d) => longToNumber(d)),
      data,
    };
    const p = fromParameters(o.parameters);
    if (p) t.parameters = p;
    return t;
  });
  const info: {
    model_name: string;
    model_version: string;
    id?: string;
    parameters?: Record<string, ParameterValue>;
  } = { model_name: res.model_name, model_version: res.model_version };
  if (res.id) info.id = res.id;
  const p = fromParameters(res.parameters);
  if (p) info.parameters = p;
  return new InferResult(info, tensors);
}

/** A grpc-js error → InferenceServerError with the gRPC status. */
function fromServiceError(e: grpc.ServiceError): InferenceServerError {
  return new InferenceServerError(e.details || e.message, {
    status: GRPC_STATUS_NAMES[e.code] ?? String(e.code),
    grpcCode: e.code,
  });
}

/** The gRPC transport. */
export class GrpcTransport implements Transport {
  readonly protocol = 'grpc' as const;
  private readonly client: GenericClient;
  private stream?: {
    call: grpc.ClientDuplexStream<ModelInferRequestMsg, ModelStreamInferResponseMsg>;
    /** Settles when the stream has ended (all responses delivered) or failed. */
    done: Promise<void>;
    /** Set by stopStream(true): the CANCELLED status that follows is not reported. */
    cancelled: boolean;
    /**
     * Settles one macrotask after the call started. grpc-js (1.14) creates the underlying HTTP/2
     * stream in a promise continuation and ignores a cancel() that comes before it: that stream is
     * then never closed, and neither the channel nor the server can shut down. Cancelling waits
     * for this.
     */
    started: Promise<void>;
  };

  /**
   * @param target `grpc://host:port` or `host:port`.
   * @param channelOptions extra grpc-js channel options (message limits default to 2^31 - 1).
   */
  constructor(target: string, channelOptions: grpc.ChannelOptions = {}) {
    const address = target.replace(/^grpc:\/\//, '').replace(/\/+$/, '');
    const Client = grpc.makeGenericClientConstructor(
      serviceDefinition(INFERENCE_SERVICE),
      'GRPCInferenceService',
    );
    this.client = new Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_SIZE,
      'grpc.max_send_message_length': MAX_GRPC_MESSAGE_SIZE,
      'grpc.enable_channelz': 0,
      ...channelOptions,
    }) as unknown as GenericClient;
  }

  /** Closes the channel (an open stream is cancelled first). */
  close(): void {
    const s = this.stream;
    if (!s) {
      this.client.close();
      return;
    }
    this.stream = undefined;
    s.cancelled = true;
    void s.started.then(() => {
      s.call.cancel();
      this.client.close();
    });
  }

  private static metadata(options: CallOptions): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(options.headers ?? {})) md.set(k, v);
    return md;
  }

  private static callOptions(options: CallOptions): grpc.CallOptions {
    return options.timeout !== undefined ? { deadline: Date.now() + options.timeout } : {};
  }

  private unary<T>(method: string, request: object, options: CallOptions = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      this.client[method](
        request,
        GrpcTransport.metadata(options),
        GrpcTransport.callOptions(options),
        (err: grpc.ServiceError | null, res: T) => (err ? reject(fromServiceError(err)) : resolve(res)),
      );
    });
  }

  async isServerLive(options?: CallOptions): Promise<boolean> {
    return (await this.unary<{ live: boolean }>('ServerLive', {}, options)).live;
  }

  async isServerReady(options?: CallOptions): Promise<boolean> {
    return (await this.unary<{ ready: boolean }>('ServerReady', {}, options)).ready;
  }

  async isModelReady(name: string, version?: string, options?: CallOptions): Promise<boolean> {
    return (await this.unary<{ ready: boolean }>('ModelReady', { name, version: version ?? '' }, options))
      .ready;
  }

  async getServerMetadata(options?: CallOptions): Promise<ServerMetadata> {
    const m = await this.unary<object>('ServerMetadata', {}, options);
    return messageType('ServerMetadataResponse').toObject(m as never, TO_OBJECT) as ServerMetadata;
  }

  async getModelMetadata(name: string, version?: string, options?: CallOptions): Promise<ModelMetadata> {
    const m = await this.unary<object>('ModelMetadata', { name, version: version ?? '' }, options);
    return messageType('ModelMetadataResponse').toObject(m as never, TO_OBJECT) as ModelMetadata;
  }

  /** The configuration in Triton's JSON form (the same object HTTP's `GET .../config` returns). */
  async getModelConfig(
    name: string,
    version?: string,
    options?: CallOptions,
  ): Promise<Record<string, unknown>> {
    const m = await this.unary<{ config: object | null }>(
      'ModelConfig',
      { name, version: version ?? '' },
      options,
    );
    const config = dropNulls(messageType('ModelConfig').toObject((m.config ?? {}) as never, TO_OBJECT));
    return modelConfigToJson(config as ModelConfig);
  }

  async getInferenceStatistics(
    name?: string,
    version?: string,
    options?: CallOptions,
  ): Promise<InferenceStatistics> {
    const m = await this.unary<object>(
      'ModelStatistics',
      { name: name ?? '', version: version ?? '' },
      options,
    );
    return dropNulls(
      messageType('ModelStatisticsResponse').toObject(m as never, TO_OBJECT),
    ) as InferenceStatistics;
  }

  async getModelRepositoryIndex(ready = false, options?: CallOptions): Promise<RepositoryIndexEntry[]> {
    const m = await this.unary<{ models: RepositoryIndexEntry[] }>(
      'RepositoryIndex',
      { repository_name: '', ready },
      options,
    );
    return m.models.map((e) => {
      const out: RepositoryIndexEntry = { name: e.name };
      if (e.version) out.version = e.version;
      if (e.state) out.state = e.state;
      if (e.reason) out.reason = e.reason;
      return out;
    });
  }

  async loadModel(name: string, options: LoadModelOptions = {}): Promise<void> {
    const parameters: Record<string, object> = {};
    if (options.config !== undefined) {
      parameters.config = {
        string_param: typeof options.config === 'string' ? options.config : JSON.stringify(options.config),
      };
    }
    for (const [file, bytes] of Object.entries(options.files ?? {}))
      parameters[`file:${file}`] = { bytes_param: bytes };
    await this.unary('RepositoryModelLoad', { repository_name: '', model_name: name, parameters }, options);
  }

  async unloadModel(name: string, options: UnloadModelOptions = {}): Promise<void> {
    const parameters: Record<string, object> = {};
    if (options.unloadDependents !== undefined)
      parameters.unload_dependents = { bool_param: options.unloadDependents };
    await this.unary('RepositoryModelUnload', { repository_name: '', model_name: name, parameters }, options);
  }

  /**
   * Builds a ModelInferRequest: raw_input_contents unless `binary: false` (request-wide or on any
   * input), then typed contents for every input.
   * @throws InferenceServerError for inputs without data, or FP16/BF16 inputs as typed contents.
   */
  static buildRequest(
    model: string,
    inputs: InferInput[],
    options: InferOptions & { enableEmptyFinalResponse?: boolean } = {},
  ): ModelInferRequestMsg {
    const typed = options.binary === false || inputs.some((i) => !i.binary);
    const parameters: Record<string, InferParameterMsg> = {};
    for (const [k, v] of Object.entries(options.parameters ?? {})) parameters[k] = toInferParameter(v);
    if (options.enableEmptyFinalResponse)
      parameters.triton_enable_empty_final_response = { bool_param: true };
    const raw: Uint8Array[] = [];
    const msg: ModelInferRequestMsg = {
      model_name: model,
      model_version: options.modelVersion ?? '',
      id: options.requestId ?? '',
      parameters,
      inputs: inputs.map((input) => {
        const data = input.rawData;
        if (!data) throw clientError(`input '${input.name}' has no data: call setData() first`);
        const t = { name: input.name, datatype: input.datatype, shape: input.shape };
        if (typed) {
          if (!contentsField(input.datatype)) {
            throw clientError(
              `input '${input.name}': ${input.datatype} data can only be sent in binary form (raw_input_contents)`,
            );
          }
          return { ...t, contents: bytesToContents(input.datatype, data) };
        }
        raw.push(data);
        return t;
      }),
      outputs: (options.outputs ?? []).map((o) => {
        const p: Record<string, InferParameterMsg> = {};
        for (const [k, v] of Object.entries(o.parameters)) p[k] = toInferParameter(v);
        if (o.classCount > 0) p.classification = { int64_param: o.classCount };
        return { name: o.name, parameters: p };
      }),
    };
    if (!typed) msg.raw_input_contents = raw;
    return msg;
  }

  async infer(model: string, inputs: InferInput[], options: InferOptions = {}): Promise<InferResult> {
    const request = GrpcTransport.buildRequest(model, inputs, options);
    return toResult(await this.unary<ModelInferResponseMsg>('ModelInfer', request, options));
  }

  /**
   * Opens a ModelStreamInfer stream; `callback` receives each response, or an error (a request's
   * `error_message`, with its `requestId`, or the stream's failure). One stream per client.
   * @throws InferenceServerError when a stream is already open.
   */
  startStream(callback: StreamCallback, options: CallOptions = {}): void {
    if (this.stream) throw clientError('a stream is already open: call stopStream() first');
    const call = (
      this.client.ModelStreamInfer as (
        md: grpc.Metadata,
        o: grpc.CallOptions,
      ) => grpc.ClientDuplexStream<ModelInferRequestMsg, ModelStreamInferResponseMsg>
    ).call(this.client, GrpcTransport.metadata(options), GrpcTransport.callOptions(options));
    call.on('data', (m: ModelStreamInferResponseMsg) => {
      if (m.error_message) {
        callback(
          undefined,
          new InferenceServerError(m.error_message, { requestId: m.infer_response?.id || undefined }),
        );
        return;
      }
      let result: InferResult;
      try {
        result = toResult(m.infer_response!);
      } catch (e) {
        callback(undefined, e as InferenceServerError);
        return;
      }
      callback(result, undefined);
    });
    const stream = {
      call,
      cancelled: false,
      done: Promise.resolve(),
      started: new Promise<void>((resolve) => setImmediate(resolve)),
    };
    stream.done = new Promise<void>((resolve) => {
      call.on('error', (e: grpc.ServiceError) => {
        if (!(stream.cancelled && e.code === grpc.status.CANCELLED)) callback(undefined, fromServiceError(e));
        resolve();
      });
      call.on('end', () => resolve());
    });
    this.stream = stream;
  }

  /**
   * Sends a request on the open stream; its response (or error) goes to the stream's callback.
   * @throws InferenceServerError when no stream is open, or for inputs without data.
   */
  asyncStreamInfer(model: string, inputs: InferInput[], options: StreamInferOptions = {}): void {
    if (!this.stream) throw clientError('no stream is open: call startStream() first');
    this.stream.call.write(GrpcTransport.buildRequest(model, inputs, options));
  }

  /**
   * Closes the stream: half-closes it and waits until the server has answered every request sent
   * (or, with `cancelRequests`, cancels it at once). A no-op when no stream is open.
   */
  async stopStream(cancelRequests = false): Promise<void> {
    const s = this.stream;
    if (!s) return;
    this.stream = undefined;
    if (cancelRequests) {
      s.cancelled = true;
      await s.started;
      s.call.cancel();
    } else {
      s.call.end();
    }
    await s.done;
  }
}
