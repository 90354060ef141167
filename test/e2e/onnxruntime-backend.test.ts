/**
 * The ONNX Runtime backend's load-time behaviour through a real server: execution accelerators and
 * their refusals, instance kinds, session parameters, backend config, reshape and non-batching models;
 * and the session wrapper over onnxruntime-node's native binding that instance threads run.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { Worker } from 'node:worker_threads';
import { OrtInstance } from '../../src/backends/onnxruntime/instance.js';
import { OrtSession } from '../../src/backends/onnxruntime/session.js';
import type { ExecuteResult, InferenceRequest } from '../../src/core/request.js';
import { buildOnnxModel, OnnxDataType } from '../../src/examples/onnx-builder.js';
import { http, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { addSubConfig, addSubJsonInputs, writeAddSub } from '../helpers/models.js';

/** FP32 identity over [batch?, 4] (batched) or [4]. */
function writeIdentity4(repo: string, name: string, batched: boolean, config: string): void {
  const dir = path.join(repo, name);
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  const shape = batched ? ['batch', 4] : [4];
  fs.writeFileSync(
    path.join(dir, '1', 'model.onnx'),
    buildOnnxModel({
      inputs: [{ name: 'X', elemType: OnnxDataType.FLOAT, shape }],
      outputs: [{ name: 'Y', elemType: OnnxDataType.FLOAT, shape }],
      nodes: [{ opType: 'Identity', inputs: ['X'], outputs: ['Y'] }],
    }),
  );
  fs.writeFileSync(path.join(dir, 'config.pbtxt'), config);
}

describe('ONNX Runtime backend', () => {
  let server: TestServer;
  const logLines: string[] = [];

  before(async () => {
    const repo = tempDir();
    writeAddSub(repo, 'plain');
    writeAddSub(
      repo,
      'openvino',
      [1],
      addSubConfig(
        'openvino',
        'optimization { execution_accelerators { cpu_execution_accelerator [ { name: "openvino" } ] } }',
      ),
    );
    writeAddSub(
      repo,
      'unknown_accel',
      [1],
      addSubConfig(
        'unknown_accel',
        'optimization { execution_accelerators { gpu_execution_accelerator [ { name: "warp_drive" } ] } }',
      ),
    );
    writeAddSub(
      repo,
      'gpu_kind',
      [1],
      addSubConfig('gpu_kind', 'instance_group [ { kind: KIND_GPU count: 1 gpus: [ 0 ] } ]'),
    );
    writeAddSub(
      repo,
      'bad_threads',
      [1],
      addSubConfig(
        'bad_threads',
        'parameters { key: "intra_op_thread_count" value: { string_value: "many" } }',
      ),
    );
    writeAddSub(
      repo,
      'tuned',
      [1],
      addSubConfig(
        'tuned',
        `parameters [
           { key: "intra_op_thread_count" value: { string_value: "1" } },
           { key: "inter_op_thread_count" value: { string_value: "1" } },
           { key: "execution_mode" value: { string_value: "1" } },
           { key: "enable_mem_arena" value: { string_value: "0" } },
           { key: "enable_mem_pattern" value: { string_value: "false" } }
         ]
         optimization { graph { level: -1 } }
         instance_group [ { count: 3 kind: KIND_CPU } ]`,
      ),
    );
    writeAddSub(repo, 'autobatch', [1], null);
    writeAddSub(
      repo,
      'auto_kind',
      [1],
      addSubConfig('auto_kind', 'instance_group [ { kind: KIND_AUTO count: 1 } ]'),
    );
    writeIdentity4(
      repo,
      'reshaped',
      true,
      `backend: "onnxruntime"\nmax_batch_size: 4\n` +
        `input [ { name: "X" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: [ 4 ] } } ]\n` +
        `output [ { name: "Y" data_type: TYPE_FP32 dims: [ 2, 2 ] reshape: { shape: [ 4 ] } } ]\n`,
    );
    // As Triton's qa reshape models (L0_infer_reshape test_ii1 / ii3): variable dims on both sides.
    fs.mkdirSync(path.join(repo, 'reshaped_variable', '1'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, 'reshaped_variable', '1', 'model.onnx'),
      buildOnnxModel({
        inputs: [
          { name: 'X', elemType: OnnxDataType.INT32, shape: ['b', 8, 'n', 1, 6] },
          { name: 'A', elemType: OnnxDataType.INT32, shape: ['b', 'm'] },
        ],
        outputs: [
          { name: 'Y', elemType: OnnxDataType.INT32, shape: ['b', 8, 'n', 1, 6] },
          { name: 'B', elemType: OnnxDataType.INT32, shape: ['b', 'm'] },
        ],
        nodes: [
          { opType: 'Identity', inputs: ['X'], outputs: ['Y'] },
          { opType: 'Identity', inputs: ['A'], outputs: ['B'] },
        ],
      }),
    );
    fs.writeFileSync(
      path.join(repo, 'reshaped_variable', 'config.pbtxt'),
      `backend: "onnxruntime"\nmax_batch_size: 8\n` +
        `input [ { name: "X" data_type: TYPE_INT32 dims: [ 2, 4, -1, 6 ] reshape: { shape: [ 8, -1, 1, 6 ] } },\n` +
        `        { name: "A" data_type: TYPE_INT32 dims: [ 1, -1, 1 ] reshape: { shape: [ -1 ] } } ]\n` +
        `output [ { name: "Y" data_type: TYPE_INT32 dims: [ 2, 4, -1, 6 ] reshape: { shape: [ 8, -1, 1, 6 ] } },\n` +
        `         { name: "B" data_type: TYPE_INT32 dims: [ 1, -1, 1 ] reshape: { shape: [ -1 ] } } ]\n`,
    );
    writeIdentity4(
      repo,
      'nobatch',
      false,
      `backend: "onnxruntime"\nmax_batch_size: 0\n` +
        `input [ { name: "X" data_type: TYPE_FP32 dims: [ 4 ] } ]\noutput [ { name: "Y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n`,
    );
    server = await serve(
      [repo],
      { backendConfig: { onnxruntime: { 'default-max-batch-size': '16' } } },
      { logLines },
    );
  });

  after(() => server.stop());

  const reason = async (name: string) => {
    const idx = (await http(server.url, 'POST', '/v2/repository/index')).body as Array<{
      name: string;
      state: string;
      reason?: string;
    }>;
    const e = idx.find((x) => x.name === name)!;
    return `${e.state}: ${e.reason ?? ''}`;
  };

  test('a CPU accelerator missing from the ORT build fails the load, naming it', async () => {
    assert.match(
      await reason('openvino'),
      /^UNAVAILABLE: Unavailable: model 'openvino': execution accelerator 'openvino' is not available in this onnxruntime-node build .*available: cpu/,
    );
  });

  test('an unknown accelerator name is refused', async () => {
    assert.match(
      await reason('unknown_accel'),
      /unknown gpu_execution_accelerator 'warp_drive' \(expected one of tensorrt, cuda, migraphx, rocm\)/,
    );
  });

  test('a KIND_GPU instance on a machine without GPU and CUDA provider fails with what is missing', async () => {
    // This machine has neither an NVIDIA driver nor the CUDA provider library.
    assert.match(
      await reason('gpu_kind'),
      /model 'gpu_kind': instance group 'gpu_kind_0' has kind KIND_GPU but no GPU can be used: no NVIDIA driver: nvidia-smi was not found; ONNX Runtime's CUDA execution provider is not installed \(libonnxruntime_providers_cuda\.so is not in .*; run `nereid setup gpu`\)/,
    );
  });

  test('KIND_AUTO falls back to CPU on a machine without a usable GPU, and says why', async () => {
    const c = (await http(server.url, 'GET', '/v2/models/auto_kind/config')).body;
    assert.deepEqual(
      c.instance_group.map((g: { kind: string; count: number }) => [g.kind, g.count]),
      [['KIND_CPU', 1]],
    );
    const r = await http(server.url, 'POST', '/v2/models/auto_kind/infer', { inputs: addSubJsonInputs() });
    assert.equal(r.status, 200);
    assert.ok(
      logLines.some((l) =>
        /model 'auto_kind': instance group 'auto_kind_0' \(KIND_AUTO\) runs on CPU: no NVIDIA driver: nvidia-smi was not found; ONNX Runtime's CUDA execution provider is not installed/.test(
          l,
        ),
      ),
      logLines.join('\n'),
    );
  });

  test('a bad session parameter names the model and the value', async () => {
    assert.match(
      await reason('bad_threads'),
      /model 'bad_threads': intra_op_thread_count must be a non-negative integer, got 'many'/,
    );
  });

  test('the failures leave the other models serving', async () => {
    for (const m of ['plain', 'tuned']) {
      const r = await http(server.url, 'POST', `/v2/models/${m}/infer`, { inputs: addSubJsonInputs(5) });
      assert.equal(r.status, 200, m);
      assert.deepEqual(
        r.body.outputs[1].data,
        Array.from({ length: 16 }, (_, i) => i - 5),
      );
    }
  });

  test('session parameters and instance groups are accepted and shown in the config', async () => {
    const c = (await http(server.url, 'GET', '/v2/models/tuned/config')).body;
    assert.deepEqual(
      c.instance_group.map((g: { name: string; kind: string; count: number }) => [g.name, g.kind, g.count]),
      [['tuned_0', 'KIND_CPU', 3]],
    );
    assert.equal(c.optimization.graph.level, -1);
    const plain = (await http(server.url, 'GET', '/v2/models/plain/config')).body;
    assert.deepEqual(
      plain.instance_group.map((g: { name: string; kind: string; count: number }) => [
        g.name,
        g.kind,
        g.count,
      ]),
      [['plain', 'KIND_CPU', 2]],
      "no instance_group: one group named after the model with ONNX Runtime's CPU default of 2",
    );
    assert.deepEqual(plain.version_policy, { latest: { num_versions: 1 } });
  });

  test('--backend-config=onnxruntime,default-max-batch-size=16 drives auto-complete', async () => {
    const c = (await http(server.url, 'GET', '/v2/models/autobatch/config')).body;
    assert.equal(c.max_batch_size, 16);
  });

  test('reshape: the client sees config dims, the model its own', async () => {
    const r = await http(server.url, 'POST', '/v2/models/reshaped/infer', {
      inputs: [{ name: 'X', datatype: 'FP32', shape: [2, 2, 2], data: [1, 2, 3, 4, 5, 6, 7, 8] }],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.outputs[0].shape, [2, 2, 2]);
    assert.deepEqual(r.body.outputs[0].data, [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('reshape with variable dims: outputs come back in the config dims, -1 resolved', async () => {
    const x = Array.from({ length: 2 * 2 * 4 * 5 * 6 }, (_, i) => i);
    const r = await http(server.url, 'POST', '/v2/models/reshaped_variable/infer', {
      inputs: [
        { name: 'X', datatype: 'INT32', shape: [2, 2, 4, 5, 6], data: x },
        { name: 'A', datatype: 'INT32', shape: [2, 1, 3, 1], data: [1, 2, 3, 4, 5, 6] },
      ],
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const out = Object.fromEntries(
      (r.body.outputs as Array<{ name: string; shape: number[]; data: number[] }>).map((o) => [o.name, o]),
    );
    assert.deepEqual(out.Y.shape, [2, 2, 4, 5, 6]);
    assert.deepEqual(out.Y.data, x);
    assert.deepEqual(out.B.shape, [2, 1, 3, 1]);
    assert.deepEqual(out.B.data, [1, 2, 3, 4, 5, 6]);
  });

  test('a model without batching takes shapes without a batch dim', async () => {
    const meta = (await http(server.url, 'GET', '/v2/models/nobatch')).body;
    assert.deepEqual(meta.inputs[0].shape, [4]);
    const r = await http(server.url, 'POST', '/v2/models/nobatch/infer', {
      inputs: [{ name: 'X', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] }],
    });
    assert.deepEqual([r.status, r.body.outputs[0].shape, r.body.outputs[0].data], [200, [4], [1, 2, 3, 4]]);
    const bad = await http(server.url, 'POST', '/v2/models/nobatch/infer', {
      inputs: [{ name: 'X', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
    });
    assert.equal(bad.status, 400);
    assert.match(
      bad.body.error,
      /unexpected shape for input 'X' for model 'nobatch'\. Expected \[4\], got \[1,4\]\.$/,
    );
  });
});

/** Threads of this process under SCHED_BATCH (policy 3 in /proc's stat field 41, see proc(5)). */
function batchThreads(): Set<string> {
  const out = new Set<string>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    // Fields after the ")" that closes the thread's name start at field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[41 - 3] === '3') out.add(tid);
  }
  return out;
}

describe('ONNX Runtime backend: model instance thread policy', { skip: process.platform !== 'linux' }, () => {
  test('instance threads run under SCHED_BATCH by default, SCHED_OTHER with thread-policy=normal', async () => {
    const before = batchThreads();
    const repo = tempDir();
    writeAddSub(
      repo,
      'addsub',
      [1],
      addSubConfig('addsub', 'instance_group [ { count: 3 kind: KIND_CPU } ]'),
    );
    const batch = await serve([repo]);
    let added: string[];
    try {
      added = [...batchThreads()].filter((t) => !before.has(t));
      // One thread per instance at least (ORT may start helpers from it, which inherit the policy).
      assert.ok(added.length >= 3, `SCHED_BATCH threads after loading 3 instances: ${added.length}`);
      const r = await http(batch.url, 'POST', '/v2/models/addsub/infer', { inputs: addSubJsonInputs() });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    } finally {
      await batch.stop();
    }

    const between = batchThreads();
    const normal = await serve([repo], { backendConfig: { onnxruntime: { 'thread-policy': 'normal' } } });
    try {
      assert.equal((await http(normal.url, 'GET', '/v2/models/addsub/ready')).status, 200);
      const extra = [...batchThreads()].filter((t) => !between.has(t));
      assert.deepEqual(extra, [], 'thread-policy=normal leaves instance threads SCHED_OTHER');
    } finally {
      await normal.stop();
    }
  });

  test('an unknown thread-policy fails the load, naming the setting', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'addsub');
    const server = await serve([repo], { backendConfig: { onnxruntime: { 'thread-policy': 'fifo' } } });
    try {
      const idx = (await http(server.url, 'POST', '/v2/repository/index')).body as Array<{
        name: string;
        state: string;
        reason?: string;
      }>;
      const e = idx.find((x) => x.name === 'addsub')!;
      assert.equal(e.state, 'UNAVAILABLE');
      assert.match(e.reason ?? '', /thread-policy must be batch or normal, got 'fifo'/);
    } finally {
      await server.stop();
    }
  });
});

/** Writes an FP32 identity X → Y over ['batch', 4] to `<dir>/identity.onnx`; returns its path. */
function writeIdentityOnnx(dir: string): string {
  const file = path.join(dir, 'identity.onnx');
  fs.writeFileSync(
    file,
    buildOnnxModel({
      inputs: [{ name: 'X', elemType: OnnxDataType.FLOAT, shape: ['batch', 4] }],
      outputs: [{ name: 'Y', elemType: OnnxDataType.FLOAT, shape: ['batch', 4] }],
      nodes: [{ opType: 'Identity', inputs: ['X'], outputs: ['Y'] }],
    }),
  );
  return file;
}

describe('OrtSession: the native binding an instance thread calls', () => {
  const dir = tempDir();
  const identity = writeIdentityOnnx(dir);

  test('reports the graph with symbolic dims as -1 and runs synchronously', () => {
    const session = new OrtSession(identity, { intraOpNumThreads: 1 });
    try {
      assert.deepEqual(session.inputs, [{ name: 'X', type: 'float32', shape: [-1, 4] }]);
      assert.deepEqual(session.outputs, [{ name: 'Y', type: 'float32', shape: [-1, 4] }]);
      const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
      const out = session.run({ X: new ort.Tensor('float32', x, [2, 4]) }, { Y: null });
      assert.ok(!(out instanceof Promise), 'run returns the outputs, not a promise');
      assert.deepEqual(out.Y.dims, [2, 4]);
      assert.deepEqual([...(out.Y.data as Float32Array)], [...x]);
    } finally {
      session.release();
    }
  });

  test("a bad feed throws ORT's error at once and leaves the session usable", () => {
    const session = new OrtSession(identity, {});
    try {
      assert.throws(
        () => session.run({ X: new ort.Tensor('float32', new Float32Array(3), [1, 3]) }, { Y: null }),
        /invalid dimensions for input: X/,
      );
      const out = session.run({ X: new ort.Tensor('float32', new Float32Array(4), [1, 4]) }, { Y: null });
      assert.deepEqual(out.Y.dims, [1, 4]);
    } finally {
      session.release();
    }
  });

  test('a graph tensor JavaScript cannot carry (BFLOAT16) fails the load, naming it', () => {
    const bf16 = path.join(dir, 'bf16.onnx');
    fs.writeFileSync(
      bf16,
      buildOnnxModel({
        inputs: [{ name: 'H', elemType: OnnxDataType.BFLOAT16, shape: [4] }],
        outputs: [{ name: 'G', elemType: OnnxDataType.BFLOAT16, shape: [4] }],
        nodes: [{ opType: 'Identity', inputs: ['H'], outputs: ['G'] }],
      }),
    );
    assert.throws(() => new OrtSession(bf16, {}), /graph tensor 'H' has ONNX element type 16/);
  });
});

describe('OrtInstance: the thread that holds a session', () => {
  const modelPath = writeIdentityOnnx(tempDir());
  const request = (first: number): InferenceRequest => ({
    model: 'identity',
    id: '',
    parameters: {},
    inputs: [
      {
        name: 'X',
        datatype: 'FP32',
        shape: [1, 4],
        data: new Uint8Array(new Float32Array([first, first + 1, first + 2, first + 3]).buffer),
      },
    ],
  });
  const values = (r: ExecuteResult): number[] => {
    assert.ok(!(r instanceof Error), String(r));
    const t = r.outputs[0];
    return [
      ...new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)),
    ];
  };

  test('messages posted while it runs are all taken; unload ends the thread by itself', async () => {
    const instance = await OrtInstance.start('identity_0', {
      modelPath,
      sessionOptions: { intraOpNumThreads: 1 },
      inputs: [{ name: 'X', datatype: 'FP32', dims: [4] }],
      outputs: [{ name: 'Y', datatype: 'FP32', dims: [4] }],
      maxBatchSize: 8,
    });
    const worker = (instance as unknown as { worker: Worker }).worker;
    const exitCode = new Promise<number>((resolve) => worker.once('exit', resolve));
    // Many messages posted back to back, single executions and bundles mixed: the thread sleeps
    // between wake-ups and must answer every one of them, in order of its own.
    const singles = Array.from({ length: 50 }, (_, i) => instance.execute([request(i * 10)]));
    const bundle = instance.executeSeveral([[request(1000)], [request(2000)], [request(3000)]]);
    const outcomes = await Promise.all(singles);
    outcomes.forEach((o, i) =>
      assert.deepEqual(values(o.results[0]), [i * 10, i * 10 + 1, i * 10 + 2, i * 10 + 3]),
    );
    const several = await bundle;
    assert.deepEqual(
      several.map((o) => values(o.results[0])[0]),
      [1000, 2000, 3000],
    );
    await instance.unload();
    // 0: the thread left its loop on the close message; a thread stopped by terminate() exits with 1.
    assert.equal(await exitCode, 0);
    await assert.rejects(instance.execute([request(0)]), /model instance identity_0 is unloaded/);
  });
});
