/**
 * The HTTP/REST frontend: KServe v2 / Open Inference Protocol routes with Triton's extensions, on
 * `node:http` (server docs/protocol/*.md; route shapes as Triton's `src/http_server.cc`).
 *
 *   GET  /v2                                         server metadata
 *   GET  /v2/health/live | /v2/health/ready          200 / 400, empty body
 *   GET  /v2/models/{m}[/versions/{v}]               model metadata
 *   GET  /v2/models/{m}[/versions/{v}]/ready         200 / 400
 *   GET  /v2/models/{m}[/versions/{v}]/config        model configuration (JSON)
 *   POST /v2/models/{m}[/versions/{v}]/infer         inference (JSON, binary tensor data)
 *   GET  /v2/models/stats, /v2/models/{m}[/versions/{v}]/stats   statistics
 *   POST /v2/repository[/{r}]/index                  repository index (extension_model_repository.md)
 *   POST /v2/repository[/{r}]/models/{m}/load        load or reload a model (explicit mode)
 *   POST /v2/repository[/{r}]/models/{m}/unload      unload a model (explicit mode)
 *   GET|POST /v2/logging                             log settings (extension_logging.md)
 *   GET|POST /v2[/models/{m}]/trace/setting          trace settings (extension_trace.md)
 *
 * Errors: `{"error": "<message>"}` with Triton's status mapping (INVALID_ARG and friends → 400,
 * NOT_FOUND → 404, UNAVAILABLE → 503, UNSUPPORTED → 501, INTERNAL → 500); wrong verb → 405.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { modelConfigToJson } from '../../protocol/model-config/index.js';
import { asTritonError, httpStatusOf, invalidArg, TritonError } from '../../protocol/errors.js';
import { logSettingsJson, updateLogSettings } from '../../core/logger.js';
import { withForwardedHeaders } from '../../core/forwarded-headers.js';
import { Cancellation } from '../../core/request.js';
import {
  allowed,
  requiredHeader,
  type RestrictedCategory,
  type Restrictions,
} from '../../core/restricted.js';
import type { InferenceServer, ModelLoadParameters } from '../../core/server.js';
import { HEADER_LENGTH_HEADER, HEADER_LENGTH_KEY } from '../../protocol/binary-data.js';
import { BodyTooLarge, readBody } from './body.js';
import { encodeInferResponse, parseInferRequest } from './infer.js';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);

/** HTTP frontend settings (the CLI's `--http-*` flags). */
export interface HttpOptions {
  /** `--http-port` (8000); 0 picks a free port. */
  port: number;
  /** `--http-address` (0.0.0.0). */
  address?: string;
  /** `--http-max-input-size` in bytes (64 MiB). */
  maxInputSize?: number;
  /** `--http-restricted-api`: endpoint groups that need a header (none by default). */
  restrictedApis?: Restrictions;
  /** `--http-header-forward-pattern`: headers forwarded to models as request parameters. */
  headerForwardPattern?: RegExp;
}

const MODEL_ROUTE =
  /^\/v2\/models\/([^/]+)(?:\/versions\/([0-9]+))?(?:\/(infer|ready|config|stats|trace\/setting))?$/;

/** The restricted-API category of each model route action ('' = model metadata). */
const MODEL_ACTION_CATEGORY: Record<string, RestrictedCategory> = {
  '': 'metadata',
  infer: 'inference',
  ready: 'health',
  config: 'model-config',
  stats: 'statistics',
  'trace/setting': 'trace',
};

/** The restricted-API category of the fixed routes (Triton's handlers' categories). */
const PATH_CATEGORY: Record<string, RestrictedCategory> = {
  '/v2': 'metadata',
  '/v2/health/live': 'health',
  '/v2/health/ready': 'health',
  '/v2/logging': 'logging',
  '/v2/trace/setting': 'trace',
};

/** A request header's value by lowercase name (the first one when repeated). */
function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Triton's repository routes (`src/http_server.cc` repo regex); the repository name is ignored. */
const REPOSITORY_ROUTE = /^\/v2\/repository(?:\/([^/]+))?\/(index|models\/([^/]+)\/(load|unload))$/;

/**
 * The load API's `parameters` object → core load parameters: `config` (a string holding the JSON
 * model configuration) and `file:<path>` (base64 file contents); other keys are ignored, as Triton.
 * @throws TritonError INVALID_ARG naming the parameter and the type it needs.
 */
function parseLoadParameters(parameters: unknown): ModelLoadParameters {
  if (parameters === undefined || parameters === null) return {};
  if (typeof parameters !== 'object' || Array.isArray(parameters))
    throw new TritonError('INVALID_ARG', "'parameters' must be a JSON object");
  const out: ModelLoadParameters = {};
  for (const [key, value] of Object.entries(parameters as Record<string, unknown>)) {
    if (key === 'config') {
      if (typeof value !== 'string') {
        throw new TritonError('INVALID_ARG', "Config parameter 'config' must have string type for its value");
      }
      out.config = value;
    } else if (key.startsWith('file:')) {
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(value)) {
        throw new TritonError(
          'INVALID_ARG',
          `File parameter '${key}' must be a base64-encoded string of the file's contents`,
        );
      }
      (out.files ??= new Map()).set(key.slice('file:'.length), Buffer.from(value, 'base64'));
    }
  }
  return out;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, e: unknown): void {
  const err = asTritonError(e);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const extra = err.code === 'UNSUPPORTED' ? { 'Accept-Encoding': 'gzip, deflate' } : {};
  const text = JSON.stringify({ error: err.message });
  res.writeHead(httpStatusOf(err.code), {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...extra,
  });
  res.end(text);
}

function sendStatus(res: http.ServerResponse, ok: boolean): void {
  res.writeHead(ok ? 200 : 400, { 'Content-Length': 0 });
  res.end();
}

/** The response encoding the client accepts best: gzip, deflate or identity (q-values honoured). */
function pickEncoding(accept: string | undefined): 'gzip' | 'deflate' | 'identity' {
  if (!accept) return 'identity';
  let best: 'gzip' | 'deflate' | 'identity' = 'identity';
  let bestQ = 0;
  for (const part of accept.split(',')) {
    const [token, ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if ((token === 'gzip' || token === 'deflate') && q > bestQ) {
      best = token;
      bestQ = q;
    }
  }
  return best;
}

/** Binary outputs up to this many bytes are copied behind the JSON header into one write. */
const SMALL_RESPONSE = 16 * 1024;

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The HTTP frontend over one InferenceServer. */
export class HttpFrontend {
  private readonly server: http.Server;
  private readonly maxInputSize: number;
  private closing = false;

  constructor(
    private readonly core: InferenceServer,
    private readonly options: HttpOptions,
  ) {
    this.maxInputSize = options.maxInputSize ?? 64 * 1024 * 1024;
    this.server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      if (this.closing) res.setHeader('Connection', 'close');
      this.handle(req, res).catch((e) => sendError(res, e));
    });
  }

  /** Starts listening; resolves with the bound port. @throws Error when the port is taken. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.address ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /**
   * Stops accepting connections; in-flight requests finish, and every keep-alive connection is
   * closed as soon as it goes idle (responses sent meanwhile say `Connection: close`).
   */
  close(): Promise<void> {
    this.closing = true;
    return new Promise((resolve) => {
      const timer = setInterval(() => this.server.closeIdleConnections(), 20);
      this.server.close(() => {
        clearInterval(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const method = req.method ?? 'GET';
    const log = this.core.logger;
    if (log.settings.logVerbose >= 1) log.verbose(1, `HTTP request: ${method} ${path}`);
    const only = (...verbs: string[]) => {
      if (verbs.includes(method)) return true;
      req.resume();
      sendJson(res, 405, { error: 'Method Not Allowed' });
      return false;
    };
    // Triton's RespondIfRestricted: 403 unless the request carries the category's header.
    const restrictions = this.options.restrictedApis;
    const refused = (category: RestrictedCategory) => {
      if (allowed(restrictions, category, (h) => headerValue(req, h))) return false;
      req.resume();
      sendJson(res, 403, {
        error: `This API is restricted, expecting header '${requiredHeader(restrictions, category)}'`,
      });
      return true;
    };

    const m = MODEL_ROUTE.exec(path);
    if (m) {
      const name = decodeName(m[1]);
      const version = m[2];
      const action = m[3];
      if (name === 'stats' && !version && !action) {
        if (!refused('statistics') && only('GET'))
          sendJson(res, 200, { model_stats: this.core.statistics() });
        return;
      }
      if (refused(MODEL_ACTION_CATEGORY[action ?? ''] ?? 'metadata')) return;
      switch (action) {
        case 'infer':
          if (only('POST')) await this.infer(req, res, name, version);
          return;
        case 'ready':
          if (only('GET')) {
            if (this.core.isModelReady(name, version)) sendStatus(res, true);
            else sendJson(res, 400, { error: 'Model version not ready' });
          }
          return;
        case 'config':
          if (only('GET')) sendJson(res, 200, modelConfigToJson(this.core.modelConfig(name, version)));
          return;
        case 'stats':
          if (only('GET')) sendJson(res, 200, { model_stats: this.core.statistics(name, version) });
          return;
        case 'trace/setting':
          if (only('GET', 'POST')) await this.traceSetting(req, res, method, name);
          return;
        default:
          if (only('GET')) sendJson(res, 200, this.core.modelMetadata(name, version));
          return;
      }
    }
    const repo = REPOSITORY_ROUTE.exec(path);
    if (repo) {
      if (!refused('model-repository') && only('POST'))
        await this.repository(req, res, repo[2] === 'index' ? 'index' : repo[4], repo[3]);
      return;
    }
    const category = PATH_CATEGORY[path];
    if (category && refused(category)) return;
    switch (path) {
      case '/v2':
        if (only('GET')) sendJson(res, 200, this.core.metadata());
        return;
      case '/v2/health/live':
        if (only('GET')) sendStatus(res, this.core.isLive());
        return;
      case '/v2/health/ready':
        if (only('GET')) sendStatus(res, this.core.isReady());
        return;
      case '/v2/logging':
        if (!only('GET', 'POST')) return;
        if (method === 'GET') {
          sendJson(res, 200, logSettingsJson(this.core.logger.settings));
          return;
        }
        try {
          sendJson(res, 200, updateLogSettings(this.core.logger.settings, await this.jsonObject(req)));
        } catch (e) {
          throw e instanceof TritonError ? e : new TritonError('INVALID_ARG', (e as Error).message);
        }
        return;
      case '/v2/trace/setting':
        if (only('GET', 'POST')) await this.traceSetting(req, res, method, undefined);
        return;
    }
    req.resume();
    sendJson(res, 404, { error: 'Not Found' });
  }

  /** The model repository extension: index, load, unload. */
  private async repository(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    action: string,
    rawName: string | undefined,
  ): Promise<void> {
    const body = await this.jsonObject(req);
    if (action === 'index') {
      if (body.ready !== undefined && typeof body.ready !== 'boolean') {
        throw new TritonError('INVALID_ARG', "Invalid value for 'ready': expected a boolean");
      }
      sendJson(res, 200, await this.core.repositoryIndex(body.ready === true));
      return;
    }
    const name = decodeName(rawName ?? '');
    if (action === 'load') {
      await this.core.loadModel(name, parseLoadParameters(body.parameters));
    } else {
      const p = body.parameters as Record<string, unknown> | undefined;
      const dependents = p && typeof p === 'object' ? p.unload_dependents : undefined;
      if (dependents !== undefined && typeof dependents !== 'boolean') {
        throw new TritonError('INVALID_ARG', "Unload parameter 'unload_dependents' must be a boolean");
      }
      await this.core.unloadModel(name, dependents === true);
    }
    res.writeHead(200, { 'Content-Length': 0 });
    res.end();
  }

  /** Reads a JSON object body ({} when empty). @throws TritonError INVALID_ARG when it is not one. */
  private async jsonObject(req: http.IncomingMessage): Promise<Record<string, unknown>> {
    const max = this.maxInputSize;
    let body;
    try {
      body = await readBody(req, max, max);
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      throw invalidArg(
        `request JSON size of ${e.size} bytes exceeds the maximum allowed input size of ${max} bytes. ` +
          'Use --http-max-input-size to increase the limit.',
      );
    }
    if (body.data.length === 0) return {};
    let json: unknown;
    try {
      json = JSON.parse(body.data.toString('utf8'));
    } catch (e) {
      throw new TritonError(
        'INVALID_ARG',
        `failed to parse the request JSON buffer: ${(e as Error).message}`,
      );
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      throw new TritonError('INVALID_ARG', 'the request JSON must be an object');
    }
    return json as Record<string, unknown>;
  }

  /** GET/POST `/v2[/models/{m}]/trace/setting` (trace extension). */
  private async traceSetting(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    model: string | undefined,
  ): Promise<void> {
    if (model !== undefined) this.core.modelConfig(model); // unknown models are an error
    if (method === 'GET') {
      req.resume();
      sendJson(res, 200, this.core.tracer.settings(model));
      return;
    }
    sendJson(res, 200, this.core.tracer.update(model, await this.jsonObject(req)));
  }

  private async infer(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    model: string,
    version: string | undefined,
  ): Promise<void> {
    // Unknown models are reported before anything about the body (as Triton does).
    const config = this.core.modelConfig(model, version);
    if (config.model_transaction_policy?.decoupled) {
      throw new TritonError(
        'UNSUPPORTED',
        "HTTP end point doesn't support models with decoupled transaction policy",
      );
    }
    const trace = this.core.tracer.enabled ? this.startTrace(req, res, model) : undefined;
    const rawLength = req.headers[HEADER_LENGTH_KEY];
    let headerLength: number | undefined;
    if (rawLength !== undefined) {
      headerLength = Number(rawLength);
      if (!Number.isInteger(headerLength)) {
        req.resume();
        throw new TritonError(
          'INVALID_ARG',
          `Unable to parse Inference-Header-Content-Length, got: ${rawLength}`,
        );
      }
    }
    // Triton bounds the JSON header and a raw body by --http-max-input-size, not binary tensor data.
    const max = this.maxInputSize;
    const jsonLimit = (size: number) =>
      invalidArg(
        `request JSON size of ${size} bytes exceeds the maximum allowed input size of ${max} bytes. ` +
          'Use --http-max-input-size to increase the limit.',
      );
    let body;
    try {
      // A JSON header over the limit: the body is read to its end and dropped.
      const limit =
        headerLength === undefined || headerLength === 0 ? max : headerLength > max ? 0 : Infinity;
      body = await readBody(req, limit, max);
      trace?.record('HTTP_RECV_END');
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      throw headerLength === 0
        ? invalidArg(
            `Raw input has a byte_size (${e.size} bytes) that exceeds the maximum allowed value of ${max} bytes. ` +
              'Use --http-max-input-size to increase the limit.',
          )
        : jsonLimit(headerLength ?? e.size);
    }
    if ((headerLength ?? body.data.length) > max) throw jsonLimit(headerLength ?? body.data.length);
    const parsed = parseInferRequest(body, headerLength, model, version, () => config, max);
    const cancellation = new Cancellation();
    const onClose = () => {
      if (!res.writableEnded) cancellation.cancel();
    };
    res.once('close', onClose);
    parsed.request.signal = cancellation;
    parsed.request.trace = trace;
    const forward = this.options.headerForwardPattern;
    if (forward) {
      parsed.request.parameters = withForwardedHeaders(
        forward,
        Object.entries(req.headers).map(([k, v]): [string, string] => [
          k,
          Array.isArray(v) ? v.join(',') : (v ?? ''),
        ]),
        parsed.request.parameters,
      );
    }
    const response = await this.core.infer(parsed.request);
    res.off('close', onClose);
    if (res.destroyed) return;
    trace?.record('HTTP_SEND_START');
    const { header, parts } = encodeInferResponse(response, parsed);
    const encoding = pickEncoding(req.headers['accept-encoding'] as string | undefined);
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': parts.length > 0 ? 'application/octet-stream' : 'application/json',
    };
    const headerBytes = Buffer.byteLength(header);
    if (parts.length > 0) headers[HEADER_LENGTH_HEADER] = headerBytes;
    if (encoding !== 'identity') {
      const whole = Buffer.concat([Buffer.from(header), ...parts]);
      const compressed = await (encoding === 'gzip' ? gzip(whole) : deflate(whole));
      headers['Content-Encoding'] = encoding;
      headers['Content-Length'] = compressed.length;
      res.writeHead(200, headers);
      res.end(compressed);
      return;
    }
    const partBytes = parts.reduce((n, p) => n + p.byteLength, 0);
    headers['Content-Length'] = headerBytes + partBytes;
    res.writeHead(200, headers);
    if (parts.length === 0) {
      res.end(header);
      return;
    }
    if (partBytes <= SMALL_RESPONSE) {
      // Small outputs: one buffer, one write (a corked series of writes costs more than the copy).
      const whole = Buffer.allocUnsafe(headerBytes + partBytes);
      let at = typeof header === 'string' ? whole.write(header, 0, 'utf8') : header.copy(whole, 0);
      for (const p of parts) {
        whole.set(p, at);
        at += p.byteLength;
      }
      res.end(whole);
      return;
    }
    res.cork();
    res.write(header);
    for (const p of parts) res.write(p);
    res.end();
  }

  /**
   * Samples a request for tracing: HTTP_RECV_START now, HTTP_SEND_END when the response is written,
   * and the trace ends when the exchange closes (also on errors). The W3C `traceparent` header is the
   * OpenTelemetry parent.
   */
  private startTrace(req: http.IncomingMessage, res: http.ServerResponse, model: string) {
    const headers = req.headers;
    const trace = this.core.tracer.start(model, (key) => {
      const v = headers[key];
      return Array.isArray(v) ? v[0] : v;
    });
    if (!trace) return undefined;
    trace.record('HTTP_RECV_START');
    res.once('finish', () => trace.record('HTTP_SEND_END'));
    res.once('close', () => trace.end());
    return trace;
  }
}
