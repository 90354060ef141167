/**
 * `runPerf`: perf_analyzer's measurement procedure (its inference_profiler.h/.cc) over Nereid's
 * transports.
 *
 * For each load level (a concurrency, or a request rate) the load starts, then back-to-back
 * measurement windows are taken: each window counts the requests that *ended* inside it and reads
 * the model's server statistics at both ends. After each window the last three are checked: the
 * level is stable when, over those three, max/min of the throughput and of the stabilizing latency
 * (average, or `--percentile`) are both within `1 + stability-percentage/100`. A stable level is
 * reported from the merge of its last three windows; a level that does not stabilise within
 * `--max-trials` windows, or whose latency reaches `--latency-threshold`, ends a linear search.
 * `--binary-search` measures start and end, then bisects towards the highest load within the
 * threshold.
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { PerfConnection } from './connection.js';
import { HttpConnection } from './connection.js';
import {
  buildRequests,
  checkShapes,
  generateData,
  loadInputData,
  parseModelInfo,
  type ModelInfo,
} from './input-data.js';
import { ConcurrencyLoad, RequestCursor, RequestRateLoad, type LoadGenerator } from './load.js';
import { PerfError, resolvePerfOptions, type PerfOptions } from './options.js';
import { renderPlot } from './plot.js';
import { SequenceSource } from './sequences.js';
import {
  csvText,
  fmtDouble,
  levelHeader,
  levelLines,
  passLine,
  settingsLines,
  summaryLines,
} from './report.js';
import {
  mergeStatuses,
  parseModelStats,
  serverAverages,
  serverDelta,
  summarizeWindow,
  type PerfStatus,
  type ServerSideStats,
} from './stats.js';
import { Recorder } from './transport.js';

/** One measurement window ("pass") of a load level. */
export interface PassResult {
  /** infer/sec (0 when the window had no successful request). */
  throughput: number;
  /** The stabilizing latency (average or `--percentile`), usec. */
  latencyUs: number;
  requestCount: number;
  failedCount: number;
  /** Why the window gave no measurement. */
  error?: string;
}

/** Every load level tried, stable or not. */
export interface LevelAttempt {
  concurrency?: number;
  requestRate?: number;
  passes: PassResult[];
  stable: boolean;
  /** Stable and within `--latency-threshold`: the level is reported. */
  meetsThreshold: boolean;
  /** The latency reached `--latency-threshold`. */
  overLatencyThreshold: boolean;
  /** The merged measurement of the last windows, when stable. */
  status?: PerfStatus;
}

/** A reported load level, in the units perf_analyzer prints (usec, infer/sec). */
export interface LevelSummary {
  concurrency?: number;
  requestRate?: number;
  /** Inferences per second (requests/s × batch size). */
  throughput: number;
  /** The stabilizing latency (average or `--percentile`), usec. */
  latencyUs: number;
  /** Successful requests in the merged windows. */
  requestCount: number;
  /** Failed requests in the merged windows. */
  failedCount: number;
  avgLatencyUs: number;
  stdLatencyUs: number;
  /** Latency by percentile ("50", "90", "95", "99", and `--percentile`), usec. */
  percentilesUs: Record<string, number>;
  /** Client library time per request (HTTP/gRPC time) and its parts, usec. */
  avgRequestUs: number;
  sendUs: number;
  receiveUs: number;
  responseWaitUs: number;
  /** Server statistics over the merged windows (absent when the server does not report them). */
  server?: {
    inferenceCount: number;
    executionCount: number;
    successCount: number;
    avgRequestLatencyUs: number;
    overheadUs: number;
    queueUs: number;
    computeInputUs: number;
    computeInferUs: number;
    computeOutputUs: number;
  };
  /** The raw merged measurement (nanoseconds). */
  status: PerfStatus;
}

/** What `runPerf` returns. */
export interface PerfReport {
  model: string;
  modelVersion?: string;
  protocol: 'http' | 'grpc';
  /** The server address used. */
  url: string;
  batchSize: number;
  mode: 'concurrency' | 'request_rate';
  percentile?: number;
  /** Reported (stable, within threshold) levels in measurement order. */
  levels: LevelSummary[];
  /** Every level tried, with its windows. */
  attempts: LevelAttempt[];
  /** Whether server statistics were read. */
  serverStatistics: boolean;
  /** Every request of the run, warm-up and between-window ones included. */
  requests: { sent: number; succeeded: number; failed: number };
  /** Failure messages and their counts. */
  errors: { message: string; count: number }[];
  /** The run was stopped by `signal`. */
  interrupted: boolean;
  /** The printed report (every `output` line). */
  text: string;
  csvFile?: string;
  plotFile?: string;
}

/** Sleeps `ms`, waking early when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const STABILITY_WINDOW = 3;

/** perf_analyzer's DetermineStability over the last three windows. */
export function isStable(
  ips: number[],
  latencies: number[],
  threshold: number,
  checkLatency: boolean,
): boolean {
  if (ips.length < STABILITY_WINDOW) return false;
  const i = ips.slice(-STABILITY_WINDOW);
  const l = latencies.slice(-STABILITY_WINDOW);
  if (i.some((x) => x === 0)) return false;
  if (Math.max(...i) / Math.min(...i) > 1 + threshold) return false;
  return !checkLatency || Math.max(...l) / Math.min(...l) <= 1 + threshold;
}

/** Lines out (collected into the report text) and warnings. */
class Output {
  readonly lines: string[] = [];

  constructor(private readonly o: PerfOptions) {}

  print(line: string): void {
    this.lines.push(line);
    this.o.output?.(line);
  }

  warn(line: string): void {
    (this.o.errorOutput ?? this.o.output)?.(line);
  }
}

/** Reads the measured model's statistics (one version's entry). */
type StatsReader = () => Promise<ServerSideStats>;

class Profiler {
  readonly summary: PerfStatus[] = [];
  readonly attempts: LevelAttempt[] = [];
  private prevEnd: number | undefined;
  private prevServer: ServerSideStats | undefined;
  private readonly byConcurrency: boolean;

  constructor(
    private readonly o: PerfOptions,
    private readonly out: Output,
    private readonly rec: Recorder,
    private readonly load: LoadGenerator,
    private stats: StatsReader | undefined,
  ) {
    this.byConcurrency = o.concurrencyRange !== undefined;
  }

  get aborted(): boolean {
    return this.o.signal?.aborted ?? false;
  }

  get serverStatistics(): boolean {
    return this.stats !== undefined;
  }

  /** perf_analyzer's Profile<T>: a linear or binary search over the range. */
  async search(): Promise<void> {
    const range = (this.o.concurrencyRange ?? this.o.requestRateRange)!;
    const at = (k: number) => Number((range.start + k * range.step).toPrecision(12));
    if (!this.o.binarySearch) {
      let k = 0;
      let r: LevelAttempt;
      do {
        r = await this.level(at(k++));
      } while ((range.end === 0 || at(k) <= range.end) && r.meetsThreshold && !this.aborted);
      if (k === 1 && !r.stable && !this.aborted) {
        throw new PerfError(
          `Failed to obtain stable measurement within ${this.o.maxTrials} measurement windows. ` +
            `Increase --measurement-interval (or --measurement-request-count), --max-trials or --stability-percentage.`,
        );
      }
      return;
    }
    if (!(await this.level(range.start)).meetsThreshold || this.aborted) return;
    if ((await this.level(range.end)).meetsThreshold || this.aborted) return;
    let lo = range.start;
    let hi = range.end;
    while (hi - lo > range.step && !this.aborted) {
      const mid = this.byConcurrency ? Math.floor((lo + hi) / 2) : Number(((lo + hi) / 2).toPrecision(12));
      if ((await this.level(mid)).meetsThreshold) lo = mid;
      else hi = mid;
    }
  }

  /** perf_analyzer's Profile + ProfileHelper for one load level. */
  private async level(value: number): Promise<LevelAttempt> {
    const o = this.o;
    const attempt: LevelAttempt = {
      concurrency: this.byConcurrency ? value : undefined,
      requestRate: this.byConcurrency ? undefined : value,
      passes: [],
      stable: false,
      meetsThreshold: false,
      overLatencyThreshold: false,
    };
    this.attempts.push(attempt);
    this.out.print(levelHeader(attempt.concurrency, attempt.requestRate));
    const threshold = o.stabilityPercentage / 100;
    const limitNs = o.latencyThresholdMs * 1e6;
    const ips: number[] = [];
    const lats: number[] = [];
    const recent: { status?: PerfStatus; error?: string }[] = [];
    let stable = false;
    let overLimit = false;
    this.load.start(value);
    try {
      if (o.warmupRequestCount > 0) {
        const target = this.rec.totalOk + this.rec.totalFailed + o.warmupRequestCount;
        while (this.rec.totalOk + this.rec.totalFailed < target && !this.aborted) await sleep(5, o.signal);
      }
      this.prevEnd = undefined;
      this.prevServer = undefined;
      for (let trial = 0; trial < o.maxTrials && !this.aborted; trial++) {
        const m = await this.measure(value);
        if (m.aborted) break;
        recent.push(m);
        if (recent.length > STABILITY_WINDOW) recent.shift();
        const c = m.status?.client;
        ips.push(c ? c.inferPerSec : 0);
        lats.push(m.status ? m.status.stabilizingLatencyNs : Infinity);
        attempt.passes.push({
          throughput: c ? c.inferPerSec : 0,
          latencyUs: m.status ? Math.floor(m.status.stabilizingLatencyNs / 1000) : 0,
          requestCount: c?.requestCount ?? 0,
          failedCount: c?.failedCount ?? 0,
          error: m.error,
        });
        this.out.print(
          m.status ? passLine(trial + 1, m.status, o.percentile) : `  Pass [${trial + 1}] error: ${m.error}`,
        );
        stable = isStable(ips, lats, threshold, true);
        if (
          limitNs > 0 &&
          ips.length >= STABILITY_WINDOW &&
          lats.slice(-STABILITY_WINDOW).some((l) => l >= limitNs)
        ) {
          overLimit = true;
          break;
        }
        if (stable) break;
      }
    } finally {
      await this.load.stop();
    }
    if (o.async && !stable && !overLimit && isStable(ips, lats, threshold, false)) {
      this.out.warn('Warning: Request latency is not stabilizing. Please try lowering the request rate.');
      stable = true;
    }
    const failedWindow = recent.find((m) => m.error);
    if (failedWindow) throw new PerfError(failedWindow.error!);
    attempt.stable = stable;
    if (stable)
      attempt.status = mergeStatuses(
        recent.map((m) => m.status!),
        o.percentile,
      );
    const s = attempt.status;
    const what = this.byConcurrency ? `concurrency ${value}` : `request rate ${fmtDouble(value)}`;
    if (
      (s && limitNs > 0 && Math.floor(s.stabilizingLatencyNs / 1e6) >= o.latencyThresholdMs) ||
      (!s && overLimit)
    ) {
      attempt.overLatencyThreshold = true;
      this.out.warn(`Measured latency went over the set limit of ${o.latencyThresholdMs} msec. `);
    } else if (!s) {
      if (!this.aborted) {
        this.out.warn(
          `Failed to obtain stable measurement within ${o.maxTrials} measurement windows for ${what}. Please try to ` +
            (o.measurementMode === 'time_windows'
              ? 'increase the --measurement-interval.'
              : 'increase the --measurement-request-count.'),
        );
      }
    } else {
      attempt.meetsThreshold = true;
      this.summary.push(s);
      for (const line of levelLines(s, o, s.client.failedCount > 0 ? this.rec.topError() : undefined)) {
        this.out.print(line);
      }
    }
    return attempt;
  }

  /** perf_analyzer's Measure: one window, continuing from the previous one's end. */
  private async measure(value: number): Promise<{ status?: PerfStatus; error?: string; aborted?: boolean }> {
    const o = this.o;
    let windowStart = this.prevEnd;
    let serverStart = this.prevServer;
    if (windowStart === undefined) {
      windowStart = performance.now();
      serverStart = await this.readStats();
      this.rec.takeSent();
    }
    if (o.measurementMode === 'time_windows') {
      await sleep(windowStart + o.measurementIntervalMs - performance.now(), o.signal);
    } else {
      do await sleep(1000, o.signal);
      while (this.rec.ends.length < o.measurementRequestCount && !this.aborted);
    }
    const windowEnd = performance.now();
    if (this.aborted) return { aborted: true }; // a cut-short window is not a measurement
    this.prevEnd = windowEnd;
    const serverEnd = await this.readStats();
    this.prevServer = serverEnd;
    const records = this.rec.take(windowStart, windowEnd);
    const sent = this.rec.takeSent();
    if (records.ends.length === 0 && records.failed > 0) {
      throw new PerfError(
        `every request in a measurement window failed (${records.failed} requests to model '${o.model}'); ` +
          `most frequent error: ${this.rec.topError()}`,
      );
    }
    const w = summarizeWindow(records, windowEnd - windowStart, sent, o.batchSize, o.percentile);
    if (!w)
      return { error: 'No valid requests recorded within time interval. Please use a larger time window.' };
    return {
      status: {
        concurrency: this.byConcurrency ? value : undefined,
        requestRate: this.byConcurrency ? undefined : value,
        batchSize: o.batchSize,
        client: w.client,
        server: serverStart && serverEnd ? serverDelta(serverStart, serverEnd) : undefined,
        stabilizingLatencyNs: w.stabilizingLatencyNs,
      },
    };
  }

  /** The current server statistics; on failure warns once and stops reading them. */
  private async readStats(): Promise<ServerSideStats | undefined> {
    if (!this.stats) return undefined;
    try {
      return await this.stats();
    } catch (e) {
      this.out.warn(
        `warning: server statistics are not available, reporting client side only: ${(e as Error).message}`,
      );
      this.stats = undefined;
      return undefined;
    }
  }
}

/** Picks the entry of the measured version: `-x`, else the highest (where unversioned requests go). */
function statsEntry(stats: unknown, model: string, version: string | undefined): unknown {
  const entries = (stats as { model_stats?: unknown[] } | undefined)?.model_stats;
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new Error(`the server returned no statistics for model '${model}'`);
  }
  const v = (e: unknown) => String((e as { version?: unknown }).version ?? '');
  if (version !== undefined) {
    const e = entries.find((x) => v(x) === version);
    if (!e) throw new Error(`the server returned no statistics for version ${version} of model '${model}'`);
    return e;
  }
  return entries.reduce((a, b) => (Number(v(b)) > Number(v(a)) ? b : a));
}

/** The unit-friendly view of a reported level. */
export function summarizeLevel(s: PerfStatus): LevelSummary {
  const c = s.client;
  const us = (ns: number) => Math.floor(ns / 1000);
  const avgRequestUs = us(c.avgRequestTimeNs);
  const sendUs = us(c.avgSendTimeNs);
  const receiveUs = us(c.avgReceiveTimeNs);
  const out: LevelSummary = {
    concurrency: s.concurrency,
    requestRate: s.requestRate,
    throughput: c.inferPerSec,
    latencyUs: us(s.stabilizingLatencyNs),
    requestCount: c.requestCount,
    failedCount: c.failedCount,
    avgLatencyUs: us(c.avgLatencyNs),
    stdLatencyUs: c.stdUs,
    percentilesUs: Object.fromEntries([...c.percentileLatencyNs].map(([p, ns]) => [String(p), us(ns)])),
    avgRequestUs,
    sendUs,
    receiveUs,
    responseWaitUs: Math.max(0, avgRequestUs - sendUs - receiveUs),
    status: s,
  };
  if (s.server) {
    const a = serverAverages(s.server);
    out.server = {
      inferenceCount: s.server.inferenceCount,
      executionCount: s.server.executionCount,
      successCount: s.server.successCount,
      avgRequestLatencyUs: a.requestUs,
      overheadUs: a.overheadUs,
      queueUs: a.queueUs,
      computeInputUs: a.computeInputUs,
      computeInferUs: a.computeInferUs,
      computeOutputUs: a.computeOutputUs,
    };
  }
  return out;
}

async function connect(o: PerfOptions): Promise<PerfConnection> {
  if (o.protocol === 'http') return new HttpConnection(o.url, o.headers, o.statsUrl);
  let mod: typeof import('./grpc.js');
  try {
    mod = await import('./grpc.js');
  } catch (e) {
    throw new PerfError(
      `-i grpc is not available: the gRPC client library could not be loaded (${(e as Error).message})`,
    );
  }
  return new mod.GrpcConnection(o.url, o.statsUrl);
}

function describeInputs(model: ModelInfo, o: PerfOptions): string {
  return (
    model.inputs.map((i) => `${i.name} ${i.datatype} [${i.dims.join(',')}]`).join(', ') +
    ` (batch size ${o.batchSize})`
  );
}

/**
 * Measures a model's throughput and latency as perf_analyzer does (see the module comment) and
 * prints perf_analyzer's report through `options.output`.
 * @param input options; unset ones take perf_analyzer's defaults (`resolvePerfOptions`).
 * @returns the report: levels in usec and infer/sec, every attempt, request totals, the text.
 * @throws PerfError for bad options, an unknown model, input data that does not fit the model, a
 *   first request the server refuses, a window where every request failed, or a run where no load
 *   level could be measured (unstable, or over the latency threshold).
 */
export async function runPerf(input: Partial<PerfOptions> & { model: string }): Promise<PerfReport> {
  const o = resolvePerfOptions(input);
  const out = new Output(o);
  const conn = await connect(o);
  try {
    const metadata = await conn.modelMetadata(o.model, o.modelVersion);
    const model = parseModelInfo(metadata, await conn.modelConfig(o.model, o.modelVersion));
    checkShapes(model, o.shapes);
    const steps = Array.isArray(o.inputData)
      ? loadInputData(o.inputData, model, o.shapes)
      : generateData(model, {
          mode: o.inputData,
          shapes: o.shapes,
          stringLength: o.stringLength,
          stringData: o.stringData,
        });
    if (Array.isArray(o.inputData))
      out.print(` Successfully read data for 1 stream/streams with ${steps.length} step/steps.`);
    const requests = buildRequests(model, steps, o.batchSize);
    if (o.verbose > 0) {
      out.print(`  Model '${o.model}' at ${conn.description}: ${describeInputs(model, o)}`);
      out.print(
        `  ${requests.length} request bodies prepared, ${requests[0].httpBody.length} bytes each (HTTP)`,
      );
    }

    const extensions = await conn.serverExtensions();
    let stats: StatsReader | undefined;
    if (!extensions || extensions.includes('statistics')) {
      stats = async () =>
        parseModelStats(statsEntry(await conn.statistics(o.model, o.modelVersion), o.model, o.modelVersion));
      try {
        await stats();
      } catch (e) {
        out.warn(
          `warning: server statistics are not available, reporting client side only: ${(e as Error).message}`,
        );
        stats = undefined;
      }
    }

    // A sequence model gets sequences: with JSON input data and no --sequence-length, each sequence
    // walks the data entries once.
    const userLength = Array.isArray(o.inputData) && o.sequenceLength === undefined;
    const sequences = model.sequential
      ? new SequenceSource({
          length: userLength ? Math.max(1, Math.ceil(steps.length / o.batchSize)) : (o.sequenceLength ?? 20),
          lengthVariation: userLength ? 0 : o.sequenceLengthVariation,
          idStart: o.sequenceIdRange.start,
          idEnd: o.sequenceIdRange.end,
        })
      : undefined;
    if (sequences) {
      const range = o.concurrencyRange;
      if (!range) sequences.checkLive(o.numOfSequences);
      else if (range.end !== 0) sequences.checkLive(Math.max(range.start, range.end));
    }
    if (sequences && o.verbose > 0) {
      out.print(`  Sequence model: requests go in sequences of ids from ${o.sequenceIdRange.start}`);
    }

    const rec = new Recorder();
    const transport = conn.transport(o.model, o.modelVersion, requests);
    await transport.send(0, rec, false, sequences && { id: sequences.id(), start: true, end: true });
    if (rec.totalFailed > 0) {
      throw new PerfError(
        `the first request to model '${o.model}' at ${conn.description} failed: ${rec.topError()}`,
      );
    }

    for (const line of settingsLines(o)) out.print(line);
    const cursor = new RequestCursor(requests.length, o.batchSize);
    const load = o.concurrencyRange
      ? new ConcurrencyLoad(transport, rec, cursor, sequences)
      : new RequestRateLoad(
          transport,
          rec,
          cursor,
          o.requestDistribution,
          sequences && { source: sequences, count: o.numOfSequences, serial: o.serialSequences },
        );
    const profiler = new Profiler(o, out, rec, load, stats);
    await profiler.search();
    const interrupted = o.signal?.aborted ?? false;
    if (interrupted) out.warn('Received exit signal.');

    if (profiler.summary.length === 0) {
      const over = profiler.attempts.some((a) => a.overLatencyThreshold);
      throw new PerfError(
        interrupted
          ? 'interrupted before any load level was measured'
          : over
            ? `no load level stayed under the latency threshold of ${o.latencyThresholdMs} ms`
            : 'no load level gave a stable measurement: increase --measurement-interval, --max-trials or --stability-percentage',
      );
    }
    for (const line of summaryLines(profiler.summary, o.percentile)) out.print(line);
    if (o.csvFile) fs.writeFileSync(o.csvFile, csvText(profiler.summary, o));
    if (o.plotFile) {
      const load = o.concurrencyRange ? 'concurrency' : 'request rate';
      fs.writeFileSync(
        o.plotFile,
        renderPlot({
          title: `${o.model}${o.modelVersion ? ` v${o.modelVersion}` : ''}: latency vs. throughput`,
          subtitle: `batch size ${o.batchSize}, ${o.protocol.toUpperCase()} ${conn.description}, by ${load}`,
          levels: profiler.summary,
          percentile: o.percentile,
        }),
      );
    }
    return {
      model: o.model,
      modelVersion: o.modelVersion,
      protocol: o.protocol,
      url: conn.description,
      batchSize: o.batchSize,
      mode: o.concurrencyRange ? 'concurrency' : 'request_rate',
      percentile: o.percentile,
      levels: profiler.summary.map(summarizeLevel),
      attempts: profiler.attempts,
      serverStatistics: profiler.serverStatistics,
      requests: { sent: rec.totalSent, succeeded: rec.totalOk, failed: rec.totalFailed },
      errors: [...rec.errors].map(([message, count]) => ({ message, count })),
      interrupted,
      text: out.lines.join('\n') + '\n',
      csvFile: o.csvFile,
      plotFile: o.plotFile,
    };
  } finally {
    conn.close();
  }
}
