// The dynamic batcher's rules (Triton docs/user_guide/model_configuration.md "Dynamic Batcher",
// core src/dynamic_batch_scheduler.cc), driven by fake model instances on a virtual clock: which
// requests form each batch, when it goes, what is refused and in which order results come back.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseModelConfig } from '../../src/config/index.js';
import { Cancellation } from '../../src/core/request.js';
import { DynamicBatcher, validateDynamicBatching } from '../../src/core/scheduler/dynamic-batcher.js';
import { ModelStats } from '../../src/core/stats.js';
import { TritonError } from '../../src/protocol/errors.js';
import {
  FakeInstance,
  queued,
  type Delivery,
  type Execution,
  type FakeInstanceOptions,
  type TestRequest,
} from '../helpers/fake-instance.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

/** A batcher for a model `m` with INPUT0 FP32 of `dims` and the given config lines. */
function setup(
  configLines: string,
  instances: FakeInstanceOptions[] = [{}],
  dims = '[ 4 ]',
  inputExtra = '',
): {
  batcher: DynamicBatcher;
  clock: VirtualClock;
  executions: Execution[];
  deliveries: Delivery[];
  stats: ModelStats;
  send: (id: string, r?: TestRequest) => void;
} {
  const config = parseModelConfig(
    `name: "m"\n${configLines}\ninput [{ name: "INPUT0" data_type: TYPE_FP32 dims: ${dims} ${inputExtra} }]\n` +
      `output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: ${dims} }]\n`,
  );
  validateDynamicBatching(config);
  const clock = new VirtualClock();
  const executions: Execution[] = [];
  const deliveries: Delivery[] = [];
  const stats = new ModelStats();
  const fakes = instances.map((o, i) => new FakeInstance(`m_0_${i}`, clock, executions, o));
  const batcher = new DynamicBatcher(config, fakes, stats, clock);
  return {
    batcher,
    clock,
    executions,
    deliveries,
    stats,
    send: (id, r) => batcher.enqueue(queued(id, clock, deliveries, r)),
  };
}

/** Batches as lists of ids, in the order they started. */
const batches = (executions: Execution[]) => executions.map((e) => e.ids);

describe('dynamic batcher: forming batches', () => {
  test('a batch that reaches max_batch_size goes at once, whatever the queue delay', async () => {
    const { clock, executions, send } = setup(
      'max_batch_size: 4\ndynamic_batching { max_queue_delay_microseconds: 100000 }',
    );
    for (const id of ['a', 'b', 'c', 'd', 'e']) send(id);
    await clock.advance(0);
    assert.deepEqual(batches(executions), [['a', 'b', 'c', 'd']]);
    assert.equal(executions[0].start, 1000);
  });

  test('requests are counted by their batch size, not one each', async () => {
    const { clock, executions, send } = setup('max_batch_size: 8\ndynamic_batching { }');
    send('a', { batch: 5 });
    send('b', { batch: 4 });
    send('c', { batch: 3 });
    await clock.advance(10);
    // a+b = 9 > 8: b starts the next batch, with c (7 rows).
    assert.deepEqual(batches(executions), [['a'], ['b', 'c']]);
  });

  test('an incomplete batch waits max_queue_delay_microseconds from its oldest request, then goes', async () => {
    const { clock, executions, deliveries, send } = setup(
      'max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 5000 }',
    );
    send('a');
    await clock.advance(2);
    send('b');
    await clock.advance(2);
    assert.equal(executions.length, 0, 'nothing runs before the delay has passed');
    await clock.advance(1);
    assert.deepEqual(batches(executions), [['a', 'b']]);
    assert.equal(executions[0].start, 1005);
    await clock.advance(1);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.queueMs]),
      [
        ['a', 5],
        ['b', 3],
      ],
    );
  });

  test('without a queue delay, whatever waits goes as soon as an instance is free', async () => {
    const { clock, executions, send } = setup('max_batch_size: 8\ndynamic_batching { }', [{ computeMs: 10 }]);
    send('a');
    await clock.advance(1);
    send('b');
    send('c');
    await clock.advance(20);
    assert.deepEqual(batches(executions), [['a'], ['b', 'c']]);
    assert.equal(executions[1].start, 1010, 'b and c start when a finishes');
  });

  test('a preferred batch size goes at once; the rest waits for the delay', async () => {
    const { clock, executions, send } = setup(
      'max_batch_size: 16\ndynamic_batching { preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100000 }',
    );
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) send(id);
    await clock.advance(50);
    assert.deepEqual(batches(executions), [['a', 'b', 'c', 'd']]);
    await clock.advance(50);
    assert.deepEqual(batches(executions), [
      ['a', 'b', 'c', 'd'],
      ['e', 'f'],
    ]);
    assert.equal(executions[1].start, 1100, 'e and f wait for the 100 ms delay of their oldest request');
  });

  test('the largest preferred size caps a batch below max_batch_size', async () => {
    const { clock, executions, send } = setup(
      'max_batch_size: 16\ndynamic_batching { preferred_batch_size: [ 2, 3 ] max_queue_delay_microseconds: 100000 }',
    );
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) send(id);
    await clock.advance(10);
    assert.deepEqual(batches(executions), [
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
  });

  test('requests whose input shapes differ do not share a batch', async () => {
    const { clock, executions, send } = setup(
      'max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 100000 }',
      [{}],
      '[ -1 ]',
    );
    send('a', { dims: [4] });
    send('b', { dims: [4] });
    send('c', { dims: [8] });
    send('d', { dims: [4] });
    await clock.advance(0);
    // The batch stops at the first request that cannot join it, and goes at once.
    assert.deepEqual(batches(executions), [['a', 'b']]);
    await clock.advance(1);
    assert.deepEqual(batches(executions)[1], ['c'], 'c cannot join d either: it goes alone');
  });

  test('allow_ragged_batch inputs batch whatever their shapes', async () => {
    const config = 'max_batch_size: 8\ndynamic_batching { max_queue_delay_microseconds: 1000 }';
    const { clock, executions, send } = setup(config, [{}], '[ -1 ]', 'allow_ragged_batch: true');
    send('a', { dims: [4] });
    send('b', { dims: [8] });
    await clock.advance(1);
    assert.deepEqual(batches(executions), [['a', 'b']]);
  });

  test('batches go to every free instance; each instance runs one batch at a time', async () => {
    const { clock, executions, send } = setup('max_batch_size: 2\ndynamic_batching { }', [
      { computeMs: 5 },
      { computeMs: 5 },
    ]);
    for (const id of ['a', 'b', 'c', 'd', 'e']) send(id);
    await clock.advance(0);
    assert.deepEqual(
      executions.map((e) => [e.instance, e.ids]),
      [
        ['m_0_0', ['a', 'b']],
        ['m_0_1', ['c', 'd']],
      ],
    );
    await clock.advance(5);
    assert.deepEqual(executions[2].ids, ['e']);
    assert.equal(executions[2].start, 1005);
  });
});

describe('dynamic batcher: priorities and queue policies', () => {
  test('higher priority levels (1 first) are served first, each level in arrival order', async () => {
    const { clock, executions, send } = setup(
      'max_batch_size: 2\ndynamic_batching { priority_levels: 2 default_priority_level: 2 }',
      [{ computeMs: 10 }],
    );
    send('busy');
    await clock.advance(1);
    send('low1');
    send('low2', { parameters: { priority: 2 } });
    send('high1', { parameters: { priority: 1 } });
    send('high2', { parameters: { priority: 1 } });
    send('low3', { parameters: { priority: 7 } }); // out of range: the default level
    await clock.advance(40);
    assert.deepEqual(batches(executions), [['busy'], ['high1', 'high2'], ['low1', 'low2'], ['low3']]);
  });

  test('a bad priority parameter fails only its own request', async () => {
    const { clock, deliveries, send } = setup(
      'max_batch_size: 2\ndynamic_batching { priority_levels: 2 default_priority_level: 1 }',
    );
    send('bad', { parameters: { priority: -1 } });
    send('good');
    await clock.advance(5);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [
        ['bad', "request parameter 'priority' for model 'm' must be a non-negative integer, got -1"],
        ['good', undefined],
      ],
    );
  });

  test("max_queue_size: a full queue refuses with Triton's message, reason REJECTED", async () => {
    const { clock, deliveries, send } = setup(
      'max_batch_size: 1\ndynamic_batching { default_queue_policy { max_queue_size: 2 } }',
      [{ computeMs: 10 }],
    );
    send('busy');
    await clock.advance(0);
    send('a');
    send('b');
    send('c');
    await clock.advance(0);
    const c = deliveries.find((d) => d.id === 'c')!;
    assert.equal(c.error, 'Exceeds maximum queue size');
    assert.equal(c.failure?.code, 'UNAVAILABLE');
    assert.equal(c.failure?.reason, 'REJECTED');
    assert.equal(c.at, 1000, 'refused at once');
    await clock.advance(30);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [
        ['c', 'Exceeds maximum queue size'],
        ['busy', undefined],
        ['a', undefined],
        ['b', undefined],
      ],
    );
  });

  test('a queue timeout with REJECT fails the request when it expires, reason REJECTED', async () => {
    const { clock, deliveries, send } = setup(
      'max_batch_size: 1\ndynamic_batching { default_queue_policy { default_timeout_microseconds: 3000 } }',
      [{ computeMs: 10 }],
    );
    send('busy');
    await clock.advance(0);
    send('late');
    await clock.advance(20);
    const late = deliveries.find((d) => d.id === 'late')!;
    assert.equal(late.error, 'Request timeout expired');
    assert.equal(late.failure?.reason, 'REJECTED');
    assert.deepEqual([late.at, late.queueMs], [1003, 3]);
  });

  test('a request leaving the queue for an instance stops its timeout', async () => {
    const { clock, deliveries, send } = setup(
      'max_batch_size: 1\ndynamic_batching { default_queue_policy { default_timeout_microseconds: 3000 } }',
      [{ computeMs: 10 }],
    );
    send('a');
    await clock.advance(20);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [['a', undefined]],
    );
    assert.equal(clock.pendingTimers, 0);
  });

  test("a request's timeout parameter shortens the policy's timeout only with allow_timeout_override", async () => {
    const policy = (override: boolean) =>
      `max_batch_size: 1\ndynamic_batching { default_queue_policy { default_timeout_microseconds: 10000 allow_timeout_override: ${override} } }`;
    for (const override of [true, false]) {
      const { clock, deliveries, send } = setup(policy(override), [{ computeMs: 50 }]);
      send('busy');
      await clock.advance(0);
      send('short', { parameters: { timeout: 2000 } });
      send('long', { parameters: { timeout: 30000 } });
      await clock.advance(40);
      const at = (id: string) => deliveries.find((d) => d.id === id)!.at - 1000;
      assert.equal(at('short'), override ? 2 : 10, `override ${override}`);
      assert.equal(at('long'), 10, 'a longer timeout never extends the policy');
    }
  });

  test('a queue timeout with DELAY moves the request behind everything else', async () => {
    const { clock, executions, deliveries, send } = setup(
      'max_batch_size: 1\ndynamic_batching { default_queue_policy { default_timeout_microseconds: 2000 timeout_action: DELAY } }',
      [{ computeMs: 10 }],
    );
    send('busy');
    await clock.advance(0);
    send('delayed');
    await clock.advance(8);
    send('fresh');
    await clock.advance(40);
    assert.deepEqual(batches(executions), [['busy'], ['fresh'], ['delayed']]);
    assert.ok(
      deliveries.every((d) => d.error === undefined),
      'DELAY does not fail the request',
    );
  });

  test('priority_queue_policy applies per level', async () => {
    const { clock, deliveries, send } = setup(
      'max_batch_size: 1\ndynamic_batching { priority_levels: 2 default_priority_level: 1\n' +
        '  priority_queue_policy { key: 2 value: { max_queue_size: 1 } } }',
      [{ computeMs: 10 }],
    );
    send('busy');
    await clock.advance(0);
    send('p2a', { parameters: { priority: 2 } });
    send('p2b', { parameters: { priority: 2 } });
    send('p1a');
    send('p1b');
    await clock.advance(0);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [['p2b', 'Exceeds maximum queue size']],
    );
  });
});

describe('dynamic batcher: results', () => {
  test('preserve_ordering delivers results in arrival order across instances', async () => {
    for (const preserve of [false, true]) {
      const { clock, deliveries, send } = setup(
        `max_batch_size: 1\ndynamic_batching { preserve_ordering: ${preserve} }`,
        [{ computeMs: 10 }, { computeMs: 1 }],
      );
      send('first'); // the slow instance
      send('second'); // the fast one
      await clock.advance(20);
      assert.deepEqual(
        deliveries.map((d) => [d.id, d.at - 1000]),
        preserve
          ? [
              ['first', 10],
              ['second', 10],
            ]
          : [
              ['second', 1],
              ['first', 10],
            ],
        `preserve_ordering ${preserve}`,
      );
    }
  });

  test("an instance's error for one request of a batch fails only that request", async () => {
    const { clock, deliveries, send } = setup('max_batch_size: 4\ndynamic_batching { }', [
      { failIds: new Set(['b']) },
    ]);
    for (const id of ['a', 'b', 'c']) send(id);
    await clock.advance(5);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [
        ['a', undefined],
        ['b', "model failed request 'b'"],
        ['c', undefined],
      ],
    );
  });

  test('a cancelled request leaves the queue and is answered CANCELLED; one cancelled before it is queued too', async () => {
    const { clock, executions, deliveries, send } = setup(
      'max_batch_size: 4\ndynamic_batching { max_queue_delay_microseconds: 10000 }',
    );
    const waiting = new Cancellation();
    const early = new Cancellation();
    early.cancel();
    send('a');
    send('cancelled', { signal: waiting });
    send('early', { signal: early });
    await clock.advance(2);
    waiting.cancel();
    await clock.advance(20);
    assert.deepEqual(batches(executions), [['a']]);
    const byId = Object.fromEntries(deliveries.map((d) => [d.id, d]));
    for (const id of ['cancelled', 'early']) {
      assert.equal(byId[id].error, 'request was cancelled');
      assert.equal(byId[id].failure?.code, 'CANCELLED');
      assert.equal(byId[id].failure?.reason, 'CANCELED');
    }
    assert.equal(byId.cancelled.at, 1002);
    assert.equal(byId.early.at, 1000);
  });

  test('statistics: one execution per batch, inference_count in rows, batch_stats per size', async () => {
    const { clock, stats, send } = setup('max_batch_size: 8\ndynamic_batching { }');
    send('a', { batch: 2 });
    send('b', { batch: 3 });
    await clock.advance(5);
    send('c', { batch: 1 });
    await clock.advance(5);
    assert.equal(stats.executionCount, 2);
    assert.equal(stats.inferenceCount, 6);
    assert.deepEqual(
      stats.batchStats().map((b) => [b.batch_size, b.compute_infer.count]),
      [
        [1, 1],
        [5, 1],
      ],
    );
  });

  test('rejectQueued fails what waits; idle() resolves once the running batch is done', async () => {
    const { batcher, clock, deliveries, send } = setup('max_batch_size: 1\ndynamic_batching { }', [
      { computeMs: 10 },
    ]);
    send('running');
    await clock.advance(0);
    send('queued');
    assert.equal(batcher.pending(), 1);
    let idle = false;
    void batcher.idle().then(() => (idle = true));
    batcher.rejectQueued(new TritonError('UNAVAILABLE', 'unloading'));
    await clock.advance(0);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [['queued', 'unloading']],
    );
    assert.equal(idle, false);
    await clock.advance(10);
    assert.equal(idle, true);
    assert.deepEqual(
      deliveries.map((d) => d.id),
      ['queued', 'running'],
    );
  });
});

describe('dynamic batcher: settings checked at load', () => {
  const config = (lines: string) =>
    parseModelConfig(
      `name: "m"\nmax_batch_size: 8\n${lines}\ninput [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }]`,
    );

  test('preferred sizes within [1, max_batch_size], levels and policies that exist', () => {
    assert.throws(
      () => validateDynamicBatching(config('dynamic_batching { preferred_batch_size: [ 16 ] }')),
      /preferred_batch_size 16 must be in \[1, max_batch_size 8\]/,
    );
    assert.throws(
      () =>
        validateDynamicBatching(config('dynamic_batching { priority_levels: 2 default_priority_level: 3 }')),
      /default_priority_level 3 must be in \[1, priority_levels 2\]/,
    );
    assert.throws(
      () =>
        validateDynamicBatching(
          config(
            'dynamic_batching { priority_levels: 2 default_priority_level: 1 priority_queue_policy { key: 5 value: {} } }',
          ),
        ),
      /priority_queue_policy for level 5, but priority_levels is 2/,
    );
    validateDynamicBatching(config('dynamic_batching { preferred_batch_size: [ 2, 8 ] }'));
  });
});
