/**
 * FinalNet (the CTR benchmark model from ../shared/models/finalnet) over gRPC with the TypeScript
 * client: the reference rows within 1e-5 of reference.json, raw and typed contents, and a batch of
 * 8192 rows (~2.5 MB of INT64 inputs). Skipped, with the reason, where the generator cannot run
 * (as test/finalnet.test.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureFinalNet, generatorProblem, linkModel } from '../../support/models.js';
import { InferenceServerClient, InferInput } from '../../src/client/index.js';
import { serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

const problem = process.env.CI ? undefined : generatorProblem();

describe('FinalNet_onnx over gRPC', { skip: problem }, () => {
  let server: TestServer;
  let client: InferenceServerClient;
  let reference: { inputs: Record<string, number[]>; y_pred: number[] };

  before(async () => {
    const dir = ensureFinalNet();
    reference = JSON.parse(fs.readFileSync(path.join(dir, '1', 'reference.json'), 'utf8'));
    const repo = tempDir();
    linkModel(repo, 'FinalNet_onnx', dir);
    server = await serve([repo]);
    client = new InferenceServerClient(server.grpcUrl);
  });

  after(async () => {
    client?.close();
    await server?.stop();
  });

  const referenceInputs = () =>
    Object.entries(reference.inputs).map(([name, v]) =>
      new InferInput(name, [v.length, 1], 'INT64').setData(BigInt64Array.from(v.map(BigInt))),
    );

  test('metadata: 39 INT64 inputs, FP32 y_pred', async () => {
    const m = await client.getModelMetadata('FinalNet_onnx');
    assert.equal(m.inputs.length, 39);
    assert.deepEqual(m.inputs[0], { name: 'input_0', datatype: 'INT64', shape: [-1, 1] });
    assert.deepEqual(m.outputs, [{ name: 'y_pred', datatype: 'FP32', shape: [-1, 1] }]);
  });

  for (const binary of [true, false]) {
    test(`${binary ? 'raw_input_contents' : 'typed int64_contents'}: matches reference.json within 1e-5`, async () => {
      const r = await client.infer('FinalNet_onnx', referenceInputs(), { binary });
      assert.deepEqual(r.output('y_pred')?.shape, [reference.y_pred.length, 1]);
      const y = r.asTypedArray<Float32Array>('y_pred');
      assert.equal(y.length, reference.y_pred.length);
      y.forEach((v, i) => assert.ok(Math.abs(v - reference.y_pred[i]) <= 1e-5, `row ${i}: ${v}`));
    });
  }

  test('a batch of 8192 rows answers 8192 probabilities, as over HTTP', async () => {
    const n = 8192;
    const inputs = Object.keys(reference.inputs).map((name, f) =>
      new InferInput(name, [n, 1], 'INT64').setData(
        BigInt64Array.from({ length: n }, (_, i) => BigInt((i * 31 + f) % 5)),
      ),
    );
    const r = await client.infer('FinalNet_onnx', inputs);
    const y = r.asTypedArray<Float32Array>('y_pred');
    assert.equal(y.length, n);
    assert.ok(y.every((v) => v > 0 && v < 1));
    const http = new InferenceServerClient(server.url);
    const h = await http.infer('FinalNet_onnx', inputs);
    http.close();
    assert.deepEqual(h.asTypedArray('y_pred'), y);
  });
});
