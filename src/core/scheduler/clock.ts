/**
 * Where a scheduler reads the time and schedules its wake-ups. Production uses the process's own
 * clock and timers ({@link REAL_CLOCK}); the schedulers' unit tests pass a virtual clock so that
 * batching delays and queue timeouts run in no real time and in a fixed order.
 */

/** A pending timer or immediate, as returned by the clock that created it. */
export type ClockHandle = unknown;

/** Time and timers for a scheduler. */
export interface SchedulerClock {
  /** Milliseconds on a monotonic clock (the `performance.now()` clock; fractional). */
  now(): number;
  /**
   * Runs `fn` once after `ms` milliseconds (Node timers: whole milliseconds, at least 1).
   * @param keepAlive false when the timer alone must not keep the process running.
   */
  setTimeout(fn: () => void, ms: number, keepAlive: boolean): ClockHandle;
  /** Cancels a timer from {@link SchedulerClock.setTimeout} (no-op once it ran). */
  clearTimeout(handle: ClockHandle): void;
  /** Runs `fn` once at the end of this event-loop turn, after pending I/O callbacks. */
  setImmediate(fn: () => void): ClockHandle;
  /** Cancels an immediate from {@link SchedulerClock.setImmediate} (no-op once it ran). */
  clearImmediate(handle: ClockHandle): void;
}

/** The process's clock: `performance.now()`, Node's timers and immediates. */
export const REAL_CLOCK: SchedulerClock = {
  now: () => performance.now(),
  setTimeout(fn, ms, keepAlive) {
    const t = setTimeout(fn, ms);
    if (!keepAlive) t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (handle) => clearImmediate(handle as NodeJS.Immediate),
};
