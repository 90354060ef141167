/**
 * A virtual {@link SchedulerClock} for the schedulers' unit tests: time moves only when the test
 * says so, timers and immediates run in a fixed order, and a test of a 100 ms queue delay takes no
 * real time.
 */
import type { ClockHandle, SchedulerClock } from '../../src/core/scheduler/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Lets every settled promise's continuations run (a real immediate comes after all microtasks). */
const flushMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Virtual time in milliseconds, starting at 1000. */
export class VirtualClock implements SchedulerClock {
  private time = 1000;
  private seq = 0;
  private timers: Pending[] = [];
  private immediates: Pending[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number, _keepAlive = true): ClockHandle {
    // Node's timers: at least 1 ms, whole milliseconds.
    const t = { at: this.time + Math.max(1, Math.floor(ms)), seq: this.seq++, fn, cancelled: false };
    this.timers.push(t);
    return t;
  }

  clearTimeout(handle: ClockHandle): void {
    (handle as Pending).cancelled = true;
  }

  setImmediate(fn: () => void): ClockHandle {
    const t = { at: this.time, seq: this.seq++, fn, cancelled: false };
    this.immediates.push(t);
    return t;
  }

  clearImmediate(handle: ClockHandle): void {
    (handle as Pending).cancelled = true;
  }

  /**
   * Runs everything due up to `now() + ms`, in order: pending promise continuations, then this
   * turn's immediates, then the earliest timer (time jumps to it), again and again; then sets the
   * time to `now() + ms`. `advance(0)` runs what is due now.
   */
  async advance(ms = 0): Promise<void> {
    const until = this.time + ms;
    let turns = 0;
    for (;;) {
      await flushMicrotasks();
      const turn = this.immediates;
      if (turn.length > 0) {
        // A scheduler polling for a sub-millisecond wake-up would spin here forever: time only moves
        // on timers. Tests use whole-millisecond delays.
        if (++turns > 10_000) throw new Error('immediates keep scheduling immediates at a fixed time');
        this.immediates = [];
        for (const t of turn) if (!t.cancelled) t.fn();
        continue;
      }
      turns = 0;
      this.timers = this.timers.filter((t) => !t.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (!next || next.at > until) break;
      this.timers.shift();
      this.time = Math.max(this.time, next.at);
      next.fn();
    }
    this.time = until;
  }

  /** Timers not yet run or cancelled. */
  get pendingTimers(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}
