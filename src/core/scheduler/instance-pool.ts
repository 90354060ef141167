/**
 * What every scheduler shares: a pool of model instances, the dispatch loop that hands a batch to
 * each free instance, statistics of executions, cancellation of queued requests and draining.
 * A concrete scheduler decides how requests wait and which of them form the next batch.
 */
import type { ModelInstance } from '../backend.js';
import { asTritonError, TritonError } from '../../protocol/errors.js';
import type { ExecuteResult, ExecuteTimings } from '../request.js';
import type { ModelStats } from '../stats.js';
import { REAL_CLOCK, type ClockHandle, type SchedulerClock } from './clock.js';
import type { QueuedRequest, Scheduler } from './scheduler.js';

/**
 * The answer of `nextBatch`: requests to run now as one execution, requests to run now each in an
 * execution of its own (`each`: handed to the instance together, see `ModelInstance.executeSeveral`),
 * or nothing yet (re-check at `retryAt` ms).
 */
export type BatchDecision =
  { run: QueuedRequest[]; each?: boolean } | { wait: true; retryAt?: number } | undefined;

/** Base of the schedulers: instance pool, dispatch loop, completion, idle tracking. */
export abstract class InstancePool implements Scheduler {
  private readonly free: ModelInstance[];
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  private timer: ClockHandle | undefined;
  private timerAt = Infinity;

  /**
   * @param instances the model's scheduled (non-passive) instances.
   * @param stats where executions are recorded.
   * @param clock time and timers (a virtual clock in unit tests).
   */
  constructor(
    instances: ModelInstance[],
    protected readonly stats: ModelStats,
    protected readonly clock: SchedulerClock = REAL_CLOCK,
  ) {
    this.free = instances.slice().reverse();
  }

  /** Adds a request to the waiting structures; returns an error to fail it at once instead. */
  protected abstract admit(q: QueuedRequest): TritonError | undefined;
  /** Removes a waiting request (cancel, timeout); false when it is not waiting any more. */
  protected abstract withdraw(q: QueuedRequest): boolean;
  /**
   * Picks the next batch for a free instance (called only when one is free and something waits).
   * @param freeInstances instances free at this moment (at least 1).
   * @param canBundle whether the instance about to be used takes an `each` decision of more than one
   *   request (it has `executeSeveral`); when false, such a decision must hold one request.
   */
  protected abstract nextBatch(now: number, freeInstances: number, canBundle: boolean): BatchDecision;
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
    this.deliver(q, error, this.clock.now() - q.enqueuedAt);
    this.checkIdle();
  }

  private dispatchQueued = false;

  /**
   * Dispatches once at the end of this event-loop turn (setImmediate), so every request that
   * arrived in the same turn can join one batch (dynamic batcher) or one bundle (default scheduler).
   */
  protected dispatch(): void {
    if (this.dispatchQueued) return;
    this.dispatchQueued = true;
    this.clock.setImmediate(() => {
      this.dispatchQueued = false;
      this.dispatchNow();
    });
  }

  /** Hands batches to free instances until none is free, nothing waits, or the batcher waits. */
  private dispatchNow(): void {
    while (this.free.length > 0 && this.pending() > 0) {
      const now = this.clock.now();
      const next = this.free[this.free.length - 1];
      const decision = this.nextBatch(now, this.free.length, next.executeSeveral !== undefined);
      if (!decision) break;
      if ('wait' in decision) {
        if (decision.retryAt !== undefined) this.wakeAt(decision.retryAt);
        break;
      }
      const instance = this.free.pop()!;
      for (const q of decision.run) q.detach?.();
      if (decision.each && decision.run.length > 1 && instance.executeSeveral) {
        void this.runEach(instance, instance.executeSeveral.bind(instance), decision.run);
      } else {
        void this.run(instance, decision.run);
      }
    }
  }

  /** Runs dispatch again at `at` (ms, the clock's `now()`); keeps the earliest pending wake-up. */
  protected wakeAt(at: number): void {
    if ((this.timer || this.immediate) && this.timerAt <= at) return;
    this.clearWake();
    this.timerAt = at;
    const remaining = at - this.clock.now();
    if (remaining < 1) {
      // Node's timers tick in whole milliseconds: the last fraction is waited on the event loop.
      this.poll();
      return;
    }
    // The listeners keep the process alive; a pending wake-up alone must not.
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.dispatch();
      },
      Math.floor(remaining),
      false,
    );
  }

  private immediate: ClockHandle | undefined;

  private poll(): void {
    this.immediate = this.clock.setImmediate(() => {
      this.immediate = undefined;
      if (this.clock.now() >= this.timerAt) {
        this.timerAt = Infinity;
        this.dispatch();
      } else {
        this.poll();
      }
    });
    // Not unref'd: an unref'd immediate does not stop the event loop from blocking in its poll
    // phase, so it would run only after the next I/O event or timer (seconds when idle). It keeps
    // the process alive for under a millisecond.
  }

  private clearWake(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    if (this.immediate) this.clock.clearImmediate(this.immediate);
    this.immediate = undefined;
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /**
   * Mean compute time of one execution in ms (input + infer + output as the instances report it),
   * an exponentially weighted average over recent executions (weight 0.3 for the latest, so it
   * forgets a slow first run within a few executions); undefined before the first.
   */
  protected meanExecutionMs: number | undefined;

  private observeExecution(timings: ExecuteTimings): void {
    const ms = (timings.computeInputNs + timings.computeInferNs + timings.computeOutputNs) / 1e6;
    this.meanExecutionMs = this.meanExecutionMs === undefined ? ms : this.meanExecutionMs * 0.7 + ms * 0.3;
  }

  /** Runs each request as its own execution, all handed to the instance at once. */
  private async runEach(
    instance: ModelInstance,
    executeSeveral: NonNullable<ModelInstance['executeSeveral']>,
    requests: QueuedRequest[],
  ): Promise<void> {
    this.running++;
    const start = this.clock.now();
    try {
      const outcomes = await executeSeveral(requests.map((q) => [q.request]));
      // A request waited in the queue, then behind the executions before it in the bundle.
      let behind = 0;
      outcomes.forEach(({ results, timings }, i) => {
        const q = requests[i];
        this.stats.recordExecution(
          q.batchSize,
          1,
          timings.computeInputNs,
          timings.computeInferNs,
          timings.computeOutputNs,
        );
        this.observeExecution(timings);
        this.deliver(q, results[0], start - q.enqueuedAt + behind);
        behind += (timings.computeInputNs + timings.computeInferNs + timings.computeOutputNs) / 1e6;
      });
    } catch (e) {
      const err = asTritonError(e);
      for (const q of requests) this.deliver(q, err, start - q.enqueuedAt);
    } finally {
      this.release(instance);
    }
  }

  private async run(instance: ModelInstance, batch: QueuedRequest[]): Promise<void> {
    this.running++;
    const start = this.clock.now();
    try {
      const { results, timings } = await instance.execute(batch.map((q) => q.request));
      const size = batch.reduce((n, q) => n + q.batchSize, 0);
      this.observeExecution(timings);
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
      this.release(instance);
    }
  }

  /** An execution on `instance` ended: the instance takes the next waiting work. */
  private release(instance: ModelInstance): void {
    this.running--;
    this.free.push(instance);
    this.dispatch();
    this.checkIdle();
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
      this.deliver(q, error, this.clock.now() - q.enqueuedAt);
    }
    this.checkIdle();
  }
}
