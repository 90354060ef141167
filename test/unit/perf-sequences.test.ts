/**
 * `nereid perf` on sequence models, with a fake transport: sequence ids and lengths, and the load
 * generators' sequence rules — every sequence starts with `sequence_start` and ends with
 * `sequence_end`, its requests go out in order, nothing follows a START before it is answered,
 * `--serial-sequences` keeps one request in flight per sequence, and stopping a load ends the
 * sequences under way.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConcurrencyLoad, RequestCursor, RequestRateLoad } from '../../src/perf/load.js';
import { PerfError } from '../../src/perf/options.js';
import { Sequence, SequenceSource, type SequenceFlags } from '../../src/perf/sequences.js';
import { Recorder, type InferTransport } from '../../src/perf/transport.js';

/** One request the fake transport saw. */
interface Sent {
  index: number;
  flags: SequenceFlags;
  /** Requests of the same sequence in flight when it was sent (itself excluded). */
  concurrentInSequence: number;
  /** Whether the sequence's START had been answered when it was sent. */
  startAnswered: boolean;
}

/** Answers each request after `delayMs` (0: on the next turn of the event loop). */
class FakeTransport implements InferTransport {
  readonly sent: Sent[] = [];
  private readonly inFlight = new Map<number, number>();
  private readonly answeredStart = new Set<number>();

  constructor(private readonly delayMs = 0) {}

  setMaxInFlight(): void {}

  close(): void {}

  send(index: number, rec: Recorder, _delayed: boolean, flags?: SequenceFlags): Promise<void> {
    assert.ok(flags, 'a sequence model request carries sequence flags');
    rec.sent();
    const n = this.inFlight.get(flags.id) ?? 0;
    this.sent.push({
      index,
      flags,
      concurrentInSequence: n,
      startAnswered: this.answeredStart.has(flags.id),
    });
    this.inFlight.set(flags.id, n + 1);
    return new Promise((resolve) =>
      setTimeout(() => {
        this.inFlight.set(flags.id, this.inFlight.get(flags.id)! - 1);
        if (flags.start) this.answeredStart.add(flags.id);
        rec.success(0, 0, 0, 0, false);
        resolve();
      }, this.delayMs),
    );
  }

  /** The flags sent, grouped by sequence id, in sending order. */
  bySequence(): Map<number, Sent[]> {
    const m = new Map<number, Sent[]>();
    for (const s of this.sent) m.set(s.flags.id, [...(m.get(s.flags.id) ?? []), s]);
    return m;
  }
}

/** Every sequence starts once (first), ends once (last), and none is left open. */
function assertWellFormed(t: FakeTransport): void {
  assert.ok(t.sent.length > 0);
  for (const [id, sent] of t.bySequence()) {
    assert.ok(sent[0].flags.start, `sequence ${id} starts with START`);
    assert.ok(sent.at(-1)!.flags.end, `sequence ${id} ends with END (none left open)`);
    assert.equal(sent.filter((s) => s.flags.start).length, 1, `sequence ${id}: one START`);
    assert.equal(sent.filter((s) => s.flags.end).length, 1, `sequence ${id}: one END`);
    assert.ok(sent.length <= 12, `sequence ${id}: at most 10 + 20 % requests, got ${sent.length}`);
    sent.forEach((s, k) =>
      assert.equal(s.index, new RequestCursor(3, 1).step(k), 'request k takes data step k'),
    );
    for (const s of sent.slice(1))
      assert.ok(s.startAnswered, `sequence ${id}: nothing before START's answer`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nereid perf: sequences', () => {
  test('lengths stay within the variation; ids wrap round the range; the range must hold every live sequence', () => {
    let r = 0;
    const source = new SequenceSource({ length: 10, lengthVariation: 20, idStart: 5, idEnd: 8 }, () => {
      r = (r + 0.37) % 1;
      return r;
    });
    const lengths = Array.from({ length: 200 }, () => source.length());
    assert.equal(Math.min(...lengths), 8);
    assert.equal(Math.max(...lengths), 12);
    assert.deepEqual(
      Array.from({ length: 7 }, () => source.id()),
      [5, 6, 7, 5, 6, 7, 5],
    );
    source.checkLive(3);
    assert.throws(
      () => source.checkLive(4),
      (e: Error) =>
        e instanceof PerfError &&
        e.message ===
          '--sequence-id-range 5:8 holds 3 sequence ids, fewer than the 4 sequences live at once: sequence ids would collide',
    );
    const one = new SequenceSource({ length: 1, lengthVariation: 50, idStart: 1 });
    assert.ok(
      Array.from({ length: 50 }, () => one.length()).every((n) => n === 1),
      'never below 1',
    );
    const fixed = new SequenceSource({ length: 7, lengthVariation: 0, idStart: 1 });
    assert.ok(Array.from({ length: 50 }, () => fixed.length()).every((n) => n === 7));
  });

  test('a sequence flags its first and last requests; a forced end closes it early', () => {
    const s = new Sequence(9, 3);
    assert.deepEqual(s.take(), { id: 9, start: true, end: false });
    assert.equal(s.ready(false), false, 'nothing more before START is answered');
    s.answered({ id: 9, start: true, end: false });
    assert.equal(s.ready(false), true);
    assert.deepEqual(s.take(true), { id: 9, start: false, end: true });
    assert.equal(s.done, true);
    assert.equal(s.ready(false), false);
    const single = new Sequence(3, 1);
    assert.deepEqual(single.take(), { id: 3, start: true, end: true });
  });

  test('concurrency: each loop runs whole sequences; stopping ends the ones under way', async () => {
    const t = new FakeTransport();
    const source = new SequenceSource({ length: 10, lengthVariation: 20, idStart: 1 });
    const load = new ConcurrencyLoad(t, new Recorder(), new RequestCursor(3, 1), source);
    load.start(4);
    await sleep(30);
    await load.stop();
    assertWellFormed(t);
    assert.ok(
      t.sent.every((s) => s.concurrentInSequence === 0),
      'one request in flight per sequence',
    );
    // Sequences run 4 at a time: at any point at most 4 are open.
    const open = new Set<number>();
    let most = 0;
    for (const s of t.sent) {
      if (s.flags.start) open.add(s.flags.id);
      most = Math.max(most, open.size);
      if (s.flags.end) open.delete(s.flags.id);
    }
    assert.equal(most, 4);
    assert.throws(
      () =>
        new ConcurrencyLoad(
          t,
          new Recorder(),
          new RequestCursor(3, 1),
          new SequenceSource({ length: 2, lengthVariation: 0, idStart: 1, idEnd: 3 }),
        ).start(3),
      /holds 2 sequence ids, fewer than the 3 sequences live at once/,
    );
  });

  for (const serial of [false, true]) {
    test(`request rate${serial ? ', serial sequences' : ''}: requests spread over the live sequences, well formed`, async () => {
      const t = new FakeTransport(3);
      const source = new SequenceSource({ length: 10, lengthVariation: 20, idStart: 100 });
      const rec = new Recorder();
      const load = new RequestRateLoad(t, rec, new RequestCursor(3, 1), 'constant', {
        source,
        count: 3,
        serial,
      });
      load.start(2000);
      await sleep(100);
      await load.stop();
      assertWellFormed(t);
      const concurrent = Math.max(...t.sent.map((s) => s.concurrentInSequence));
      if (serial) assert.equal(concurrent, 0, 'at most one request in flight per sequence');
      else assert.ok(concurrent > 0, 'without --serial-sequences a sequence has requests in flight together');
      const open = new Set<number>();
      for (const s of t.sent) {
        if (s.flags.start) open.add(s.flags.id);
        assert.ok(open.size <= 3, 'at most --num-of-sequences sequences open');
        if (s.flags.end) open.delete(s.flags.id);
      }
      assert.equal(rec.totalSent, t.sent.length);
    });
  }
});
