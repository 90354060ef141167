/**
 * Triton's default scheduler: no batching across requests; each request executes alone, in arrival
 * order, on the first free model instance (core `src/scheduler_utils.cc`, "default scheduler" in
 * docs/user_guide/model_configuration.md).
 */
import type { ModelInstance } from '../backend.js';
import { asTritonError, TritonError } from '../errors.js';
import type { ModelStats } from '../stats.js';
import { Fifo } from './queue.js';
import type { QueuedRequest, Scheduler } from './scheduler.js';

/** One request per execution, first free instance first. */
export class DefaultScheduler implements Scheduler {
  protected readonly queue = new Fifo<QueuedRequest>();
  protected readonly free: ModelInstance[];
  protected running = 0;
  private idleWaiters: Array<() => void> = [];

  /**
   * @param instances the model's instances (passive ones excluded).
   * @param stats where executions are recorded.
   */
  constructor(
    instances: ModelInstance[],
    protected readonly stats: ModelStats,
  ) {
    this.free = instances.slice().reverse();
  }

  enqueue(q: QueuedRequest): void {
    const signal = q.request.signal;
    if (signal) {
      if (signal.aborted) {
        q.done(new TritonError('CANCELLED', 'request was cancelled'), 0);
        return;
      }
      const onAbort = () => {
        if (this.queue.remove(q)) {
          q.done(new TritonError('CANCELLED', 'request was cancelled'), performance.now() - q.enqueuedAt);
          this.checkIdle();
        }
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    this.queue.push(q);
    this.dispatch();
  }

  pending(): number {
    return this.queue.length;
  }

  /** Takes the next batch for a free instance; the default scheduler takes one request. */
  protected nextBatch(): QueuedRequest[] | undefined {
    const q = this.queue.shift();
    return q ? [q] : undefined;
  }

  protected dispatch(): void {
    while (this.free.length > 0 && this.queue.length > 0) {
      const batch = this.nextBatch();
      if (!batch) break;
      const instance = this.free.pop()!;
      void this.run(instance, batch);
    }
  }

  private async run(instance: ModelInstance, batch: QueuedRequest[]): Promise<void> {
    this.running++;
    const start = performance.now();
    try {
      const { results, timings } = await instance.execute(batch.map((q) => q.request));
      const size = batch.reduce((n, q) => n + q.batchSize, 0);
      this.stats.recordExecution(
        size,
        batch.length,
        timings.computeInputNs,
        timings.computeInferNs,
        timings.computeOutputNs,
      );
      batch.forEach((q, i) => q.done(results[i], start - q.enqueuedAt));
    } catch (e) {
      const err = asTritonError(e);
      for (const q of batch) q.done(err, start - q.enqueuedAt);
    } finally {
      this.running--;
      this.free.push(instance);
      this.dispatch();
      this.checkIdle();
    }
  }

  private checkIdle(): void {
    if (this.running === 0 && this.queue.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  rejectQueued(error: TritonError): void {
    for (const q of this.queue.drain()) q.done(error, performance.now() - q.enqueuedAt);
    this.checkIdle();
  }
}
