/**
 * The HTTP/REST transport of the client: KServe v2 / Open Inference Protocol routes with Triton's
 * extensions (server docs/protocol/*.md): binary tensor data (`Inference-Header-Content-Length`),
 * classification, parameters, model configuration, statistics, model repository.
 * Uses `node:http` with a keep-alive agent; errors are `{"error": "..."}` bodies turned into
 * InferenceServerError with the HTTP status.
 */
import * as http from 'node:http';
import {
  BINARY_DATA_SIZE,
  HEADER_LENGTH_HEADER,
  HEADER_LENGTH_KEY,
  tensorEntryJson,
} from '../protocol/binary-data.js';
import type { Datatype } from '../protocol/datatypes.js';
import { parseJsonExact } from '../protocol/exact-json.js';
import { bytesToJsonData, jsonCarries, jsonDataToBytes } from '../protocol/json-tensor.js';
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
  Transport,
  UnloadModelOptions,
} from './types.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A parameter map as JSON text; bigints are written as exact integer literals (a uint64
 * `sequence_id` beyond 2^53 stays a number, as Triton reads it).
 */
function parametersJson(p: Record<string, ParameterValue>): string {
  const entries = Object.entries(p).map(
    ([k, v]) => `${JSON.stringify(k)}:${typeof v === 'bigint' ? v.toString() : JSON.stringify(v)}`,
  );
  return `{${entries.join(',')}}`;
}

/** Runs a protocol codec step, turning its TritonError into the client's error (same message). */
function codec<T>(step: () => T): T {
  try {
    return step();
  } catch (e) {
    throw clientError((e as Error).message);
  }
}

/** The HTTP/REST transport. */
export class HttpTransport implements Transport {
  readonly protocol = 'http' as const;
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly prefix: string;

  /** @param url `http://host:port[/path prefix]`. @throws InferenceServerError for another scheme. */
  constructor(url: string) {
    const u = new URL(url);
    if (u.protocol !== 'http:') throw clientError(`HTTP transport needs an http:// URL, got '${url}'`);
    this.host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(u.port || 80);
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.agent = new http.Agent({ keepAlive: true });
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private request(
    method: string,
    path: string,
    body: Array<string | Uint8Array> | undefined,
    headers: Record<string, string | number>,
    options: CallOptions = {},
  ): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const parts = (body ?? []).map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
      const length = parts.reduce((n, p) => n + p.byteLength, 0);
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          path: this.prefix + path,
          method,
          agent: this.agent,
          headers: { ...(body ? { 'Content-Length': length } : {}), ...headers, ...options.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
            });
          });
          res.on('error', (e) => {
            clearTimeout(timer);
            reject(new InferenceServerError(e.message, { code: 'UNAVAILABLE' }));
          });
        },
      );
      let timedOut = false;
      const timer =
        options.timeout !== undefined
          ? setTimeout(() => {
              timedOut = true;
              req.destroy();
            }, options.timeout)
          : undefined;
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(
          timedOut
            ? new InferenceServerError('Deadline Exceeded', { code: 'DEADLINE_EXCEEDED' })
            : new InferenceServerError(`failed to reach the server: ${e.message}`, { code: 'UNAVAILABLE' }),
        );
      });
      if (parts.length > 1) req.cork();
      for (const p of parts) req.write(p);
      req.end();
    });
  }

  /** Throws the server's `{"error": ...}` as an InferenceServerError unless the status is 200. */
  private check(reply: Reply): Reply {
    if (reply.status === 200) return reply;
    let message = reply.body.toString('utf8');
    try {
      const parsed = JSON.parse(message);
      if (typeof parsed?.error === 'string') message = parsed.error;
    } catch {
      /* not JSON: keep the text */
    }
    throw new InferenceServerError(message || `HTTP ${reply.status}`, {
      status: String(reply.status),
      httpStatus: reply.status,
    });
  }

  private async json<T>(method: string, path: string, body?: unknown, options?: CallOptions): Promise<T> {
    const reply = this.check(
      await this.request(
        method,
        path,
        body === undefined ? undefined : [JSON.stringify(body)],
        body === undefined ? {} : { 'Content-Type': 'application/json' },
        options,
      ),
    );
    return JSON.parse(reply.body.toString('utf8')) as T;
  }

  private static modelPath(name: string, version?: string): string {
    return `/v2/models/${encodeURIComponent(name)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
  }

  async isServerLive(options?: CallOptions): Promise<boolean> {
    return (await this.request('GET', '/v2/health/live', undefined, {}, options)).status === 200;
  }

  async isServerReady(options?: CallOptions): Promise<boolean> {
    return (await this.request('GET', '/v2/health/ready', undefined, {}, options)).status === 200;
  }

  async isModelReady(name: string, version?: string, options?: CallOptions): Promise<boolean> {
    const reply = await this.request(
      'GET',
      `${HttpTransport.modelPath(name, version)}/ready`,
      undefined,
      {},
      options,
    );
    return reply.status === 200;
  }

  getServerMetadata(options?: CallOptions): Promise<ServerMetadata> {
    return this.json('GET', '/v2', undefined, options);
  }

  getModelMetadata(name: string, version?: string, options?: CallOptions): Promise<ModelMetadata> {
    return this.json('GET', HttpTransport.modelPath(name, version), undefined, options);
  }

  getModelConfig(name: string, version?: string, options?: CallOptions): Promise<Record<string, unknown>> {
    return this.json('GET', `${HttpTransport.modelPath(name, version)}/config`, undefined, options);
  }

  getInferenceStatistics(
    name?: string,
    version?: string,
    options?: CallOptions,
  ): Promise<InferenceStatistics> {
    const path = name ? `${HttpTransport.modelPath(name, version)}/stats` : '/v2/models/stats';
    return this.json('GET', path, undefined, options);
  }

  getModelRepositoryIndex(ready = false, options?: CallOptions): Promise<RepositoryIndexEntry[]> {
    return this.json('POST', '/v2/repository/index', ready ? { ready: true } : {}, options);
  }

  async loadModel(name: string, options: LoadModelOptions = {}): Promise<void> {
    const parameters: Record<string, string> = {};
    if (options.config !== undefined) {
      parameters.config =
        typeof options.config === 'string' ? options.config : JSON.stringify(options.config);
    }
    for (const [file, bytes] of Object.entries(options.files ?? {})) {
      parameters[`file:${file}`] = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
        'base64',
      );
    }
    const body = Object.keys(parameters).length > 0 ? { parameters } : {};
    this.check(
      await this.request(
        'POST',
        `/v2/repository/models/${encodeURIComponent(name)}/load`,
        [JSON.stringify(body)],
        { 'Content-Type': 'application/json' },
        options,
      ),
    );
  }

  async unloadModel(name: string, options: UnloadModelOptions = {}): Promise<void> {
    const body =
      options.unloadDependents !== undefined
        ? { parameters: { unload_dependents: options.unloadDependents } }
        : {};
    this.check(
      await this.request(
        'POST',
        `/v2/repository/models/${encodeURIComponent(name)}/unload`,
        [JSON.stringify(body)],
        { 'Content-Type': 'application/json' },
        options,
      ),
    );
  }

  /**
   * POST /v2/models/{m}[/versions/{v}]/infer with the JSON header followed by the binary inputs.
   * @throws InferenceServerError from the server (status and message) or for inputs without data.
   */
  async infer(model: string, inputs: InferInput[], options: InferOptions = {}): Promise<InferResult> {
    const all = options.binary ?? true;
    const parts: Uint8Array[] = [];
    const inputJson = inputs.map((input) => {
      const data = input.rawData;
      if (!data) throw clientError(`input '${input.name}' has no data: call setData() first`);
      if (all && input.binary) {
        parts.push(data);
        return tensorEntryJson(input.name, input.datatype, input.shape, { binarySize: data.byteLength });
      }
      if (!jsonCarries(input.datatype)) {
        throw clientError(`input '${input.name}': ${input.datatype} data can only be sent in binary form`);
      }
      const json = codec(() =>
        bytesToJsonData(input.datatype, data, `input '${input.name}'`, { exact: true }),
      );
      return tensorEntryJson(input.name, input.datatype, input.shape, { json });
    });
    const requestParams: Record<string, ParameterValue> = { ...options.parameters };
    let outputsJson = '';
    if (options.outputs && options.outputs.length > 0) {
      const outputs = options.outputs.map((o) => {
        const p: Record<string, ParameterValue> = { ...o.parameters, binary_data: all && o.binary };
        if (o.classCount > 0) p.classification = o.classCount;
        return `{"name":${JSON.stringify(o.name)},"parameters":${parametersJson(p)}}`;
      });
      outputsJson = `,"outputs":[${outputs.join(',')}]`;
    } else if (all) {
      requestParams.binary_data_output = true;
    }
    const id = options.requestId ? `"id":${JSON.stringify(options.requestId)},` : '';
    const params = Object.keys(requestParams).length ? `,"parameters":${parametersJson(requestParams)}` : '';
    const header = Buffer.from(`{${id}"inputs":[${inputJson.join(',')}]${outputsJson}${params}}`);
    const headers: Record<string, string | number> = {
      'Content-Type': parts.length > 0 ? 'application/octet-stream' : 'application/json',
    };
    if (parts.length > 0) headers[HEADER_LENGTH_HEADER] = header.byteLength;
    const reply = this.check(
      await this.request(
        'POST',
        `${HttpTransport.modelPath(model, options.modelVersion)}/infer`,
        [header, ...parts],
        headers,
        options,
      ),
    );
    return HttpTransport.parseResult(reply);
  }

  /** A JSON output's `data` → tensor bytes. @throws InferenceServerError INTERNAL when it does not fit. */
  private static jsonOutput(name: string, datatype: Datatype, shape: number[], data: unknown): Uint8Array {
    try {
      return jsonDataToBytes(datatype, shape, data ?? [], `output '${name}'`, name, { fromServer: true });
    } catch (e) {
      throw new InferenceServerError(`failed to parse the response: ${(e as Error).message}`, {
        code: 'INTERNAL',
      });
    }
  }

  private static parseResult(reply: Reply): InferResult {
    const hl = reply.headers[HEADER_LENGTH_KEY];
    const headerLength = hl === undefined ? reply.body.length : Number(hl);
    let json: {
      id?: string;
      model_name: string;
      model_version: string;
      parameters?: Record<string, ParameterValue>;
      outputs?: Array<{
        name: string;
        datatype: Datatype;
        shape: number[];
        parameters?: Record<string, ParameterValue>;
        data?: unknown;
      }>;
    };
    try {
      json = parseJsonExact(reply.body.toString('utf8', 0, headerLength)) as typeof json;
    } catch (e) {
      throw new InferenceServerError(`failed to parse the response: ${(e as Error).message}`, {
        code: 'INTERNAL',
      });
    }
    let offset = headerLength;
    const tensors: ResultTensor[] = (json.outputs ?? []).map((o) => {
      const { [BINARY_DATA_SIZE]: size, ...rest } = o.parameters ?? {};
      let data: Uint8Array;
      if (size !== undefined) {
        data = reply.body.subarray(offset, offset + Number(size));
        offset += Number(size);
      } else {
        data = HttpTransport.jsonOutput(o.name, o.datatype, o.shape, o.data);
      }
      const t: ResultTensor = { name: o.name, datatype: o.datatype, shape: o.shape, data };
      if (Object.keys(rest).length > 0) t.parameters = rest;
      return t;
    });
    const info: {
      model_name: string;
      model_version: string;
      id?: string;
      parameters?: Record<string, ParameterValue>;
    } = { model_name: json.model_name, model_version: json.model_version };
    if (json.id) info.id = json.id;
    if (json.parameters && Object.keys(json.parameters).length > 0) info.parameters = json.parameters;
    return new InferResult(info, tensors);
  }
}
