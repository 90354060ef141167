/**
 * What every scheduler shares: a pool of model instances, the dispatch loop that hands a batch to
 * each free instance, statistics of executions, cancellation of queued requests and draining.
 * A concrete scheduler decides how requests wait and which of them form the next batch.
 */
import type { ModelInstance } from '../backend.js';
import { asTritonError, TritonError } from '../errors.js';
import type { ExecuteResult } from '../request.js';
import type { ModelStats } from '../stats.js';
import type { QueuedRequest, Scheduler } from './scheduler.js';

/** The answer of `nextBatch`: requests to run now, or nothing yet (re-check at `retryAt` ms). */
export type BatchDecision = { run: QueuedRequest[] } | { wait: true; retryAt?: number } | undefined;

/** Base of the schedulers: instance pool, dispatch loop, completion, idle tracking. */
export abstract class InstancePool implements Scheduler {
  private readonly free: ModelInstance[];
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;

  /**
   * @param instances the model's scheduled (non-passive) instances.
   * @param stats where executions are recorded.
   */
  constructor(
    instances: ModelInstance[],
    protected readonly stats: ModelStats,
  ) {
    this.free = instances.slice().reverse();
  }

  /** Adds a request to the waiting structures; returns an error to fail it at once instead. */
  protected abstract admit(q: QueuedRequest): TritonError | undefined;
  /** Removes a waiting request (cancel, timeout); false when it is not waiting any more. */
  protected abstract withdraw(q: QueuedRequest): boolean;
  /** Picks the next batch for a free instance (called only when one is free and something waits). */
  protected abstract nextBatch(now: number): BatchDecision;
  /** Removes and returns every waiting request. */
  protected abstract takeAll(): QueuedRequest[];
  abstract pending(): number;

  /** Delivers a result to a request's caller (a scheduler may reorder deliveries). */
  protected deliver(q: QueuedRequest, result: ExecuteResult, queueMs: number): void {
    q.done(result, queueMs);
  }

  enqueue(q: QueuedRequest): void {
    const signal = q.request.signal;
    if (signal?.aborted) {
      this.deliver(q, new TritonError('CANCELLED', 'request was cancelled'), 0);
      return;
    }
    const refused = this.admit(q);
    if (refused) {
      this.deliver(q, refused, 0);
      return;
    }
    if (signal) {
      const onAbort = () => this.fail(q, new TritonError('CANCELLED', 'request was cancelled'));
      signal.addEventListener('abort', onAbort, { once: true });
      const detach = q.detach; // the scheduler's own (e.g. a queue-timeout timer)
      q.detach = () => {
        signal.removeEventListener('abort', onAbort);
        detach?.();
      };
    }
    this.dispatch();
  }

  /** Takes a waiting request out of its queue and answers it with `error` (no-op when not waiting). */
  protected fail(q: QueuedRequest, error: TritonError): void {
    if (!this.withdraw(q)) return;
    q.detach?.();
    this.deliver(q, error, performance.now() - q.enqueuedAt);
    this.checkIdle();
  }

  /**
   * When true, dispatching waits for the end of the current event-loop turn (setImmediate), so
   * every request that arrived in the same turn can join one batch. Schedulers that batch set it.
   */
  protected coalesce = false;
  private dispatchQueued = false;

  /** Dispatches now, or once at the end of this event-loop turn when `coalesce` is set. */
  protected dispatch(): void {
    if (!this.coalesce) {
      this.dispatchNow();
      return;
    }
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    setImmediate(() => {
      this.dispatchQueued = false;
      this.dispatchNow();
    });
  }

  /** Hands batches to free instances until none is free, nothing waits, or the batcher waits. */
  private dispatchNow(): void {
    while (this.free.length > 0 && this.pending() > 0) {
      const now = performance.now();
      const decision = this.nextBatch(now);
      if (!decision) break;
      if ('wait' in decision) {
        if (decision.retryAt !== undefined) this.wakeAt(decision.retryAt);
        break;
      }
      const instance = this.free.pop()!;
      for (const q of decision.run) q.detach?.();
      void this.run(instance, decision.run);
    }
  }

  /** Runs dispatch again at `at` (ms, performance.now() clock); keeps the earliest pending wake-up. */
  protected wakeAt(at: number): void {
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.dispatch();
      },
      Math.max(0, at - performance.now()),
    );
    // The listeners keep the process alive; a pending wake-up alone must not.
    this.timer.unref();
  }

  private clearWake(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
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
      batch.forEach((q, i) => this.deliver(q, results[i], start - q.enqueuedAt));
    } catch (e) {
      const err = asTritonError(e);
      for (const q of batch) this.deliver(q, err, start - q.enqueuedAt);
    } finally {
      this.running--;
      this.free.push(instance);
      this.dispatch();
      this.checkIdle();
    }
  }

  private checkIdle(): void {
    if (this.running === 0 && this.pending() === 0) {
      this.clearWake();
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  idle(): Promise<void> {
    if (this.running === 0 && this.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.clearWake();
    this.idleWaiters = [];
  }

  rejectQueued(error: TritonError): void {
    for (const q of this.takeAll()) {
      q.detach?.();
      this.deliver(q, error, performance.now() - q.enqueuedAt);
    }
    this.checkIdle();
  }
}
