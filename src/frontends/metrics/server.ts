/**
 * The metrics frontend: Triton's Prometheus endpoint, `GET /metrics` on its own `node:http` listener
 * (`--metrics-port`, 8002; `--metrics-address`), as tritonserver serves it (server
 * docs/user_guide/metrics.md). CPU gauges are sampled from /proc every `--metrics-interval-ms`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../core/logger.js';
import type { InferenceServer } from '../../core/server.js';
import { listGpus, sampleGpus } from '../../core/gpu.js';
import { CpuSampler } from './cpu.js';
import { defaultMetricsConfig, NereidMetrics, type MetricsConfig } from './metrics.js';

/** Metrics frontend settings (the CLI's `--metrics-*` flags). */
export interface MetricsOptions {
  /** `--metrics-port` (8002); 0 picks a free port. */
  port: number;
  /** `--metrics-address` (the HTTP address, 0.0.0.0 by default). */
  address?: string;
  /** `--allow-cpu-metrics` (true): `nv_cpu_utilization`, `nv_cpu_memory_{total,used}_bytes`. */
  cpuMetrics?: boolean;
  /**
   * `--allow-gpu-metrics` (true): `nv_gpu_utilization`, `nv_gpu_memory_{total,used}_bytes`,
   * `nv_gpu_power_{usage,limit}` per GPU, when the machine has NVIDIA GPUs (read with nvidia-smi).
   */
  gpuMetrics?: boolean;
  /** `--metrics-interval-ms` (2000): ms between CPU and GPU samples. */
  intervalMs?: number;
  /** `--metrics-config`. */
  config?: MetricsConfig;
}

/** The `/metrics` listener over one InferenceServer. */
export class MetricsFrontend {
  /** The metric families (exposed for tests and embedding). */
  readonly metrics: NereidMetrics;
  private readonly server: http.Server;
  private timer: NodeJS.Timeout | undefined;
  private gpuTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    core: InferenceServer,
    private readonly options: MetricsOptions,
  ) {
    this.log = core.logger;
    this.metrics = new NereidMetrics(
      core,
      options.config ?? defaultMetricsConfig(),
      options.cpuMetrics ?? true,
    );
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      req.resume();
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        res.end('Not Found');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'Content-Type': 'text/plain' });
        res.end('Method Not Allowed');
        return;
      }
      this.metrics.text().then(
        (text) => {
          res.writeHead(200, {
            'Content-Type': this.metrics.registry.contentType,
            'Content-Length': Buffer.byteLength(text),
          });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (e: Error) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(e.message);
        },
      );
    });
  }

  /** Starts sampling CPU metrics and listening; resolves with the bound port. @throws Error when the port is taken. */
  async listen(): Promise<number> {
    if (this.options.cpuMetrics ?? true) await this.startCpuSampling();
    if ((this.options.gpuMetrics ?? true) && listGpus().gpus.length > 0) await this.startGpuSampling();
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.address ?? '0.0.0.0', () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  private async startCpuSampling(): Promise<void> {
    const sampler = new CpuSampler();
    const sample = async () => {
      try {
        const s = await sampler.sample();
        this.metrics.setCpu(s.utilization, s.totalBytes, s.usedBytes);
        return true;
      } catch (e) {
        this.log.warn(`CPU metrics unavailable: ${(e as Error).message}`);
        return false;
      }
    };
    if (!(await sample())) return;
    this.timer = setInterval(() => void sample(), Math.max(1, this.options.intervalMs ?? 2000));
    this.timer.unref();
  }

  private async startGpuSampling(): Promise<void> {
    this.metrics.enableGpuMetrics();
    const sample = async () => this.metrics.setGpus(await sampleGpus());
    await sample();
    this.gpuTimer = setInterval(() => void sample(), Math.max(1, this.options.intervalMs ?? 2000));
    this.gpuTimer.unref();
  }

  /** Stops sampling and closes the listener (open scrapes finish). */
  close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.gpuTimer) clearInterval(this.gpuTimer);
    this.metrics.close();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
