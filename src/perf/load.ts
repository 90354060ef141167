/**
 * Load generators of `nereid perf`:
 * - concurrency (closed loop, perf_analyzer's concurrency mode): N independent loops, each sending a
 *   request and awaiting its response before sending the next;
 * - request rate (open loop): requests go out on a schedule (constant or Poisson gaps) whether or not
 *   earlier ones have been answered.
 * Both walk the pre-built requests round-robin, `batchSize` data entries at a time.
 */
import { performance } from 'node:perf_hooks';
import type { RequestDistribution } from './options.js';
import type { InferTransport, Recorder } from './transport.js';

/** A load that can be started at a level (concurrency or requests/s) and stopped. */
export interface LoadGenerator {
  /** Starts sending at `level`. */
  start(level: number): void;
  /** Stops sending and resolves once every request in flight has been recorded. */
  stop(): Promise<void>;
}

/** Round-robin cursor over the prepared requests: each request consumes `stride` data entries. */
export class RequestCursor {
  private next = 0;

  constructor(
    private readonly count: number,
    private readonly stride: number,
  ) {}

  /** Index of the prepared request to send next. */
  take(): number {
    const i = this.next;
    this.next = (this.next + this.stride) % this.count;
    return i;
  }
}

/** Closed loop: `level` loops, each awaiting its response before the next request. */
export class ConcurrencyLoad implements LoadGenerator {
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly transport: InferTransport,
    private readonly rec: Recorder,
    private readonly cursor: RequestCursor,
  ) {}

  start(level: number): void {
    this.transport.setMaxInFlight(level);
    this.running = true;
    this.loops = Array.from({ length: level }, () => this.loop());
  }

  private async loop(): Promise<void> {
    while (this.running) await this.transport.send(this.cursor.take(), this.rec, false);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }
}

/** Most requests in flight in request-rate mode (HTTP sockets); later ones wait for a free connection. */
const RATE_MAX_IN_FLIGHT = 256;

/**
 * A request sent more than this many ms after its scheduled time counts as delayed (Node.js timers
 * fire a millisecond or two late as a matter of course; requests due meanwhile go out together).
 */
export const DELAY_TOLERANCE_MS = 5;

/** Open loop: requests on a schedule of `level` requests/s. */
export class RequestRateLoad implements LoadGenerator {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private nextAt = 0;
  private gapMs = 0;
  private inFlight = 0;
  private drained: (() => void) | undefined;

  constructor(
    private readonly transport: InferTransport,
    private readonly rec: Recorder,
    private readonly cursor: RequestCursor,
    private readonly distribution: RequestDistribution,
  ) {}

  start(level: number): void {
    this.transport.setMaxInFlight(RATE_MAX_IN_FLIGHT);
    this.gapMs = 1000 / level;
    this.running = true;
    this.nextAt = performance.now();
    this.tick();
  }

  private gap(): number {
    return this.distribution === 'poisson' ? -Math.log(1 - Math.random()) * this.gapMs : this.gapMs;
  }

  private readonly onDone = (): void => {
    if (--this.inFlight === 0 && this.drained) this.drained();
  };

  private readonly tick = (): void => {
    this.timer = undefined;
    if (!this.running) return;
    const now = performance.now();
    while (this.nextAt <= now) {
      this.inFlight++;
      const late = now - this.nextAt > DELAY_TOLERANCE_MS;
      void this.transport.send(this.cursor.take(), this.rec, late).then(this.onDone);
      this.nextAt += this.gap();
    }
    this.timer = setTimeout(this.tick, Math.max(0, this.nextAt - performance.now()));
  };

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.drained = undefined;
  }
}
