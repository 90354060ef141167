// Triton's default scheduler (one request per execution, first come first served) and Nereid's
// bundling of short executions, driven by fake model instances on a virtual clock.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BUNDLE_BUDGET_MS,
  DefaultScheduler,
  MAX_BUNDLE,
} from '../../src/core/scheduler/default-scheduler.js';
import { ModelStats } from '../../src/core/stats.js';
import {
  FakeInstance,
  queued,
  type Delivery,
  type Execution,
  type FakeInstanceOptions,
} from '../helpers/fake-instance.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

function setup(instances: FakeInstanceOptions[]) {
  const clock = new VirtualClock();
  const executions: Execution[] = [];
  const deliveries: Delivery[] = [];
  const stats = new ModelStats();
  const fakes = instances.map((o, i) => new FakeInstance(`m_0_${i}`, clock, executions, o));
  const scheduler = new DefaultScheduler(fakes, stats, clock);
  const send = (id: string) => scheduler.enqueue(queued(id, clock, deliveries, { batch: 1 }));
  return { scheduler, clock, executions, deliveries, stats, send };
}

describe('default scheduler', () => {
  test('one request per execution, in arrival order, on the first free instance', async () => {
    const { clock, executions, deliveries, send } = setup([{ computeMs: 2 }]);
    for (const id of ['a', 'b', 'c']) send(id);
    await clock.advance(10);
    assert.deepEqual(
      executions.map((e) => [e.ids, e.start - 1000, e.bundle]),
      [
        [['a'], 0, 1],
        [['b'], 2, 1],
        [['c'], 4, 1],
      ],
    );
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.queueMs]),
      [
        ['a', 0],
        ['b', 2],
        ['c', 4],
      ],
    );
  });

  test('requests spread over free instances', async () => {
    const { clock, executions, send } = setup([{ computeMs: 5 }, { computeMs: 5 }]);
    for (const id of ['a', 'b', 'c']) send(id);
    await clock.advance(0);
    assert.deepEqual(
      executions.map((e) => [e.instance, e.ids]),
      [
        ['m_0_0', ['a']],
        ['m_0_1', ['b']],
      ],
    );
    await clock.advance(5);
    assert.deepEqual(executions[2].ids, ['c']);
  });

  test(`short executions are bundled: up to ${BUNDLE_BUDGET_MS} ms of expected compute per hand-off, each its own execution`, async () => {
    // Reported compute 0.1 ms: a bundle holds floor(0.5 / 0.1) = 5 executions.
    const { clock, executions, deliveries, stats, send } = setup([
      { computeMs: 1, reportedMs: 0.1, several: true },
    ]);
    send('first');
    await clock.advance(0);
    for (let i = 0; i < 7; i++) send(`r${i}`);
    await clock.advance(20);
    assert.deepEqual(
      executions.map((e) => [e.ids[0], e.bundle]),
      [
        ['first', 1], // no mean execution time yet: alone
        ['r0', 5],
        ['r1', 5],
        ['r2', 5],
        ['r3', 5],
        ['r4', 5],
        ['r5', 2],
        ['r6', 2],
      ],
    );
    assert.equal(stats.executionCount, 8, 'every request is an execution of its own');
    assert.equal(deliveries.length, 8);
  });

  test('a bundle never holds more than MAX_BUNDLE requests, and waiting requests split evenly over free instances', async () => {
    const { clock, executions, send } = setup([
      { computeMs: 1, reportedMs: 0.001, several: true },
      { computeMs: 1, reportedMs: 0.001, several: true },
    ]);
    send('w0');
    send('w1');
    await clock.advance(2); // both instances have run once: mean 0.001 ms
    for (let i = 0; i < 100; i++) send(`r${i}`);
    await clock.advance(0);
    const started = executions.slice(2).filter((e) => e.start === 1002);
    assert.deepEqual([...new Set(started.map((e) => `${e.instance}:${e.bundle}`))].sort(), [
      `m_0_0:${MAX_BUNDLE}`,
      `m_0_1:${MAX_BUNDLE}`,
    ]);
    await clock.advance(200);
    assert.equal(executions.length, 102);
  });

  test('instances without executeSeveral get one request per hand-off', async () => {
    const { clock, executions, send } = setup([{ computeMs: 1, reportedMs: 0.001 }]);
    for (let i = 0; i < 4; i++) send(`r${i}`);
    await clock.advance(10);
    assert.ok(executions.every((e) => e.bundle === 1));
    assert.equal(executions.length, 4);
  });
});
