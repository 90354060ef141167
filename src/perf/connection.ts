/**
 * What `nereid perf` needs from a server, whatever the protocol: server extensions, model metadata
 * and configuration, the model's statistics, and a transport for the load. The HTTP implementation
 * is here; gRPC's (over the client library in `src/client/`) is in `./grpc.ts`.
 */
import type { PreparedRequest } from './input-data.js';
import { PerfError } from './options.js';
import { ControlClient, HttpTransport, httpBaseUrl, modelPath, type InferTransport } from './transport.js';

/** A connection to the server under test. */
export interface PerfConnection {
  /** What `-u` resolved to, for messages (e.g. `http://localhost:8000`). */
  readonly description: string;
  /** The server's protocol extensions, or undefined when it does not say. */
  serverExtensions(): Promise<string[] | undefined>;
  /**
   * The model metadata JSON (`GET /v2/models/<m>[/versions/<v>]` form).
   * @throws PerfError with the server's message when the model is unknown or unreachable.
   */
  modelMetadata(model: string, version?: string): Promise<unknown>;
  /** The model configuration JSON, or undefined when the server does not provide it. */
  modelConfig(model: string, version?: string): Promise<unknown | undefined>;
  /**
   * `{ model_stats: [...] }` for the model (one version when given).
   * @throws Error when the statistics cannot be read.
   */
  statistics(model: string, version?: string): Promise<unknown>;
  /** A transport sending the prepared requests. */
  transport(model: string, version: string | undefined, requests: PreparedRequest[]): InferTransport;
  /** Closes every connection. */
  close(): void;
}

/** Reads `{ model_stats }` from the HTTP statistics endpoint. */
export async function httpStatistics(
  control: ControlClient,
  model: string,
  version?: string,
): Promise<unknown> {
  const r = await control.get(`${modelPath(model, version)}/stats`);
  if (r.status !== 200) {
    const msg = (r.body as { error?: string } | undefined)?.error ?? `HTTP ${r.status}`;
    throw new Error(`statistics of model '${model}' from ${control.base.host}: ${msg}`);
  }
  return r.body;
}

/** The HTTP/REST connection: control requests on one agent, the load on another. */
export class HttpConnection implements PerfConnection {
  readonly description: string;
  private readonly base: URL;
  private readonly control: ControlClient;
  private readonly statsControl: ControlClient;
  private transports: InferTransport[] = [];

  /**
   * @param url `-u` (`host:port` or `http://host:port`).
   * @param headers `-H` headers for the infer requests.
   * @param statsUrl `--stats-url`: read statistics there instead.
   * @throws PerfError for a URL that is not http.
   */
  constructor(
    url: string,
    private readonly headers: Record<string, string>,
    statsUrl?: string,
  ) {
    try {
      this.base = httpBaseUrl(url);
    } catch (e) {
      throw new PerfError((e as Error).message);
    }
    this.description = this.base.origin;
    this.control = new ControlClient(this.base);
    this.statsControl = statsUrl ? new ControlClient(httpBaseUrl(statsUrl)) : this.control;
  }

  async serverExtensions(): Promise<string[] | undefined> {
    const r = await this.control.get('/v2');
    const ext = (r.body as { extensions?: unknown } | undefined)?.extensions;
    return r.status === 200 && Array.isArray(ext) ? ext.map(String) : undefined;
  }

  async modelMetadata(model: string, version?: string): Promise<unknown> {
    let r;
    try {
      r = await this.control.get(modelPath(model, version));
    } catch (e) {
      throw new PerfError((e as Error).message);
    }
    if (r.status !== 200) {
      const msg = (r.body as { error?: string } | undefined)?.error ?? `HTTP ${r.status}`;
      throw new PerfError(`failed to get the metadata of model '${model}' from ${this.description}: ${msg}`);
    }
    return r.body;
  }

  async modelConfig(model: string, version?: string): Promise<unknown | undefined> {
    const r = await this.control.get(`${modelPath(model, version)}/config`);
    return r.status === 200 ? r.body : undefined;
  }

  statistics(model: string, version?: string): Promise<unknown> {
    return httpStatistics(this.statsControl, model, version);
  }

  transport(model: string, version: string | undefined, requests: PreparedRequest[]): InferTransport {
    const t = new HttpTransport(this.base, model, version, requests, this.headers);
    this.transports.push(t);
    return t;
  }

  close(): void {
    for (const t of this.transports) t.close();
    this.control.close();
    this.statsControl.close();
  }
}
