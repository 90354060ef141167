/**
 * Many concurrent requests of mixed kinds, good and bad, against one server: every one gets its own
 * correct answer, and the event loop keeps answering while model instances are busy.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildExampleRepository } from '../../src/examples/build.js';
import { binaryBody, http, inferBinary, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { slowBody, writeSlowModel } from '../helpers/models.js';

const range16 = Array.from({ length: 16 }, (_, i) => i);

describe('concurrency', () => {
  let server: TestServer;

  before(async () => {
    const repo = tempDir();
    await buildExampleRepository(repo);
    writeSlowModel(repo, 'slow', 2, 1024, 64);
    server = await serve([repo]);
  });

  after(() => server.stop());

  test('200 concurrent mixed requests are all answered correctly', async () => {
    const jobs = Array.from({ length: 200 }, async (_, i) => {
      switch (i % 5) {
        case 0: {
          const r = await http(server.url, 'POST', '/v2/models/simple/infer', {
            id: `json-${i}`,
            inputs: [
              { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range16 },
              { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(i) },
            ],
          });
          assert.equal(r.status, 200);
          assert.equal(r.body.id, `json-${i}`);
          assert.deepEqual(
            r.body.outputs[0].data,
            range16.map((k) => k + i),
          );
          return;
        }
        case 1: {
          const { body, headerLength } = binaryBody(
            [
              {
                name: 'INPUT0',
                datatype: 'INT32',
                shape: [1, 16],
                data: new Uint8Array(Int32Array.from(range16).buffer),
              },
              {
                name: 'INPUT1',
                datatype: 'INT32',
                shape: [1, 16],
                data: new Uint8Array(new Int32Array(16).fill(i).buffer),
              },
            ],
            { parameters: { binary_data_output: true } },
          );
          const r = await inferBinary(server.url, 'simple', body, headerLength);
          assert.equal(r.status, 200);
          const diff = new Int32Array(new Uint8Array(r.outputs.get('OUTPUT1')!).buffer);
          assert.deepEqual(
            Array.from(diff),
            range16.map((k) => k - i),
          );
          return;
        }
        case 2: {
          const r = await http(server.url, 'POST', '/v2/models/simple_string/infer', {
            inputs: [
              { name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], data: range16.map(String) },
              { name: 'INPUT1', datatype: 'BYTES', shape: [1, 16], data: Array(16).fill(String(i)) },
            ],
          });
          assert.equal(r.status, 200);
          assert.deepEqual(
            r.body.outputs[0].data,
            range16.map((k) => String(k + i)),
          );
          return;
        }
        case 3: {
          const values = Float32Array.from({ length: 64 }, (_, k) => k * i + 0.5);
          const { body, headerLength } = binaryBody(
            [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 64], data: new Uint8Array(values.buffer) }],
            { parameters: { binary_data_output: true } },
          );
          const r = await inferBinary(server.url, 'identity_fp32', body, headerLength);
          assert.equal(r.status, 200);
          assert.deepEqual(new Uint8Array(r.outputs.get('OUTPUT0')!), new Uint8Array(values.buffer));
          return;
        }
        default: {
          const r = await http(server.url, 'POST', '/v2/models/simple/infer', {
            inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [16], data: range16 }],
          });
          assert.equal(r.status, 400);
          assert.match(r.body.error, /for model 'simple'/);
        }
      }
    });
    await Promise.all(jobs);
    const stats = (await http(server.url, 'GET', '/v2/models/simple/stats')).body.model_stats[0];
    assert.ok(stats.inference_stats.success.count >= 80);
  });

  test('the event loop answers while every instance is busy', async () => {
    let slowDone = 0;
    const slow = [0, 1].map(async () => {
      const { body, headerLength } = slowBody(256, 1024);
      const r = await inferBinary(server.url, 'slow', body, headerLength);
      assert.equal(r.status, 200);
      slowDone++;
    });
    // Give the server a moment to hand both requests to their instances.
    await new Promise((r) => setTimeout(r, 30));
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${server.url}/v2/health/live`);
      assert.equal(r.status, 200);
    }
    const meta = await http(server.url, 'GET', '/v2/models/simple');
    assert.equal(meta.status, 200);
    assert.equal(slowDone, 0, 'health and metadata answered before the slow inferences finished');
    await Promise.all(slow);
  });
});
