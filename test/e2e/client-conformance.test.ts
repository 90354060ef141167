/**
 * The HTTP conformance cases (every datatype through the identity models, BYTES, classification,
 * simple/simple_string, Triton's errors, metadata, config, statistics) run through BOTH protocols
 * with the TypeScript client, which must see identical results: same outputs, same response
 * metadata, same error messages and codes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  InferenceServerClient,
  InferenceServerError,
  InferInput,
  InferRequestedOutput,
  type Datatype,
  type InferenceStatistics,
  type InferResult,
} from '../../src/client/index.js';
import { buildExampleRepository } from '../../src/examples/build.js';
import { writeLabelledAddSub } from '../helpers/models.js';
import { serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

const range16 = Array.from({ length: 16 }, (_, i) => i);

/** Identity-model cases: the data as the client takes it, and the typed array expected back. */
const CASES: Array<{ dt: Datatype; data: ArrayBufferView; json: boolean }> = [
  { dt: 'BOOL', data: new Uint8Array([1, 0, 1]), json: true },
  { dt: 'UINT8', data: new Uint8Array([0, 7, 255]), json: true },
  { dt: 'UINT16', data: Uint16Array.from([0, 300, 65535]), json: true },
  { dt: 'UINT32', data: Uint32Array.from([0, 70000, 4294967295]), json: true },
  { dt: 'UINT64', data: BigUint64Array.from([0n, 1n, 9007199254740991n]), json: true },
  { dt: 'INT8', data: Int8Array.from([-128, 0, 127]), json: true },
  { dt: 'INT16', data: Int16Array.from([-32768, 1, 32767]), json: true },
  { dt: 'INT32', data: Int32Array.from([-2147483648, 5, 2147483647]), json: true },
  { dt: 'INT64', data: BigInt64Array.from([-9007199254740991n, 0n, 9007199254740991n]), json: true },
  { dt: 'FP16', data: Uint16Array.from([0x3c00, 0xc000, 0x7bff]), json: false },
  { dt: 'FP32', data: Float32Array.from([1.5, -0.25, 1048576.125]), json: true },
  { dt: 'FP64', data: Float64Array.from([Math.PI, -1e-300, 2 ** 60]), json: true },
];

type Protocol = 'http' | 'grpc';

/** What a call gave: a value, or the error's message and protocol-neutral code. */
type Outcome<T> = { ok: T } | { error: string; code: string };

async function outcome<T>(p: Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: await p };
  } catch (e) {
    assert.ok(e instanceof InferenceServerError, `expected InferenceServerError, got ${e}`);
    return { error: e.message, code: e.code };
  }
}

/** A result reduced to plain data: response metadata and every output's bytes. */
function summary(r: InferResult): unknown {
  return {
    response: r.getResponse(),
    data: Object.fromEntries(r.outputNames.map((n) => [n, Array.from(r.rawBytes(n))])),
  };
}

describe('TypeScript client: identical results over HTTP and gRPC', () => {
  let server: TestServer;
  const clients = {} as Record<Protocol, InferenceServerClient>;

  /** Runs `fn` with each protocol's client and asserts both gave deep-equal outcomes. */
  async function same<T>(
    fn: (c: InferenceServerClient, p: Protocol) => Promise<T>,
    what = '',
  ): Promise<Outcome<T>> {
    const [h, g] = [await outcome(fn(clients.http, 'http')), await outcome(fn(clients.grpc, 'grpc'))];
    assert.deepEqual(g, h, `HTTP and gRPC differ ${what}`);
    return h;
  }

  async function sameResult(fn: (c: InferenceServerClient) => Promise<InferResult>, what = '') {
    const [h, g] = [await fn(clients.http), await fn(clients.grpc)];
    assert.deepEqual(summary(g), summary(h), `HTTP and gRPC results differ ${what}`);
    return { http: h, grpc: g };
  }

  const addSub = (b = 1, batch = 1) => [
    new InferInput('INPUT0', [batch, 16], 'INT32').setData(
      Int32Array.from({ length: 16 * batch }, (_, i) => i % 16),
    ),
    new InferInput('INPUT1', [batch, 16], 'INT32').setData(new Int32Array(16 * batch).fill(b)),
  ];

  before(async () => {
    const repo = tempDir();
    await buildExampleRepository(repo);
    writeLabelledAddSub(repo, 'simple_labels');
    server = await serve([repo]);
    clients.http = new InferenceServerClient(server.url);
    clients.grpc = new InferenceServerClient(server.grpcUrl);
  });

  after(async () => {
    clients.http?.close();
    clients.grpc?.close();
    await server?.stop();
  });

  test('the URL picks the protocol', () => {
    assert.equal(clients.http.protocol, 'http');
    assert.equal(clients.grpc.protocol, 'grpc');
    assert.equal(new InferenceServerClient('localhost:8001', { protocol: 'grpc' }).protocol, 'grpc');
    assert.equal(new InferenceServerClient('localhost:8000').protocol, 'http');
    assert.throws(() => new InferenceServerClient('ftp://x:1'), /unsupported URL scheme 'ftp'/);
  });

  test('the package exports the client as nereid/client', async () => {
    const specifier = 'nereid/client'; // resolved at run time through package.json "exports"
    const mod = await import(specifier);
    assert.equal(mod.InferenceServerClient, InferenceServerClient);
  });

  describe('health, metadata, config, index', () => {
    test('health', async () => {
      assert.deepEqual(await same((c) => c.isServerLive()), { ok: true });
      assert.deepEqual(await same((c) => c.isServerReady()), { ok: true });
      assert.deepEqual(await same((c) => c.isModelReady('simple')), { ok: true });
      assert.deepEqual(await same((c) => c.isModelReady('simple', '1')), { ok: true });
      assert.deepEqual(await same((c) => c.isModelReady('missing')), { ok: false });
      assert.deepEqual(await same((c) => c.isModelReady('simple', '7')), { ok: false });
    });

    test('server metadata', async () => {
      const r = await same((c) => c.getServerMetadata());
      assert.ok('ok' in r);
      assert.equal(r.ok.name, 'triton');
      assert.ok(r.ok.extensions.includes('binary_tensor_data'));
    });

    test('model metadata, for every model', async () => {
      const r = await same((c) => c.getModelMetadata('simple'));
      assert.deepEqual(r, {
        ok: {
          name: 'simple',
          versions: ['1'],
          platform: 'onnxruntime_onnx',
          inputs: [
            { name: 'INPUT0', datatype: 'INT32', shape: [-1, 16] },
            { name: 'INPUT1', datatype: 'INT32', shape: [-1, 16] },
          ],
          outputs: [
            { name: 'OUTPUT0', datatype: 'INT32', shape: [-1, 16] },
            { name: 'OUTPUT1', datatype: 'INT32', shape: [-1, 16] },
          ],
        },
      });
      for (const m of await clients.http.getModelRepositoryIndex(true)) {
        await same((c) => c.getModelMetadata(m.name, m.version), m.name);
      }
    });

    test('model config: the gRPC ModelConfig converts to the same Triton JSON, for every model', async () => {
      const index = await clients.http.getModelRepositoryIndex(true);
      assert.ok(index.length >= 15);
      for (const m of index) {
        const r = await same((c) => c.getModelConfig(m.name), m.name);
        assert.ok('ok' in r && r.ok.name === m.name);
      }
      const r = await same((c) => c.getModelConfig('simple'));
      assert.ok('ok' in r);
      assert.equal(r.ok.max_batch_size, 8);
      assert.deepEqual((r.ok.input as Array<{ dims: number[] }>)[0].dims, [16]);
    });

    test('repository index', async () => {
      const all = await same((c) => c.getModelRepositoryIndex());
      const ready = await same((c) => c.getModelRepositoryIndex(true));
      assert.ok('ok' in all && 'ok' in ready);
      assert.ok(all.ok.some((e) => e.name === 'simple' && e.version === '1' && e.state === 'READY'));
    });
  });

  describe('every datatype round-trips through the identity models', () => {
    for (const c of CASES) {
      const model = `identity_${c.dt.toLowerCase()}`;
      test(`${c.dt}, binary`, async () => {
        const { http } = await sameResult((cl) =>
          cl.infer(model, [new InferInput('INPUT0', [1, 3], c.dt).setData(c.data as never)]),
        );
        assert.deepEqual(http.output('OUTPUT0'), { name: 'OUTPUT0', datatype: c.dt, shape: [1, 3] });
        assert.deepEqual(http.asTypedArray('OUTPUT0'), c.data);
      });
      if (c.json) {
        test(`${c.dt}, JSON (HTTP) / typed contents (gRPC), JSON outputs`, async () => {
          const { grpc } = await sameResult((cl) =>
            cl.infer(model, [new InferInput('INPUT0', [1, 3], c.dt).setData(c.data as never)], {
              binary: false,
            }),
          );
          assert.deepEqual(grpc.asTypedArray('OUTPUT0'), c.data);
        });
      }
    }

    test('plain arrays are accepted and range-checked', async () => {
      await sameResult((cl) =>
        cl.infer('identity_int64', [new InferInput('INPUT0', [1, 2], 'INT64').setData([-5, 2n ** 62n])]),
      );
      await sameResult((cl) =>
        cl.infer('identity_bool', [new InferInput('INPUT0', [1, 2], 'BOOL').setData([true, false])]),
      );
      assert.throws(() => new InferInput('X', [2], 'UINT8').setData([1, 256]), /element 1 is 256/);
      assert.throws(
        () => new InferInput('X', [2], 'INT32').setData(Float32Array.from([1, 2])),
        /Float32Array/,
      );
      assert.throws(() => new InferInput('X', [3], 'FP32').setData(Float32Array.from([1, 2])), /needs 3/);
      assert.throws(() => new InferInput('X', [2], 'BYTES').setData(['a']), /got 1 BYTES elements/);
      assert.throws(() => new InferInput('X', [2], 'FLOAT' as Datatype), /unknown datatype/);
      assert.throws(() => new InferInput('X', [-1], 'FP32'), /non-negative integers/);
    });

    test('BYTES: empty strings and Unicode, binary and not', async () => {
      const data = ['', 'hello', 'ünïcödé ✓', ''];
      for (const binary of [true, false]) {
        const { http } = await sameResult((cl) =>
          cl.infer('identity_bytes', [new InferInput('INPUT0', [1, 4], 'BYTES').setData(data)], { binary }),
        );
        assert.deepEqual(http.asStrings('OUTPUT0'), data);
      }
    });

    test('BYTES: a serialized Buffer with a large element', async () => {
      const elems = [Buffer.from(''), Buffer.from('abc'), Buffer.from('x'.repeat(100_000))];
      const serialized = Buffer.concat(
        elems.flatMap((e) => [Buffer.from(Uint32Array.of(e.length).buffer), e]),
      );
      const { grpc } = await sameResult((cl) =>
        cl.infer('identity_bytes', [new InferInput('INPUT0', [1, 3], 'BYTES').setData(serialized)]),
      );
      assert.deepEqual(
        grpc.asBytes('OUTPUT0').map((b) => Buffer.from(b)),
        elems,
      );
    });

    test('BYTES that are not UTF-8 get the same backend error', async () => {
      const r = await same((cl) =>
        cl.infer('identity_bytes', [
          new InferInput('INPUT0', [1, 1], 'BYTES').setData([new Uint8Array([0xff, 0xfe, 0x00, 0x80])]),
        ]),
      );
      assert.ok('error' in r);
      assert.equal(r.code, 'INVALID_ARG');
      assert.match(r.error, /input 'INPUT0' holds bytes that are not valid UTF-8/);
    });
  });

  describe('simple, simple_string, classification', () => {
    test('sums and differences, request id echoed', async () => {
      const { http } = await sameResult((c) => c.infer('simple', addSub(3), { requestId: 'req-7' }));
      assert.deepEqual(http.getResponse(), {
        model_name: 'simple',
        model_version: '1',
        id: 'req-7',
        outputs: [
          { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16] },
          { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16] },
        ],
      });
      assert.deepEqual(
        Array.from(http.asTypedArray<Int32Array>('OUTPUT0')),
        range16.map((i) => i + 3),
      );
      assert.deepEqual(
        Array.from(http.asTypedArray<Int32Array>('OUTPUT1')),
        range16.map((i) => i - 3),
      );
    });

    test('batch of 2, explicit version', async () => {
      const { grpc } = await sameResult((c) => c.infer('simple', addSub(10, 2), { modelVersion: '1' }));
      assert.deepEqual(grpc.output('OUTPUT0')?.shape, [2, 16]);
    });

    test('requested outputs come in the requested order; non-binary outputs', async () => {
      const outputs = [
        new InferRequestedOutput('OUTPUT1', { binary: false }),
        new InferRequestedOutput('OUTPUT0'),
      ];
      const { http } = await sameResult((c) => c.infer('simple', addSub(1), { outputs }));
      assert.deepEqual(http.outputNames, ['OUTPUT1', 'OUTPUT0']);
      const only = await sameResult((c) =>
        c.infer('simple', addSub(1), { outputs: [new InferRequestedOutput('OUTPUT1')] }),
      );
      assert.deepEqual(only.grpc.outputNames, ['OUTPUT1']);
    });

    test('custom request parameters are accepted', async () => {
      await sameResult((c) =>
        c.infer('simple', addSub(1), {
          parameters: { my_flag: true, my_count: 3, my_text: 'x', big: 2n ** 40n },
        }),
      );
    });

    test('classification: "value:index:label", top k; without labels', async () => {
      const { http } = await sameResult((c) =>
        c.infer('simple_labels', addSub(0), {
          outputs: [new InferRequestedOutput('OUTPUT0', { classCount: 3 })],
        }),
      );
      assert.deepEqual(http.output('OUTPUT0'), { name: 'OUTPUT0', datatype: 'BYTES', shape: [1, 3] });
      assert.deepEqual(http.asStrings('OUTPUT0'), ['15:15:label15', '14:14:label14', '13:13:label13']);
      const plain = await sameResult((c) =>
        c.infer('simple', addSub(0), { outputs: [new InferRequestedOutput('OUTPUT1', { classCount: 2 })] }),
      );
      assert.deepEqual(plain.grpc.asStrings('OUTPUT1'), ['15:15', '14:14']);
    });

    test('simple_string: BYTES numbers in, BYTES sums out', async () => {
      const inputs = () => [
        new InferInput('INPUT0', [1, 16], 'BYTES').setData(range16.map(String)),
        new InferInput('INPUT1', [1, 16], 'BYTES').setData(Array(16).fill('2')),
      ];
      const { http } = await sameResult((c) => c.infer('simple_string', inputs()));
      assert.deepEqual(
        http.asStrings('OUTPUT0'),
        range16.map((i) => String(i + 2)),
      );
      assert.deepEqual(
        http.asStrings('OUTPUT1'),
        range16.map((i) => String(i - 2)),
      );
    });

    test('a large FP32 tensor (beyond gRPC default 4 MiB message limit)', async () => {
      const n = 1_500_000;
      const data = Float32Array.from({ length: n }, (_, i) => i * 0.5);
      const { grpc } = await sameResult((c) =>
        c.infer('identity_fp32', [new InferInput('INPUT0', [1, n], 'FP32').setData(data)]),
      );
      assert.deepEqual(grpc.asTypedArray('OUTPUT0'), data);
    });
  });

  describe("Triton's errors, with the same message and code", () => {
    const expectError = async (
      fn: (c: InferenceServerClient) => Promise<unknown>,
      code: string,
      re: RegExp,
    ) => {
      const r = await same(fn);
      assert.ok('error' in r, 'expected an error');
      assert.equal(r.code, code, r.error);
      assert.match(r.error, re);
    };

    test('unknown model', async () => {
      for (const fn of [
        (c: InferenceServerClient) => c.infer('nope', addSub()),
        (c: InferenceServerClient) => c.getModelMetadata('nope'),
        (c: InferenceServerClient) => c.getModelConfig('nope'),
      ]) {
        await expectError(fn, 'INVALID_ARG', /^Request for unknown model: 'nope' is not found$/);
      }
    });

    test('unknown version → NOT_FOUND', async () => {
      await expectError(
        (c) => c.infer('simple', addSub(), { modelVersion: '7' }),
        'NOT_FOUND',
        /^Request for unknown model: 'simple' version 7 is not found$/,
      );
    });

    test('HTTP status / gRPC status name', async () => {
      const h = await clients.http.infer('nope', addSub()).catch((e) => e);
      const g = await clients.grpc.infer('nope', addSub()).catch((e) => e);
      assert.deepEqual([h.status, h.httpStatus], ['400', 400]);
      assert.deepEqual([g.status, g.grpcCode], ['INVALID_ARGUMENT', 3]);
    });

    test('wrong shape', async () => {
      await expectError(
        (c) =>
          c.infer('simple', [
            new InferInput('INPUT0', [16], 'INT32').setData(new Int32Array(16)),
            addSub()[1],
          ]),
        'INVALID_ARG',
        /^\[request id: <id_unknown>\] unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[16\]\. NOTE: /,
      );
    });

    test('wrong datatype, missing input, unknown input, unknown output', async () => {
      await expectError(
        (c) =>
          c.infer('simple', [
            addSub()[0],
            new InferInput('INPUT1', [1, 16], 'FP32').setData(new Float32Array(16)),
          ]),
        'INVALID_ARG',
        /inference input 'INPUT1' data-type is 'FP32', but model 'simple' expects 'INT32'/,
      );
      await expectError(
        (c) => c.infer('simple', addSub().slice(1)),
        'INVALID_ARG',
        /expected 2 inputs but got 1 inputs for model 'simple'.*missing required input\(s\) \['INPUT0'\]/,
      );
      await expectError(
        (c) =>
          c.infer('simple', [
            addSub()[0],
            new InferInput('INPUTX', [1, 16], 'INT32').setData(new Int32Array(16)),
          ]),
        'INVALID_ARG',
        /missing required input\(s\) \['INPUT1'\]/,
      );
      await expectError(
        (c) => c.infer('simple', addSub(), { outputs: [new InferRequestedOutput('OUTPUT9')] }),
        'INVALID_ARG',
        /^unexpected inference output 'OUTPUT9' for model 'simple'$/,
      );
    });

    test('batch larger than max_batch_size', async () => {
      await expectError(
        (c) => c.infer('simple', addSub(1, 9)),
        'INVALID_ARG',
        /batch-size must be <= 8 for 'simple'/,
      );
    });

    test('statistics of an unknown model', async () => {
      await expectError(
        (c) => c.getInferenceStatistics('nope'),
        'INVALID_ARG',
        /requested model 'nope' is not available/,
      );
    });

    test('client-side refusals name the input', async () => {
      for (const c of Object.values(clients)) {
        await assert.rejects(
          c.infer('simple', [new InferInput('INPUT0', [1, 16], 'INT32')]),
          /INPUT0' has no data/,
        );
        await assert.rejects(
          c.infer(
            'identity_fp16',
            [new InferInput('INPUT0', [1, 1], 'FP16').setData(Uint16Array.of(0x3c00))],
            {
              binary: false,
            },
          ),
          /FP16 data can only be sent in binary form/,
        );
      }
      assert.throws(() => clients.http.startStream(() => undefined), /startStream needs gRPC/);
    });

    test('a server that is not there: UNAVAILABLE', async () => {
      for (const url of ['http://127.0.0.1:1', 'grpc://127.0.0.1:1']) {
        const c = new InferenceServerClient(url);
        await assert.rejects(c.isServerLive(), (e: InferenceServerError) => e.code === 'UNAVAILABLE');
        c.close();
      }
    });

    test("model load/unload outside explicit mode: Triton's UNAVAILABLE error", async () => {
      const disabled = /explicit model load \/ unload is not allowed if polling is enabled/;
      await assert.rejects(
        clients.http.loadModel('simple'),
        (e: InferenceServerError) => e.httpStatus === 503 && disabled.test(e.message),
      );
      await assert.rejects(
        clients.grpc.loadModel('simple'),
        (e: InferenceServerError) => e.status === 'UNAVAILABLE' && disabled.test(e.message),
      );
      await assert.rejects(
        clients.grpc.unloadModel('simple', { unloadDependents: true }),
        (e: InferenceServerError) => e.status === 'UNAVAILABLE' && disabled.test(e.message),
      );
    });
  });

  describe('statistics', () => {
    /**
     * Durations with whole nanoseconds. The core accumulates fractional ns (performance.now() × 1e6);
     * HTTP prints them as they are while protobuf's uint64 keeps the integer part — reported to the
     * core's owner; until then compare the integer parts.
     */
    const wholeNs = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(wholeNs);
      if (v && typeof v === 'object') {
        return Object.fromEntries(
          Object.entries(v).map(([k, x]) => [
            k,
            k === 'ns' && typeof x === 'number' ? Math.trunc(x) : wholeNs(x),
          ]),
        );
      }
      return v;
    };

    test('both protocols report the same statistics, and count requests from both', async () => {
      const before = (await clients.http.getInferenceStatistics('identity_int32')).model_stats[0];
      for (const c of Object.values(clients)) {
        await c.infer('identity_int32', [
          new InferInput('INPUT0', [2, 2], 'INT32').setData(Int32Array.of(1, 2, 3, 4)),
        ]);
      }
      const r = await same(
        async (c) => wholeNs(await c.getInferenceStatistics('identity_int32')) as InferenceStatistics,
      );
      assert.ok('ok' in r);
      const s = r.ok.model_stats[0];
      assert.equal(s.name, 'identity_int32');
      assert.equal(s.version, '1');
      assert.equal(s.inference_stats.success.count - before.inference_stats.success.count, 2);
      assert.equal(s.inference_count - before.inference_count, 4);
      assert.ok(s.batch_stats.some((b) => b.batch_size === 2));
      assert.deepEqual(s.response_stats, {});
      assert.deepEqual(s.memory_usage, []);
      const all = await same(async (c) => wholeNs(await c.getInferenceStatistics()) as InferenceStatistics);
      assert.ok('ok' in all && all.ok.model_stats.some((m) => m.name === 'simple'));
    });
  });
});
