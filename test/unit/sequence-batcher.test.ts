// The sequence batcher's rules (Triton docs/user_guide/architecture.md "Stateful Models", core
// src/sequence_batch_scheduler/), driven by fake model instances on a virtual clock: slots and the
// backlog, control inputs, padding rows, implicit state, idle sequences, both strategies, and
// Triton's refusals.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseModelConfig } from '../../src/config/index.js';
import { Cancellation, type InferenceRequest } from '../../src/core/request.js';
import { SequenceBatcher } from '../../src/core/scheduler/sequence-batcher.js';
import { sequenceSpec } from '../../src/core/sequence.js';
import { ModelStats } from '../../src/core/stats.js';
import type { Tensor } from '../../src/core/tensor.js';
import {
  FakeInstance,
  queued,
  type Delivery,
  type Execution,
  type FakeInstanceOptions,
} from '../helpers/fake-instance.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

const CONTROLS = `control_input [
    { name: "START" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }] },
    { name: "END" control [{ kind: CONTROL_SEQUENCE_END fp32_false_true: [ 0, 1 ] }] },
    { name: "READY" control [{ kind: CONTROL_SEQUENCE_READY bool_false_true: [ false, true ] }] },
    { name: "CORRID" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 }] }
  ]`;

/** A sequence batcher over fake instances for model `m` (INPUT0 FP32 [4]). */
function setup(sequenceBatching: string, maxBatch = 2, instances: FakeInstanceOptions[] = [{}]) {
  const config = parseModelConfig(
    `name: "m"\nmax_batch_size: ${maxBatch}\n` +
      'input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }]\n' +
      'output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }]\n' +
      `sequence_batching { ${sequenceBatching} }`,
  );
  const spec = sequenceSpec(config, '/nonexistent');
  const clock = new VirtualClock();
  const executions: Execution[] = [];
  const deliveries: Delivery[] = [];
  const fakes = instances.map((o, i) => new FakeInstance(`m_0_${i}`, clock, executions, o));
  const batcher = new SequenceBatcher(config, spec, fakes, new ModelStats(), clock);
  /** Sends request `id` of sequence `seq` with the given flags. */
  const send = (id: string, seq: number | string, flags: { start?: boolean; end?: boolean } = {}) =>
    batcher.enqueue(
      queued(id, clock, deliveries, {
        parameters: {
          sequence_id: seq,
          ...(flags.start ? { sequence_start: true } : {}),
          ...(flags.end ? { sequence_end: true } : {}),
        },
      }),
    );
  return { batcher, clock, executions, deliveries, send };
}

/** The value of a one-element control tensor of a request, as a number. */
function control(r: InferenceRequest, name: string): number | bigint | undefined {
  const t = r.inputs.find((i) => i.name === name);
  if (!t) return undefined;
  const v = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  switch (t.datatype) {
    case 'INT32':
      return v.getInt32(0, true);
    case 'FP32':
      return v.getFloat32(0, true);
    case 'BOOL':
      return v.getUint8(0);
    case 'UINT64':
      return v.getBigUint64(0, true);
    case 'INT64':
      return v.getBigInt64(0, true);
    default:
      return undefined;
  }
}

/** Each execution as its rows: request id (padding rows '-') and START/END/READY/CORRID. */
const rows = (executions: Execution[]) =>
  executions.map((e) =>
    e.requests.map((r) => [
      r.id || '-',
      control(r, 'START'),
      control(r, 'END'),
      control(r, 'READY'),
      control(r, 'CORRID'),
    ]),
  );

describe('sequence batcher: direct strategy', () => {
  test('each sequence gets a slot; rows carry START, END, READY and CORRID; END frees the slot', async () => {
    const { clock, executions, deliveries, send } = setup(CONTROLS);
    send('a1', 11, { start: true });
    send('b1', 22, { start: true });
    await clock.advance(1);
    send('a2', 11, { end: true });
    send('b2', 22);
    await clock.advance(1);
    assert.deepEqual(rows(executions), [
      [
        ['a1', 1, 0, 1, 11n],
        ['b1', 1, 0, 1, 22n],
      ],
      [
        ['a2', 0, 1, 1, 11n],
        ['b2', 0, 0, 1, 22n],
      ],
    ]);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [
        ['a1', undefined],
        ['b1', undefined],
        ['a2', undefined],
        ['b2', undefined],
      ],
    );
  });

  test('a slot with nothing waiting below a busy one becomes a padding row (READY false, results dropped)', async () => {
    const { clock, executions, deliveries, send } = setup(CONTROLS);
    send('a1', 11, { start: true });
    send('b1', 22, { start: true });
    await clock.advance(1);
    send('b2', 22); // sequence 11 (slot 0) sends nothing this time
    await clock.advance(1);
    assert.deepEqual(rows(executions)[1], [
      ['-', 0, 0, 0, 0n],
      ['b2', 0, 0, 1, 22n],
    ]);
    assert.equal(deliveries.length, 3, 'the padding row has no caller');
    const padding = executions[1].requests[0].inputs.find((t) => t.name === 'INPUT0')!;
    assert.deepEqual([...padding.data], new Array(16).fill(0));
    assert.deepEqual(executions[1].requests[0].parameters, {}, 'no correlation id or flags');
  });

  test('when every slot is taken, a new sequence waits in the backlog for the next free slot', async () => {
    const { clock, executions, send } = setup(CONTROLS, 1);
    send('a1', 1, { start: true });
    send('b1', 2, { start: true }); // backlog
    send('b2', 2, { end: true }); // joins its backlog
    await clock.advance(5);
    assert.deepEqual(
      rows(executions).map((e) => e.map((r) => r[0])),
      [['a1']],
    );
    send('a2', 1, { end: true });
    await clock.advance(5);
    assert.deepEqual(
      rows(executions).map((e) => e.map((r) => r[0])),
      [['a1'], ['a2'], ['b1'], ['b2']],
    );
  });

  test('slots go lowest index first across instances', async () => {
    const { clock, executions, send } = setup(CONTROLS, 2, [{}, {}]);
    for (let s = 1; s <= 4; s++) send(`s${s}`, s, { start: true });
    await clock.advance(1);
    assert.deepEqual(
      executions.map((e) => [e.instance, e.requests.map((r) => r.id)]),
      [
        ['m_0_0', ['s1', 's3']],
        ['m_0_1', ['s2', 's4']],
      ],
    );
  });

  test('requests of one sequence run one at a time in arrival order', async () => {
    const { clock, executions, send } = setup(CONTROLS, 2, [{ computeMs: 5 }]);
    send('x1', 9, { start: true });
    send('x2', 9);
    send('x3', 9, { end: true });
    await clock.advance(20);
    assert.deepEqual(
      executions.map((e) => [e.start - 1000, e.requests.map((r) => r.id)]),
      [
        [0, ['x1']],
        [5, ['x2']],
        [10, ['x3']],
      ],
    );
  });

  test('max_queue_delay_microseconds with minimum_slot_utilization: an incomplete batch waits', async () => {
    const { clock, executions, send } = setup(
      `${CONTROLS}\ndirect { max_queue_delay_microseconds: 10000 minimum_slot_utilization: 1.0 }`,
      2,
    );
    send('a1', 1, { start: true });
    await clock.advance(4);
    assert.equal(executions.length, 0);
    send('b1', 2, { start: true }); // both slots ready: utilization 1.0, go
    await clock.advance(0);
    assert.deepEqual(
      rows(executions).map((e) => e.map((r) => r[0])),
      [['a1', 'b1']],
    );
    send('a2', 1);
    await clock.advance(9);
    assert.equal(executions.length, 1, 'half the slots: waits');
    await clock.advance(1);
    assert.equal(executions.length, 2, 'until its oldest request waited 10 ms');
  });

  test('an idle sequence loses its slot; a later request without START is refused', async () => {
    const { clock, deliveries, send } = setup(`max_sequence_idle_microseconds: 50000\n${CONTROLS}`, 1);
    send('a1', 1, { start: true });
    send('b1', 2, { start: true }); // backlog behind sequence 1
    await clock.advance(10);
    assert.deepEqual(
      deliveries.map((d) => d.id),
      ['a1'],
    );
    await clock.advance(50);
    assert.deepEqual(
      deliveries.map((d) => d.id),
      ['a1', 'b1'],
      'the backlog took the freed slot',
    );
    send('a2', 1);
    await clock.advance(1);
    assert.equal(
      deliveries.at(-1)!.error,
      "inference request for sequence 1 to model 'm' must specify the START flag on the first request of the sequence",
    );
  });

  test("Triton's refusals: no correlation id, not started, batch > 1, CORRID type, long ids", async () => {
    const { batcher, clock, deliveries, send } = setup(CONTROLS);
    send('none', 0, { start: true });
    send('unknown', 5);
    batcher.enqueue({
      ...queued('big', clock, deliveries, { batch: 2, parameters: { sequence_id: 3, sequence_start: true } }),
    });
    send('string', 'abc', { start: true });
    send('long', 'x'.repeat(129), { start: true });
    await clock.advance(1);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.failure?.code, d.error]),
      [
        [
          'none',
          'INVALID_ARG',
          "inference request to model 'm' must specify a non-zero or non-empty correlation ID",
        ],
        [
          'unknown',
          'INVALID_ARG',
          "inference request for sequence 5 to model 'm' must specify the START flag on the first request of the sequence",
        ],
        [
          'big',
          'INVALID_ARG',
          "inference request to model 'm' must specify batch-size 1 due to requirements of sequence batcher",
        ],
        [
          'string',
          'INVALID_ARG',
          "[request id: string] sequence batching control 'CORRID' data-type is 'BYTES', but model 'm' expects 'UINT64'",
        ],
        ['long', 'UNSUPPORTED', 'string correlation ID cannot be longer than 128 characters'],
      ],
    );
  });

  test('string correlation ids with a STRING CORRID control', async () => {
    const { clock, executions, send } = setup(
      'control_input [{ name: "CORRID" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_STRING }] }]',
    );
    send('s1', 'session-42', { start: true });
    await clock.advance(1);
    const corrid = executions[0].requests[0].inputs.find((t) => t.name === 'CORRID')!;
    assert.equal(corrid.datatype, 'BYTES');
    assert.equal(Buffer.from(corrid.data.subarray(4)).toString(), 'session-42');
  });

  test('a cancelled request ends its sequence: the rest of it is cancelled, the slot freed', async () => {
    const { batcher, clock, deliveries, send } = setup(CONTROLS, 1, [{ computeMs: 10 }]);
    send('a1', 1, { start: true });
    await clock.advance(0);
    const signal = new Cancellation();
    batcher.enqueue(queued('a2', clock, deliveries, { parameters: { sequence_id: 1 }, signal }));
    send('a3', 1);
    send('b1', 2, { start: true }); // backlog
    signal.cancel();
    await clock.advance(30);
    assert.deepEqual(
      deliveries.map((d) => [d.id, d.error]),
      [
        ['a2', 'request was cancelled'],
        ['a3', 'request was cancelled'],
        ['a1', undefined],
        ['b1', undefined],
      ],
    );
  });
});

describe('sequence batcher: implicit state', () => {
  /** OUTPUT_STATE = INPUT_STATE + INPUT0 (elementwise, FP32 [4]); OUTPUT0 = OUTPUT_STATE. */
  const accumulate = (r: InferenceRequest): Tensor[] => {
    const get = (n: string) => new Float32Array(r.inputs.find((t) => t.name === n)!.data.slice().buffer);
    const sum = get('INPUT_STATE').map((v, i) => v + get('INPUT0')[i]);
    const data = new Uint8Array(sum.buffer);
    return [
      { name: 'OUTPUT0', datatype: 'FP32', shape: [1, 4], data },
      { name: 'OUTPUT_STATE', datatype: 'FP32', shape: [1, 4], data },
    ];
  };
  const STATE = `state [{ input_name: "INPUT_STATE" output_name: "OUTPUT_STATE" data_type: TYPE_FP32 dims: [ 4 ] }]`;

  test('the output state of request k is the input state of request k+1, per sequence', async () => {
    const { batcher, clock, executions, deliveries } = setup(`${CONTROLS}\n${STATE}`, 2, [
      { compute: accumulate },
    ]);
    const send = (id: string, seq: number, value: number, start = false) => {
      const q = queued(id, clock, deliveries, {
        parameters: { sequence_id: seq, ...(start ? { sequence_start: true } : {}) },
      });
      q.request.inputs[0].data = new Uint8Array(new Float32Array(4).fill(value).buffer);
      batcher.enqueue(q);
    };
    send('a1', 1, 1, true);
    send('b1', 2, 10, true);
    await clock.advance(1);
    send('a2', 1, 2);
    send('b2', 2, 20);
    await clock.advance(1);
    send('a3', 1, 3);
    send('b3', 2, 30, true); // a new sequence 2: the state starts again
    await clock.advance(1);
    const states = executions.flatMap((e) =>
      e.requests.map((r) => [
        r.id,
        new Float32Array(r.inputs.find((t) => t.name === 'INPUT_STATE')!.data.slice().buffer)[0],
      ]),
    );
    assert.deepEqual(states, [
      ['a1', 0],
      ['b1', 0],
      ['a2', 1],
      ['b2', 10],
      ['a3', 3],
      ['b3', 0],
    ]);
    // The state output reaches the client only when it asked for it (the config lists no such output).
    assert.ok(deliveries.every((d) => d.error === undefined));
  });

  test('initial_state with zero_data sets the starting shape', () => {
    const config = parseModelConfig(
      'name: "m"\nmax_batch_size: 0\ninput [{ name: "X" data_type: TYPE_INT32 dims: [ 1 ] }]\n' +
        'output [{ name: "Y" data_type: TYPE_INT32 dims: [ 1 ] }]\n' +
        'sequence_batching { state [{ input_name: "S" output_name: "T" data_type: TYPE_INT32 dims: [ -1 ] ' +
        'initial_state [{ name: "zeros" data_type: TYPE_INT32 dims: [ 3 ] zero_data: true }] }] }',
    );
    const spec = sequenceSpec(config, '/nonexistent');
    assert.deepEqual(spec.states[0].initialShape, [3]);
    assert.deepEqual([...spec.states[0].initialData], new Array(12).fill(0));
  });
});

describe('sequence batcher: oldest strategy', () => {
  test('batches take the oldest request of each candidate sequence, one per sequence', async () => {
    const { clock, executions, send } = setup(
      `${CONTROLS}\noldest { max_candidate_sequences: 4 preferred_batch_size: [ 2 ] max_queue_delay_microseconds: 0 }`,
      4,
      [{ computeMs: 5 }],
    );
    send('a1', 1, { start: true });
    send('a2', 1);
    send('b1', 2, { start: true });
    send('c1', 3, { start: true });
    send('c2', 3, { end: true });
    await clock.advance(30);
    const batches = executions.map((e) => e.requests.map((r) => r.id));
    // Never two requests of one sequence in one batch, and each sequence in order.
    for (const b of batches)
      assert.equal(new Set(b.map((id) => id[0])).size, b.length, JSON.stringify(batches));
    const order = batches.flat();
    assert.ok(order.indexOf('a1') < order.indexOf('a2'));
    assert.ok(order.indexOf('c1') < order.indexOf('c2'));
    assert.equal(order.length, 5);
    assert.deepEqual(batches[0], ['a1', 'b1'], 'the preferred size of 2 goes at once');
    assert.ok(
      executions.every((e) => e.requests.every((r) => control(r, 'READY') === 1)),
      'no padding rows',
    );
  });

  test("settings checked at load with Triton's messages", () => {
    const load = (sb: string, maxBatch = 4) =>
      sequenceSpec(
        parseModelConfig(
          `name: "m"\nmax_batch_size: ${maxBatch}\ninput [{ name: "X" data_type: TYPE_FP32 dims: [ 1 ] }]\nsequence_batching { ${sb} }`,
        ),
        '/nonexistent',
      );
    assert.throws(
      () => load('oldest { max_candidate_sequences: 2 preferred_batch_size: [ 8 ] }'),
      /sequence batching preferred batch size must be <= max batch size for m/,
    );
    assert.throws(
      () => load('direct { minimum_slot_utilization: 2 }'),
      /sequence batching minimum slot utilization must be in range \(0\.0, 1\.0\] for m/,
    );
    assert.throws(
      () => load('control_input [{ name: "S" control [{ kind: CONTROL_SEQUENCE_START }] }]'),
      /sequence batching must specify either 'int32_false_true', 'fp32_false_true' or 'bool_false_true' for CONTROL_SEQUENCE_START for m/,
    );
    assert.throws(
      () =>
        load(
          'control_input [{ name: "S" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0 ] }] }]',
        ),
      /sequence batching control 'int32_false_true' must have exactly 2 entries for CONTROL_SEQUENCE_START for m/,
    );
    assert.throws(
      () =>
        load(
          'control_input [{ name: "C" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_FP32 }] }]',
        ),
      /unexpected data type for control CONTROL_SEQUENCE_CORRID for m\. Allowed data types are TYPE_UINT64, TYPE_INT64, TYPE_UINT32, TYPE_INT32 and TYPE_STRING/,
    );
    assert.throws(
      () =>
        load(
          'control_input [{ name: "S" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }] }, ' +
            '{ name: "S" control [{ kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] }] }]',
        ),
      /sequence batching control tensor 'S' is specified for multiple control kinds for m/,
    );
    const spec = load('');
    assert.equal(spec.idleMs, 1000, 'max_sequence_idle_microseconds defaults to 1 s');
    assert.equal(spec.strategy.kind, 'direct');
  });
});
