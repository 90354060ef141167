#!/usr/bin/env -S MALLOC_TRIM_THRESHOLD_=65536 MALLOC_MMAP_THRESHOLD_=65536 node
/**
 * `nereid`: the server's command line, with `tritonserver`'s flag names and defaults
 * (server `src/command_line_parser.cc`; `tritonserver --help`). Boolean flags take an optional
 * value as tritonserver's do: `--exit-on-error=false`, `--strict-readiness true`, `--log-info`.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger, defaultLogSettings, type LogFormat } from '../core/logger.js';
import { NEREID_VERSION } from '../core/package.js';
import { parseTraceConfig } from '../core/trace.js';
import { parseMetricsConfig } from '../frontends/metrics/metrics.js';
import { perfCommand } from '../perf/cli.js';
import { setupCommand } from './setup.js';
import { defaultServeSettings, startServer, type ServeSettings } from '../serve.js';

function parseBool(value: string | boolean): boolean {
  if (typeof value === 'boolean') return value;
  const v = value.toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(v)) return true;
  if (['false', '0', 'off', 'no'].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got '${value}'`);
}

function parseInteger(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`expected an integer ≥ ${min}, got '${value}'`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Parses `--backend-config=<backend>,<key>=<value>` entries into settings by backend. */
export function parseBackendConfig(entries: string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const e of entries) {
    const m = /^([^,=]+),([^=]+)=(.*)$/.exec(e);
    if (!m) {
      throw new InvalidArgumentError(`--backend-config expects <backend>,<setting>=<value>, got '${e}'`);
    }
    (out[m[1]] ??= {})[m[2]] = m[3];
  }
  return out;
}

/** Builds the command-line program; `run` receives the parsed settings. */
export function buildProgram(run: (s: ServeSettings) => Promise<void>): Command {
  const d = defaultServeSettings();
  const bool = (flags: string, help: string, def: boolean) =>
    new Option(`${flags} [bool]`, `${help} (default: ${def})`).argParser(parseBool);
  const program = new Command('nereid')
    .description(
      'Nereid: a Triton-compatible inference server (KServe v2 HTTP and gRPC protocols) for ONNX models',
    )
    .version(NEREID_VERSION)
    .option(
      '--model-repository <path>',
      'model repository path; repeat for several (alias --model-store)',
      collect,
      [],
    )
    .option('--model-store <path>', 'same as --model-repository', collect, [])
    .addOption(
      new Option(
        '--model-control-mode <mode>',
        'model control mode (docs/user_guide/model_management.md): none (load every model at start), ' +
          'poll (load every model, then follow repository changes every --repository-poll-secs), ' +
          'explicit (load --load-model names, then only through the load/unload API)',
      )
        .argParser((v: string) => {
          const mode = v.toLowerCase();
          if (!['none', 'poll', 'explicit'].includes(mode))
            throw new InvalidArgumentError(`expected none, poll or explicit, got '${v}'`);
          return mode;
        })
        .default('none'),
    )
    .option(
      '--repository-poll-secs <seconds>',
      'poll mode: seconds between repository polls (0 = never poll)',
      parseInteger(0),
      d.repositoryPollSecs,
    )
    .option(
      '--load-model <name>',
      'explicit mode: model to load at start; repeatable; "*" alone loads every model',
      collect,
      [],
    )
    .option(
      '--model-config-name <name>',
      'use <model>/configs/<name>.pbtxt instead of config.pbtxt where it exists',
    )
    .option('--model-load-thread-count <n>', 'models loaded in parallel', parseInteger(1), d.modelLoadThreads)
    .option(
      '--backend-config <backend,setting=value>',
      'backend setting, e.g. onnxruntime,default-max-batch-size=8; repeatable',
      collect,
      [],
    )
    .option('--disable-auto-complete-config', 'do not complete model configurations from the model files')
    .addOption(bool('--strict-model-config', 'deprecated: true is --disable-auto-complete-config', false))
    .addOption(bool('--exit-on-error', 'exit when a model fails to load', d.exitOnError))
    .addOption(
      bool('--strict-readiness', '/v2/health/ready is 200 only when every model is ready', d.strictReadiness),
    )
    .option(
      '--exit-timeout-secs <seconds>',
      'on SIGINT/SIGTERM, seconds to wait for in-flight requests',
      parseInteger(0),
      d.exitTimeoutSecs,
    )
    .addOption(bool('--allow-http', 'serve HTTP/REST', d.allowHttp))
    .option('--http-port <port>', 'HTTP port', parseInteger(0), d.httpPort)
    .option('--http-address <address>', 'HTTP listen address', d.httpAddress)
    .option(
      '--http-max-input-size <bytes>',
      'largest accepted request body in bytes (also after decompression)',
      parseInteger(1),
      d.httpMaxInputSize,
    )
    .addOption(bool('--allow-grpc', 'serve gRPC (inference.GRPCInferenceService)', d.allowGrpc))
    .option('--grpc-port <port>', 'gRPC port', parseInteger(0), d.grpcPort)
    .option('--grpc-address <address>', 'gRPC listen address', d.grpcAddress)
    .option(
      '--grpc-keepalive-time <ms>',
      'ms between keepalive pings on an idle gRPC connection',
      parseInteger(1),
      d.grpcKeepalive.timeMs,
    )
    .option(
      '--grpc-keepalive-timeout <ms>',
      'ms to wait for a keepalive ping answer before closing the connection',
      parseInteger(1),
      d.grpcKeepalive.timeoutMs,
    )
    .addOption(
      bool(
        '--grpc-keepalive-permit-without-calls',
        'allow keepalive pings without calls in flight (accepted; @grpc/grpc-js does not enforce ping policies)',
        d.grpcKeepalive.permitWithoutCalls,
      ),
    )
    .option(
      '--grpc-http2-max-pings-without-data <n>',
      'pings allowed without data (accepted; not enforced by @grpc/grpc-js)',
      parseInteger(0),
      d.grpcKeepalive.http2MaxPingsWithoutData,
    )
    .option(
      '--grpc-http2-min-recv-ping-interval-without-data <ms>',
      'least ms between received pings without data (accepted; not enforced by @grpc/grpc-js)',
      parseInteger(0),
      d.grpcKeepalive.http2MinRecvPingIntervalWithoutDataMs,
    )
    .option(
      '--grpc-http2-max-ping-strikes <n>',
      'bad pings before closing the connection (accepted; not enforced by @grpc/grpc-js)',
      parseInteger(0),
      d.grpcKeepalive.http2MaxPingStrikes,
    )
    .addOption(
      new Option(
        '--grpc-infer-response-compression-level <level>',
        'compression of gRPC inference responses (@grpc/grpc-js sends them uncompressed; other levels warn)',
      )
        .choices(['none', 'low', 'medium', 'high'])
        .default(d.grpcInferResponseCompressionLevel),
    )
    .option('--id <name>', 'server name reported by GET /v2 (official clients expect "triton")', d.serverName)
    .option('--server-name <name>', 'same as --id')
    .option('--log-verbose <level>', 'verbose log level, 0 = off', parseInteger(0), 0)
    .addOption(bool('--log-info', 'log information messages', true))
    .addOption(bool('--log-warning', 'log warnings', true))
    .addOption(bool('--log-error', 'log errors', true))
    .addOption(
      new Option('--log-format <format>', 'log line layout: default, ISO8601, or json (one object per line)')
        .choices(['default', 'ISO8601', 'json'])
        .default('default'),
    )
    .option('--log-file <path>', 'append the log to this file instead of standard error')
    .addOption(
      bool('--allow-metrics', 'serve Prometheus metrics at /metrics on the metrics port', d.allowMetrics),
    )
    .addOption(
      bool(
        '--allow-gpu-metrics',
        'GPU metrics: nv_gpu_utilization, nv_gpu_memory_{total,used}_bytes, nv_gpu_power_{usage,limit} per GPU (gpu_uuid label), read with nvidia-smi every --metrics-interval-ms when the machine has NVIDIA GPUs',
        d.allowGpuMetrics,
      ),
    )
    .addOption(
      bool(
        '--allow-cpu-metrics',
        'CPU metrics nv_cpu_utilization, nv_cpu_memory_total_bytes, nv_cpu_memory_used_bytes (from /proc)',
        d.allowCpuMetrics,
      ),
    )
    .option('--metrics-port <port>', 'metrics port (GET /metrics)', parseInteger(0), d.metricsPort)
    .option('--metrics-address <address>', 'metrics listen address (default: the HTTP address)')
    .option(
      '--metrics-interval-ms <ms>',
      'ms between samples of the polled metrics (CPU utilization and memory)',
      parseInteger(1),
      d.metricsIntervalMs,
    )
    .option(
      '--metrics-config <setting=value>',
      'counter_latencies=true|false, summary_latencies=true|false, histogram_latencies=true|false, ' +
        'summary_quantiles=<q>:<error>,... (latencies in µs); repeatable',
      collect,
      [],
    )
    .option(
      '--trace-config <[mode,]setting=value>',
      'tracing: level=OFF|TIMESTAMPS|TENSORS (repeatable), rate=<n> (every n-th request, 1000), ' +
        'count=<n> (-1 = no limit), mode=triton|opentelemetry, triton,file=<path>, ' +
        'triton,log-frequency=<n>, opentelemetry,url=<http://host:port/v1/traces>, ' +
        'opentelemetry,resource=<key>=<value>, opentelemetry,bsp_max_queue_size|bsp_schedule_delay (ms)|' +
        'bsp_max_export_batch_size=<n>; repeatable',
      collect,
      [],
    )
    .option('--trace-file <path>', 'deprecated: --trace-config triton,file=<path>')
    .option('--trace-level <level>', 'deprecated: --trace-config level=<level> (repeatable)', collect, [])
    .option('--trace-rate <n>', 'deprecated: --trace-config rate=<n>')
    .option('--trace-count <n>', 'deprecated: --trace-config count=<n>')
    .option('--trace-log-frequency <n>', 'deprecated: --trace-config triton,log-frequency=<n>')
    .action(async (o) => {
      let backendConfig: Record<string, Record<string, string>> = {};
      try {
        backendConfig = parseBackendConfig(o.backendConfig);
      } catch (e) {
        program.error(`error: ${(e as Error).message}`);
      }
      const traceEntries: string[] = [
        ...(o.traceFile !== undefined ? [`triton,file=${o.traceFile}`] : []),
        ...(o.traceLevel as string[]).map((l) => `level=${l}`),
        ...(o.traceRate !== undefined ? [`rate=${o.traceRate}`] : []),
        ...(o.traceCount !== undefined ? [`count=${o.traceCount}`] : []),
        ...(o.traceLogFrequency !== undefined ? [`triton,log-frequency=${o.traceLogFrequency}`] : []),
        ...o.traceConfig,
      ];
      let trace = d.trace;
      let metricsConfig = d.metricsConfig;
      try {
        trace = parseTraceConfig(traceEntries);
        metricsConfig = parseMetricsConfig(o.metricsConfig);
      } catch (e) {
        program.error(`error: ${(e as Error).message}`);
      }
      const repositories = [...o.modelRepository, ...o.modelStore];
      if (o.loadModel.length > 0 && o.modelControlMode !== 'explicit') {
        createLogger(defaultLogSettings()).warn(
          '--load-model is only used with --model-control-mode=explicit; ignoring it',
        );
      }
      if (repositories.length === 0) program.error('error: at least one --model-repository is required');
      const settings: ServeSettings = {
        ...d,
        repositories,
        allowHttp: o.allowHttp ?? d.allowHttp,
        httpPort: o.httpPort,
        httpAddress: o.httpAddress,
        httpMaxInputSize: o.httpMaxInputSize,
        allowGrpc: o.allowGrpc ?? d.allowGrpc,
        grpcPort: o.grpcPort,
        grpcAddress: o.grpcAddress,
        grpcKeepalive: {
          timeMs: o.grpcKeepaliveTime,
          timeoutMs: o.grpcKeepaliveTimeout,
          permitWithoutCalls: o.grpcKeepalivePermitWithoutCalls ?? d.grpcKeepalive.permitWithoutCalls,
          http2MaxPingsWithoutData: o.grpcHttp2MaxPingsWithoutData,
          http2MinRecvPingIntervalWithoutDataMs: o.grpcHttp2MinRecvPingIntervalWithoutData,
          http2MaxPingStrikes: o.grpcHttp2MaxPingStrikes,
        },
        grpcInferResponseCompressionLevel: o.grpcInferResponseCompressionLevel,
        backendConfig,
        autoComplete: !(o.disableAutoCompleteConfig || o.strictModelConfig === true),
        strictReadiness: o.strictReadiness ?? d.strictReadiness,
        exitOnError: o.exitOnError ?? d.exitOnError,
        exitTimeoutSecs: o.exitTimeoutSecs,
        modelConfigName: o.modelConfigName,
        modelLoadThreads: o.modelLoadThreadCount,
        modelControlMode: o.modelControlMode,
        repositoryPollSecs: o.repositoryPollSecs,
        startupModels: o.loadModel,
        serverName: o.serverName ?? o.id,
        log: {
          logVerbose: o.logVerbose,
          logInfo: o.logInfo ?? true,
          logWarning: o.logWarning ?? true,
          logError: o.logError ?? true,
          format: o.logFormat as LogFormat,
          file: o.logFile ?? '',
        },
        allowMetrics: o.allowMetrics ?? d.allowMetrics,
        allowGpuMetrics: o.allowGpuMetrics ?? d.allowGpuMetrics,
        allowCpuMetrics: o.allowCpuMetrics ?? d.allowCpuMetrics,
        metricsPort: o.metricsPort,
        metricsAddress: o.metricsAddress,
        metricsIntervalMs: o.metricsIntervalMs,
        metricsConfig,
        trace,
      };
      await run(settings);
    });
  // `nereid perf …`: the load generator. Positional options keep the server's flags to `nereid`
  // itself, so `perf`'s own flags (-m, -u, -p, …) never clash with them; without a subcommand the
  // default action above starts the server as before.
  program.enablePositionalOptions().addCommand(perfCommand()).addCommand(setupCommand());
  return program;
}

/**
 * Runs the server until SIGINT/SIGTERM, then drains and exits 0 (1 when it cannot start).
 *
 * The signal handlers are installed before the server starts: a signal that arrives while models
 * load or ports open (after "Started HTTPService" is printed but before the metrics port is up, say)
 * must not fall through to Node's default action, which kills the process with no drain and no exit
 * code. Such a signal stops the server as soon as it has started.
 */
async function serve(settings: ServeSettings): Promise<void> {
  const logger = createLogger(settings.log);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let stopRequested = false;
  const drainAndExit = (running: NonNullable<typeof server>) => {
    running.stop().then(
      () => {
        logger.info('server stopped');
        process.exit(0);
      },
      (e: Error) => {
        logger.error(`error while stopping: ${e.message}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: string) => {
    if (stopRequested) {
      logger.warn(`received ${signal} again, exiting now`);
      process.exit(1);
    }
    stopRequested = true;
    logger.info(
      `received ${signal}, stopping: no new requests, waiting for in-flight ones, unloading models`,
    );
    if (server) drainAndExit(server);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  try {
    server = await startServer(settings, logger);
  } catch (e) {
    logger.error(`error: creating server: ${(e as Error).message}`);
    process.exit(1);
  }
  if (stopRequested) drainAndExit(server);
}

await buildProgram(serve).parseAsync(process.argv);
