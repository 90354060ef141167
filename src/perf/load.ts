/**
 * Load generators of `nereid perf`:
 * - concurrency (closed loop, perf_analyzer's concurrency mode): N independent loops, each sending a
 *   request and awaiting its response before sending the next;
 * - request rate (open loop): requests go out on a schedule (constant or Poisson gaps) whether or not
 *   earlier ones have been answered.
 * Both walk the pre-built requests round-robin, `batchSize` data entries at a time. On sequence
 * models both send sequences instead (see `./sequences.ts`): request k of a sequence takes the data
 * entries from k × batchSize on.
 */
import { performance } from 'node:perf_hooks';
import type { RequestDistribution } from './options.js';
import { Sequence, type SequenceFlags, type SequenceSource } from './sequences.js';
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

  /** Index of the prepared request for request `k` (0-based) of a sequence. */
  step(k: number): number {
    return (k * this.stride) % this.count;
  }
}

/** Request-rate mode on a sequence model: how many sequences are live, and whether serially. */
export interface RateSequences {
  source: SequenceSource;
  /** `--num-of-sequences`. */
  count: number;
  /** `--serial-sequences`: at most one request in flight per sequence. */
  serial: boolean;
}

/**
 * Closed loop: `level` loops, each awaiting its response before the next request. With `sequences`
 * (a sequence model), each loop runs one sequence after another.
 */
export class ConcurrencyLoad implements LoadGenerator {
  private running = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly transport: InferTransport,
    private readonly rec: Recorder,
    private readonly cursor: RequestCursor,
    private readonly sequences?: SequenceSource,
  ) {}

  /** @throws PerfError when `level` sequences at once do not fit `--sequence-id-range`. */
  start(level: number): void {
    this.sequences?.checkLive(level);
    this.transport.setMaxInFlight(level);
    this.running = true;
    this.loops = Array.from({ length: level }, () =>
      this.sequences ? this.sequenceLoop(this.sequences) : this.loop(),
    );
  }

  private async loop(): Promise<void> {
    while (this.running) await this.transport.send(this.cursor.take(), this.rec, false);
  }

  private async sequenceLoop(source: SequenceSource): Promise<void> {
    let seq: Sequence | undefined;
    const send = async (s: Sequence, flags: SequenceFlags) => {
      await this.transport.send(this.cursor.step(s.sent - 1), this.rec, false, flags);
      s.answered(flags);
    };
    while (this.running) {
      if (!seq || seq.done) seq = new Sequence(source.id(), source.length());
      await send(seq, seq.take());
    }
    // End the sequence under way, so that the server frees its slot.
    if (seq && !seq.done) await send(seq, seq.take(true));
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

/**
 * Open loop: requests on a schedule of `level` requests/s. With `sequences` (a sequence model), the
 * scheduled requests go round-robin to the live sequences (see `./sequences.ts`).
 */
export class RequestRateLoad implements LoadGenerator {
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private nextAt = 0;
  private gapMs = 0;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  /** Live sequences (sequence models). */
  private live: Sequence[] = [];
  /** Round-robin position in `live`. */
  private turn = 0;
  /** Scheduled requests that found no sequence able to take them; sent (late) when one can. */
  private owed = 0;

  constructor(
    private readonly transport: InferTransport,
    private readonly rec: Recorder,
    private readonly cursor: RequestCursor,
    private readonly distribution: RequestDistribution,
    private readonly sequences?: RateSequences,
  ) {}

  /** @throws PerfError when `--num-of-sequences` sequences do not fit `--sequence-id-range`. */
  start(level: number): void {
    if (this.sequences) {
      const { source, count } = this.sequences;
      source.checkLive(count);
      this.live = Array.from({ length: count }, () => new Sequence(source.id(), source.length()));
      this.turn = 0;
      this.owed = 0;
    }
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
      const late = now - this.nextAt > DELAY_TOLERANCE_MS;
      if (!this.sequences) {
        this.inFlight++;
        void this.transport.send(this.cursor.take(), this.rec, late).then(this.onDone);
      } else {
        const seq = this.pick(this.sequences);
        if (seq) void this.sendInSequence(seq, late);
        else this.owed++;
      }
      this.nextAt += this.gap();
    }
    this.timer = setTimeout(this.tick, Math.max(0, this.nextAt - performance.now()));
  };

  /** The next live sequence (round-robin) that can take a request; finished ones are replaced. */
  private pick(sequences: RateSequences): Sequence | undefined {
    const n = this.live.length;
    for (let k = 0; k < n; k++) {
      const i = (this.turn + k) % n;
      if (this.live[i].done) this.live[i] = new Sequence(sequences.source.id(), sequences.source.length());
      if (this.live[i].ready(sequences.serial)) {
        this.turn = (i + 1) % n;
        return this.live[i];
      }
    }
    return undefined;
  }

  private sendInSequence(seq: Sequence, late: boolean, forceEnd = false): Promise<void> {
    const flags = seq.take(forceEnd);
    this.inFlight++;
    return this.transport.send(this.cursor.step(seq.sent - 1), this.rec, late, flags).then(() => {
      seq.answered(flags);
      this.onDone();
      // A sequence may now take the requests that were due while none could.
      while (this.running && this.owed > 0 && this.sequences) {
        const next = this.pick(this.sequences);
        if (!next) break;
        this.owed--;
        void this.sendInSequence(next, true);
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.owed = 0;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.drained = undefined;
    // End the sequences under way, so that the server frees their slots.
    const started = this.live.filter((s) => s.sent > 0 && !s.done);
    this.live = [];
    await Promise.all(started.map((s) => this.sendInSequence(s, false, true)));
  }
}
