/**
 * Sequence models on a real server with real ONNX and Python models: interleaved sequences of
 * different lengths over HTTP, gRPC and gRPC streaming on both strategies (every response checked
 * against the running sum computed here), each control kind and CORRID datatype, string
 * correlation ids, implicit state with and without an initial state file, the idle timeout,
 * Triton's refusals, a sequence spanning a model reload, and a Python sequence model.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  InferenceServerClient,
  InferInput,
  InferRequestedOutput,
  type InferenceServerError,
  type InferResult,
} from '../../src/client/index.js';
import { accumulateConfig, accumulateModel, buildExampleRepository } from '../../src/examples/build.js';
import { buildOnnxModel, OnnxDataType } from '../../src/examples/onnx-builder.js';
import { writePythonModel } from '../../support/python-models.js';
import { tempDir } from '../../support/temp-dir.js';
import { http, serve, type TestServer } from '../helpers/server.js';

/** A deterministic pseudo-random sequence of small integers. */
function values(seed: number, n: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return (x % 201) - 100;
  });
}

/** Writes a model folder `<repo>/<name>` with a config and an ONNX graph. */
function writeModel(repo: string, name: string, config: string, model: Uint8Array): void {
  fs.mkdirSync(path.join(repo, name, '1'), { recursive: true });
  fs.writeFileSync(path.join(repo, name, 'config.pbtxt'), config);
  fs.writeFileSync(path.join(repo, name, '1', 'model.onnx'), model);
}

/**
 * `controls`: every control kind, each with another datatype: OUTPUT = (INPUT + 100·START +
 * 1000·END) · READY, and CORR = CORRID (INT64). As Triton's qa sequence models, but with END and
 * CORRID too.
 */
function writeControls(repo: string): void {
  const T = OnnxDataType;
  const io = (name: string, elemType: number) => ({ name, elemType, shape: ['b', 1] });
  writeModel(
    repo,
    'controls',
    `name: "controls"\nbackend: "onnxruntime"\nmax_batch_size: 4\n` +
      `input [{ name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] }]\n` +
      `output [{ name: "OUTPUT" data_type: TYPE_INT32 dims: [ 1 ] }, { name: "CORR" data_type: TYPE_INT64 dims: [ 1 ] }]\n` +
      `sequence_batching { max_sequence_idle_microseconds: 30000000 control_input [\n` +
      `  { name: "START" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 100 ] }] },\n` +
      `  { name: "END" control [{ kind: CONTROL_SEQUENCE_END fp32_false_true: [ 0, 1000 ] }] },\n` +
      `  { name: "READY" control [{ kind: CONTROL_SEQUENCE_READY bool_false_true: [ false, true ] }] },\n` +
      `  { name: "CORRID" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_INT64 }] } ] }\n` +
      `instance_group [{ kind: KIND_CPU count: 1 }]\n`,
    buildOnnxModel({
      inputs: [
        io('INPUT', T.INT32),
        io('START', T.INT32),
        io('END', T.FLOAT),
        io('READY', T.BOOL),
        io('CORRID', T.INT64),
      ],
      outputs: [io('OUTPUT', T.INT32), io('CORR', T.INT64)],
      nodes: [
        { opType: 'Cast', inputs: ['END'], outputs: ['end'], attributes: { to: T.INT32 } },
        { opType: 'Cast', inputs: ['READY'], outputs: ['ready'], attributes: { to: T.INT32 } },
        { opType: 'Add', inputs: ['INPUT', 'START'], outputs: ['a'] },
        { opType: 'Add', inputs: ['a', 'end'], outputs: ['b'] },
        { opType: 'Mul', inputs: ['b', 'ready'], outputs: ['OUTPUT'] },
        { opType: 'Identity', inputs: ['CORRID'], outputs: ['CORR'] },
      ],
    }),
  );
}

/** `string_id`: a STRING CORRID control, echoed as OUTPUT. */
function writeStringId(repo: string): void {
  const S = OnnxDataType.STRING;
  writeModel(
    repo,
    'string_id',
    `name: "string_id"\nbackend: "onnxruntime"\nmax_batch_size: 0\n` +
      `input [{ name: "INPUT" data_type: TYPE_STRING dims: [ 1 ] }]\n` +
      `output [{ name: "OUTPUT" data_type: TYPE_STRING dims: [ 1 ] }]\n` +
      `sequence_batching { control_input [{ name: "CORRID" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_STRING }] }] }\n`,
    buildOnnxModel({
      inputs: [
        { name: 'INPUT', elemType: S, shape: [1] },
        { name: 'CORRID', elemType: S, shape: [1] },
      ],
      outputs: [{ name: 'OUTPUT', elemType: S, shape: [1] }],
      nodes: [{ opType: 'Identity', inputs: ['CORRID'], outputs: ['OUTPUT'] }],
    }),
  );
}

/** One request of a sequence, with its flags. */
function options(seq: number | bigint | string, i: number, n: number) {
  return {
    parameters: {
      sequence_id: seq,
      ...(i === 0 ? { sequence_start: true } : {}),
      ...(i === n - 1 ? { sequence_end: true } : {}),
    },
  };
}

const input = (v: number) => [new InferInput('INPUT', [1, 1], 'INT32').setData(Int32Array.of(v))];
const out = (r: InferResult, name = 'OUTPUT') => Number(r.asTypedArray(name)[0]);

describe('sequence models', () => {
  let server: TestServer;
  let httpClient: InferenceServerClient;
  let grpcClient: InferenceServerClient;

  before(async () => {
    const repo = tempDir();
    await buildExampleRepository(repo);
    writeControls(repo);
    writeStringId(repo);
    // accumulate with a state that starts at 100 (initial_state from a data file).
    // START's true value is 0 here, so that it does not reset the state the file sets. The config
    // lists the state output as an output too, so that clients may ask for it (as Triton allows).
    const initial = accumulateConfig('accumulate_from_100', 'direct { }')
      .replace('zero_data: true', 'data_file: "hundred.bin"')
      .replace('output [\n', 'output [\n  { name: "OUTPUT_STATE" data_type: TYPE_INT32 dims: [ 1 ] },\n')
      .replace('int32_false_true: [ 0, 1 ]', 'int32_false_true: [ 0, 0 ]');
    writeModel(repo, 'accumulate_from_100', initial, accumulateModel());
    fs.mkdirSync(path.join(repo, 'accumulate_from_100', 'initial_state'));
    fs.writeFileSync(
      path.join(repo, 'accumulate_from_100', 'initial_state', 'hundred.bin'),
      Buffer.from(Int32Array.of(100).buffer),
    );
    // accumulate that forgets idle sequences after 100 ms.
    writeModel(
      repo,
      'accumulate_idle',
      accumulateConfig('accumulate_idle', 'direct { }').replace('60000000', '100000'),
      accumulateModel(),
    );
    // A model of its own, so that its statistics count only what the statistics test sends.
    writeModel(
      repo,
      'accumulate_stats',
      accumulateConfig('accumulate_stats', 'direct { }'),
      accumulateModel(),
    );
    // The oldest strategy keeping responses in arrival order.
    writeModel(
      repo,
      'accumulate_ordered',
      accumulateConfig(
        'accumulate_ordered',
        'oldest { max_candidate_sequences: 4 preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 2000 preserve_ordering: true }',
      ),
      accumulateModel(),
    );
    server = await serve([repo]);
    httpClient = new InferenceServerClient(server.url);
    grpcClient = new InferenceServerClient(server.grpcUrl);
  });

  after(async () => {
    httpClient?.close();
    grpcClient?.close();
    await server?.stop();
  });

  for (const model of ['accumulate', 'accumulate_oldest', 'accumulate_ordered']) {
    // accumulate_ordered has 4 slots for the 8 sequences: a client that waits for every sequence's
    // answer before sending the next requests would wait for the idle timeout (as with Triton); the
    // stream below, which sends everything at once, takes it through the backlog instead.
    for (const protocol of model === 'accumulate_ordered' ? [] : (['http', 'grpc'] as const)) {
      test(`${model} over ${protocol}: 8 interleaved sequences of different lengths, every running sum right`, async () => {
        const client = protocol === 'http' ? httpClient : grpcClient;
        const base = protocol === 'http' ? 1000 : 2000;
        const sequences = Array.from({ length: 8 }, (_, k) => ({ id: base + k, data: values(k + 1, 3 + k) }));
        // Each round, every sequence that has requests left sends its next one; all at once.
        const sums = new Map<number, number>();
        for (let i = 0; i < 10; i++) {
          const round = sequences.filter((s) => i < s.data.length);
          const results = await Promise.all(
            round.map((s) => client.infer(model, input(s.data[i]), options(s.id, i, s.data.length))),
          );
          round.forEach((s, k) => {
            const sum = (sums.get(s.id) ?? 0) + s.data[i];
            sums.set(s.id, sum);
            assert.equal(out(results[k]), sum, `${model} sequence ${s.id} step ${i}`);
          });
        }
      });
    }

    test(`${model} over a gRPC stream: all requests of 8 sequences written at once, answers in order`, async () => {
      const sequences = Array.from({ length: 8 }, (_, k) => ({ id: 3000 + k, data: values(k + 11, 2 + k) }));
      const expected = new Map<string, number>();
      const results = new Map<string, number>();
      const errors: InferenceServerError[] = [];
      grpcClient.startStream((r, e) => {
        if (e) errors.push(e);
        else if (r) results.set(r.getResponse().id!, out(r));
      });
      for (let i = 0; i < 10; i++) {
        for (const s of sequences) {
          if (i >= s.data.length) continue;
          const id = `${s.id}:${i}`;
          expected.set(
            id,
            s.data.slice(0, i + 1).reduce((a, b) => a + b, 0),
          );
          grpcClient.asyncStreamInfer(model, input(s.data[i]), {
            ...options(s.id, i, s.data.length),
            requestId: id,
          });
        }
      }
      await grpcClient.stopStream();
      assert.deepEqual(errors, []);
      assert.deepEqual(new Map([...results].sort()), new Map([...expected].sort()));
    });
  }

  test('every control kind with its own datatype, and an INT64 CORRID, reach the model', async () => {
    const run = async (i: number, n: number, v: number) => {
      const r = await httpClient.infer('controls', input(v), options(77, i, n));
      return [out(r), Number(r.asTypedArray<BigInt64Array>('CORR')[0])];
    };
    assert.deepEqual(await run(0, 3, 5), [105, 77], 'START (int32 100) and READY');
    assert.deepEqual(await run(1, 3, 5), [5, 77]);
    assert.deepEqual(await run(2, 3, 5), [1005, 77], 'END (fp32 1000)');
  });

  test('uint64 correlation ids beyond 2^53 stay exact over HTTP and gRPC', async () => {
    const big = 2n ** 53n + 1n; // 2^53 + 1 and 2^53 + 2 are one double apart: lossy ids would collide
    for (const client of [httpClient, grpcClient]) {
      // Two sequences whose ids differ only beyond 2^53 keep separate sums.
      const a = (k: number, v: number, n = 2) =>
        client.infer('accumulate_oldest', input(v), options(big, k, n));
      const b = (k: number, v: number, n = 2) =>
        client.infer('accumulate_oldest', input(v), options(big + 1n, k, n));
      assert.equal(out(await a(0, 1)), 1);
      assert.equal(out(await b(0, 10)), 10);
      assert.equal(out(await a(1, 2)), 3);
      assert.equal(out(await b(1, 20)), 30);
      // The CORRID control gets the id exactly (INT64 here: 2^64 − 1 reads as −1).
      for (const id of [big, 2n ** 64n - 1n]) {
        const r = await client.infer('controls', input(0), {
          parameters: { sequence_id: id, sequence_start: true, sequence_end: true },
        });
        assert.equal(r.asTypedArray<BigInt64Array>('CORR')[0], BigInt.asIntN(64, id));
      }
    }
  });

  test('string correlation ids; the wrong id type for the CORRID control is refused', async () => {
    const strings = [new InferInput('INPUT', [1], 'BYTES').setData(['x'])];
    for (const client of [httpClient, grpcClient]) {
      const r = await client.infer('string_id', strings, {
        parameters: { sequence_id: 'session-7', sequence_start: true, sequence_end: true },
      });
      assert.deepEqual(r.asStrings('OUTPUT'), ['session-7']);
      await assert.rejects(
        client.infer('string_id', strings, { parameters: { sequence_id: 5, sequence_start: true } }),
        /sequence batching control 'CORRID' data-type is 'UINT64', but model 'string_id' expects 'BYTES'/,
      );
    }
    await assert.rejects(
      httpClient.infer('accumulate_oldest', input(1), {
        parameters: { sequence_id: 'abc', sequence_start: true },
      }),
      /sequence batching control 'CORRID' data-type is 'BYTES', but model 'accumulate_oldest' expects 'UINT64'/,
    );
  });

  test("Triton's refusals: no correlation id, a sequence that was not started", async () => {
    const noId = await http(server.url, 'POST', '/v2/models/accumulate/infer', {
      inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [1] }],
    });
    assert.deepEqual(
      [noId.status, noId.body.error],
      [400, "inference request to model 'accumulate' must specify a non-zero or non-empty correlation ID"],
    );
    await assert.rejects(
      grpcClient.infer('accumulate', input(1), { parameters: { sequence_id: 123456 } }),
      (e: InferenceServerError) =>
        e.status === 'INVALID_ARGUMENT' &&
        e.message ===
          "inference request for sequence 123456 to model 'accumulate' must specify the START flag on the first request of the sequence",
    );
  });

  test('implicit state starts from the initial_state data file; a state output in the config reaches the client', async () => {
    const a = await httpClient.infer('accumulate_from_100', input(5), options(9, 0, 2));
    const b = await grpcClient.infer('accumulate_from_100', input(6), {
      ...options(9, 1, 2),
      outputs: [new InferRequestedOutput('OUTPUT_STATE')],
    });
    assert.deepEqual([out(a), out(a, 'OUTPUT_STATE')], [105, 105]);
    assert.deepEqual(b.outputNames, ['OUTPUT_STATE']);
    assert.equal(out(b, 'OUTPUT_STATE'), 111);
  });

  test('an idle sequence is released; its next request needs START again', async () => {
    await httpClient.infer('accumulate_idle', input(1), {
      parameters: { sequence_id: 5, sequence_start: true },
    });
    assert.equal(
      out(await httpClient.infer('accumulate_idle', input(2), { parameters: { sequence_id: 5 } })),
      3,
    );
    await new Promise((r) => setTimeout(r, 1000)); // idle time 100 ms
    await assert.rejects(
      httpClient.infer('accumulate_idle', input(3), { parameters: { sequence_id: 5 } }),
      /inference request for sequence 5 to model 'accumulate_idle' must specify the START flag/,
    );
  });

  test("statistics count padding rows in batches, not as requests (Triton's null requests)", async () => {
    type Stats = {
      inference_count: number;
      execution_count: number;
      inference_stats: { success: { count: number } };
      batch_stats: { batch_size: number; compute_infer: { count: number } }[];
    };
    const stats = async () =>
      (await http(server.url, 'GET', '/v2/models/accumulate_stats/stats')).body.model_stats[0] as Stats;
    // Sequence 61 takes slot 0 and sequence 62 slot 1; each START runs (alone or together).
    await httpClient.infer('accumulate_stats', input(1), options(61, 0, 3));
    await httpClient.infer('accumulate_stats', input(2), options(62, 0, 3));
    const before = await stats();
    // Only slot 1 has a request: the batch is a padding row for slot 0 plus the request.
    assert.equal(out(await httpClient.infer('accumulate_stats', input(5), options(62, 1, 3))), 7);
    const after = await stats();
    assert.equal(after.inference_stats.success.count - before.inference_stats.success.count, 1);
    assert.equal(after.execution_count - before.execution_count, 1);
    assert.equal(after.inference_count - before.inference_count, 2, 'the padding row is inferred too');
    const twos = (s: Stats) => s.batch_stats.find((b) => b.batch_size === 2)?.compute_infer.count ?? 0;
    assert.equal(twos(after) - twos(before), 1, 'one batch of 2 rows');
    for (const [id, i] of [
      [61, 2],
      [62, 2],
    ]) {
      await httpClient.infer('accumulate_stats', input(0), options(id, i, 3));
    }
  });

  test('server metadata lists the sequence extension', async () => {
    assert.ok((await httpClient.getServerMetadata()).extensions.includes('sequence'));
  });
});

describe('sequence models: reload and Python', () => {
  let server: TestServer;
  let client: InferenceServerClient;

  before(async () => {
    const repo = tempDir();
    writeModel(repo, 'accumulate', accumulateConfig('accumulate', 'direct { }'), accumulateModel());
    writePythonModel(
      repo,
      'py_sequence',
      `name: "py_sequence"\nbackend: "python"\nmax_batch_size: 4\n` +
        `input [{ name: "INPUT" data_type: TYPE_INT32 dims: [ 1 ] }]\n` +
        `output [{ name: "OUTPUT" data_type: TYPE_INT64 dims: [ 4 ] }]\n` +
        `sequence_batching { control_input [\n` +
        `  { name: "START" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }] },\n` +
        `  { name: "READY" control [{ kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] }] },\n` +
        `  { name: "CORRID" control [{ kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 }] } ] }\n` +
        `instance_group [{ kind: KIND_CPU count: 1 }]\n`,
      `import numpy as np
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def execute(self, requests):
        out = []
        for r in requests:
            get = lambda n: int(pb_utils.get_input_tensor_by_name(r, n).as_numpy().flatten()[0])
            row = [get("START"), get("READY"), get("CORRID"), int(r.correlation_id())]
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("OUTPUT", np.array([row], dtype=np.int64))]))
        return out
`,
    );
    writePythonModel(
      repo,
      'py_state',
      `name: "py_state"\nbackend: "python"\nmax_batch_size: 0\n` +
        `input [{ name: "INPUT" data_type: TYPE_INT64 dims: [ 1 ] }]\n` +
        `output [{ name: "HISTORY" data_type: TYPE_INT64 dims: [ -1 ] }]\n` +
        `sequence_batching { control_input [\n` +
        `  { name: "START" control [{ kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }] } ]\n` +
        `  state [{ input_name: "PAST" output_name: "PRESENT" data_type: TYPE_INT64 dims: [ -1 ] }] }\n` +
        `instance_group [{ kind: KIND_CPU count: 2 }]\n`,
      `import numpy as np
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    # The state holds every input of the sequence so far (it grows by one element per request).
    def execute(self, requests):
        out = []
        for r in requests:
            get = lambda n: pb_utils.get_input_tensor_by_name(r, n).as_numpy()
            past = get("PAST")
            history = get("INPUT") if get("START")[0] else np.concatenate([past, get("INPUT")])
            out.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("HISTORY", history), pb_utils.Tensor("PRESENT", history)]))
        return out
`,
    );
    server = await serve([repo], {
      modelControlMode: 'explicit',
      startupModels: ['accumulate', 'py_sequence', 'py_state'],
    });
    client = new InferenceServerClient(server.url);
  });

  after(async () => {
    client?.close();
    await server?.stop();
  });

  test('a Python sequence model gets the control inputs and request.correlation_id()', async () => {
    const first = await client.infer('py_sequence', input(1), options(31, 0, 2));
    const last = await client.infer('py_sequence', input(1), options(31, 1, 2));
    assert.deepEqual(Array.from(first.asTypedArray<BigInt64Array>('OUTPUT'), Number), [1, 1, 31, 31]);
    assert.deepEqual(Array.from(last.asTypedArray<BigInt64Array>('OUTPUT'), Number), [0, 1, 31, 31]);
    const big = 2n ** 53n + 1n;
    const exact = await client.infer('py_sequence', input(1), options(big, 0, 1));
    assert.deepEqual(Array.from(exact.asTypedArray<BigInt64Array>('OUTPUT')), [1n, 1n, big, big]);
  });

  test('a Python model keeps implicit state of variable size without an initial_state', async () => {
    const one = (v: number) => [new InferInput('INPUT', [1], 'INT64').setData(BigInt64Array.of(BigInt(v)))];
    const history = (r: InferResult) => Array.from(r.asTypedArray<BigInt64Array>('HISTORY'), Number);
    // Two sequences interleaved, one slot on each of the 2 instances: each sees only its own inputs.
    assert.deepEqual(history(await client.infer('py_state', one(1), options(51, 0, 3))), [1]);
    assert.deepEqual(history(await client.infer('py_state', one(7), options(52, 0, 3))), [7]);
    assert.deepEqual(history(await client.infer('py_state', one(2), options(51, 1, 3))), [1, 2]);
    assert.deepEqual(history(await client.infer('py_state', one(8), options(52, 1, 3))), [7, 8]);
    const last = await client.infer('py_state', one(3), options(51, 2, 3));
    assert.deepEqual(history(last), [1, 2, 3]);
    assert.deepEqual(
      last.outputNames,
      ['HISTORY'],
      'the state output is not returned unless the config lists it as an output',
    );
    assert.deepEqual(history(await client.infer('py_state', one(9), options(52, 2, 3))), [7, 8, 9]);
  });

  test('a sequence spanning a model reload is refused cleanly, not continued on a fresh state', async () => {
    assert.equal(
      out(
        await client.infer('accumulate', input(4), { parameters: { sequence_id: 8, sequence_start: true } }),
      ),
      4,
    );
    await client.loadModel('accumulate'); // reload: the new version knows no sequence
    await assert.rejects(
      client.infer('accumulate', input(5), { parameters: { sequence_id: 8 } }),
      /inference request for sequence 8 to model 'accumulate' must specify the START flag/,
    );
    assert.equal(
      out(
        await client.infer('accumulate', input(5), { parameters: { sequence_id: 8, sequence_start: true } }),
      ),
      5,
    );
  });
});
