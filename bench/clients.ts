/**
 * Closed-loop HTTP infer clients for the benchmarks that weigh load generators against each other:
 * `concurrency` requests always in flight, each reply answered by sending the next request. Every
 * client posts the same pre-built binary body (`PreparedRequest.httpBody`, what `nereid perf`
 * sends) to `/v2/models/<model>/infer` on 127.0.0.1 and drains the reply.
 */
import * as http from 'node:http';
import { Pool } from 'undici';
import { buildRequests, generateData, parseModelInfo, type PreparedRequest } from '../src/perf/input-data.js';
import { HttpTransport, modelPath, Recorder } from '../src/perf/transport.js';

/** What one closed-loop run measured. */
export interface LoopResult {
  /** Replies per second over the measured span (HTTP 200 only). */
  rate: number;
  /** CPU time of this whole process per reply, µs (user + system, `process.cpuUsage()`). */
  cpuUsPerRequest: number;
  /** Replies other than HTTP 200 and transport errors over the measured span. */
  failed: number;
}

/** Sends one request; calls `done(ok)` once its reply has been read to the end or it failed. */
type SendOne = (done: (ok: boolean) => void) => void;

/**
 * Runs `concurrency` loops of `send` for `warmupMs` (not counted) and then `ms` (counted).
 * @returns the measured rate and this process's CPU µs per reply; replies still in flight when the
 *   span ends are not counted.
 */
async function closedLoop(
  send: SendOne,
  concurrency: number,
  ms: number,
  warmupMs: number,
): Promise<LoopResult> {
  let ok = 0;
  let failed = 0;
  let stop = false;
  let active = concurrency;
  let finished!: () => void;
  const allStopped = new Promise<void>((resolve) => (finished = resolve));
  const loop = (): void => {
    if (stop) {
      if (--active === 0) finished();
      return;
    }
    send((success) => {
      if (success) ok++;
      else failed++;
      loop();
    });
  };
  for (let i = 0; i < concurrency; i++) loop();
  await new Promise((r) => setTimeout(r, warmupMs));
  const [ok0, failed0, cpu0, t0] = [ok, failed, process.cpuUsage(), performance.now()];
  await new Promise((r) => setTimeout(r, ms));
  const [ok1, failed1, cpu, t1] = [ok, failed, process.cpuUsage(cpu0), performance.now()];
  stop = true;
  await allStopped;
  const n = ok1 - ok0;
  return {
    rate: (n / (t1 - t0)) * 1000,
    cpuUsPerRequest: n > 0 ? (cpu.user + cpu.system) / n : NaN,
    failed: failed1 - failed0,
  };
}

/** Where and what to post. */
export interface Target {
  port: number;
  model: string;
  request: PreparedRequest;
}

const inferPath = (t: Target) => `${modelPath(t.model)}/infer`;

/**
 * One batch-1 request of random data for `model`, built the way `nereid perf` builds its requests
 * (`--input-data random`), from the metadata and configuration the server on 127.0.0.1:`port`
 * reports (a server that has no configuration endpoint, like the bare one, counts as
 * `max_batch_size: 8`, `simple`'s).
 */
export async function randomRequest(port: number, model: string): Promise<PreparedRequest> {
  const base = `http://127.0.0.1:${port}${modelPath(model)}`;
  const config = await fetch(`${base}/config`);
  const info = parseModelInfo(
    await (await fetch(base)).json(),
    config.ok ? await config.json() : { max_batch_size: 8 },
  );
  const [request] = buildRequests(
    info,
    generateData(info, { mode: 'random', shapes: {}, stringLength: 128 }),
    1,
  );
  return request;
}
const headersOf = (t: Target) => ({
  'Content-Type': 'application/octet-stream',
  'Content-Length': String(t.request.httpBody.length),
  'Inference-Header-Content-Length': String(t.request.headerLength),
});

/** The least a `node:http` client can do: `http.request` on a keep-alive agent, reply drained. */
export function nodeHttpLoop(
  t: Target,
  concurrency: number,
  ms: number,
  warmupMs = 1000,
): Promise<LoopResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const options: http.RequestOptions = {
    host: '127.0.0.1',
    port: t.port,
    path: inferPath(t),
    method: 'POST',
    agent,
    headers: headersOf(t),
  };
  const send: SendOne = (done) => {
    const req = http.request(options, (res) => {
      res.on('end', () => done(res.statusCode === 200));
      res.resume();
    });
    req.on('error', () => done(false));
    req.end(t.request.httpBody);
  };
  return closedLoop(send, concurrency, ms, warmupMs).finally(() => agent.destroy());
}

/** `nereid perf`'s own HTTP transport (`HttpTransport`), recording every request as a run does. */
export function perfTransportLoop(
  t: Target,
  concurrency: number,
  ms: number,
  warmupMs = 1000,
): Promise<LoopResult> {
  const transport = new HttpTransport(
    new URL(`http://127.0.0.1:${t.port}`),
    t.model,
    undefined,
    [t.request],
    {},
  );
  transport.setMaxInFlight(concurrency);
  const rec = new Recorder();
  let sent = 0;
  let failedSeen = 0;
  const send: SendOne = (done) => {
    void transport.send(0, rec, false).then(() => {
      // The transport records a request and resolves its promise in the same callback, so the
      // failures counted since the previous resolution are this request's (0 or 1).
      const ok = rec.totalFailed === failedSeen;
      failedSeen = rec.totalFailed;
      // A run takes its windows' records now and then; keep the arrays from growing without end.
      if (++sent % 10_000 === 0) rec.take(-Infinity, Infinity);
      done(ok);
    });
  };
  return closedLoop(send, concurrency, ms, warmupMs).finally(() => transport.close());
}

/** undici's `Pool.dispatch` with a handler that drops the reply body: undici's leanest path. */
export function undiciLoop(t: Target, concurrency: number, ms: number, warmupMs = 1000): Promise<LoopResult> {
  const pool = new Pool(`http://127.0.0.1:${t.port}`, { connections: concurrency, pipelining: 1 });
  const options = {
    path: inferPath(t),
    method: 'POST' as const,
    headers: headersOf(t),
    body: t.request.httpBody,
  };
  const send: SendOne = (done) => {
    let status = 0;
    pool.dispatch(options, {
      onConnect: () => {},
      onHeaders: (statusCode) => {
        status = statusCode;
        return true;
      },
      onData: () => true,
      onComplete: () => done(status === 200),
      onError: () => done(false),
    });
  };
  return closedLoop(send, concurrency, ms, warmupMs).finally(() => pool.close());
}
