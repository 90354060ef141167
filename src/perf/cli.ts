/**
 * `nereid perf`: the command-line face of `runPerf`, with perf_analyzer's flag names and defaults
 * (perf_analyzer docs/cli.md). `perfCommand()` is a commander subcommand for `src/cli/main.ts`;
 * `parsePerfArgs()` turns an argument list into PerfOptions without running anything.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  PerfError,
  parseHeader,
  parseRange,
  parseSequenceIdRange,
  parseShape,
  resolvePerfOptions,
  type MeasurementMode,
  type PerfOptions,
  type PerfProtocol,
  type RequestDistribution,
} from './options.js';

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer ≥ ${min}, got '${value}'`);
    return n;
  };
}

function number(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min)
      throw new InvalidArgumentError(`expected a number ≥ ${min}, got '${value}'`);
    return n;
  };
}

function oneOf<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    const v = value.toLowerCase() as T;
    if (!choices.includes(v)) {
      throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${value}'`);
    }
    return v;
  };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const increase = (_: string, previous: number): number => previous + 1;

/** The parsed flags, as commander names them. */
interface PerfFlags {
  m?: string;
  x?: string;
  b: number;
  u?: string;
  i: PerfProtocol;
  concurrencyRange?: string;
  requestRateRange?: string;
  requestDistribution: RequestDistribution;
  inputData?: string[];
  shape?: string[];
  stringLength: number;
  stringData?: string;
  sequenceLength?: number;
  sequenceLengthVariation: number;
  sequenceIdRange?: string;
  numOfSequences: number;
  serialSequences?: boolean;
  measurementInterval: number;
  measurementMode: MeasurementMode;
  measurementRequestCount: number;
  percentile?: number;
  stabilityPercentage: number;
  maxTrials: number;
  latencyThreshold: number;
  binarySearch?: boolean;
  async?: boolean;
  sync?: boolean;
  warmupRequestCount: number;
  f?: string;
  verboseCsv?: boolean;
  plot?: string;
  H?: string[];
  statsUrl?: string;
  verbose: number;
}

/**
 * Converts parsed flags to PerfOptions (defaults filled, combination checked).
 * @throws PerfError for a missing `-m`, bad ranges, shapes, headers or input-data choices, and
 *   everything resolvePerfOptions refuses.
 */
function toPerfOptions(f: PerfFlags): PerfOptions {
  if (!f.m) throw new PerfError('-m <model name> is required');
  if (f.async && f.sync) throw new PerfError('--async and --sync cannot be used together');
  let inputData: PerfOptions['inputData'] = 'random';
  const data = f.inputData ?? [];
  if (data.length > 0) {
    const special = data.filter((d) => d === 'random' || d === 'zero');
    if (special.length > 0 && data.length > 1) {
      throw new PerfError(`--input-data ${special[0]} cannot be combined with other --input-data values`);
    }
    inputData = special.length > 0 ? (special[0] as 'random' | 'zero') : data;
  }
  const shapes: Record<string, number[]> = {};
  for (const s of f.shape ?? []) {
    const { name, shape } = parseShape(s);
    shapes[name] = shape;
  }
  return resolvePerfOptions({
    model: f.m,
    modelVersion: f.x,
    batchSize: f.b,
    url: f.u,
    protocol: f.i,
    concurrencyRange: f.concurrencyRange
      ? parseRange(f.concurrencyRange, '--concurrency-range', true)
      : undefined,
    requestRateRange: f.requestRateRange
      ? parseRange(f.requestRateRange, '--request-rate-range', false)
      : undefined,
    requestDistribution: f.requestDistribution,
    inputData,
    shapes,
    stringLength: f.stringLength,
    stringData: f.stringData,
    sequenceLength: f.sequenceLength,
    sequenceLengthVariation: f.sequenceLengthVariation,
    sequenceIdRange: f.sequenceIdRange ? parseSequenceIdRange(f.sequenceIdRange) : undefined,
    numOfSequences: f.numOfSequences,
    serialSequences: f.serialSequences ?? false,
    measurementIntervalMs: f.measurementInterval,
    measurementMode: f.measurementMode,
    measurementRequestCount: f.measurementRequestCount,
    percentile: f.percentile,
    stabilityPercentage: f.stabilityPercentage,
    maxTrials: f.maxTrials,
    latencyThresholdMs: f.latencyThreshold,
    binarySearch: f.binarySearch ?? false,
    async: f.async ?? false,
    warmupRequestCount: f.warmupRequestCount,
    csvFile: f.f,
    verboseCsv: f.verboseCsv ?? false,
    plotFile: f.plot,
    headers: Object.fromEntries((f.H ?? []).map(parseHeader)),
    statsUrl: f.statsUrl,
    verbose: f.verbose,
  });
}

/**
 * Runs `runPerf` for the CLI: report on stdout, warnings on stderr, `error: …` and exit code 1 on
 * failure. The first Ctrl-C stops after the current measurement window and still reports; the second
 * quits at once.
 */
export async function runPerfCli(o: PerfOptions): Promise<void> {
  const { runPerf } = await import('./run.js');
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nstopping after the current measurement window (Ctrl-C again to quit now)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    await runPerf({
      ...o,
      output: (line) => process.stdout.write(`${line}\n`),
      errorOutput: (line) => process.stderr.write(`${line}\n`),
      signal: controller.signal,
    });
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/**
 * The `perf` subcommand.
 * @param run receives the checked options (default: runPerfCli).
 */
export function perfCommand(run: (o: PerfOptions) => Promise<void> = runPerfCli): Command {
  const cmd = new Command('perf')
    .description(
      "measure a model's throughput (infer/sec) and latency (usec) like Triton's perf_analyzer: same flags, same report",
    )
    .option('-m <model>', 'model name (required)')
    .option('-x <version>', 'model version (default: the highest ready version)')
    .option('-b <n>', 'batch size of every request', integer(1), 1)
    .option(
      '-u <url>',
      'server address host:port (default: localhost:8000 for http, localhost:8001 for grpc)',
    )
    .option('-i <protocol>', 'protocol: http or grpc', oneOf(['http', 'grpc'] as const), 'http')
    .option(
      '--concurrency-range <start:end:step>',
      'closed-loop load: measure at each concurrency (requests in flight) from start to end (0 = until the latency threshold) (default: 1:1:1)',
    )
    .option(
      '--request-rate-range <start:end:step>',
      'open-loop load: measure at each request rate in requests/sec (floating point) instead of concurrency',
    )
    .option(
      '--request-distribution <constant|poisson>',
      'gaps between requests in request-rate mode',
      oneOf(['constant', 'poisson'] as const),
      'constant',
    )
    .option(
      '--input-data <random|zero|file.json>',
      'input values: random, zero, or perf_analyzer JSON input-data files (repeatable) (default: random)',
      collect,
    )
    .option(
      '--shape <name:d1,d2,...>',
      'shape of an input with variable dims, without the batch dimension; repeatable',
      collect,
    )
    .option('--string-length <n>', 'length of random BYTES elements', integer(0), 128)
    .option('--string-data <string>', 'value of every BYTES element instead of random strings')
    .option(
      '--sequence-length <n>',
      'sequence models: base length of a sequence in requests (default: 20, or the number of entries of JSON --input-data)',
      integer(1),
    )
    .option(
      '--sequence-length-variation <pct>',
      'sequence models: each sequence is the base length ± this %',
      number(0),
      20,
    )
    .option(
      '--sequence-id-range <start[:end]>',
      'sequence models: sequence ids from start up to end (excluded; no end = no bound) (default: 1)',
    )
    .option(
      '--num-of-sequences <n>',
      'sequence models: sequences live at once in request-rate mode (in concurrency mode, one per concurrent request)',
      integer(1),
      4,
    )
    .option(
      '--serial-sequences',
      'sequence models: at most one request in flight per sequence in request-rate mode',
    )
    .option('-p, --measurement-interval <ms>', 'length of a time window in ms', integer(1), 5000)
    .option(
      '--measurement-mode <mode>',
      'time_windows (windows of --measurement-interval ms) or count_windows (≥ 1 s and ≥ --measurement-request-count requests)',
      oneOf(['time_windows', 'count_windows'] as const),
      'time_windows',
    )
    .option('--measurement-request-count <n>', 'least requests in a count window', integer(1), 50)
    .option(
      '--percentile <n>',
      'report this latency percentile and use it for stability and --latency-threshold instead of the average (-1 = average)',
      integer(-1),
    )
    .option(
      '-s, --stability-percentage <pct>',
      'a level is stable when max/min of throughput and latency over 3 consecutive windows is within this %',
      number(0),
      10,
    )
    .option('-r, --max-trials <n>', 'most measurement windows per load level', integer(1), 10)
    .option(
      '-l, --latency-threshold <ms>',
      'latency limit in ms: stop the search at the first level over it (0 = no limit)',
      number(0),
      0,
    )
    .option(
      '--binary-search',
      'binary search over the range for the highest load within --latency-threshold (needs start, end and the threshold)',
    )
    .option('-a, --async', 'asynchronous mode: an unstable latency alone does not fail a level')
    .option('--sync', 'synchronous mode (the default)')
    .option('--warmup-request-count <n>', 'requests sent before measuring each load level', integer(0), 0)
    .option('-f <file.csv>', "write perf_analyzer's CSV report (times in usec, rows by throughput)")
    .option('--verbose-csv', 'add the Avg latency, request/response and response wait columns to the CSV')
    .option('--plot <file.svg>', 'write a throughput (infer/sec) vs. latency (usec) chart as SVG')
    .option(
      '-H <header:value>',
      'extra HTTP header for infer requests; repeatable (ignored for grpc)',
      collect,
    )
    .option(
      '--stats-url <url>',
      'read server statistics from this HTTP server (default: the server under test; with -i grpc, its statistics call)',
    )
    .option('-v, --verbose', 'more output; repeat for extra verbose', increase, 0)
    .action(function (this: Command) {
      let options: PerfOptions;
      try {
        options = toPerfOptions(this.opts() as PerfFlags);
      } catch (e) {
        if (e instanceof PerfError) this.error(`error: ${e.message}`);
        throw e;
      }
      return run(options);
    });
  return cmd;
}

/**
 * Parses `nereid perf` arguments (without `perf`) into checked options, running nothing.
 * @throws PerfError with commander's or the option check's message.
 */
export function parsePerfArgs(args: string[]): PerfOptions {
  let result: PerfOptions | undefined;
  const cmd = perfCommand(async (o) => {
    result = o;
  })
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  try {
    cmd.parse(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new PerfError(e.message.replace(/^error: /, ''));
    throw e;
  }
  return result!;
}
