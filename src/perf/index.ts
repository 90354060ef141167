/**
 * `nereid perf`, a perf_analyzer-compatible load generator: the programmatic API.
 *
 * ```ts
 * import { runPerf } from './perf/index.js';
 * const report = await runPerf({ model: 'simple', url: 'localhost:8000', concurrencyRange: { start: 1, end: 4, step: 1 } });
 * for (const l of report.levels) console.log(l.concurrency, l.throughput, l.percentilesUs['99']);
 * ```
 */
export { runPerf, summarizeLevel, isStable } from './run.js';
export type { LevelAttempt, LevelSummary, PassResult, PerfReport } from './run.js';
export {
  PerfError,
  defaultPerfOptions,
  defaultUrl,
  parseHeader,
  parseRange,
  parseShape,
  resolvePerfOptions,
} from './options.js';
export type {
  MeasurementMode,
  PerfOptions,
  PerfProtocol,
  RequestDistribution,
  SearchRange,
} from './options.js';
export { parsePerfArgs, perfCommand } from './cli.js';
export { parseInputData, parseModelInfo, generateData, buildRequests } from './input-data.js';
export type { ModelInfo, ModelInput, DataStep, PreparedRequest } from './input-data.js';
export { csvText } from './report.js';
export { renderPlot } from './plot.js';
export type { ClientSideStats, PerfStatus, ServerSideStats } from './stats.js';
