/**
 * ModelStreamInfer through the TypeScript client: 1,000 requests on one stream, bad ones among
 * them, every good answer plus one error per bad request, responses in request order carrying their
 * ids and `triton_final_response`, the stream still open afterwards; Triton's stream parameters;
 * cancelling; server shutdown with a stream open.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  InferenceServerClient,
  InferenceServerError,
  InferInput,
  InferRequestedOutput,
  type InferResult,
} from '../../src/client/index.js';
import { writeAddSub } from '../helpers/models.js';
import { serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

const range16 = Array.from({ length: 16 }, (_, i) => i);

function addSub(b: number, shape = [1, 16]): InferInput[] {
  return [
    new InferInput('INPUT0', shape, 'INT32').setData(Int32Array.from(range16)),
    new InferInput('INPUT1', shape, 'INT32').setData(new Int32Array(16).fill(b)),
  ];
}

type Answer = { result?: InferResult; error?: InferenceServerError };

/** A stream whose answers are collected; `next(n)` waits for n more. */
function collector(client: InferenceServerClient) {
  const answers: Answer[] = [];
  let waiter: { n: number; resolve: () => void } | undefined;
  client.startStream((result, error) => {
    answers.push({ result, error });
    if (waiter && answers.length >= waiter.n) waiter.resolve();
  });
  return {
    answers,
    until(n: number, ms = 30_000): Promise<void> {
      if (answers.length >= n) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${answers.length} of ${n} answers`)), ms);
        waiter = {
          n,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
      });
    },
  };
}

describe('ModelStreamInfer', () => {
  let server: TestServer;
  let client: InferenceServerClient;

  before(async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    server = await serve([repo]);
  });

  after(async () => {
    client?.close();
    await server?.stop();
  });

  test('1,000 requests on one stream, bad ones included: every answer, in order, stream still open', async () => {
    client = new InferenceServerClient(server.grpcUrl);
    const s = collector(client);
    const N = 1000;
    const bad = new Map<string, RegExp>();
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const id = `r${i}`;
      ids.push(id);
      switch (i % 10) {
        case 3:
          bad.set(id, /^Request for unknown model: 'nope' is not found$/);
          client.asyncStreamInfer('nope', addSub(i), { requestId: id });
          break;
        case 6:
          bad.set(
            id,
            /unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[16\]/,
          );
          client.asyncStreamInfer(
            'simple',
            [new InferInput('INPUT0', [16], 'INT32').setData(new Int32Array(16)), addSub(i)[1]],
            {
              requestId: id,
            },
          );
          break;
        case 9:
          bad.set(id, /^unexpected inference output 'OUTPUT7' for model 'simple'$/);
          client.asyncStreamInfer('simple', addSub(i), {
            requestId: id,
            outputs: [new InferRequestedOutput('OUTPUT7')],
          });
          break;
        default:
          client.asyncStreamInfer('simple', addSub(i), { requestId: id });
      }
    }
    await s.until(N);
    assert.equal(s.answers.length, N);
    let good = 0;
    s.answers.forEach((a, k) => {
      const id = ids[k];
      if (bad.has(id)) {
        assert.equal(a.result, undefined);
        assert.ok(a.error instanceof InferenceServerError, id);
        assert.equal(a.error.requestId, id, 'the error names its request, in request order');
        assert.match(a.error.message, bad.get(id)!);
        return;
      }
      good++;
      assert.equal(a.error, undefined, a.error?.message);
      const r = a.result!;
      const i = Number(id.slice(1));
      assert.deepEqual(r.getResponse(), {
        model_name: 'simple',
        model_version: '1',
        id,
        parameters: { triton_final_response: true },
        outputs: [
          { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] },
          { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16] },
        ],
      });
      assert.deepEqual(
        Array.from(r.asTypedArray<Int32Array>('OUTPUT0')),
        range16.map((x) => x + i),
      );
    });
    assert.equal(good, N - bad.size);
    assert.equal(bad.size, 300);

    // The stream is still open: one more request is answered.
    client.asyncStreamInfer('simple', addSub(5), { requestId: 'after' });
    await s.until(N + 1);
    assert.equal(s.answers[N].result?.getResponse().id, 'after');
    await client.stopStream();
    assert.equal(s.answers.length, N + 1, 'no error when the stream closes');
  });

  test("Triton's stream parameters: triton_enable_empty_final_response (bool only), reserved triton_ keys", async () => {
    const s = collector(client);
    client.asyncStreamInfer('simple', addSub(1), { requestId: 'a', enableEmptyFinalResponse: true });
    client.asyncStreamInfer('simple', addSub(1), {
      requestId: 'b',
      parameters: { triton_enable_empty_final_response: 'yes' },
    });
    client.asyncStreamInfer('simple', addSub(1), { requestId: 'c', parameters: { triton_other: true } });
    client.asyncStreamInfer('simple', addSub(1), { requestId: 'd', parameters: { priority: -1 } });
    await s.until(4);
    await client.stopStream();
    const [a, b, c, d] = s.answers;
    assert.equal(a.result?.getResponse().parameters?.triton_final_response, true);
    assert.equal(
      b.error?.message,
      "invalid value type for 'triton_enable_empty_final_response' parameter, expected bool_param.",
    );
    assert.equal(
      c.error?.message,
      "parameter keys starting with 'triton_' are reserved for Triton usage. Only the following keys starting with 'triton_' are allowed: triton_enable_empty_final_response",
    );
    assert.equal(d.error?.message, "invalid value for 'priority', expected value >= 0.");
  });

  test('stream errors: one stream per client; no stream over HTTP; stopStream(true) cancels quietly', async () => {
    const s = collector(client);
    assert.throws(() => client.startStream(() => undefined), /a stream is already open/);
    for (let i = 0; i < 50; i++) client.asyncStreamInfer('simple', addSub(i), { requestId: `x${i}` });
    await client.stopStream(true);
    assert.ok(
      s.answers.every((a) => a.error === undefined),
      'cancelling reports no error',
    );
    assert.throws(() => client.asyncStreamInfer('simple', addSub(1)), /no stream is open/);
    await client.stopStream(); // no-op
    const http = new InferenceServerClient(server.url);
    assert.throws(() => http.startStream(() => undefined), /startStream needs gRPC/);
    http.close();
    // The server is fine afterwards.
    const r = await client.infer('simple', addSub(2));
    assert.equal(r.asTypedArray<Int32Array>('OUTPUT1')[0], -2);
  });

  test('a server that stops ends open streams cleanly', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const other = await serve([repo]);
    const c = new InferenceServerClient(other.grpcUrl);
    const s = collector(c);
    c.asyncStreamInfer('simple', addSub(1), { requestId: 'one' });
    await s.until(1);
    await other.stop();
    await c.stopStream();
    assert.equal(s.answers.length, 1);
    assert.equal(s.answers[0].error, undefined);
    c.close();
  });
});
