/**
 * `-i grpc`: the load over gRPC with the client library in `src/client/` (one HTTP/2 channel,
 * requests multiplexed on it). Inputs are InferInputs built once per prepared request over its raw
 * bytes (sent as `raw_input_contents`). Statistics come from the client's statistics call, or from
 * the HTTP endpoint given with `--stats-url` (and, when the gRPC call fails, from HTTP on port 8000 of
 * the same host). Loaded only for `-i grpc`, so HTTP runs never load @grpc/grpc-js.
 */
import { performance } from 'node:perf_hooks';
import { InferenceServerClient, InferInput } from '../client/index.js';
import { httpStatistics, type PerfConnection } from './connection.js';
import type { PreparedRequest } from './input-data.js';
import { PerfError } from './options.js';
import type { SequenceFlags } from './sequences.js';
import { ControlClient, httpBaseUrl, type InferTransport, type Recorder } from './transport.js';

/** `host:port` of a `-u` value for gRPC (`host:port` or `grpc://host:port`). */
function grpcHostPort(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url);
  if (m && m[1].toLowerCase() !== 'grpc') {
    throw new PerfError(`-u ${url}: with -i grpc give host:port or grpc://host:port`);
  }
  return (m ? m[2] : url).replace(/\/$/, '');
}

/** Sends prepared requests with `InferenceServerClient.infer`. */
class GrpcInferTransport implements InferTransport {
  private readonly inputs: InferInput[][];

  constructor(
    private readonly client: InferenceServerClient,
    private readonly model: string,
    private readonly version: string | undefined,
    requests: PreparedRequest[],
  ) {
    this.inputs = requests.map((r) =>
      r.inputs.map((i) => new InferInput(i.name, i.shape, i.datatype).setData(i.data)),
    );
  }

  setMaxInFlight(): void {
    // One HTTP/2 channel carries every request; the load generator bounds what is in flight.
  }

  send(index: number, rec: Recorder, delayed: boolean, sequence?: SequenceFlags): Promise<void> {
    rec.sent();
    const start = performance.now();
    let call: Promise<unknown>;
    try {
      call = this.client.infer(this.model, this.inputs[index], {
        modelVersion: this.version,
        parameters: sequence
          ? { sequence_id: sequence.id, sequence_start: sequence.start, sequence_end: sequence.end }
          : undefined,
      });
    } catch (e) {
      rec.failure(performance.now(), (e as Error).message);
      return Promise.resolve();
    }
    const marshalled = performance.now();
    return call.then(
      () => {
        const end = performance.now();
        rec.success(start, marshalled, end, end, delayed);
      },
      (e: Error) => rec.failure(performance.now(), e.message),
    );
  }

  close(): void {}
}

/** The gRPC connection. */
export class GrpcConnection implements PerfConnection {
  readonly description: string;
  private readonly client: InferenceServerClient;
  private statsControl: ControlClient | undefined;
  private readonly hostPort: string;

  /**
   * @param url `-u` (`host:port` or `grpc://host:port`).
   * @param statsUrl `--stats-url`: read statistics over HTTP there.
   * @throws PerfError for a URL with another scheme.
   */
  constructor(url: string, statsUrl?: string) {
    this.hostPort = grpcHostPort(url);
    this.description = `grpc://${this.hostPort}`;
    this.client = new InferenceServerClient(this.description);
    if (statsUrl) this.statsControl = new ControlClient(httpBaseUrl(statsUrl));
  }

  async serverExtensions(): Promise<string[] | undefined> {
    try {
      return (await this.client.getServerMetadata({ timeout: 10_000 })).extensions;
    } catch {
      return undefined;
    }
  }

  async modelMetadata(model: string, version?: string): Promise<unknown> {
    try {
      return await this.client.getModelMetadata(model, version, { timeout: 10_000 });
    } catch (e) {
      throw new PerfError(
        `failed to get the metadata of model '${model}' from ${this.description}: ${(e as Error).message}`,
      );
    }
  }

  async modelConfig(model: string, version?: string): Promise<unknown | undefined> {
    try {
      return await this.client.getModelConfig(model, version, { timeout: 10_000 });
    } catch {
      return undefined;
    }
  }

  async statistics(model: string, version?: string): Promise<unknown> {
    if (this.statsControl) return httpStatistics(this.statsControl, model, version);
    try {
      return await this.client.getInferenceStatistics(model, version, { timeout: 10_000 });
    } catch (e) {
      // No gRPC statistics: try the HTTP endpoint of the same host on Triton's HTTP port.
      const host = this.hostPort.replace(/:\d+$/, '');
      const control = new ControlClient(httpBaseUrl(`${host}:8000`));
      try {
        const stats = await httpStatistics(control, model, version);
        this.statsControl = control;
        return stats;
      } catch {
        control.close();
        throw e;
      }
    }
  }

  transport(model: string, version: string | undefined, requests: PreparedRequest[]): InferTransport {
    return new GrpcInferTransport(this.client, model, version, requests);
  }

  close(): void {
    this.client.close();
    this.statsControl?.close();
  }
}
