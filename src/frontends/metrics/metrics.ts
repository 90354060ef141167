/**
 * Triton's Prometheus metrics over the core's statistics (server docs/user_guide/metrics.md; names,
 * help texts, types and labels as core `src/metrics.cc` and `src/metric_model_reporter.cc`).
 *
 * Per model version, labels `model`, `version` and `_<key>` for each config `metric_tags` entry
 * (`reason` added on failures); label names are printed in sorted order, as Triton's.
 *
 *   nv_inference_request_success{model,version}                      counter  successful requests
 *   nv_inference_request_failure{model,reason,version}               counter  failed requests by reason
 *                                                                             (REJECTED, CANCELED, BACKEND, OTHER)
 *   nv_inference_count, nv_inference_exec_count                      counter  inferences (batch elements), executions
 *   nv_inference_request_duration_us, nv_inference_queue_duration_us counter  µs, successful requests
 *   nv_inference_compute_{input,infer,output}_duration_us            counter  µs, per request
 *   nv_inference_pending_request_count                               gauge    queued, not yet executing
 *   nv_model_load_duration_secs                                      gauge    s
 *   nv_cpu_utilization, nv_cpu_memory_{total,used}_bytes             gauge    no labels (--allow-cpu-metrics)
 *   nv_gpu_utilization, nv_gpu_memory_{total,used}_bytes,
 *   nv_gpu_power_{usage,limit}                                         gauge    gpu_uuid (--allow-gpu-metrics, GPUs present)
 *   nv_inference_{request,queue,compute_input,compute_infer,compute_output}_summary_us
 *                                                                    summary  µs (--metrics-config summary_latencies=true)
 *   nv_inference_first_response_histogram_ms                         histogram ms, decoupled models only
 *                                                                             (--metrics-config histogram_latencies=true)
 *
 * The counters and per-model gauges are not updated on the request path: they read the statistics
 * (`ModelStats`) when Prometheus scrapes, so `/metrics` and the statistics extension always agree
 * (µs = ⌊ns ÷ 1000⌋ of the statistics' cumulative durations). Summaries and histograms need every
 * observation and are fed per request, only when enabled. Response cache metrics
 * (`nv_cache_*_per_model`) appear only for models with a response cache, which Nereid does not
 * have yet; GPU metrics are not produced (no GPU support).
 */
import type { GpuSample } from '../../core/gpu.js';
import * as client from 'prom-client';
import type { ModelVersion } from '../../core/model.js';
import type { InferenceServer } from '../../core/server.js';
import { FAILURE_REASONS, type ModelStats, type StatDuration } from '../../core/stats.js';

/** `--metrics-config` settings (Triton's global metrics config group). */
export interface MetricsConfig {
  /** `counter_latencies` (true): the `*_duration_us` counters. */
  counterLatencies: boolean;
  /** `summary_latencies` (false): the `*_summary_us` summaries. */
  summaryLatencies: boolean;
  /** `histogram_latencies` (false): `nv_inference_first_response_histogram_ms` for decoupled models. */
  histogramLatencies: boolean;
  /**
   * `summary_quantiles` as `<quantile>:<error>` pairs (default 0.5:0.05, 0.9:0.01, 0.95:0.001,
   * 0.99:0.001, 0.999:0.001). prom-client's summaries use a t-digest: the error is accepted and not used.
   */
  summaryQuantiles: Array<[number, number]>;
}

/** Triton's metrics defaults. */
export function defaultMetricsConfig(): MetricsConfig {
  return {
    counterLatencies: true,
    summaryLatencies: false,
    histogramLatencies: false,
    summaryQuantiles: [
      [0.5, 0.05],
      [0.9, 0.01],
      [0.95, 0.001],
      [0.99, 0.001],
      [0.999, 0.001],
    ],
  };
}

/**
 * Parses `--metrics-config` entries: `[<group>,]<setting>=<value>` (the first `=` separates the value,
 * so `summary_quantiles=0.5:0.05,0.9:0.01` keeps its commas; surrounding quotes are dropped).
 * @throws Error naming the entry for unknown settings or bad values.
 */
export function parseMetricsConfig(entries: string[]): MetricsConfig {
  const c = defaultMetricsConfig();
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 1) throw new Error(`--metrics-config expects <setting>=<value>, got '${entry}'`);
    const key = entry.slice(0, eq).split(',').pop()!.trim();
    const value = entry
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    const bool = () => {
      if (value !== 'true' && value !== 'false')
        throw new Error(`--metrics-config ${key} expects true or false, got '${value}'`);
      return value === 'true';
    };
    switch (key) {
      case 'counter_latencies':
        c.counterLatencies = bool();
        break;
      case 'summary_latencies':
        c.summaryLatencies = bool();
        break;
      case 'histogram_latencies':
        c.histogramLatencies = bool();
        break;
      case 'summary_quantiles': {
        const pairs: Array<[number, number]> = [];
        for (const p of value.split(',')) {
          const [q, e] = p.split(':').map(Number);
          if (!(q > 0 && q < 1) || !Number.isFinite(e)) {
            throw new Error(`--metrics-config summary_quantiles expects <quantile>:<error>,..., got '${p}'`);
          }
          pairs.push([q, e]);
        }
        c.summaryQuantiles = pairs;
        break;
      }
      default:
        throw new Error(`unknown --metrics-config setting '${key}'`);
    }
  }
  return c;
}

type Labels = Record<string, string>;
type Sample = { labels: Labels; value: number };

/** A metric family whose samples are read from the core at scrape time (prom-client registry entry). */
class ScrapedFamily {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly read: () => Sample[],
  ) {}
  get(): { name: string; help: string; type: string; values: Sample[]; aggregator: string } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.read(),
      aggregator: this.aggregator,
    };
  }
  reset(): void {}
}

/** Sorted-key labels of a model version (plus `extra`), as Triton prints them. */
function sortedLabels(model: ModelVersion, extra: Labels = {}): Labels {
  const all: Labels = { model: model.name, version: String(model.version), ...extra };
  for (const [k, v] of Object.entries(model.config.metric_tags ?? {})) all[`_${k}`] = v;
  const out: Labels = {};
  for (const k of Object.keys(all).sort()) out[k] = all[k];
  return out;
}

const us = (d: StatDuration) => Math.floor(d.ns / 1000);

/** The metrics registry of one server: Triton's families over the core, plus the CPU gauges. */
export class NereidMetrics {
  /** The prom-client registry rendered at `/metrics`. */
  readonly registry = new client.Registry();
  private readonly labels = new WeakMap<ModelVersion, Labels>();
  private cpu: { util: client.Gauge; total: client.Gauge; used: client.Gauge } | undefined;
  private gpu:
    | {
        util: client.Gauge;
        total: client.Gauge;
        used: client.Gauge;
        power: client.Gauge;
        limit: client.Gauge;
      }
    | undefined;

  /**
   * @param core the server whose READY model versions are reported.
   * @param config `--metrics-config`.
   * @param cpuMetrics register `nv_cpu_*` (`--allow-cpu-metrics`); `setCpu` updates them.
   */
  constructor(
    private readonly core: InferenceServer,
    readonly config: MetricsConfig,
    cpuMetrics: boolean,
  ) {
    const models = () => core.readyModels();
    const per = (read: (s: ModelStats, m: ModelVersion) => number) => () =>
      models().map((m) => ({ labels: this.labelsOf(m), value: read(m.stats, m) }));
    const add = (name: string, help: string, type: 'counter' | 'gauge', read: () => Sample[]) =>
      this.registry.registerMetric(new ScrapedFamily(name, help, type, read) as unknown as client.Metric);

    add(
      'nv_inference_request_success',
      'Number of successful inference requests, all batch sizes',
      'counter',
      per((s) => s.success.count),
    );
    add(
      'nv_inference_request_failure',
      'Number of failed inference requests, all batch sizes',
      'counter',
      () =>
        models().flatMap((m) =>
          FAILURE_REASONS.map((reason) => ({
            labels: sortedLabels(m, { reason }),
            value: m.stats.failures[reason],
          })),
        ),
    );
    add(
      'nv_inference_count',
      'Number of inferences performed (does not include cached requests)',
      'counter',
      per((s) => s.inferenceCount),
    );
    add(
      'nv_inference_exec_count',
      'Number of model executions performed (does not include cached requests)',
      'counter',
      per((s) => s.executionCount),
    );
    if (config.counterLatencies) {
      add(
        'nv_inference_request_duration_us',
        'Cumulative inference request duration in microseconds (includes cached requests)',
        'counter',
        per((s) => us(s.success)),
      );
      add(
        'nv_inference_queue_duration_us',
        'Cumulative inference queuing duration in microseconds (includes cached requests)',
        'counter',
        per((s) => us(s.queue)),
      );
      add(
        'nv_inference_compute_input_duration_us',
        'Cumulative compute input duration in microseconds (does not include cached requests)',
        'counter',
        per((s) => us(s.computeInput)),
      );
      add(
        'nv_inference_compute_infer_duration_us',
        'Cumulative compute inference duration in microseconds (does not include cached requests)',
        'counter',
        per((s) => us(s.computeInfer)),
      );
      add(
        'nv_inference_compute_output_duration_us',
        'Cumulative inference compute output duration in microseconds (does not include cached requests)',
        'counter',
        per((s) => us(s.computeOutput)),
      );
    }
    add(
      'nv_inference_pending_request_count',
      'Instantaneous number of pending requests awaiting execution per-model.',
      'gauge',
      per((_, m) => m.pendingRequests()),
    );
    add(
      'nv_model_load_duration_secs',
      'Model load time in seconds',
      'gauge',
      per((_, m) => m.loadDurationSecs),
    );
    if (cpuMetrics) {
      const g = (name: string, help: string) => new client.Gauge({ name, help, registers: [this.registry] });
      this.cpu = {
        util: g('nv_cpu_utilization', 'CPU utilization rate [0.0 - 1.0]'),
        total: g('nv_cpu_memory_total_bytes', 'CPU total memory (RAM), in bytes'),
        used: g('nv_cpu_memory_used_bytes', 'CPU used memory (RAM), in bytes'),
      };
    }
    if (config.summaryLatencies || config.histogramLatencies) this.installObservers(models());
  }

  /**
   * Registers Triton's GPU gauges, labelled `gpu_uuid` (`--allow-gpu-metrics` on a machine with
   * GPUs; server docs/user_guide/metrics.md "GPU Metrics"); `setGpus` updates them.
   */
  enableGpuMetrics(): void {
    if (this.gpu) return;
    const g = (name: string, help: string) =>
      new client.Gauge({ name, help, labelNames: ['gpu_uuid'], registers: [this.registry] });
    this.gpu = {
      util: g('nv_gpu_utilization', 'GPU utilization rate [0.0 - 1.0)'),
      total: g('nv_gpu_memory_total_bytes', 'GPU total memory, in bytes'),
      used: g('nv_gpu_memory_used_bytes', 'GPU used memory, in bytes'),
      power: g('nv_gpu_power_usage', 'GPU power usage in watts'),
      limit: g('nv_gpu_power_limit', 'GPU power management limit in watts'),
    };
  }

  /** Sets the GPU gauges from one sample per GPU (no-op before `enableGpuMetrics`). */
  setGpus(samples: GpuSample[]): void {
    if (!this.gpu) return;
    for (const s of samples) {
      const labels = { gpu_uuid: s.uuid };
      this.gpu.util.set(labels, s.utilization);
      this.gpu.total.set(labels, s.memoryTotalBytes);
      this.gpu.used.set(labels, s.memoryUsedBytes);
      this.gpu.power.set(labels, s.powerUsageWatts);
      this.gpu.limit.set(labels, s.powerLimitWatts);
    }
  }

  private labelsOf(m: ModelVersion): Labels {
    let l = this.labels.get(m);
    if (!l) {
      l = sortedLabels(m);
      this.labels.set(m, l);
    }
    return l;
  }

  /** Feeds the summaries/histograms from every model's statistics (only when enabled). */
  private installObservers(models: ModelVersion[]): void {
    const labelNames = [...new Set(models.flatMap((m) => Object.keys(this.labelsOf(m))))].sort();
    const summary = (name: string, help: string) =>
      new client.Summary({
        name,
        help,
        labelNames,
        percentiles: this.config.summaryQuantiles.map(([q]) => q),
        maxAgeSeconds: 60,
        ageBuckets: 5,
        registers: [this.registry],
      });
    const s = this.config.summaryLatencies
      ? {
          request: summary(
            'nv_inference_request_summary_us',
            'Summary of inference request duration in microseconds (includes cached requests)',
          ),
          queue: summary(
            'nv_inference_queue_summary_us',
            'Summary of inference queuing duration in microseconds (includes cached requests)',
          ),
          input: summary(
            'nv_inference_compute_input_summary_us',
            'Cumulative compute input duration in microseconds (does not include cached requests)',
          ),
          infer: summary(
            'nv_inference_compute_infer_summary_us',
            'Cumulative compute inference duration in microseconds (does not include cached requests)',
          ),
          output: summary(
            'nv_inference_compute_output_summary_us',
            'Cumulative inference compute output duration in microseconds (does not include cached requests)',
          ),
        }
      : undefined;
    const decoupled = models.filter((m) => m.decoupled);
    const histogram =
      this.config.histogramLatencies && decoupled.length > 0
        ? new client.Histogram({
            name: 'nv_inference_first_response_histogram_ms',
            help: 'Duration from request to first response in milliseconds',
            labelNames,
            buckets: [100, 500, 2000, 5000],
            registers: [this.registry],
          })
        : undefined;
    const known = new Set(labelNames);
    const attach = (m: ModelVersion) => {
      const labels = this.labelsOf(m);
      // A version loaded later with metric_tags keys unknown at start cannot join the families.
      if (!Object.keys(labels).every((k) => known.has(k))) return;
      const c = s && {
        request: s.request.labels(labels),
        queue: s.queue.labels(labels),
        input: s.input.labels(labels),
        infer: s.infer.labels(labels),
        output: s.output.labels(labels),
      };
      const h = histogram && m.decoupled ? histogram.labels(labels) : undefined;
      if (!c && !h) return;
      m.stats.observer = {
        request(totalNs, queueNs) {
          if (c) {
            c.request.observe(totalNs / 1000);
            c.queue.observe(queueNs / 1000);
          }
          h?.observe(totalNs / 1e6);
        },
        execution(requests, inputNs, inferNs, outputNs) {
          if (!c) return;
          for (let i = 0; i < requests; i++) {
            c.input.observe(inputNs / 1000);
            c.infer.observe(inferNs / 1000);
            c.output.observe(outputNs / 1000);
          }
        },
      };
    };
    for (const m of models) attach(m);
    // Versions loaded or unloaded later (model management): observe the new, drop the old series.
    this.unsubscribe = this.core.onModelChange((m, event) => {
      if (event === 'ready') {
        attach(m);
        return;
      }
      m.stats.observer = undefined;
      const labels = this.labels.get(m);
      if (!labels || !Object.keys(labels).every((k) => known.has(k))) return;
      if (s) for (const family of Object.values(s)) family.remove(labels);
      if (histogram && m.decoupled) histogram.remove(labels);
    });
  }

  private unsubscribe: (() => void) | undefined;

  /** Sets the CPU gauges (no-op without `--allow-cpu-metrics`). */
  setCpu(utilization: number, totalBytes: number, usedBytes: number): void {
    if (!this.cpu) return;
    this.cpu.util.set(utilization);
    this.cpu.total.set(totalBytes);
    this.cpu.used.set(usedBytes);
  }

  /** Detaches the summary/histogram observers from the models. */
  close(): void {
    this.unsubscribe?.();
    for (const m of this.core.readyModels()) m.stats.observer = undefined;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
