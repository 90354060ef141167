/**
 * Test helpers: real Nereid servers on real ports over real model repositories, and an HTTP client
 * for the KServe v2 JSON and binary forms.
 */
import {
  defaultServeSettings,
  startServer,
  type RunningServer,
  type ServeSettings,
} from '../../src/serve.js';
import { createLogger, defaultLogSettings, silentLogger } from '../../src/core/logger.js';

/** A started in-process server plus its base URLs. */
export interface TestServer extends RunningServer {
  url: string;
  /** `grpc://127.0.0.1:<port>` of the gRPC frontend (on a free port unless overridden). */
  grpcUrl: string;
  /** `http://127.0.0.1:<port>` of the metrics frontend (on a free port unless overridden). */
  metricsUrl: string;
}

/**
 * Starts a server on a free port over `repositories`, with silent logs unless NEREID_TEST_LOG is
 * set, or with its log lines (info, warnings, errors) collected into `capture.logLines`.
 */
export async function serve(
  repositories: string[],
  overrides: Partial<ServeSettings> = {},
  capture: { logLines?: string[] } = {},
): Promise<TestServer> {
  const settings: ServeSettings = {
    ...defaultServeSettings(),
    repositories,
    httpPort: 0,
    httpAddress: '127.0.0.1',
    grpcPort: 0,
    grpcAddress: '127.0.0.1',
    metricsPort: 0,
    metricsAddress: '127.0.0.1',
    exitOnError: false,
    exitTimeoutSecs: 5,
    ...overrides,
  };
  const lines = capture.logLines;
  const logger = lines
    ? createLogger(defaultLogSettings(), {
        write: (chunk: string | Uint8Array) => {
          lines.push(
            ...chunk
              .toString()
              .split('\n')
              .filter((l) => l !== ''),
          );
          return true;
        },
      } as unknown as NodeJS.WritableStream)
    : process.env.NEREID_TEST_LOG
      ? undefined
      : silentLogger();
  const server = await startServer(settings, logger);
  return {
    ...server,
    url: `http://127.0.0.1:${server.httpPort}`,
    grpcUrl: `grpc://127.0.0.1:${server.grpcPort}`,
    metricsUrl: `http://127.0.0.1:${server.metricsPort}`,
  };
}

/** A JSON response: status, parsed body (or undefined when empty) and headers. */
export interface JsonReply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

/** GET or POST `path` and parse the JSON reply. */
export async function http(base: string, method: string, path: string, body?: unknown): Promise<JsonReply> {
  const res = await fetch(base + path, {
    method,
    body: (body === undefined
      ? undefined
      : typeof body === 'string' || body instanceof Uint8Array
        ? body
        : JSON.stringify(body)) as unknown as BodyInit,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** A binary input: JSON header entry plus its raw bytes. */
export interface BinaryInput {
  name: string;
  datatype: string;
  shape: number[];
  data: Uint8Array;
}

/**
 * Builds a binary-extension infer body: the JSON header (with `binary_data_size` on each input)
 * followed by the inputs' bytes; returns the body and the header length.
 */
export function binaryBody(
  inputs: BinaryInput[],
  extra: Record<string, unknown> = {},
): { body: Buffer; headerLength: number } {
  const header = Buffer.from(
    JSON.stringify({
      ...extra,
      inputs: inputs.map((i) => ({
        name: i.name,
        datatype: i.datatype,
        shape: i.shape,
        parameters: { binary_data_size: i.data.byteLength },
      })),
    }),
  );
  return {
    body: Buffer.concat([
      header,
      ...inputs.map((i) => Buffer.from(i.data.buffer, i.data.byteOffset, i.data.byteLength)),
    ]),
    headerLength: header.length,
  };
}

/** A decoded binary infer response: JSON header and each output's bytes by name. */
export interface BinaryReply {
  status: number;
  header: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  outputs: Map<string, Buffer>;
  headers: Headers;
}

/**
 * POSTs a body to `/v2/models/{model}/infer` with `Inference-Header-Content-Length` and splits the
 * binary response into its outputs; `signal` may abort the request (e.g. `AbortSignal.timeout`).
 */
export async function inferBinary(
  base: string,
  model: string,
  body: Buffer,
  headerLength: number,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<BinaryReply> {
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: 'POST',
    signal,
    body: body as unknown as BodyInit,
    headers: { 'Inference-Header-Content-Length': String(headerLength), ...headers },
  });
  const buf = Buffer.from(await res.arrayBuffer());
  const hl = res.headers.get('inference-header-content-length');
  const jsonLength = hl === null ? buf.length : Number(hl);
  const header = JSON.parse(buf.subarray(0, jsonLength).toString('utf8'));
  const outputs = new Map<string, Buffer>();
  let off = jsonLength;
  for (const o of header.outputs ?? []) {
    const size = o.parameters?.binary_data_size;
    if (size !== undefined) {
      outputs.set(o.name, buf.subarray(off, off + size));
      off += size;
    }
  }
  return { status: res.status, header, outputs, headers: res.headers };
}
