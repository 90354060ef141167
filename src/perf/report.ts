/**
 * perf_analyzer's text layout (its perf_analyzer.cc and inference_profiler.cc) and its `-f` CSV
 * (report_writer.cc): the measurement settings, per load level a "Client:" and a "Server:" section,
 * the closing "Inferences/Second vs. Client … Batch Latency" lines, and the CSV rows sorted by
 * throughput. Durations print as whole microseconds (usec), throughput as infer/sec with 6
 * significant digits like a C++ stream.
 */
import type { PerfOptions } from './options.js';
import { serverAverages, type PerfStatus } from './stats.js';

/** A double as `std::cout << x` prints it (6 significant digits, %g style). */
export function fmtDouble(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  if (x === 0) return '0';
  const strip = (m: string) => (m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m);
  const exponent = (s: string) => {
    const [m, e] = s.split('e');
    const sign = e[0] === '-' ? '-' : '+';
    const digits = e.replace(/^[+-]/, '').padStart(2, '0');
    return `${strip(m)}e${sign}${digits}`;
  };
  const exp = Math.floor(Math.log10(Math.abs(x)));
  if (exp < -4 || exp >= 6) return exponent(x.toExponential(5));
  const s = x.toPrecision(6);
  return s.includes('e') ? exponent(x.toExponential(5)) : strip(s);
}

const us = (ns: number) => Math.floor(ns / 1000);

/** The "*** Measurement Settings ***" block. */
export function settingsLines(o: PerfOptions): string[] {
  const lines = ['*** Measurement Settings ***', `  Batch size: ${o.batchSize}`, '  Service Kind: Triton'];
  lines.push(`  Using "${o.measurementMode}" mode for stabilization`);
  if (o.measurementMode === 'time_windows')
    lines.push(`  Measurement window: ${o.measurementIntervalMs} msec`);
  else lines.push(`  Minimum number of samples in each window: ${o.measurementRequestCount}`);
  if (o.concurrencyRange) {
    const r = o.concurrencyRange;
    if (r.end !== 1 || o.latencyThresholdMs > 0) {
      lines.push(`  Latency limit: ${o.latencyThresholdMs} msec`);
      if (r.end !== 0) lines.push(`  Concurrency limit: ${Math.max(r.start, r.end)} concurrent requests`);
    }
  } else if (o.requestRateRange) {
    const r = o.requestRateRange;
    if (r.end !== 1 || o.latencyThresholdMs > 0) {
      lines.push(`  Latency limit: ${o.latencyThresholdMs} msec`);
      if (r.end !== 0)
        lines.push(`  Request Rate limit: ${fmtDouble(Math.max(r.start, r.end))} requests per second`);
    }
    lines.push(
      o.requestDistribution === 'poisson'
        ? '  Using poisson distribution on request generation'
        : '  Using uniform distribution on request generation',
    );
  }
  if (o.binarySearch) lines.push('  Using Binary Search algorithm');
  lines.push(
    o.async || o.requestRateRange
      ? '  Using asynchronous calls for inference'
      : '  Using synchronous calls for inference',
  );
  lines.push(
    o.percentile === undefined
      ? '  Stabilizing using average latency'
      : `  Stabilizing using p${o.percentile} latency`,
  );
  lines.push('');
  return lines;
}

/** "Request concurrency: N" or "Request Rate: R inference requests per second". */
export function levelHeader(concurrency: number | undefined, rate: number | undefined): string {
  return concurrency !== undefined
    ? `Request concurrency: ${concurrency}`
    : `Request Rate: ${fmtDouble(rate!)} inference requests per second`;
}

/** A "  Pass [n] throughput: …" progress line for one measurement window. */
export function passLine(n: number, w: PerfStatus, percentile: number | undefined): string {
  const c = w.client;
  let line = `  Pass [${n}] throughput: ${fmtDouble(c.inferPerSec)} infer/sec. `;
  line +=
    percentile !== undefined
      ? `p${percentile} latency: ${us(c.percentileLatencyNs.get(percentile)!)} usec`
      : `Avg latency: ${us(c.avgLatencyNs)} usec (std ${c.stdUs} usec). `;
  if (c.failedCount > 0) line += ` ${c.failedCount} requests failed.`;
  return line;
}

/** Share of delayed requests (%) above which the request-rate warning is printed. */
const DELAY_PCT_THRESHOLD = 1;

/** The "  Client:" and "  Server:" sections of one load level. */
export function levelLines(
  s: PerfStatus,
  o: Pick<PerfOptions, 'percentile' | 'protocol' | 'verbose'>,
  topError?: string,
): string[] {
  const c = s.client;
  const lines = ['  Client: ', `    Request count: ${c.requestCount}`];
  if (c.failedCount > 0) {
    lines.push(
      `    Failed request count: ${c.failedCount}${topError ? ` (most frequent error: ${topError})` : ''}`,
    );
  }
  const delayPct = c.sentCount > 0 ? (c.delayedCount / c.requestCount) * 100 : 0;
  if (s.requestRate !== undefined && delayPct > DELAY_PCT_THRESHOLD) {
    lines.push(`    Avg send request rate: ${c.sendRequestRate.toFixed(2)} infer/sec`);
    lines.push(
      `    [WARNING] nereid perf was not able to keep up with the desired request rate. ${delayPct.toFixed(2)}% of the requests were delayed. `,
    );
  }
  lines.push(`    Throughput: ${fmtDouble(c.inferPerSec)} infer/sec`);
  if (o.percentile === undefined) {
    lines.push(`    Avg latency: ${us(c.avgLatencyNs)} usec (standard deviation ${c.stdUs} usec)`);
  }
  for (const [p, ns] of c.percentileLatencyNs) lines.push(`    p${p} latency: ${us(ns)} usec`);
  const request = us(c.avgRequestTimeNs);
  const send = us(c.avgSendTimeNs);
  const recv = us(c.avgReceiveTimeNs);
  const wait = Math.max(0, request - send - recv);
  if (o.protocol === 'grpc') {
    lines.push(
      o.verbose > 0
        ? `    Avg gRPC time: ${request} usec (marshal ${send} usec + response wait ${wait} usec + unmarshal ${recv} usec)`
        : `    Avg gRPC time: ${request} usec ((un)marshal request/response ${send + recv} usec + response wait ${wait} usec)`,
    );
  } else {
    lines.push(
      o.verbose > 0
        ? `    Avg HTTP time: ${request} usec (send ${send} usec + response wait ${wait} usec + receive ${recv} usec)`
        : `    Avg HTTP time: ${request} usec (send/recv ${send + recv} usec + response wait ${wait} usec)`,
    );
  }
  if (s.server) lines.push('  Server: ', ...serverLines(s));
  return lines;
}

function serverLines(s: PerfStatus): string[] {
  const v = s.server!;
  if (v.successCount === 0) return [`    Request count: 0`];
  const a = serverAverages(v);
  return [
    `    Inference count: ${v.inferenceCount}`,
    `    Execution count: ${v.executionCount}`,
    `    Successful request count: ${v.successCount}`,
    `    Avg request latency: ${a.requestUs} usec (overhead ${a.overheadUs} usec + queue ${a.queueUs} usec + ` +
      `compute input ${a.computeInputUs} usec + compute infer ${a.computeInferUs} usec + compute output ${a.computeOutputUs} usec)`,
    '',
  ];
}

/** The closing "Inferences/Second vs. Client Average Batch Latency" block. */
export function summaryLines(levels: PerfStatus[], percentile: number | undefined): string[] {
  const lines = [
    `Inferences/Second vs. Client ${percentile === undefined ? 'Average' : `p${percentile}`} Batch Latency`,
  ];
  for (const s of levels) {
    const load =
      s.concurrency !== undefined
        ? `Concurrency: ${s.concurrency}`
        : `Request Rate: ${fmtDouble(s.requestRate!)}`;
    lines.push(
      `${load}, throughput: ${fmtDouble(s.client.inferPerSec)} infer/sec, latency ${us(s.stabilizingLatencyNs)} usec`,
    );
  }
  return lines;
}

/**
 * perf_analyzer's `-f` CSV: `Concurrency` (or `Request Rate`), `Inferences/Second`, `Client Send`, the
 * server columns when server statistics were read, `Client Recv`, the percentile latencies, and with
 * `--verbose-csv` `Avg latency` (unless `--percentile`), `request/response`, `response wait`. Rows are
 * sorted by increasing throughput; times are µs.
 */
export function csvText(levels: PerfStatus[], o: Pick<PerfOptions, 'percentile' | 'verboseCsv'>): string {
  if (levels.length === 0) return '';
  const byConcurrency = levels[0].concurrency !== undefined;
  const withServer = levels.every((l) => l.server !== undefined);
  const header = [byConcurrency ? 'Concurrency' : 'Request Rate', 'Inferences/Second', 'Client Send'];
  if (withServer) {
    header.push(
      'Network+Server Send/Recv',
      'Server Queue',
      'Server Compute Input',
      'Server Compute Infer',
      'Server Compute Output',
    );
  }
  header.push('Client Recv');
  for (const p of levels[0].client.percentileLatencyNs.keys()) header.push(`p${p} latency`);
  if (o.verboseCsv) {
    if (o.percentile === undefined) header.push('Avg latency');
    header.push('request/response', 'response wait');
  }
  const rows = [header.join(',')];
  const sorted = [...levels].sort((a, b) => a.client.inferPerSec - b.client.inferPerSec);
  for (const s of sorted) {
    const c = s.client;
    const row: (string | number)[] = [
      byConcurrency ? s.concurrency! : fmtDouble(s.requestRate!),
      fmtDouble(c.inferPerSec),
      us(c.avgSendTimeNs),
    ];
    if (withServer) {
      const a = serverAverages(s.server!);
      const clientWaitNs = c.avgLatencyNs - c.avgSendTimeNs - c.avgReceiveTimeNs;
      const v = s.server!;
      const perNs = (ns: number, n: number) => (n === 0 ? 0 : Math.floor(ns / n));
      const accountedNs =
        perNs(v.queueTimeNs, v.queueCount) +
        perNs(v.computeInputTimeNs + v.computeInferTimeNs + v.computeOutputTimeNs, v.computeInputCount) +
        perNs(v.cacheHitTimeNs, v.cacheHitCount) +
        perNs(v.cacheMissTimeNs, v.cacheMissCount);
      const networkNs = clientWaitNs > accountedNs ? clientWaitNs - accountedNs : 0;
      row.push(us(networkNs), a.queueUs, a.computeInputUs, a.computeInferUs, a.computeOutputUs);
    }
    row.push(us(c.avgReceiveTimeNs));
    for (const ns of c.percentileLatencyNs.values()) row.push(us(ns));
    if (o.verboseCsv) {
      if (o.percentile === undefined) row.push(us(c.avgLatencyNs));
      const send = us(c.avgSendTimeNs);
      const recv = us(c.avgReceiveTimeNs);
      row.push(send + recv, Math.max(0, us(c.avgRequestTimeNs) - send - recv));
    }
    rows.push(row.join(','));
  }
  return rows.join('\n') + '\n';
}
