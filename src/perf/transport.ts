/**
 * Sending infer requests for `nereid perf` and recording what happened to each.
 *
 * HTTP goes over `node:http` with a keep-alive agent: every request body was built once, before the
 * load starts (`PreparedRequest.httpBody`, binary tensor data asking for binary outputs), and replies
 * are drained without parsing (only error replies are read, for their message). Times are
 * `performance.now()` milliseconds.
 */
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { PreparedRequest } from './input-data.js';
import type { SequenceFlags } from './sequences.js';

/**
 * Completed requests in completion order (so `ends` never decreases), as parallel arrays of
 * `performance.now()` milliseconds, plus failures and their messages.
 */
export class Recorder {
  /** Start (request issued) of each successful request. */
  starts: number[] = [];
  /** When the request body was handed to the OS. */
  sendEnds: number[] = [];
  /** When the response headers arrived. */
  recvStarts: number[] = [];
  /** When the last response byte arrived. */
  ends: number[] = [];
  /** Whether a request-rate request went out later than scheduled. */
  delayed: boolean[] = [];
  /** End time of each failed request. */
  failEnds: number[] = [];
  /** Failure messages and how often each happened, over the whole run. */
  readonly errors = new Map<string, number>();
  /** Requests sent, succeeded and failed over the whole run. */
  totalSent = 0;
  totalOk = 0;
  totalFailed = 0;
  /** Requests sent since the last `takeSent()`. */
  private sentSinceTake = 0;

  /** Notes a request going out. */
  sent(): void {
    this.totalSent++;
    this.sentSinceTake++;
  }

  /** Records a successful request. */
  success(start: number, sendEnd: number, recvStart: number, end: number, delayed: boolean): void {
    this.starts.push(start);
    this.sendEnds.push(sendEnd);
    this.recvStarts.push(recvStart);
    this.ends.push(end);
    this.delayed.push(delayed);
    this.totalOk++;
  }

  /** Records a failed request and its message. */
  failure(end: number, message: string): void {
    this.failEnds.push(end);
    this.errors.set(message, (this.errors.get(message) ?? 0) + 1);
    this.totalFailed++;
  }

  /** Requests sent since the previous call. */
  takeSent(): number {
    const n = this.sentSinceTake;
    this.sentSinceTake = 0;
    return n;
  }

  /**
   * Removes the records that ended at or before `windowEnd` and returns those that ended at or after
   * `windowStart` (earlier ones — warm-up, ramp-up before the first window — are dropped).
   */
  take(windowStart: number, windowEnd: number): WindowRecords {
    const k = upperBound(this.ends, windowEnd);
    const first = lowerBound(this.ends, windowStart, k);
    const out: WindowRecords = {
      starts: this.starts.slice(first, k),
      sendEnds: this.sendEnds.slice(first, k),
      recvStarts: this.recvStarts.slice(first, k),
      ends: this.ends.slice(first, k),
      delayed: this.delayed.slice(first, k),
      failed: 0,
    };
    this.starts.splice(0, k);
    this.sendEnds.splice(0, k);
    this.recvStarts.splice(0, k);
    this.ends.splice(0, k);
    this.delayed.splice(0, k);
    const fk = upperBound(this.failEnds, windowEnd);
    out.failed = fk - lowerBound(this.failEnds, windowStart, fk);
    this.failEnds.splice(0, fk);
    return out;
  }

  /** The most frequent failure message, if any. */
  topError(): string | undefined {
    let best: string | undefined;
    let n = 0;
    for (const [m, c] of this.errors) if (c > n) [best, n] = [m, c];
    return best;
  }
}

/** The successful requests of one window, and how many failed in it. */
export interface WindowRecords {
  starts: number[];
  sendEnds: number[];
  recvStarts: number[];
  ends: number[];
  delayed: boolean[];
  failed: number;
}

/** First index in sorted `a` with a value > x. */
function upperBound(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index below `hi` in sorted `a` with a value ≥ x. */
function lowerBound(a: number[], x: number, hi: number): number {
  let lo = 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Something that sends request `i` of the prepared ones and records the outcome. */
export interface InferTransport {
  /**
   * Sends prepared request `index` (with the sequence parameters `sequence_id`, `sequence_start`,
   * `sequence_end` of `sequence` when given); resolves (never rejects) once it is recorded in `rec`.
   */
  send(index: number, rec: Recorder, delayed: boolean, sequence?: SequenceFlags): Promise<void>;
  /** Most requests in flight at once (HTTP: the agent's sockets). */
  setMaxInFlight(n: number): void;
  /** Closes connections. */
  close(): void;
}

/** `http://host:port` for a perf `-u` value (`host:port`, `http://host:port[/]`). */
export function httpBaseUrl(url: string): URL {
  const u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`);
  if (u.protocol !== 'http:') {
    throw new Error(`-u ${url}: only http:// URLs can be used with -i http (https is not supported)`);
  }
  return u;
}

/** The `/v2/models/<m>[/versions/<v>]` path prefix. */
export function modelPath(model: string, version?: string): string {
  return `/v2/models/${encodeURIComponent(model)}${version ? `/versions/${encodeURIComponent(version)}` : ''}`;
}

/** Sends prepared binary-tensor bodies over keep-alive HTTP/1.1 connections. */
export class HttpTransport implements InferTransport {
  private readonly agent: http.Agent;
  private readonly options: http.RequestOptions[];
  private readonly bodies: Buffer[];
  private readonly headerLengths: number[];

  /**
   * @param base server URL.
   * @param headers extra headers (`-H`) sent with every request.
   */
  constructor(
    base: URL,
    model: string,
    version: string | undefined,
    requests: PreparedRequest[],
    headers: Record<string, string>,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1, scheduling: 'lifo' });
    const path = `${base.pathname.replace(/\/$/, '')}${modelPath(model, version)}/infer`;
    this.bodies = requests.map((r) => r.httpBody);
    this.headerLengths = requests.map((r) => r.headerLength);
    this.options = requests.map((r) => ({
      host: base.hostname,
      port: base.port || 80,
      path,
      method: 'POST',
      agent: this.agent,
      headers: {
        ...headers,
        'Content-Type': 'application/octet-stream',
        'Content-Length': r.httpBody.length,
        'Inference-Header-Content-Length': r.headerLength,
      },
    }));
  }

  setMaxInFlight(n: number): void {
    this.agent.maxSockets = n;
  }

  /**
   * The request options and body of prepared request `index` with sequence parameters: its JSON
   * header (which ends with the `parameters` object, `}}`) gets `sequence_id`, `sequence_start` and
   * `sequence_end` in that object; the tensor bytes are not copied.
   */
  private withSequence(index: number, flags: SequenceFlags): [http.RequestOptions, Buffer[]] {
    const body = this.bodies[index];
    const headerLength = this.headerLengths[index];
    const header = Buffer.from(
      `${body.toString('latin1', 0, headerLength - 2)},"sequence_id":${flags.id},` +
        `"sequence_start":${flags.start},"sequence_end":${flags.end}}}`,
      'latin1',
    );
    const data = body.subarray(headerLength);
    const base = this.options[index];
    return [
      {
        ...base,
        headers: {
          ...base.headers,
          'Content-Length': header.length + data.length,
          'Inference-Header-Content-Length': header.length,
        },
      },
      [header, data],
    ];
  }

  send(index: number, rec: Recorder, delayed: boolean, sequence?: SequenceFlags): Promise<void> {
    const [options, chunks] = sequence
      ? this.withSequence(index, sequence)
      : [this.options[index], [this.bodies[index]]];
    return new Promise<void>((resolve) => {
      rec.sent();
      const start = performance.now();
      let sendEnd = 0;
      let done = false;
      const fail = (message: string) => {
        if (done) return;
        done = true;
        rec.failure(performance.now(), message);
        resolve();
      };
      const req = http.request(options, (res) => {
        const recvStart = performance.now();
        if (res.statusCode === 200) {
          res.on('end', () => {
            if (done) return;
            done = true;
            const end = performance.now();
            rec.success(
              start,
              sendEnd === 0 || sendEnd > recvStart ? recvStart : sendEnd,
              recvStart,
              end,
              delayed,
            );
            resolve();
          });
          res.on('error', (e) => fail(e.message));
          res.resume();
        } else {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => fail(httpErrorMessage(res.statusCode ?? 0, Buffer.concat(chunks))));
          res.on('error', (e) => fail(e.message));
        }
      });
      req.on('finish', () => (sendEnd = performance.now()));
      req.on('error', (e) => fail(e.message));
      for (let i = 0; i < chunks.length - 1; i++) req.write(chunks[i]);
      req.end(chunks[chunks.length - 1]);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** `HTTP <status>: <error>` from an error reply (`{"error": "..."}` or plain text). */
function httpErrorMessage(status: number, body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const j = JSON.parse(text);
    if (j && typeof j.error === 'string') return `HTTP ${status}: ${j.error}`;
  } catch {
    /* not JSON */
  }
  return `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

/** A small JSON client for metadata, configuration and statistics, on its own keep-alive agent. */
export class ControlClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

  constructor(readonly base: URL) {}

  /**
   * GETs `path` and parses the JSON reply.
   * @returns the status and the parsed body (undefined when empty or not JSON).
   * @throws Error when the server cannot be reached or does not answer within `timeoutMs`.
   */
  get(path: string, timeoutMs = 10_000): Promise<{ status: number; body: unknown }> {
    const url = new URL(`${this.base.pathname.replace(/\/$/, '')}${path}`, this.base);
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent: this.agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs} ms`)));
      req.on('error', (e) => reject(new Error(`cannot reach the server at ${url.host}: ${e.message}`)));
    });
  }

  /** Closes the connections. */
  close(): void {
    this.agent.destroy();
  }
}
