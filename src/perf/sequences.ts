/**
 * Sequences for `nereid perf` on sequence models (a `sequence_batching` section in the model
 * configuration), as perf_analyzer sends them (perf_analyzer docs/cli.md, "Sequence Model
 * Options"): every request carries a `sequence_id`, the first of a sequence `sequence_start` and the
 * last `sequence_end`; a sequence's length is `--sequence-length` ± `--sequence-length-variation` %;
 * ids come from `--sequence-id-range`, and a new sequence takes the next one.
 *
 * - Concurrency mode: each of the N request loops runs one sequence at a time, so N sequences are
 *   live, each with one request in flight.
 * - Request-rate mode: `--num-of-sequences` sequences are live and the scheduled requests go to them
 *   round-robin. A sequence sends nothing more until its START request has been answered (so that
 *   the server never sees a later request of it first); with `--serial-sequences` it never has more
 *   than one request in flight. A scheduled request that finds no sequence able to take it is sent,
 *   late, when one can.
 *
 * When a load level ends, every live sequence that has started is ended with one more request
 * carrying `sequence_end`, so that the server frees its sequence slots before the next level.
 */
import { PerfError } from './options.js';

/** The sequence parameters of one request. */
export interface SequenceFlags {
  /** `sequence_id` (correlation id), ≥ 1. */
  id: number;
  /** `sequence_start`: the first request of the sequence. */
  start: boolean;
  /** `sequence_end`: the last request of the sequence. */
  end: boolean;
}

/** How sequences are made: lengths and ids. */
export interface SequenceSettings {
  /** Base length in requests (`--sequence-length`). */
  length: number;
  /** Allowed variation of the length, in % of the base (`--sequence-length-variation`). */
  lengthVariation: number;
  /** First sequence id (`--sequence-id-range` start). */
  idStart: number;
  /** One past the last sequence id; undefined = no bound (`--sequence-id-range` end). */
  idEnd?: number;
}

/**
 * Hands out sequence ids and lengths for the whole run (ids do not repeat across load levels until
 * the id range wraps round).
 */
export class SequenceSource {
  private nextId: number;

  constructor(
    private readonly settings: SequenceSettings,
    private readonly random: () => number = Math.random,
  ) {
    this.nextId = settings.idStart;
  }

  /**
   * Checks that `live` sequences at once fit the id range.
   * @throws PerfError when the range holds fewer ids than `live` (ids would collide).
   */
  checkLive(live: number): void {
    const { idStart, idEnd } = this.settings;
    if (idEnd !== undefined && idEnd - idStart < live) {
      throw new PerfError(
        `--sequence-id-range ${idStart}:${idEnd} holds ${idEnd - idStart} sequence ids, fewer than the ${live} sequences live at once: sequence ids would collide`,
      );
    }
  }

  /** The next sequence id (wrapping round within the id range). */
  id(): number {
    const id = this.nextId++;
    if (this.settings.idEnd !== undefined && this.nextId >= this.settings.idEnd) {
      this.nextId = this.settings.idStart;
    }
    return id;
  }

  /** A length within ± the variation of the base length, at least 1. */
  length(): number {
    const { length, lengthVariation } = this.settings;
    const spread = (length * lengthVariation) / 100;
    const lo = Math.max(1, Math.ceil(length - spread));
    const hi = Math.max(lo, Math.floor(length + spread));
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }
}

/** One live sequence: its id, length and progress. */
export class Sequence {
  /** Requests sent so far. */
  sent = 0;
  /** Requests sent and not yet answered. */
  inFlight = 0;
  /** The START request has been answered. */
  startAnswered = false;
  /** Its END request was sent before its full length (the load stopped). */
  private endedEarly = false;

  constructor(
    readonly id: number,
    readonly length: number,
  ) {}

  /** Whether its END request has been sent. */
  get done(): boolean {
    return this.endedEarly || this.sent >= this.length;
  }

  /**
   * The flags of the next request (marking it sent: it is request `sent - 1` of the sequence);
   * `forceEnd` makes it the last one.
   */
  take(forceEnd = false): SequenceFlags {
    const start = this.sent === 0;
    this.sent++;
    if (forceEnd) this.endedEarly = true;
    this.inFlight++;
    return { id: this.id, start, end: this.done };
  }

  /** Notes the answer to one of its requests. */
  answered(flags: SequenceFlags): void {
    this.inFlight--;
    if (flags.start) this.startAnswered = true;
  }

  /** Whether it can take another request now. */
  ready(serial: boolean): boolean {
    if (this.done) return false;
    if (this.inFlight === 0) return true;
    return !serial && this.startAnswered;
  }
}
