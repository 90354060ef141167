/**
 * The numbers of a measurement, computed as perf_analyzer computes them (its inference_profiler.cc):
 * client latencies of the requests that ended inside a window, percentiles by
 * `index = round(p/100 × (n−1))`, throughput = requests × batch size ÷ window seconds, server numbers
 * from the difference of the server's statistics before and after, and a merge of the last windows
 * (request counts and durations summed, latencies pooled, library times weighted by request count).
 * Durations are integers: nanoseconds internally, microseconds (floored) when reported.
 */
import type { WindowRecords } from './transport.js';

/** Server-side statistics of the measured model over an interval (a difference of two snapshots). */
export interface ServerSideStats {
  inferenceCount: number;
  executionCount: number;
  successCount: number;
  queueCount: number;
  computeInputCount: number;
  computeInferCount: number;
  computeOutputCount: number;
  cacheHitCount: number;
  cacheMissCount: number;
  /** Total end-to-end server time of the successful requests (`success.ns`). */
  cummTimeNs: number;
  queueTimeNs: number;
  computeInputTimeNs: number;
  computeInferTimeNs: number;
  computeOutputTimeNs: number;
  cacheHitTimeNs: number;
  cacheMissTimeNs: number;
}

/** Client-side statistics of a window or of a merged load level. */
export interface ClientSideStats {
  /** Successful requests that ended inside the window(s). */
  requestCount: number;
  /** Failed requests that ended inside the window(s). */
  failedCount: number;
  /** Request-rate mode: requests sent more than DELAY_TOLERANCE_MS (5 ms) after their scheduled time. */
  delayedCount: number;
  /** Requests sent during the window(s). */
  sentCount: number;
  durationNs: number;
  /** Latencies of the successful requests, ascending. */
  latenciesNs: number[];
  avgLatencyNs: number;
  /** Sample standard deviation of the latency, µs. */
  stdUs: number;
  /** Latency by percentile (50, 90, 95, 99 and `--percentile`), ascending percentiles. */
  percentileLatencyNs: Map<number, number>;
  /** Requests the library times below cover. */
  completedCount: number;
  /** Request issued → last response byte. */
  avgRequestTimeNs: number;
  /** Request issued → body handed to the OS. */
  avgSendTimeNs: number;
  /** Response headers → last response byte. */
  avgReceiveTimeNs: number;
  /** Inferences per second: requestCount × batch size ÷ duration. */
  inferPerSec: number;
  /** Requests sent per second. */
  sendRequestRate: number;
}

/** One window's (or one level's) measurement. */
export interface PerfStatus {
  concurrency?: number;
  requestRate?: number;
  batchSize: number;
  client: ClientSideStats;
  server?: ServerSideStats;
  /** The latency stability and thresholds use: the average, or the `--percentile` latency. */
  stabilizingLatencyNs: number;
}

const NS_PER_MS = 1e6;

/** Average of `totalNs` over `count`, in whole µs (0 when count is 0), as perf_analyzer's AverageDurationInUs. */
function avgUs(totalNs: number, count: number): number {
  return count === 0 ? 0 : Math.floor(totalNs / (count * 1000));
}

/** perf_analyzer's percentile pick on ascending `sorted`: `sorted[⌊p/100·(n−1) + 0.5⌋]`. */
export function percentileOf(sorted: readonly number[], p: number): number {
  return sorted[Math.floor((p / 100) * (sorted.length - 1) + 0.5)];
}

/** Mean (ns, floored) and sample standard deviation (µs, floored) of `latenciesNs`. */
export function meanAndStd(latenciesNs: readonly number[]): { avgNs: number; stdUs: number } {
  const n = latenciesNs.length;
  let sum = 0;
  for (const l of latenciesNs) sum += l;
  const avgNs = Math.floor(sum / n);
  if (n < 2) return { avgNs, stdUs: 0 };
  let sq = 0;
  for (const l of latenciesNs) sq += (l - avgNs) * (l - avgNs);
  return { avgNs, stdUs: Math.floor(Math.sqrt(sq / (n - 1)) / 1000) };
}

/** Fills the latency fields of `c` from `c.latenciesNs` (ascending). */
function summarizeLatency(c: ClientSideStats, percentile: number | undefined): void {
  const { avgNs, stdUs } = meanAndStd(c.latenciesNs);
  c.avgLatencyNs = avgNs;
  c.stdUs = stdUs;
  const ps = new Set([50, 90, 95, 99]);
  if (percentile !== undefined) ps.add(percentile);
  c.percentileLatencyNs = new Map(
    [...ps].sort((a, b) => a - b).map((p) => [p, percentileOf(c.latenciesNs, p)]),
  );
}

/** The stabilizing latency: `--percentile`'s, else the average. */
function stabilizing(c: ClientSideStats, percentile: number | undefined): number {
  return percentile !== undefined ? c.percentileLatencyNs.get(percentile)! : c.avgLatencyNs;
}

/**
 * Client statistics of one window from its records.
 * @param durationMs window length.
 * @returns undefined when no request succeeded in the window (perf_analyzer: "No valid requests
 *   recorded within time interval").
 */
export function summarizeWindow(
  r: WindowRecords,
  durationMs: number,
  sentCount: number,
  batchSize: number,
  percentile: number | undefined,
): { client: ClientSideStats; stabilizingLatencyNs: number } | undefined {
  const n = r.ends.length;
  if (n === 0) return undefined;
  const latencies = new Array<number>(n);
  let send = 0;
  let recv = 0;
  let delayed = 0;
  for (let i = 0; i < n; i++) {
    latencies[i] = Math.round((r.ends[i] - r.starts[i]) * NS_PER_MS);
    send += r.sendEnds[i] - r.starts[i];
    recv += r.ends[i] - r.recvStarts[i];
    if (r.delayed[i]) delayed++;
  }
  latencies.sort((a, b) => a - b);
  let total = 0;
  for (const l of latencies) total += l;
  const durationNs = Math.round(durationMs * NS_PER_MS);
  const c: ClientSideStats = {
    requestCount: n,
    failedCount: r.failed,
    delayedCount: delayed,
    sentCount,
    durationNs,
    latenciesNs: latencies,
    avgLatencyNs: 0,
    stdUs: 0,
    percentileLatencyNs: new Map(),
    completedCount: n,
    avgRequestTimeNs: Math.floor(total / n),
    avgSendTimeNs: Math.floor((send * NS_PER_MS) / n),
    avgReceiveTimeNs: Math.floor((recv * NS_PER_MS) / n),
    inferPerSec: (n * batchSize) / (durationNs / 1e9),
    sendRequestRate: sentCount / (durationNs / 1e9),
  };
  summarizeLatency(c, percentile);
  return { client: c, stabilizingLatencyNs: stabilizing(c, percentile) };
}

/** An all-zero ServerSideStats. */
export function zeroServerStats(): ServerSideStats {
  return {
    inferenceCount: 0,
    executionCount: 0,
    successCount: 0,
    queueCount: 0,
    computeInputCount: 0,
    computeInferCount: 0,
    computeOutputCount: 0,
    cacheHitCount: 0,
    cacheMissCount: 0,
    cummTimeNs: 0,
    queueTimeNs: 0,
    computeInputTimeNs: 0,
    computeInferTimeNs: 0,
    computeOutputTimeNs: 0,
    cacheHitTimeNs: 0,
    cacheMissTimeNs: 0,
  };
}

/** Field-wise `a + sign × b`. */
function combine(a: ServerSideStats, b: ServerSideStats, sign: 1 | -1): ServerSideStats {
  const out = zeroServerStats();
  for (const k of Object.keys(out) as (keyof ServerSideStats)[]) out[k] = a[k] + sign * b[k];
  return out;
}

/** `end − start`, field by field. */
export function serverDelta(start: ServerSideStats, end: ServerSideStats): ServerSideStats {
  return combine(end, start, -1);
}

type Json = unknown;
const num = (v: Json): number => (typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : 0);
const get = (o: Json, k: string): Json =>
  typeof o === 'object' && o !== null ? (o as Record<string, Json>)[k] : undefined;

/** Reads one `model_stats[]` entry of Triton's statistics extension. */
export function parseModelStats(entry: Json): ServerSideStats {
  const s = get(entry, 'inference_stats');
  const d = (k: string) => ({ count: num(get(get(s, k), 'count')), ns: num(get(get(s, k), 'ns')) });
  const success = d('success');
  const queue = d('queue');
  const ci = d('compute_input');
  const cf = d('compute_infer');
  const co = d('compute_output');
  const hit = d('cache_hit');
  const miss = d('cache_miss');
  return {
    inferenceCount: num(get(entry, 'inference_count')),
    executionCount: num(get(entry, 'execution_count')),
    successCount: success.count,
    queueCount: queue.count,
    computeInputCount: ci.count,
    computeInferCount: cf.count,
    computeOutputCount: co.count,
    cacheHitCount: hit.count,
    cacheMissCount: miss.count,
    cummTimeNs: success.ns,
    queueTimeNs: queue.ns,
    computeInputTimeNs: ci.ns,
    computeInferTimeNs: cf.ns,
    computeOutputTimeNs: co.ns,
    cacheHitTimeNs: hit.ns,
    cacheMissTimeNs: miss.ns,
  };
}

/**
 * Merges the windows of a stable level into one status, as perf_analyzer's MergePerfStatusReports:
 * counts and durations add up, latencies are pooled and summarised again, library times are averaged
 * weighted by their request counts, the send rate is the mean of the windows', server stats add up.
 */
export function mergeStatuses(windows: PerfStatus[], percentile: number | undefined): PerfStatus {
  const first = windows[0];
  const latencies: number[] = [];
  const c: ClientSideStats = {
    requestCount: 0,
    failedCount: 0,
    delayedCount: 0,
    sentCount: 0,
    durationNs: 0,
    latenciesNs: latencies,
    avgLatencyNs: 0,
    stdUs: 0,
    percentileLatencyNs: new Map(),
    completedCount: 0,
    avgRequestTimeNs: 0,
    avgSendTimeNs: 0,
    avgReceiveTimeNs: 0,
    inferPerSec: 0,
    sendRequestRate: 0,
  };
  let server: ServerSideStats | undefined = windows.every((w) => w.server) ? zeroServerStats() : undefined;
  for (const w of windows) {
    const wc = w.client;
    c.requestCount += wc.requestCount;
    c.failedCount += wc.failedCount;
    c.delayedCount += wc.delayedCount;
    c.sentCount += wc.sentCount;
    c.durationNs += wc.durationNs;
    for (const l of wc.latenciesNs) latencies.push(l);
    c.completedCount += wc.completedCount;
    c.avgRequestTimeNs += wc.avgRequestTimeNs * wc.completedCount;
    c.avgSendTimeNs += wc.avgSendTimeNs * wc.completedCount;
    c.avgReceiveTimeNs += wc.avgReceiveTimeNs * wc.completedCount;
    c.sendRequestRate += wc.sendRequestRate / windows.length;
    if (server && w.server) server = combine(server, w.server, 1);
  }
  if (c.completedCount > 0) {
    c.avgRequestTimeNs = Math.floor(c.avgRequestTimeNs / c.completedCount);
    c.avgSendTimeNs = Math.floor(c.avgSendTimeNs / c.completedCount);
    c.avgReceiveTimeNs = Math.floor(c.avgReceiveTimeNs / c.completedCount);
  }
  latencies.sort((a, b) => a - b);
  c.inferPerSec = (c.requestCount * first.batchSize) / (c.durationNs / 1e9);
  summarizeLatency(c, percentile);
  return {
    concurrency: first.concurrency,
    requestRate: first.requestRate,
    batchSize: first.batchSize,
    client: c,
    server,
    stabilizingLatencyNs: stabilizing(c, percentile),
  };
}

/** Server averages of a status in whole µs, as perf_analyzer prints them. */
export interface ServerAverages {
  /** Average end-to-end server time of a successful request. */
  requestUs: number;
  overheadUs: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
  /** compute input + infer + output, averaged together. */
  computeUs: number;
}

/** The averages behind "Avg request latency: … (overhead … + queue … + compute input … + …)". */
export function serverAverages(s: ServerSideStats): ServerAverages {
  const requestUs = avgUs(s.cummTimeNs, s.successCount);
  const queueUs = avgUs(s.queueTimeNs, s.queueCount);
  const computeUs = avgUs(
    s.computeInputTimeNs + s.computeInferTimeNs + s.computeOutputTimeNs,
    s.computeInputCount,
  );
  return {
    requestUs,
    overheadUs: Math.max(0, requestUs - queueUs - computeUs),
    queueUs,
    computeInputUs: avgUs(s.computeInputTimeNs, s.computeInputCount),
    computeInferUs: avgUs(s.computeInferTimeNs, s.computeInferCount),
    computeOutputUs: avgUs(s.computeOutputTimeNs, s.computeOutputCount),
    computeUs,
  };
}
