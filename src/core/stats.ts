/**
 * Per-model-version inference statistics, with the semantics of Triton's statistics extension
 * (server docs/protocol/extension_statistics.md):
 * - `success`/`fail`: per request, end-to-end duration; `queue`: per request, time queued;
 * - `compute_input/infer/output`: per request, the duration of the execution the request was in
 *   (every request of a batch is charged the whole execution);
 * - `inference_count`: batch elements inferred; `execution_count`: backend executions;
 * - `batch_stats`: per executed batch size, one count per execution.
 * - `response_stats`: per response index, for decoupled models' responses (recorded by backends
 *   that send several responses per request; empty otherwise, as Triton's for ONNX Runtime models);
 * - failures are also counted by Triton's metric reason (core `src/metric_model_reporter.cc`:
 *   REJECTED, CANCELED, BACKEND, OTHER) for `nv_inference_request_failure{reason}`.
 * Durations are nanoseconds.
 */
import type { FailureReason } from '../protocol/errors.js';

/** A count and a cumulative duration in nanoseconds. */
export interface StatDuration {
  count: number;
  ns: number;
}

/** Durations of one kind of execution step for a batch size. */
export interface BatchStat {
  batch_size: number;
  compute_input: StatDuration;
  compute_infer: StatDuration;
  compute_output: StatDuration;
}

const dur = (): StatDuration => ({ count: 0, ns: 0 });

/** Every failure reason, in the order Triton's metrics list them. */
export const FAILURE_REASONS: readonly FailureReason[] = ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER'];

/** Statistics of the responses at one index (statistics extension `response_stats` entry). */
export interface ResponseStat {
  compute_infer: StatDuration;
  compute_output: StatDuration;
  success: StatDuration;
  fail: StatDuration;
  empty_response: StatDuration;
  cancel: StatDuration;
}

/** Memory a model version uses (statistics extension `memory_usage` entry). */
export interface MemoryUsage {
  /** "CPU", "CPU_PINNED" or "GPU". */
  type: string;
  /** Device id. */
  id: number;
  /** Bytes. */
  byte_size: number;
}

/**
 * Per-request observations for the optional latency summaries/histograms of the metrics frontend
 * (`--metrics-config summary_latencies=true`). Only set when those are enabled, so the request path
 * costs one branch otherwise. Durations in nanoseconds.
 */
export interface StatsObserver {
  /** A successful request: end-to-end and queue durations. */
  request(totalNs: number, queueNs: number): void;
  /** One execution of `requests` requests: each request is charged the execution's durations. */
  execution(requests: number, inputNs: number, inferNs: number, outputNs: number): void;
}

/** Mutable statistics of one model version. */
export class ModelStats {
  success = dur();
  fail = dur();
  queue = dur();
  computeInput = dur();
  computeInfer = dur();
  computeOutput = dur();
  cacheHit = dur();
  cacheMiss = dur();
  inferenceCount = 0;
  executionCount = 0;
  /** Milliseconds since the epoch of the last inference, 0 if none. */
  lastInference = 0;
  /** Failed requests by metric reason (their sum is `fail.count`). */
  readonly failures: Record<FailureReason, number> = { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 };
  /** Memory used by the model version, reported by its backend at load (empty when unknown). */
  memoryUsage: MemoryUsage[] = [];
  /** Observer of per-request durations for latency summaries; undefined unless enabled. */
  observer: StatsObserver | undefined;
  private readonly batches = new Map<number, BatchStat>();
  private readonly responses = new Map<number, ResponseStat>();

  /** Records one finished execution of `batchSize` elements made of `requests` requests. */
  recordExecution(
    batchSize: number,
    requests: number,
    inputNs: number,
    inferNs: number,
    outputNs: number,
  ): void {
    this.executionCount += 1;
    this.inferenceCount += batchSize;
    this.lastInference = Date.now();
    this.computeInput.count += requests;
    this.computeInput.ns += inputNs * requests;
    this.computeInfer.count += requests;
    this.computeInfer.ns += inferNs * requests;
    this.computeOutput.count += requests;
    this.computeOutput.ns += outputNs * requests;
    let b = this.batches.get(batchSize);
    if (!b) {
      b = { batch_size: batchSize, compute_input: dur(), compute_infer: dur(), compute_output: dur() };
      this.batches.set(batchSize, b);
    }
    b.compute_input.count++;
    b.compute_input.ns += inputNs;
    b.compute_infer.count++;
    b.compute_infer.ns += inferNs;
    b.compute_output.count++;
    b.compute_output.ns += outputNs;
    this.observer?.execution(requests, inputNs, inferNs, outputNs);
  }

  /**
   * Records a finished request: success or failure with its end-to-end and queue durations (ns).
   * @param reason why it failed (metrics label), ignored for successes.
   */
  recordRequest(
    ok: boolean,
    totalNs: number,
    queueNs: number | undefined,
    reason: FailureReason = 'OTHER',
  ): void {
    const d = ok ? this.success : this.fail;
    d.count++;
    d.ns += Math.round(totalNs);
    if (!ok) {
      this.failures[reason]++;
      return;
    }
    if (queueNs !== undefined) {
      this.queue.count++;
      this.queue.ns += Math.round(queueNs);
    }
    this.observer?.request(totalNs, queueNs ?? 0);
  }

  /**
   * Records one response of a decoupled model (Triton's
   * `TRITONBACKEND_ModelInstanceReportResponseStatistics`): the response at `index` (0 = first) of
   * its request, what it was, and its compute durations in ns.
   */
  recordResponse(
    index: number,
    kind: 'success' | 'fail' | 'empty_response' | 'cancel',
    inferNs: number,
    outputNs: number,
    totalNs: number,
  ): void {
    let r = this.responses.get(index);
    if (!r) {
      r = {
        compute_infer: dur(),
        compute_output: dur(),
        success: dur(),
        fail: dur(),
        empty_response: dur(),
        cancel: dur(),
      };
      this.responses.set(index, r);
    }
    r.compute_infer.count++;
    r.compute_infer.ns += inferNs;
    r.compute_output.count++;
    r.compute_output.ns += outputNs;
    r[kind].count++;
    r[kind].ns += totalNs;
  }

  /** `response_stats`: statistics per response index, keyed by the index as a string. */
  responseStats(): Record<string, ResponseStat> {
    const out: Record<string, ResponseStat> = {};
    for (const i of [...this.responses.keys()].sort((a, b) => a - b)) {
      const r = this.responses.get(i)!;
      out[String(i)] = structuredClone(r);
    }
    return out;
  }

  /** Executed batch sizes, ascending. */
  batchStats(): BatchStat[] {
    return [...this.batches.values()].sort((a, b) => a.batch_size - b.batch_size);
  }
}
