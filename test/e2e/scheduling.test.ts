/**
 * Schedulers and model instances, functionally (no timings asserted): the dynamic batcher's batch
 * limits, ordering, priorities, queue policies (timeouts, full queues), cancellation of a
 * disconnected client's queued request, instance counts, warmup before ready, and the default
 * scheduler's bundles of short executions.
 *
 * "Busy" models are the MatMul chains of helpers/models.ts: one request of batch 256 keeps an
 * instance busy for a few hundred milliseconds, long enough to queue others behind it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OrtInstance } from '../../src/backends/onnxruntime/instance.js';
import type { TensorSpec } from '../../src/backends/onnxruntime/protocol.js';
import type { ModelInstance } from '../../src/core/backend.js';
import { TritonError } from '../../src/protocol/errors.js';
import type { ExecuteResult, InferenceRequest } from '../../src/core/request.js';
import { DefaultScheduler, MAX_BUNDLE } from '../../src/core/scheduler/default-scheduler.js';
import { ModelStats } from '../../src/core/stats.js';
import { deserializeBytesTensor, serializeBytesTensor } from '../../src/protocol/bytes-tensor.js';
import { buildExampleRepository } from '../../src/examples/build.js';
import { http, inferBinary, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { slowBody, writeAddSub, writeSlowModel } from '../helpers/models.js';
import { freePort, runNereid, waitFor } from '../helpers/process.js';

const N = 512; // width of the busy models
const BUSY_LAYERS = 96;

/** A core request of `batch` rows for a busy model (FP32 [batch, N]). */
function request(
  model: string,
  batch: number,
  parameters: Record<string, number> = {},
  id = '',
): InferenceRequest {
  return {
    model,
    id,
    inputs: [
      {
        name: 'INPUT0',
        datatype: 'FP32',
        shape: [batch, N],
        data: new Uint8Array(new Float32Array(batch * N).fill(0.25).buffer),
      },
    ],
    parameters,
  };
}

describe('scheduling', () => {
  let server: TestServer;

  before(async () => {
    const repo = tempDir();
    const busy = (name: string, instances: number, extra: string, maxBatch = 256) =>
      writeSlowModel(repo, name, instances, N, BUSY_LAYERS, extra, maxBatch);
    busy('batched4', 1, 'dynamic_batching { max_queue_delay_microseconds: 200000 }', 4);
    busy('ordered', 2, 'dynamic_batching { preserve_ordering: true }');
    busy('unordered', 2, 'dynamic_batching { }');
    busy(
      'priorities',
      1,
      'dynamic_batching { preferred_batch_size: [ 1 ] priority_levels: 2 default_priority_level: 2 }',
    );
    busy(
      'reject_timeout',
      1,
      'dynamic_batching { default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 20000 } }',
    );
    busy(
      'delay_timeout',
      1,
      `dynamic_batching {
         preferred_batch_size: [ 1 ]
         priority_levels: 2 default_priority_level: 1
         default_queue_policy { timeout_action: DELAY default_timeout_microseconds: 20000 }
         priority_queue_policy { key: 2 value: { timeout_action: REJECT default_timeout_microseconds: 0 } }
       }`,
    );
    busy(
      'override_timeout',
      1,
      'dynamic_batching { preferred_batch_size: [ 1 ] default_queue_policy { allow_timeout_override: true default_timeout_microseconds: 0 } }',
    );
    busy(
      'small_queue',
      1,
      'dynamic_batching { preferred_batch_size: [ 1 ] default_queue_policy { max_queue_size: 2 } }',
    );
    busy('no_batching', 1, '');
    busy('three', 3, '');
    // Warmup: a good sample (model loads) and a sample whose data file is missing (load fails).
    busy(
      'warm',
      1,
      `model_warmup [{ name: "zeros" batch_size: 2 count: 2 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ ${N} ] zero_data: true } } },
                     { name: "file" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ ${N} ] input_data_file: "row.bin" } } }]`,
    );
    fs.mkdirSync(path.join(repo, 'warm', 'warmup'));
    fs.writeFileSync(
      path.join(repo, 'warm', 'warmup', 'row.bin'),
      Buffer.from(new Float32Array(N).fill(1).buffer),
    );
    busy(
      'cold',
      1,
      `model_warmup [{ name: "missing" batch_size: 1 inputs { key: "INPUT0" value: { data_type: TYPE_FP32 dims: [ ${N} ] input_data_file: "nope.bin" } } }]`,
    );
    server = await serve([repo]);
  });

  after(() => server.stop());

  const stats = async (model: string) =>
    (await http(server.url, 'GET', `/v2/models/${model}/stats`)).body.model_stats[0];

  test('batches never exceed max_batch_size, and the batcher does batch', async () => {
    const sizes = [1, 1, 1, 1, 1, 1, 3, 2, 1, 1, 4, 1];
    await Promise.all(sizes.map((b) => server.core.infer(request('batched4', b))));
    const s = await stats('batched4');
    const batches: Array<{ batch_size: number; compute_infer: { count: number } }> = s.batch_stats;
    assert.ok(
      batches.every((b) => b.batch_size <= 4),
      JSON.stringify(batches.map((b) => b.batch_size)),
    );
    const total = batches.reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0);
    assert.equal(
      total,
      sizes.reduce((a, b) => a + b, 0),
    );
    assert.equal(s.inference_count, total);
    assert.ok(
      s.execution_count < sizes.length,
      `${s.execution_count} executions for ${sizes.length} requests`,
    );
  });

  test('preserve_ordering delivers responses in arrival order', async () => {
    for (const [model, expected] of [
      ['ordered', ['big', 'small']],
      ['unordered', ['small', 'big']],
    ] as const) {
      const order: string[] = [];
      const big = server.core.infer(request(model, 256)).then(() => order.push('big'));
      await new Promise((r) => setImmediate(r));
      const small = server.core.infer(request(model, 1)).then(() => order.push('small'));
      await Promise.all([big, small]);
      assert.deepEqual(order, expected, model);
    }
  });

  test('higher priority requests are served first', async () => {
    const order: string[] = [];
    const busy = server.core.infer(request('priorities', 256));
    await new Promise((r) => setTimeout(r, 20));
    const jobs = [
      ...[1, 2, 3].map((i) =>
        server.core.infer(request('priorities', 1, {}, `low${i}`)).then(() => order.push(`low${i}`)),
      ),
      ...[1, 2].map((i) =>
        server.core
          .infer(request('priorities', 1, { priority: 1 }, `high${i}`))
          .then(() => order.push(`high${i}`)),
      ),
    ];
    await Promise.all([busy, ...jobs]);
    assert.deepEqual(order, ['high1', 'high2', 'low1', 'low2', 'low3']);
  });

  test('REJECT timeout: queued requests past their timeout fail with Triton message', async () => {
    const first = server.core.infer(request('reject_timeout', 256));
    await new Promise((r) => setTimeout(r, 10));
    const late = server.core.infer(request('reject_timeout', 1));
    await assert.rejects(
      late,
      (e: TritonError) => e.code === 'UNAVAILABLE' && e.message === 'Request timeout expired',
    );
    await first;
    // Over HTTP the same request is a 503.
    const block = server.core.infer(request('reject_timeout', 256));
    await new Promise((r) => setTimeout(r, 10));
    const { body, headerLength } = slowBody(1, N);
    const r = await inferBinary(server.url, 'reject_timeout', body, headerLength);
    assert.deepEqual([r.status, r.header.error], [503, 'Request timeout expired']);
    await block;
  });

  test('DELAY timeout: a timed-out request waits behind the others but is served', async () => {
    const order: string[] = [];
    const busy = server.core.infer(request('delay_timeout', 256));
    await new Promise((r) => setTimeout(r, 5));
    const delayed = server.core
      .infer(request('delay_timeout', 1, {}, 'delayed'))
      .then(() => order.push('delayed'));
    await new Promise((r) => setTimeout(r, 60)); // its 20 ms timeout expires while the instance is busy
    const low = server.core
      .infer(request('delay_timeout', 1, { priority: 2 }, 'low'))
      .then(() => order.push('low'));
    await Promise.all([busy, delayed, low]);
    assert.deepEqual(
      order,
      ['low', 'delayed'],
      'the delayed request went behind even the lower-priority one',
    );
  });

  test('a request may shorten its timeout when allow_timeout_override', async () => {
    const busy = server.core.infer(request('override_timeout', 256));
    await new Promise((r) => setTimeout(r, 5));
    const short = server.core.infer(request('override_timeout', 1, { timeout: 10_000 }));
    const patient = server.core.infer(request('override_timeout', 1));
    await assert.rejects(short, /Request timeout expired/);
    await patient;
    await busy;
    await assert.rejects(
      server.core.infer(request('override_timeout', 1, { timeout: -1 })),
      /'timeout' for model 'override_timeout' must be a non-negative integer/,
    );
  });

  test('a full queue rejects with "Exceeds maximum queue size"', async () => {
    const busy = server.core.infer(request('small_queue', 256));
    await new Promise((r) => setTimeout(r, 10));
    const results = await Promise.allSettled(
      [1, 2, 3, 4, 5].map(() => server.core.infer(request('small_queue', 1))),
    );
    await busy;
    const rejected = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 2);
    assert.equal(rejected.length, 3);
    for (const r of rejected) assert.equal((r.reason as TritonError).message, 'Exceeds maximum queue size');
  });

  test("a disconnected client's queued request never executes", async () => {
    const before = await stats('no_batching');
    const busy = server.core.infer(request('no_batching', 256));
    await new Promise((r) => setTimeout(r, 10));
    const controller = new AbortController();
    const { body, headerLength } = slowBody(8, N);
    const gone = fetch(`${server.url}/v2/models/no_batching/infer`, {
      method: 'POST',
      body: body as unknown as BodyInit,
      headers: { 'Inference-Header-Content-Length': String(headerLength) },
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 30));
    controller.abort();
    await assert.rejects(gone);
    await busy;
    await new Promise((r) => setTimeout(r, 50));
    const after = await stats('no_batching');
    assert.equal(after.execution_count - before.execution_count, 1, 'only the busy request executed');
    assert.equal(after.inference_count - before.inference_count, 256);
    assert.equal(
      after.inference_stats.fail.count - before.inference_stats.fail.count,
      1,
      'the cancelled request counts as failed',
    );
  });

  test('instance_group count: three instances run three requests at once', async () => {
    await Promise.all([1, 2, 3].map(() => server.core.infer(request('three', 1)))); // warm the sessions
    const before = await stats('three');
    await Promise.all([1, 2, 3].map(() => server.core.infer(request('three', 256))));
    const s = await stats('three');
    const queueNs = s.inference_stats.queue.ns - before.inference_stats.queue.ns;
    const inferNs = s.inference_stats.compute_infer.ns - before.inference_stats.compute_infer.ns;
    assert.equal(s.execution_count - before.execution_count, 3);
    // With one instance the 2nd and 3rd requests would queue for one and two whole runs.
    assert.ok(queueNs < inferNs / 3, `queued ${queueNs} ns while computing ${inferNs} ns`);
    const cfg = (await http(server.url, 'GET', '/v2/models/three/config')).body;
    assert.equal(cfg.instance_group[0].count, 3);
  });

  test('warmup runs before the model is ready; a failing sample fails the load', async () => {
    const idx = (await http(server.url, 'POST', '/v2/repository/index')).body as Array<{
      name: string;
      state: string;
      reason?: string;
    }>;
    assert.equal(idx.find((e) => e.name === 'warm')!.state, 'READY');
    const cold = idx.find((e) => e.name === 'cold')!;
    assert.equal(cold.state, 'UNAVAILABLE');
    assert.match(
      cold.reason!,
      /warmup sample 'missing' of model 'cold', input 'INPUT0': cannot read '.*cold\/warmup\/nope\.bin'/,
    );
    const s = await stats('warm');
    assert.equal(s.execution_count, 0, 'warmup runs are not inference statistics');
  });
});

describe('max_queue_delay_microseconds on a quiet server', () => {
  test('a lone request is served once its delay has passed, with no other traffic', async () => {
    // The delay's sub-millisecond part is waited on the event loop. The server runs as its own
    // process, with no metrics timer, so nothing else wakes its event loop: a lone request once
    // stalled there until the HTTP server's 30 s connection check.
    const repo = tempDir();
    for (const us of [900, 2900]) {
      writeSlowModel(
        repo,
        `delay_${us}us`,
        1,
        N,
        4,
        `dynamic_batching { max_queue_delay_microseconds: ${us} }`,
      );
    }
    const port = await freePort();
    const p = runNereid([
      `--model-repository=${repo}`,
      `--http-port=${port}`,
      '--http-address=127.0.0.1',
      '--allow-grpc=false',
      '--allow-metrics=false',
    ]);
    try {
      await waitFor(() => /Started HTTPService/.test(p.output()), 'the HTTP service');
      const { body, headerLength } = slowBody(1, N);
      for (const model of ['delay_900us', 'delay_2900us']) {
        for (let i = 0; i < 5; i++) {
          const r = await inferBinary(
            `http://127.0.0.1:${port}`,
            model,
            body,
            headerLength,
            {},
            AbortSignal.timeout(5000),
          );
          assert.equal(r.status, 200, `${model}: ${JSON.stringify(r.header)}`);
        }
      }
    } finally {
      p.child.kill('SIGTERM');
      await p.exit;
    }
  });
});

describe('default scheduler bundles', () => {
  /**
   * Runs `body` against a default scheduler over one real ORT instance of the model at `modelPath`
   * (max_batch_size 8) whose `executeSeveral` calls are logged in `bundles` (their sizes); the
   * scheduler and instance are released afterwards.
   */
  async function withLoggedScheduler(
    modelPath: string,
    io: { inputs: TensorSpec[]; outputs: TensorSpec[] },
    body: (scheduler: DefaultScheduler, stats: ModelStats, bundles: number[]) => Promise<void>,
  ): Promise<void> {
    const inst = await OrtInstance.start('logged_0', {
      modelPath,
      sessionOptions: { intraOpNumThreads: 1 },
      ...io,
      maxBatchSize: 8,
    });
    const bundles: number[] = [];
    const instance: ModelInstance = {
      name: inst.name,
      execute: (r) => inst.execute(r),
      executeSeveral: (b) => {
        bundles.push(b.length);
        return inst.executeSeveral(b);
      },
      unload: () => inst.unload(),
    };
    const stats = new ModelStats();
    const scheduler = new DefaultScheduler([instance], stats);
    try {
      await body(scheduler, stats, bundles);
    } finally {
      scheduler.close();
      await inst.unload();
    }
  }

  /** Enqueues requests on `scheduler` at once; resolves with their results in order. */
  function enqueueAll(scheduler: DefaultScheduler, requests: InferenceRequest[]): Promise<ExecuteResult[]> {
    return Promise.all(
      requests.map(
        (request) =>
          new Promise<ExecuteResult>((resolve) =>
            scheduler.enqueue({ request, batchSize: 1, enqueuedAt: performance.now(), done: resolve }),
          ),
      ),
    );
  }

  test('short executions are handed over together, each still its own execution', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'addsub');
    const int32 = (name: string): TensorSpec => ({ name, datatype: 'INT32', dims: [16] });
    const addsub = (k: number): InferenceRequest => ({
      model: 'addsub',
      id: String(k),
      inputs: ['INPUT0', 'INPUT1'].map((name, j) => ({
        name,
        datatype: 'INT32' as const,
        shape: [1, 16],
        data: new Uint8Array(Int32Array.from({ length: 16 }, (_, i) => (j === 0 ? k * 100 + i : i)).buffer),
      })),
      parameters: {},
    });
    const io = { inputs: [int32('INPUT0'), int32('INPUT1')], outputs: [int32('OUTPUT0'), int32('OUTPUT1')] };
    await withLoggedScheduler(
      path.join(repo, 'addsub', '1', 'model.onnx'),
      io,
      async (scheduler, stats, bundles) => {
        // The first executions teach the scheduler how long one takes; then 64 arrive at once.
        for (let i = 0; i < 8; i++) await enqueueAll(scheduler, [addsub(0)]);
        const results = await enqueueAll(
          scheduler,
          Array.from({ length: 64 }, (_, k) => addsub(k + 1)),
        );
        results.forEach((r, k) => {
          assert.ok(!(r instanceof TritonError), String(r));
          const sum = new Int32Array(r.outputs[0].data.slice().buffer);
          const diff = new Int32Array(r.outputs[1].data.slice().buffer);
          assert.deepEqual(
            [...sum],
            Array.from({ length: 16 }, (_, i) => (k + 1) * 100 + 2 * i),
          );
          assert.deepEqual([...diff], Array(16).fill((k + 1) * 100));
        });
        assert.equal(stats.executionCount, 72, 'one execution per request');
        assert.equal(stats.inferenceCount, 72);
        // The 64 arrived in one event-loop turn and dispatch waits for its end, so they went in
        // bundles (how many per bundle follows the measured execution time; a last one may be alone).
        const bundled = bundles.reduce((a, b) => a + b, 0);
        assert.ok(
          bundles.every((n) => n > 1 && n <= MAX_BUNDLE) && bundled >= 32 && bundled <= 64,
          `bundles ${JSON.stringify(bundles)}`,
        );
      },
    );
  });

  test('a request that fails inside a bundle fails alone', async () => {
    const examples = tempDir();
    await buildExampleRepository(examples);
    const bytes = (name: string): TensorSpec => ({ name, datatype: 'BYTES', dims: [16] });
    const io = { inputs: [bytes('INPUT0'), bytes('INPUT1')], outputs: [bytes('OUTPUT0'), bytes('OUTPUT1')] };
    // INPUT0 = k, k+1, ..., INPUT1 = 1 (as decimal strings); request `bad` carries a NUL byte.
    const bad = 20;
    const strings = (k: number): InferenceRequest => ({
      model: 'simple_string',
      id: String(k),
      inputs: ['INPUT0', 'INPUT1'].map((name, j) => ({
        name,
        datatype: 'BYTES' as const,
        shape: [1, 16],
        data: serializeBytesTensor(
          Array.from({ length: 16 }, (_, i) =>
            j === 1 ? '1' : k === bad && i === 3 ? '1\u00002' : String(k + i),
          ),
        ),
      })),
      parameters: {},
    });
    const modelPath = path.join(examples, 'simple_string', '1', 'model.onnx');
    await withLoggedScheduler(modelPath, io, async (scheduler, stats, bundles) => {
      for (let i = 0; i < 8; i++) await enqueueAll(scheduler, [strings(0)]);
      const results = await enqueueAll(
        scheduler,
        Array.from({ length: 40 }, (_, k) => strings(k)),
      );
      results.forEach((r, k) => {
        if (k === bad) {
          assert.ok(r instanceof TritonError && r.code === 'INVALID_ARG', String(r));
          assert.match(r.message, /input 'INPUT0' holds a NUL byte/);
          return;
        }
        assert.ok(!(r instanceof TritonError), `request ${k}: ${String(r)}`);
        const sum = deserializeBytesTensor(r.outputs[0].data).map((e) => Buffer.from(e).toString());
        assert.deepEqual(
          sum,
          Array.from({ length: 16 }, (_, i) => String(k + i + 1)),
        );
      });
      assert.ok(bundles.length > 0, 'some requests were bundled');
      assert.equal(stats.executionCount, 48);
    });
  });

  test('long executions are not bundled', async () => {
    const repo = tempDir();
    writeSlowModel(repo, 'slow', 1, N, BUSY_LAYERS);
    const fp32: TensorSpec = { name: 'INPUT0', datatype: 'FP32', dims: [N] };
    const io = { inputs: [fp32], outputs: [{ ...fp32, name: 'OUTPUT0' }] };
    await withLoggedScheduler(
      path.join(repo, 'slow', '1', 'model.onnx'),
      io,
      async (scheduler, stats, bundles) => {
        await enqueueAll(scheduler, [request('slow', 1)]);
        const results = await enqueueAll(
          scheduler,
          Array.from({ length: 8 }, () => request('slow', 1)),
        );
        assert.ok(results.every((r) => !(r instanceof TritonError)));
        assert.equal(stats.executionCount, 9);
        assert.deepEqual(bundles, [], 'executions of milliseconds each go one at a time');
      },
    );
  });
});
