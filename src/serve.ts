/**
 * The composition root: starts and stops a whole Nereid server (core, backends, HTTP/gRPC/metrics
 * frontends) from settings. The CLI (`nereid`), the programmatic API (`import { startServer } from
 * 'nereid'`) and tests that need a real server on real sockets all start it here.
 */
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import { OnnxRuntimeBackend } from './backends/onnxruntime/backend.js';
import { PythonBackend } from './backends/python/backend.js';
import { headerForwardRegex } from './core/forwarded-headers.js';
import { createLogger, type Logger, type LogSettings, defaultLogSettings } from './core/logger.js';
import type { Restrictions } from './core/restricted.js';
import { InferenceServer, type ModelControlMode } from './core/server.js';
import { defaultTraceConfig, TraceManager, type TraceConfig } from './core/trace.js';
import { GrpcFrontend, type GrpcCompressionLevel, type GrpcOptions } from './frontends/grpc/server.js';
import { HttpFrontend } from './frontends/http/server.js';
import { defaultMetricsConfig, type MetricsConfig } from './frontends/metrics/metrics.js';
import { MetricsFrontend } from './frontends/metrics/server.js';

/** Everything `startServer` needs; the CLI fills it from `tritonserver`-style flags. */
export interface ServeSettings {
  /** `--model-repository` paths. */
  repositories: string[];
  /** Serve HTTP (`--allow-http`, default true). */
  allowHttp: boolean;
  /** `--http-port` (8000; 0 = any free port). */
  httpPort: number;
  /** `--http-address` (0.0.0.0). */
  httpAddress: string;
  /** `--http-max-input-size` in bytes (64 MiB). */
  httpMaxInputSize: number;
  /** Serve gRPC (`--allow-grpc`, default true). */
  allowGrpc: boolean;
  /** `--grpc-port` (8001; 0 = any free port). */
  grpcPort: number;
  /** `--grpc-address` (0.0.0.0). */
  grpcAddress: string;
  /**
   * gRPC keepalive and HTTP/2 ping settings, tritonserver's `--grpc-keepalive-*` and
   * `--grpc-http2-*` flags (times in ms).
   */
  grpcKeepalive: {
    /** `--grpc-keepalive-time` (7200000 ms). */
    timeMs: number;
    /** `--grpc-keepalive-timeout` (20000 ms). */
    timeoutMs: number;
    /** `--grpc-keepalive-permit-without-calls` (false). */
    permitWithoutCalls: boolean;
    /** `--grpc-http2-max-pings-without-data` (2). */
    http2MaxPingsWithoutData: number;
    /** `--grpc-http2-min-recv-ping-interval-without-data` (300000 ms). */
    http2MinRecvPingIntervalWithoutDataMs: number;
    /** `--grpc-http2-max-ping-strikes` (2). */
    http2MaxPingStrikes: number;
  };
  /** `--grpc-infer-response-compression-level` (none). */
  grpcInferResponseCompressionLevel: GrpcCompressionLevel;
  /** `--grpc-max-connection-age` / `--grpc-max-connection-age-grace` in ms (none). */
  grpcMaxConnectionAgeMs?: number;
  grpcMaxConnectionAgeGraceMs?: number;
  /**
   * gRPC over TLS (`--grpc-use-ssl`, `--grpc-use-ssl-mutual`, `--grpc-server-cert`,
   * `--grpc-server-key`, `--grpc-root-cert`): PEM file paths; mutual TLS requires client
   * certificates signed by the root certificate.
   */
  grpcSsl?: { certFile: string; keyFile: string; rootCertFile?: string; mutual: boolean };
  /** `--http-restricted-api` restrictions (none). */
  httpRestrictedApis: Restrictions;
  /** `--grpc-restricted-protocol` restrictions (none; header names include `triton-grpc-protocol-`). */
  grpcRestrictedProtocols: Restrictions;
  /** `--http-header-forward-pattern`: regular expression of headers forwarded as request parameters. */
  httpHeaderForwardPattern?: string;
  /** `--grpc-header-forward-pattern`: the same for gRPC metadata. */
  grpcHeaderForwardPattern?: string;
  /**
   * `--allow-client-shm` (false): whether clients may register shared-memory regions. Nereid has
   * no shared-memory extension yet, so it only records the setting.
   */
  allowClientShm: boolean;
  /** `--backend-config` settings by backend. */
  backendConfig: Record<string, Record<string, string>>;
  /** Auto-complete model configs (false with `--disable-auto-complete-config` / `--strict-model-config`). */
  autoComplete: boolean;
  /** `--strict-readiness` (true). */
  strictReadiness: boolean;
  /** `--exit-on-error` (true): exit when a model fails to load. */
  exitOnError: boolean;
  /** `--exit-timeout-secs` (30): how long shutdown waits for in-flight requests. */
  exitTimeoutSecs: number;
  /** `--model-config-name`. */
  modelConfigName?: string;
  /** `--model-load-thread-count` (4). */
  modelLoadThreads: number;
  /** `--model-load-retry-count` (0): further attempts after a model version fails to load. */
  modelLoadRetryCount: number;
  /** `--model-control-mode` (none). */
  modelControlMode: ModelControlMode;
  /** `--repository-poll-secs` (15): seconds between repository polls in poll mode. */
  repositoryPollSecs: number;
  /** `--load-model` names (explicit mode; `*` = all). */
  startupModels: string[];
  /** Server metadata name (`--id`, default "triton"). */
  serverName: string;
  /** Log settings. */
  log: LogSettings;
  /** Serve Prometheus metrics (`--allow-metrics`, default true). */
  allowMetrics: boolean;
  /** `--allow-gpu-metrics` (true): `nv_gpu_*` gauges per GPU when the machine has NVIDIA GPUs. */
  allowGpuMetrics: boolean;
  /** `--allow-cpu-metrics` (true): `nv_cpu_utilization`, `nv_cpu_memory_*_bytes`. */
  allowCpuMetrics: boolean;
  /** `--metrics-port` (8002; 0 = any free port). */
  metricsPort: number;
  /** `--metrics-address` (default: the HTTP address). */
  metricsAddress?: string;
  /** `--metrics-interval-ms` (2000): ms between CPU samples. */
  metricsIntervalMs: number;
  /** `--metrics-config`. */
  metricsConfig: MetricsConfig;
  /** `--trace-config`. */
  trace: TraceConfig;
}

/** Defaults of every setting, as tritonserver's. */
export function defaultServeSettings(): ServeSettings {
  return {
    repositories: [],
    allowHttp: true,
    httpPort: 8000,
    httpAddress: '0.0.0.0',
    httpMaxInputSize: 64 * 1024 * 1024,
    allowGrpc: true,
    grpcPort: 8001,
    grpcAddress: '0.0.0.0',
    grpcKeepalive: {
      timeMs: 7_200_000,
      timeoutMs: 20_000,
      permitWithoutCalls: false,
      http2MaxPingsWithoutData: 2,
      http2MinRecvPingIntervalWithoutDataMs: 300_000,
      http2MaxPingStrikes: 2,
    },
    grpcInferResponseCompressionLevel: 'none',
    httpRestrictedApis: {},
    grpcRestrictedProtocols: {},
    allowClientShm: false,
    backendConfig: {},
    autoComplete: true,
    strictReadiness: true,
    exitOnError: true,
    exitTimeoutSecs: 30,
    modelLoadThreads: 4,
    modelLoadRetryCount: 0,
    modelControlMode: 'none',
    repositoryPollSecs: 15,
    startupModels: [],
    serverName: 'triton',
    log: defaultLogSettings(),
    allowMetrics: true,
    allowGpuMetrics: true,
    allowCpuMetrics: true,
    metricsPort: 8002,
    metricsIntervalMs: 2000,
    metricsConfig: defaultMetricsConfig(),
    trace: defaultTraceConfig(),
  };
}

/** A running server. */
export interface RunningServer {
  core: InferenceServer;
  http?: HttpFrontend;
  /** Bound HTTP port (useful with port 0). */
  httpPort?: number;
  /** The gRPC frontend (when `allowGrpc`). */
  grpc?: GrpcFrontend;
  /** Bound gRPC port (useful with port 0). */
  grpcPort?: number;
  /** The metrics frontend (when `allowMetrics`). */
  metrics?: MetricsFrontend;
  /** Bound metrics port (useful with port 0). */
  metricsPort?: number;
  /** Names of models that failed to load. */
  failedModels: string[];
  /** Graceful stop: close listeners, drain in-flight requests (up to exit timeout), unload models. */
  stop(): Promise<void>;
}

/**
 * Reads the PEM files of `--grpc-use-ssl`.
 * @throws Error naming the flag and the file when one cannot be read.
 */
function readSsl(ssl: NonNullable<ServeSettings['grpcSsl']>): GrpcOptions['ssl'] {
  const read = (file: string, flag: string) => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      throw new Error(`--${flag}: cannot read '${file}': ${(e as Error).message}`);
    }
  };
  return {
    cert: read(ssl.certFile, 'grpc-server-cert'),
    key: read(ssl.keyFile, 'grpc-server-key'),
    rootCert: ssl.rootCertFile ? read(ssl.rootCertFile, 'grpc-root-cert') : undefined,
    mutual: ssl.mutual,
  };
}

/**
 * Turns off V8's allocation-site pretenuring for this process (process-wide, all threads; called by
 * `startServer`, idempotent).
 *
 * V8 moves an allocation site (an object or array literal in the code) to allocating straight in
 * the old generation once most of its objects are seen surviving a scavenge, and the decision
 * sticks. In a server the per-request literals (tensors, requests, queue entries) are short-lived,
 * but a slow first execution or a burst of queued requests makes them look long-lived; once
 * pretenured, every request's objects, and the young objects they point to, wait for a full
 * mark-compact to be freed. Measured on FinalNet with batch-1 requests at concurrency 64 and the
 * dynamic batcher (whose bookkeeping lives on the requests, not in a Map keyed by them): ~3.5 MB
 * promoted per scavenge, ~5 ms scavenge pauses and a mark-compact every ~0.5 s with
 * pretenuring; 0.3 MB, 2 ms and none without. bench/README.md has the throughput figures.
 * This changes a V8 flag at run time (`v8.setFlagsFromString`); it only affects GC heuristics.
 */
function disablePretenuring(): void {
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}

/**
 * Loads the model repositories and starts the frontends, as `nereid --model-repository=…` does.
 * @param options settings; what is left out takes tritonserver's default ({@link defaultServeSettings}).
 *   Ports 0 bind any free port (read the bound ones from the result).
 * @param logger where the server logs (default: a logger built from `options.log`).
 * @returns the running server: its core (`core.infer(request)` runs a request in-process), bound
 *   ports and `stop()`.
 * @throws Error when a repository cannot be read, a port cannot be bound, or (with `exitOnError`,
 *   the default) a model failed to load — after unloading whatever did load.
 */
export async function startServer(options: Partial<ServeSettings>, logger?: Logger): Promise<RunningServer> {
  const settings: ServeSettings = { ...defaultServeSettings(), ...options };
  logger ??= createLogger(settings.log);
  // What can be wrong with the settings themselves fails before any model loads.
  const httpForward = headerForwardRegex(settings.httpHeaderForwardPattern, 'http-header-forward-pattern');
  const grpcForward = headerForwardRegex(settings.grpcHeaderForwardPattern, 'grpc-header-forward-pattern');
  const grpcSsl = settings.allowGrpc && settings.grpcSsl ? readSsl(settings.grpcSsl) : undefined;
  disablePretenuring();
  const tracer = await TraceManager.create(settings.trace, logger);
  const core = new InferenceServer({
    repositories: settings.repositories,
    backends: [new OnnxRuntimeBackend(), new PythonBackend()],
    backendConfig: settings.backendConfig,
    autoComplete: settings.autoComplete,
    strictReadiness: settings.strictReadiness,
    exitOnError: settings.exitOnError,
    modelConfigName: settings.modelConfigName,
    modelLoadThreads: settings.modelLoadThreads,
    modelLoadRetryCount: settings.modelLoadRetryCount,
    modelControlMode: settings.modelControlMode,
    repositoryPollSecs: settings.repositoryPollSecs,
    startupModels: settings.startupModels,
    serverName: settings.serverName,
    logger,
    tracer,
  });
  let failedModels: string[];
  try {
    failedModels = await core.loadAll();
  } catch (e) {
    await core.shutdown(0);
    throw e;
  }
  logger.info(core.modelTable());
  if (failedModels.length > 0 && settings.exitOnError) {
    await core.shutdown(0);
    throw new Error(
      `failed to load all models (${failedModels.join(', ')}); use --exit-on-error=false to serve the others`,
    );
  }
  // gRPC first, then HTTP, as tritonserver starts them.
  let grpcFrontend: GrpcFrontend | undefined;
  let grpcPort: number | undefined;
  if (settings.allowGrpc) {
    const k = settings.grpcKeepalive;
    grpcFrontend = new GrpcFrontend(core, {
      port: settings.grpcPort,
      address: settings.grpcAddress,
      keepaliveTimeMs: k.timeMs,
      keepaliveTimeoutMs: k.timeoutMs,
      keepalivePermitWithoutCalls: k.permitWithoutCalls,
      http2MaxPingsWithoutData: k.http2MaxPingsWithoutData,
      http2MinRecvPingIntervalWithoutDataMs: k.http2MinRecvPingIntervalWithoutDataMs,
      http2MaxPingStrikes: k.http2MaxPingStrikes,
      inferResponseCompressionLevel: settings.grpcInferResponseCompressionLevel,
      maxConnectionAgeMs: settings.grpcMaxConnectionAgeMs,
      maxConnectionAgeGraceMs: settings.grpcMaxConnectionAgeGraceMs,
      ssl: grpcSsl,
      restrictedProtocols: settings.grpcRestrictedProtocols,
      headerForwardPattern: grpcForward,
    });
    try {
      grpcPort = await grpcFrontend.listen();
    } catch (e) {
      await grpcFrontend.close(0);
      await core.shutdown(0);
      throw new Error(
        `failed to start GRPC service on ${settings.grpcAddress}:${settings.grpcPort}: ${(e as Error).message}`,
      );
    }
    logger.info(`Started GRPCInferenceService at ${settings.grpcAddress}:${grpcPort}`);
  }
  let http: HttpFrontend | undefined;
  let httpPort: number | undefined;
  if (settings.allowHttp) {
    http = new HttpFrontend(core, {
      port: settings.httpPort,
      address: settings.httpAddress,
      maxInputSize: settings.httpMaxInputSize,
      restrictedApis: settings.httpRestrictedApis,
      headerForwardPattern: httpForward,
    });
    try {
      httpPort = await http.listen();
    } catch (e) {
      await grpcFrontend?.close(0);
      await core.shutdown(0);
      throw new Error(
        `failed to start HTTP service on ${settings.httpAddress}:${settings.httpPort}: ${(e as Error).message}`,
      );
    }
    logger.info(`Started HTTPService at ${settings.httpAddress}:${httpPort}`);
  }
  let metrics: MetricsFrontend | undefined;
  let metricsPort: number | undefined;
  if (settings.allowMetrics) {
    const address = settings.metricsAddress ?? settings.httpAddress;
    metrics = new MetricsFrontend(core, {
      port: settings.metricsPort,
      address,
      cpuMetrics: settings.allowCpuMetrics,
      gpuMetrics: settings.allowGpuMetrics,
      intervalMs: settings.metricsIntervalMs,
      config: settings.metricsConfig,
    });
    try {
      metricsPort = await metrics.listen();
    } catch (e) {
      await metrics.close();
      await http?.close();
      await grpcFrontend?.close(0);
      await core.shutdown(0);
      await tracer.close();
      throw new Error(
        `failed to start Metrics service on ${address}:${settings.metricsPort}: ${(e as Error).message}`,
      );
    }
    logger.info(`Started Metrics Service at ${address}:${metricsPort}`);
  }
  let stopping: Promise<void> | undefined;
  return {
    core,
    http,
    httpPort,
    grpc: grpcFrontend,
    grpcPort,
    metrics,
    metricsPort,
    failedModels,
    stop() {
      stopping ??= (async () => {
        const closed = http?.close();
        const grpcClosed = grpcFrontend?.close((settings.exitTimeoutSecs + 1) * 1000);
        const left = await core.shutdown(settings.exitTimeoutSecs * 1000);
        if (left > 0) logger.warn(`exit timeout expired with ${left} requests in flight`);
        await closed;
        await grpcClosed;
        await metrics?.close();
        await tracer.close();
      })();
      return stopping;
    },
  };
}
