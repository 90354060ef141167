/**
 * The `nereid` command line: `tritonserver`'s flags with its names, defaults and validation messages
 * (server `src/command_line_parser.cc`; `tritonserver --help`), plus the `perf` and `setup`
 * subcommands. Boolean flags take an optional value as tritonserver's do: `--exit-on-error=false`,
 * `--strict-readiness true`, `--log-info`. Every documented Triton flag parses: the ones Nereid does
 * not act on are listed in triton-flags.ts. A bad value is refused with Triton's wording,
 * `Bad option: "--<flag>".` followed by the reason, and exit code 1.
 */
import { Command, InvalidArgumentError, Option, type OptionValues } from 'commander';
import type { LogFormat } from '../core/logger.js';
import { NEREID_VERSION } from '../core/package.js';
import { parseRestriction, type Restrictions } from '../core/restricted.js';
import { parseTraceConfig } from '../core/trace.js';
import { parseMetricsConfig } from '../frontends/metrics/metrics.js';
import { perfCommand } from '../perf/cli.js';
import { defaultServeSettings, type ServeSettings } from '../serve.js';
import { setupCommand } from './setup.js';
import { PASSIVE_FLAGS, pairProblem, type PassiveFlag } from './triton-flags.js';

function parseBool(value: string | boolean): boolean {
  if (typeof value === 'boolean') return value;
  const v = value.toLowerCase();
  if (['true', '1', 'on', 'yes'].includes(v)) return true;
  if (['false', '0', 'off', 'no'].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got '${value}'`);
}

/** An integer of any sign (Triton's ParseOption<int>); range checks come after parsing. */
function parseAnyInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got '${value}'`);
  return n;
}

function parseFloatValue(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'`);
  return n;
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

/** A flag value refused after parsing: Triton's message (`Bad option: "--<flag>".` and why). */
class BadOption extends Error {
  constructor(flag: string, reason: string) {
    super(`Bad option: "--${flag}".\n${reason}`);
  }
}

/** Adds a PassiveFlag to the program: parsed as Triton parses it, recorded nowhere. */
function passiveOption(flag: PassiveFlag): Option {
  switch (flag.kind) {
    case 'bool':
      return new Option(`--${flag.name} [bool]`, flag.help).argParser(parseBool);
    case 'int':
      return new Option(`--${flag.name} <n>`, flag.help).argParser(parseAnyInteger);
    case 'float':
      return new Option(`--${flag.name} <x>`, flag.help).argParser(parseFloatValue);
    default:
      return new Option(`--${flag.name} <${flag.format?.description ?? 'value'}>`, flag.help);
  }
}

/**
 * Triton's checks of the passive flags' values.
 * @throws BadOption for a malformed value, one Triton refuses, or one Nereid cannot honour.
 */
function checkPassiveFlags(opts: Record<string, unknown>): void {
  for (const flag of PASSIVE_FLAGS) {
    const value = opts[camel(flag.name)] as string | boolean | number | undefined;
    if (value === undefined) continue;
    const problem =
      (flag.kind === 'pair' ? pairProblem(flag, String(value)) : undefined) ??
      flag.validate?.(value) ??
      flag.unsupported?.(value);
    if (problem) throw new BadOption(flag.name, problem);
  }
}

/** Commander's attribute name for a flag (`grpc-use-ssl` → `grpcUseSsl`). */
function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * `--http-restricted-api` / `--grpc-restricted-protocol` values → restrictions.
 * @throws BadOption with Triton's message.
 */
function restrictions(
  values: string[],
  flag: string,
  prefix: string,
  kind: 'api' | 'protocol',
): Restrictions {
  const out: Restrictions = {};
  for (const v of values) {
    try {
      parseRestriction(v, flag, prefix, kind, out);
    } catch (e) {
      throw new BadOption(flag, (e as Error).message);
    }
  }
  return out;
}

/**
 * Triton's checks of the flags (command_line_parser.cc), and the settings of the flags Triton adds
 * to Nereid's own.
 * @throws BadOption with Triton's message (or a "not supported" one) for a refused value.
 */
function checkTritonFlags(o: OptionValues): Partial<ServeSettings> {
  if (o.httpMaxInputSize <= 0) {
    throw new BadOption('http-max-input-size', 'Error: --http-max-input-size must be greater than 0.');
  }
  if (o.modelConfigName === '') {
    throw new BadOption('model-config-name', 'Error: empty argument for --model-config-name');
  }
  if (o.loadModel.length > 0 && o.modelControlMode !== 'explicit') {
    throw new BadOption(
      'load-model',
      "Error: Use of '--load-model' requires setting '--model-control-mode=explicit' as well.",
    );
  }
  if (o.rateLimit !== undefined) {
    const mode = String(o.rateLimit).toLowerCase();
    if (mode === 'execution_count')
      throw new BadOption('rate-limit', 'the rate limiter (execution_count) is not supported by Nereid');
    if (mode !== 'off') throw new BadOption('rate-limit', 'invalid argument for --rate-limit');
  }
  if (o.rateLimitResource.length > 0) {
    throw new BadOption('rate-limit-resource', 'the rate limiter is not supported by Nereid');
  }
  if (o.responseCacheByteSize !== undefined && o.cacheConfig.length > 0) {
    throw new BadOption(
      'cache-config',
      'Error: Incompatible flags --response-cache-byte-size and --cache-config both provided. ' +
        'Please provide one or the other.',
    );
  }
  if (o.responseCacheByteSize !== undefined || o.cacheConfig.length > 0) {
    const flag = o.responseCacheByteSize !== undefined ? 'response-cache-byte-size' : 'cache-config';
    throw new BadOption(flag, 'the response cache is not supported by Nereid');
  }
  checkPassiveFlags(o);
  const out: Partial<ServeSettings> = {
    allowClientShm: o.allowClientShm ?? false,
    modelLoadRetryCount: o.modelLoadRetryCount,
    httpRestrictedApis: restrictions(o.httpRestrictedApi, 'http-restricted-api', '', 'api'),
    grpcRestrictedProtocols: restrictions(
      o.grpcRestrictedProtocol,
      'grpc-restricted-protocol',
      'triton-grpc-protocol-',
      'protocol',
    ),
    httpHeaderForwardPattern: o.httpHeaderForwardPattern,
    grpcHeaderForwardPattern: o.grpcHeaderForwardPattern,
    grpcMaxConnectionAgeMs: o.grpcMaxConnectionAge,
    grpcMaxConnectionAgeGraceMs: o.grpcMaxConnectionAgeGrace,
  };
  const mutual = o.grpcUseSslMutual === true;
  if (o.grpcUseSsl === true || mutual) {
    if (!o.grpcServerCert || !o.grpcServerKey) {
      throw new BadOption('grpc-use-ssl', 'TLS needs --grpc-server-cert and --grpc-server-key');
    }
    if (mutual && !o.grpcRootCert) {
      throw new BadOption('grpc-use-ssl-mutual', 'mutual TLS needs --grpc-root-cert');
    }
    out.grpcSsl = {
      certFile: o.grpcServerCert,
      keyFile: o.grpcServerKey,
      rootCertFile: o.grpcRootCert,
      mutual,
    };
  }
  return out;
}

/**
 * Builds the command-line program; `run` receives the parsed settings.
 * Flag errors end the process through commander (message on stderr, exit code 1) unless the caller
 * sets `exitOverride()` on the returned command.
 */
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
      '--model-load-retry-count <n>',
      'further attempts to load a model version that failed to load',
      parseInteger(0),
      d.modelLoadRetryCount,
    )
    .addOption(
      bool(
        '--allow-client-shm',
        'let clients register shared-memory regions (recorded; Nereid has no shared-memory extension yet)',
        d.allowClientShm,
      ),
    )
    .option('--rate-limit <mode>', 'off, or execution_count (the rate limiter: not supported by Nereid)')
    .option(
      '--rate-limit-resource <name:count[:device]>',
      'resources for the rate limiter (not supported by Nereid); repeatable',
      collect,
      [],
    )
    .option(
      '--response-cache-byte-size <bytes>',
      'deprecated: --cache-config local,size=<bytes> (the response cache: not supported by Nereid)',
    )
    .option(
      '--cache-config <cache,setting=value>',
      'response cache settings (not supported by Nereid); repeatable',
      collect,
      [],
    )
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
      'largest accepted JSON request header or raw request body in bytes, also after decompression (> 0)',
      parseAnyInteger,
      d.httpMaxInputSize,
    )
    .option(
      '--http-restricted-api <api[,api…]:header=value>',
      'answer the APIs (health, metadata, inference, shared-memory, model-config, model-repository, ' +
        'statistics, trace, logging) only for requests with this header; repeatable',
      collect,
      [],
    )
    .option(
      '--http-header-forward-pattern <regex>',
      'forward request headers whose name matches (case-insensitive) to models as request parameters',
    )
    .addOption(bool('--allow-grpc', 'serve gRPC (inference.GRPCInferenceService)', d.allowGrpc))
    .addOption(
      bool('--grpc-use-ssl', 'serve gRPC over TLS (needs --grpc-server-cert and --grpc-server-key)', false),
    )
    .addOption(
      bool(
        '--grpc-use-ssl-mutual',
        'TLS with client certificates signed by --grpc-root-cert (implies --grpc-use-ssl)',
        false,
      ),
    )
    .option('--grpc-server-cert <file>', 'PEM certificate chain of the gRPC server')
    .option('--grpc-server-key <file>', 'PEM private key of the gRPC server')
    .option('--grpc-root-cert <file>', 'PEM root certificate that client certificates must be signed by')
    .option(
      '--grpc-max-connection-age <ms>',
      'close (GOAWAY) gRPC connections older than this many ms',
      parseInteger(1),
    )
    .option(
      '--grpc-max-connection-age-grace <ms>',
      'ms calls may still finish after --grpc-max-connection-age closed their connection',
      parseInteger(1),
    )
    .option(
      '--grpc-restricted-protocol <protocol[,protocol…]:header=value>',
      'answer the RPC groups (same names as --http-restricted-api) only for calls with the metadata ' +
        'entry triton-grpc-protocol-<header>; repeatable',
      collect,
      [],
    )
    .option(
      '--grpc-header-forward-pattern <regex>',
      'forward gRPC metadata entries whose key matches (case-insensitive) to models as request parameters',
    )
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
      let checked: Partial<ServeSettings>;
      try {
        checked = checkTritonFlags(o);
      } catch (e) {
        if (e instanceof BadOption) program.error(e.message, { exitCode: 1 });
        throw e;
      }
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
        ...checked,
      };
      await run(settings);
    });
  for (const flag of PASSIVE_FLAGS) program.addOption(passiveOption(flag));
  // `nereid perf …`: the load generator. Positional options keep the server's flags to `nereid`
  // itself, so `perf`'s own flags (-m, -u, -p, …) never clash with them; without a subcommand the
  // default action above starts the server as before.
  program.enablePositionalOptions().addCommand(perfCommand()).addCommand(setupCommand());
  return program;
}
