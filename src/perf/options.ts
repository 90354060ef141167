/**
 * Options of `nereid perf`, with perf_analyzer's names, defaults and checks
 * (perf_analyzer docs/cli.md). The CLI (`./cli.ts`) and the programmatic API (`runPerf`) share them.
 */

/** Wire protocol of the load (`-i`). */
export type PerfProtocol = 'http' | 'grpc';

/** How measurement windows are delimited (`--measurement-mode`). */
export type MeasurementMode = 'time_windows' | 'count_windows';

/** Spacing of requests in request-rate mode (`--request-distribution`). */
export type RequestDistribution = 'constant' | 'poisson';

/** A `start:end:step` search range; `end` 0 means "no upper limit" (needs a latency threshold). */
export interface SearchRange {
  start: number;
  end: number;
  step: number;
}

/** Everything one perf run needs. Build one with `resolvePerfOptions`, which fills the defaults. */
export interface PerfOptions {
  /** `-m`: model name (required). */
  model: string;
  /** `-x`: model version; undefined = the version the server picks (the highest ready one). */
  modelVersion?: string;
  /** `-b`: batch size of every request (1). */
  batchSize: number;
  /** `-u`: server address, `host:port` or `http://host:port` (localhost:8000 for http, localhost:8001 for grpc). */
  url: string;
  /** `-i`: protocol (http). */
  protocol: PerfProtocol;
  /**
   * `--concurrency-range`: closed-loop load, N request loops each awaiting its response (1:1:1 when no
   * request-rate range is given). Undefined in request-rate mode.
   */
  concurrencyRange?: SearchRange;
  /** `--request-rate-range`: open-loop load in requests/s (floating point). */
  requestRateRange?: SearchRange;
  /** `--request-distribution`: constant or poisson gaps between requests in request-rate mode (constant). */
  requestDistribution: RequestDistribution;
  /** `--input-data`: `random` (default), `zero`, or paths of perf_analyzer JSON input-data files. */
  inputData: 'random' | 'zero' | string[];
  /** `--shape NAME:d1,d2`: shapes (without the batch dimension) for inputs with variable dims. */
  shapes: Record<string, number[]>;
  /** `--string-length`: length of random BYTES elements (128). */
  stringLength: number;
  /** `--string-data`: the value of every BYTES element instead of random strings. */
  stringData?: string;
  /**
   * `--sequence-length`: base length of a sequence in requests, on sequence models. Undefined: 20,
   * or, with JSON input data, the number of data entries (without variation).
   */
  sequenceLength?: number;
  /** `--sequence-length-variation`: each sequence's length is the base ± this % (20). */
  sequenceLengthVariation: number;
  /** `--sequence-id-range start[:end]`: sequence ids from start to end (excluded; none = no bound) (1). */
  sequenceIdRange: { start: number; end?: number };
  /** `--num-of-sequences`: sequences live at once in request-rate mode (4). */
  numOfSequences: number;
  /** `--serial-sequences`: at most one request in flight per sequence in request-rate mode. */
  serialSequences: boolean;
  /** `-p`/`--measurement-interval`: length of a time window in ms (5000). */
  measurementIntervalMs: number;
  /** `--measurement-mode` (time_windows). */
  measurementMode: MeasurementMode;
  /** `--measurement-request-count`: least requests in a count window (50). */
  measurementRequestCount: number;
  /** `--percentile`: report and stabilise on this latency percentile (1–99) instead of the average. */
  percentile?: number;
  /** `-s`/`--stability-percentage`: allowed max/min spread over 3 windows, in % (10). */
  stabilityPercentage: number;
  /** `-r`/`--max-trials`: most windows per load level before giving up on stability (10). */
  maxTrials: number;
  /** `-l`/`--latency-threshold`: latency limit in ms; 0 = none. */
  latencyThresholdMs: number;
  /** `--binary-search`: bisect the range for the highest load within the latency threshold. */
  binarySearch: boolean;
  /** `-a`/`--async` (versus `--sync`): with async, an unstable latency alone does not fail a level. */
  async: boolean;
  /** `--warmup-request-count`: requests sent before measuring each load level (0). */
  warmupRequestCount: number;
  /** `-f`: CSV report path. */
  csvFile?: string;
  /** `--verbose-csv`: add perf_analyzer's verbose CSV columns. */
  verboseCsv: boolean;
  /** `--plot`: SVG throughput–latency chart path. */
  plotFile?: string;
  /** `-H 'Name:Value'`: extra HTTP headers on infer requests. */
  headers: Record<string, string>;
  /** `--stats-url`: where to read server statistics (HTTP base URL); default: the server itself for http, port 8000 of the same host for grpc. */
  statsUrl?: string;
  /** `-v`: 0 quiet-ish, 1 verbose, 2 extra verbose. */
  verbose: number;
  /** Receives each report/progress line (stdout in the CLI); nothing is printed when absent. */
  output?: (line: string) => void;
  /** Receives warnings (stderr in the CLI); defaults to `output`. */
  errorOutput?: (line: string) => void;
  /** Stops the run after the current measurement window; what was measured is still reported. */
  signal?: AbortSignal;
}

/** An options or input error: the message says what is wrong and how to fix it. */
export class PerfError extends Error {
  override name = 'PerfError';
}

/** Defaults of every option (perf_analyzer's), model excepted. */
export function defaultPerfOptions(): Omit<PerfOptions, 'model' | 'url'> {
  return {
    batchSize: 1,
    protocol: 'http',
    requestDistribution: 'constant',
    inputData: 'random',
    shapes: {},
    stringLength: 128,
    sequenceLengthVariation: 20,
    sequenceIdRange: { start: 1 },
    numOfSequences: 4,
    serialSequences: false,
    measurementIntervalMs: 5000,
    measurementMode: 'time_windows',
    measurementRequestCount: 50,
    stabilityPercentage: 10,
    maxTrials: 10,
    latencyThresholdMs: 0,
    binarySearch: false,
    async: false,
    warmupRequestCount: 0,
    verboseCsv: false,
    headers: {},
    verbose: 0,
  };
}

/**
 * Parses a `start[:end[:step]]` range as perf_analyzer does: a missing end means a single level
 * (`end = start`), a missing step is 1.
 * @param integer true for concurrency (whole numbers ≥ 1 for start and step), false for request rates.
 * @throws PerfError naming the flag for anything else.
 */
export function parseRange(text: string, flag: string, integer: boolean): SearchRange {
  const parts = text.split(':');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => p.trim() === '')) {
    throw new PerfError(`${flag} expects start[:end[:step]], got '${text}'`);
  }
  const nums = parts.map((p) => Number(p));
  for (let i = 0; i < nums.length; i++) {
    const n = nums[i];
    const what = ['start', 'end', 'step'][i];
    if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) {
      throw new PerfError(
        `${flag}: ${what} must be ${integer ? 'a non-negative integer' : 'a non-negative number'}, got '${parts[i]}'`,
      );
    }
  }
  const [start, end = start, step = 1] = nums;
  if (start <= 0) throw new PerfError(`${flag}: start must be greater than 0, got '${parts[0]}'`);
  if (step <= 0) throw new PerfError(`${flag}: step must be greater than 0, got '${parts[2]}'`);
  if (end !== 0 && end < start) {
    throw new PerfError(`${flag}: end (${end}) must not be less than start (${start}); use 0 for no limit`);
  }
  return { start, end, step };
}

/**
 * Parses one `--shape NAME:d1,d2,...` (the shape without the batch dimension; the name may itself
 * contain ':' — the last one separates the dims).
 * @throws PerfError when the dims are not non-negative integers.
 */
export function parseShape(text: string): { name: string; shape: number[] } {
  const at = text.lastIndexOf(':');
  if (at <= 0) throw new PerfError(`--shape expects NAME:d1,d2,..., got '${text}'`);
  const name = text.slice(0, at);
  const dimsText = text.slice(at + 1);
  const dims = dimsText === '' ? [] : dimsText.split(',').map((d) => Number(d.trim()));
  if (dims.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new PerfError(`--shape ${name}: dims must be non-negative integers, got '${dimsText}'`);
  }
  return { name, shape: dims };
}

/**
 * Parses `--sequence-id-range start[:end]` (perf_analyzer's: ids from start up to end, excluded;
 * without end, no bound).
 * @throws PerfError unless start is an integer ≥ 1 and end, if given, an integer > start.
 */
export function parseSequenceIdRange(text: string): { start: number; end?: number } {
  const parts = text.split(':');
  const nums = parts.map((p) => Number(p.trim()));
  if (parts.length > 2 || parts.some((p) => p.trim() === '') || !nums.every(Number.isSafeInteger)) {
    throw new PerfError(`--sequence-id-range expects start[:end] with integers, got '${text}'`);
  }
  const [start, end] = nums;
  if (start < 1) throw new PerfError(`--sequence-id-range: start must be at least 1, got ${start}`);
  if (end !== undefined && end <= start) {
    throw new PerfError(`--sequence-id-range: end (${end}) must be greater than start (${start})`);
  }
  return end === undefined ? { start } : { start, end };
}

/**
 * Parses a `-H 'Name:Value'` header.
 * @throws PerfError when there is no ':' or no name.
 */
export function parseHeader(text: string): [string, string] {
  const at = text.indexOf(':');
  if (at <= 0) throw new PerfError(`-H expects 'Header:Value', got '${text}'`);
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()];
}

/** The default server address of a protocol: localhost:8000 (http) or localhost:8001 (grpc). */
export function defaultUrl(protocol: PerfProtocol): string {
  return protocol === 'grpc' ? 'localhost:8001' : 'localhost:8000';
}

/**
 * Fills defaults into `partial` and checks the combination as perf_analyzer does.
 * @throws PerfError for a missing model, bad numbers, both load ranges, a binary search without an
 *   explicit end or a latency threshold, an open range without a latency threshold, a batch size
 *   given with a non-batching protocol setting, and so on.
 */
export function resolvePerfOptions(partial: Partial<PerfOptions> & { model: string }): PerfOptions {
  const protocol = partial.protocol ?? 'http';
  const o: PerfOptions = {
    ...defaultPerfOptions(),
    ...stripUndefined(partial),
    protocol,
    url: partial.url ?? defaultUrl(protocol),
  } as PerfOptions;
  if (!o.model) throw new PerfError('-m <model name> is required');
  if (o.protocol !== 'http' && o.protocol !== 'grpc') {
    throw new PerfError(`-i expects http or grpc, got '${o.protocol as string}'`);
  }
  const positiveInt = (v: number, flag: string, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new PerfError(`${flag} must be an integer ≥ ${min}, got ${v}`);
  };
  positiveInt(o.batchSize, '-b');
  positiveInt(o.measurementIntervalMs, '--measurement-interval');
  positiveInt(o.measurementRequestCount, '--measurement-request-count');
  positiveInt(o.maxTrials, '--max-trials');
  positiveInt(o.stringLength, '--string-length', 0);
  positiveInt(o.warmupRequestCount, '--warmup-request-count', 0);
  if (o.sequenceLength !== undefined) positiveInt(o.sequenceLength, '--sequence-length');
  positiveInt(o.numOfSequences, '--num-of-sequences');
  if (!(o.sequenceLengthVariation >= 0)) {
    throw new PerfError(`--sequence-length-variation must be ≥ 0 %, got ${o.sequenceLengthVariation}`);
  }
  if (!(o.stabilityPercentage > 0)) {
    throw new PerfError(`--stability-percentage must be greater than 0, got ${o.stabilityPercentage}`);
  }
  if (!(o.latencyThresholdMs >= 0)) {
    throw new PerfError(`--latency-threshold must be ≥ 0 ms, got ${o.latencyThresholdMs}`);
  }
  if (o.percentile !== undefined && o.percentile !== -1) {
    if (!Number.isInteger(o.percentile) || o.percentile <= 0 || o.percentile >= 100) {
      throw new PerfError(`--percentile must be -1 or an integer in (0, 100), got ${o.percentile}`);
    }
  }
  if (o.percentile === -1) o.percentile = undefined;
  if (o.measurementMode !== 'time_windows' && o.measurementMode !== 'count_windows') {
    throw new PerfError(
      `--measurement-mode expects time_windows or count_windows, got '${o.measurementMode}'`,
    );
  }
  if (o.requestDistribution !== 'constant' && o.requestDistribution !== 'poisson') {
    throw new PerfError(`--request-distribution expects constant or poisson, got '${o.requestDistribution}'`);
  }
  if (partial.concurrencyRange && partial.requestRateRange) {
    throw new PerfError('--concurrency-range and --request-rate-range cannot be used together');
  }
  if (!o.requestRateRange) o.concurrencyRange ??= { start: 1, end: 1, step: 1 };
  const range = (o.concurrencyRange ?? o.requestRateRange)!;
  const flag = o.concurrencyRange ? '--concurrency-range' : '--request-rate-range';
  if (range.end === 0 && o.latencyThresholdMs === 0) {
    throw new PerfError(
      `the end of ${flag} and --latency-threshold cannot both be 0: give an end or a latency limit`,
    );
  }
  if (o.binarySearch) {
    if (range.end === 0) throw new PerfError(`--binary-search needs an explicit end in ${flag}`);
    if (o.latencyThresholdMs === 0) {
      throw new PerfError('--binary-search needs --latency-threshold <ms> to decide which loads pass');
    }
  }
  if (typeof o.inputData === 'string' && o.inputData !== 'random' && o.inputData !== 'zero') {
    o.inputData = [o.inputData];
  }
  if (Array.isArray(o.inputData) && o.inputData.length === 0) o.inputData = 'random';
  if (o.verbose < 0 || !Number.isInteger(o.verbose)) o.verbose = 0;
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
