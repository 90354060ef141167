/**
 * Per-model-version inference statistics, with the semantics of Triton's statistics extension
 * (server docs/protocol/extension_statistics.md):
 * - `success`/`fail`: per request, end-to-end duration; `queue`: per request, time queued;
 * - `compute_input/infer/output`: per request, the duration of the execution the request was in
 *   (every request of a batch is charged the whole execution);
 * - `inference_count`: batch elements inferred; `execution_count`: backend executions;
 * - `batch_stats`: per executed batch size, one count per execution.
 * Durations are nanoseconds.
 */

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
  private readonly batches = new Map<number, BatchStat>();

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
  }

  /** Records a finished request: success or failure with its end-to-end and queue durations (ns). */
  recordRequest(ok: boolean, totalNs: number, queueNs: number | undefined): void {
    const d = ok ? this.success : this.fail;
    d.count++;
    d.ns += Math.round(totalNs);
    if (ok && queueNs !== undefined) {
      this.queue.count++;
      this.queue.ns += Math.round(queueNs);
    }
  }

  /** Executed batch sizes, ascending. */
  batchStats(): BatchStat[] {
    return [...this.batches.values()].sort((a, b) => a.batch_size - b.batch_size);
  }
}
