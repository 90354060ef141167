/**
 * The Python backend with real stub processes (Debian's python3 + numpy), over real sockets, with
 * models in the style of Triton's python_backend examples: numpy add_sub, the BYTES
 * simple_identity, BLS calling the ONNX `simple` and post-processing (sync and `async def`), a
 * decoupled repeat model over gRPC ModelStreamInfer (refused over HTTP and unary gRPC with
 * Triton's messages), auto_complete_config, and an execute that raises.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  InferenceServerClient,
  InferenceServerError,
  InferInput,
  type InferResult,
} from '../../src/client/index.js';
import { serializeBytesTensor } from '../../src/protocol/bytes-tensor.js';
import { writeAddSub } from '../helpers/models.js';
import {
  writeAddSubPy,
  writeAutoCompleteModel,
  writeBlsModel,
  writeRaisingModel,
  writeRepeatModel,
  writePythonModel,
  writeSimpleIdentity,
} from '../../support/python-models.js';
import { binaryBody, http, inferBinary, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

const range16 = Array.from({ length: 16 }, (_, i) => i);

function blsInputs(model: string): unknown[] {
  return [
    { name: 'MODEL_NAME', datatype: 'BYTES', shape: [1], data: [model] },
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range16 },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(1) },
  ];
}

describe('Python backend', () => {
  let server: TestServer;

  before(async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    writeAddSubPy(repo);
    writeSimpleIdentity(repo);
    writeBlsModel(repo, 'bls');
    writeBlsModel(repo, 'bls_async', true);
    writeRepeatModel(repo);
    writeAutoCompleteModel(repo);
    writeRaisingModel(repo);
    writePythonModel(
      repo,
      'double_in_place',
      `name: "double_in_place"
backend: "python"
max_batch_size: 0
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]`,
      `import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            x = pb_utils.get_input_tensor_by_name(request, "INPUT0").as_numpy()
            x *= 2  # inputs are writable, as with Triton
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", x)]))
        return responses
`,
    );
    server = await serve([repo]);
    assert.deepEqual(server.failedModels, []);
  });

  after(() => server?.stop());

  test('large inputs (through the shared-memory file) arrive whole, writable and fresh each time', async () => {
    // 1 MiB inputs (≥ 256 KiB) take the shared-memory file; two requests in a row with other data
    // check that the second does not see the first's bytes, and the model may change its inputs.
    for (const seed of [1, 7]) {
      const n = 262144;
      const x = Float32Array.from({ length: n }, (_, i) => (i % 1000) + seed);
      const { body, headerLength } = binaryBody(
        [{ name: 'INPUT0', datatype: 'FP32', shape: [n], data: new Uint8Array(x.buffer) }],
        { parameters: { binary_data_output: true } },
      );
      const r = await inferBinary(server.url, 'double_in_place', body, headerLength);
      assert.equal(r.status, 200, JSON.stringify(r.header));
      const out = r.outputs.get('OUTPUT0')!;
      const y = new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
      assert.equal(y.length, n);
      for (const i of [0, 1, 999, 1000, 131071, n - 1])
        assert.equal(y[i], 2 * ((i % 1000) + seed), `element ${i}`);
    }
  });

  test('numpy add_sub over JSON and binary tensors; metadata and readiness', async () => {
    const res = await http(server.url, 'POST', '/v2/models/add_sub/infer', {
      id: 'r1',
      inputs: [
        { name: 'INPUT0', datatype: 'FP32', shape: [4], data: [1, 2, 3, 4] },
        { name: 'INPUT1', datatype: 'FP32', shape: [4], data: [0.5, 0.5, 0.5, 0.5] },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.id, 'r1');
    assert.deepEqual(
      res.body.outputs.map((o: { name: string; data: number[] }) => [o.name, o.data]),
      [
        ['OUTPUT0', [1.5, 2.5, 3.5, 4.5]],
        ['OUTPUT1', [0.5, 1.5, 2.5, 3.5]],
      ],
    );
    const a = new Float32Array([10, 20, 30, 40]);
    const b = new Float32Array([1, 2, 3, 4]);
    const { body, headerLength } = binaryBody(
      [
        { name: 'INPUT0', datatype: 'FP32', shape: [4], data: new Uint8Array(a.buffer) },
        { name: 'INPUT1', datatype: 'FP32', shape: [4], data: new Uint8Array(b.buffer) },
      ],
      { outputs: [{ name: 'OUTPUT1', parameters: { binary_data: true } }] },
    );
    const bin = await inferBinary(server.url, 'add_sub', body, headerLength);
    assert.equal(bin.status, 200);
    assert.deepEqual(
      bin.header.outputs.map((o: { name: string }) => o.name),
      ['OUTPUT1'],
    );
    const out = bin.outputs.get('OUTPUT1')!;
    assert.deepEqual(
      [...new Float32Array(out.buffer.slice(out.byteOffset, out.byteOffset + 16))],
      [9, 18, 27, 36],
    );
    const meta = await http(server.url, 'GET', '/v2/models/add_sub');
    assert.equal(meta.body.platform, 'python');
    assert.equal((await http(server.url, 'GET', '/v2/models/add_sub/ready')).status, 200);
    assert.equal((await http(server.url, 'GET', '/v2/health/ready')).status, 200);
  });

  test('simple_identity returns BYTES elements unchanged, also non-UTF-8 ones and in batches', async () => {
    const res = await http(server.url, 'POST', '/v2/models/simple_identity/infer', {
      inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 3], data: ['hello', 'wörld', ''] }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.outputs[0].data, ['hello', 'wörld', '']);
    assert.deepEqual(res.body.outputs[0].shape, [1, 3]);
    const raw = [Buffer.from([0, 255, 1]), Buffer.from('x'.repeat(1000))];
    const data = serializeBytesTensor(raw);
    const replies = await Promise.all(
      Array.from({ length: 8 }, () => {
        const { body, headerLength } = binaryBody(
          [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2], data }],
          { outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }] },
        );
        return inferBinary(server.url, 'simple_identity', body, headerLength);
      }),
    );
    for (const r of replies) {
      assert.equal(r.status, 200);
      assert.deepEqual(r.outputs.get('OUTPUT0'), data);
    }
  });

  test('BLS: a Python model calls the ONNX simple and post-processes; errors reach the response', async () => {
    for (const model of ['bls', 'bls_async']) {
      const res = await http(server.url, 'POST', `/v2/models/${model}/infer`, {
        inputs: blsInputs('simple'),
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(
        res.body.outputs[0].data,
        range16.map((i) => (i + 1) * 2),
      );
      assert.deepEqual(
        res.body.outputs[1].data,
        range16.map((i) => i - 1),
      );
      const bad = await http(server.url, 'POST', `/v2/models/${model}/infer`, { inputs: blsInputs('nope') });
      assert.equal(bad.status, 500);
      assert.equal(bad.body.error, "Request for unknown model: 'nope' is not found");
    }
  });

  test('an async def execute serves concurrent requests', async () => {
    const replies = await Promise.all(
      Array.from({ length: 6 }, () =>
        http(server.url, 'POST', '/v2/models/bls_async/infer', { inputs: blsInputs('simple') }),
      ),
    );
    for (const r of replies) assert.equal(r.status, 200, JSON.stringify(r.body));
  });

  test('auto_complete_config fills inputs, outputs, max_batch_size and dynamic batching', async () => {
    const config = (await http(server.url, 'GET', '/v2/models/auto_complete/config')).body;
    assert.equal(config.max_batch_size, 4);
    assert.ok(config.dynamic_batching);
    assert.deepEqual(
      config.input.map((t: { name: string; data_type: string; dims: number[] }) => [
        t.name,
        t.data_type,
        t.dims,
      ]),
      [['INPUT0', 'TYPE_FP32', [4]]],
    );
    assert.equal(config.output[0].name, 'OUTPUT0');
    const res = await http(server.url, 'POST', '/v2/models/auto_complete/infer', {
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [2, 4], data: [1, 2, 3, 4, 5, 6, 7, 8] }],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.outputs[0].data, [10, 20, 30, 40, 50, 60, 70, 80]);
  });

  test('an exception in execute becomes an error with its type, message and frames; TritonError keeps its code', async () => {
    const run = (v: number) =>
      http(server.url, 'POST', '/v2/models/raises/infer', {
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [4], data: [v, 2, 3, 4] }],
      });
    const bad = await run(-1);
    assert.equal(bad.status, 500);
    assert.match(
      bad.body.error,
      /^Failed to process the request\(s\) for model instance 'raises_0', message: ValueError: negative input: -1\.0\n\nAt:\n {2}.*model\.py\(\d+\): check\n/,
    );
    const seven = await run(7);
    assert.equal(seven.status, 400);
    assert.equal(seven.body.error, 'seven is not allowed');
    assert.equal((await run(1)).status, 200);
  });

  test('decoupled repeat: many responses per request over ModelStreamInfer; HTTP and unary gRPC refuse it', async () => {
    const client = new InferenceServerClient(server.grpcUrl);
    const answers: Array<{ result?: InferResult; error?: InferenceServerError }> = [];
    let expected = 0;
    let wake: (() => void) | undefined;
    client.startStream((result, error) => {
      answers.push({ result, error });
      if (answers.length >= expected) wake?.();
    });
    const done = new Promise<void>((resolve) => (wake = resolve));
    expected = 3 + 4 + 1; // two requests' responses, plus the empty final one the second asks for
    client.asyncStreamInfer(
      'repeat_int32',
      [new InferInput('IN', [3], 'INT32').setData(Int32Array.from([7, 8, 9]))],
      {
        requestId: 'a',
      },
    );
    client.asyncStreamInfer(
      'repeat_int32',
      [new InferInput('IN', [4], 'INT32').setData(Int32Array.from([1, 2, 3, 4]))],
      { requestId: 'b', parameters: { triton_enable_empty_final_response: true } },
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), 30_000))),
    ]);
    clearTimeout(timer);
    await client.stopStream();
    assert.ok(
      answers.every((a) => !a.error),
      JSON.stringify(answers.map((a) => a.error?.message)),
    );
    const byId = (id: string) =>
      answers.filter((a) => a.result!.getResponse().id === id).map((a) => a.result!);
    const a = byId('a');
    assert.deepEqual(
      a.map((r) => [...r.asTypedArray<Int32Array>('OUT')]),
      [[7], [8], [9]],
    );
    assert.deepEqual(
      a.map((r) => [...r.asTypedArray<Uint32Array>('IDX')]),
      [[0], [1], [2]],
    );
    assert.ok(a.every((r) => r.getResponse().parameters?.triton_final_response === false));
    const b = byId('b');
    assert.equal(b.length, 5);
    assert.deepEqual(
      b.slice(0, 4).map((r) => [...r.asTypedArray<Int32Array>('OUT')]),
      [[1], [2], [3], [4]],
    );
    assert.equal(b[4].getResponse().parameters?.triton_final_response, true);
    assert.deepEqual(b[4].outputNames, []);

    await assert.rejects(
      client.infer('repeat_int32', [new InferInput('IN', [1], 'INT32').setData(Int32Array.from([1]))]),
      (e: InferenceServerError) => {
        assert.equal(e.message, "ModelInfer RPC doesn't support models with decoupled transaction policy");
        assert.equal(e.status, 'UNIMPLEMENTED');
        return true;
      },
    );
    client.close();
    const res = await http(server.url, 'POST', '/v2/models/repeat_int32/infer', {
      inputs: [{ name: 'IN', datatype: 'INT32', shape: [1], data: [1] }],
    });
    assert.equal(res.status, 501);
    assert.equal(res.body.error, "HTTP end point doesn't support models with decoupled transaction policy");
  });
});
