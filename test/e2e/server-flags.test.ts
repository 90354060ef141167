/**
 * tritonserver flags with an effect beyond parsing, on a real server: restricted APIs over HTTP
 * (403) and restricted protocols over gRPC (UNAVAILABLE), header forwarding to a Python model,
 * gRPC over TLS (a certificate made with openssl), model load retries, and the start-up refusals of
 * the `nereid` process with Triton's messages.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { InferenceServerClient, InferInput, type InferenceServerError } from '../../src/client/index.js';
import { INFERENCE_SERVICE, serviceDefinition } from '../../src/protocol/grpc/protos.js';
import { writePythonModel } from '../../support/python-models.js';
import { tempDir } from '../../support/temp-dir.js';
import { writeAddSub } from '../helpers/models.js';
import { freePort, runNereid } from '../helpers/process.js';
import { serve, type TestServer } from '../helpers/server.js';

const simpleInputs = () => [
  new InferInput('INPUT0', [1, 16], 'INT32').setData(new Int32Array(16).fill(1)),
  new InferInput('INPUT1', [1, 16], 'INT32').setData(new Int32Array(16).fill(2)),
];

describe('restricted APIs and protocols', () => {
  let server: TestServer;
  let http: InferenceServerClient;
  let grpcClient: InferenceServerClient;

  before(async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    // As Triton's L0_http / L0_grpc restricted tests start it.
    server = await serve([repo], {
      httpRestrictedApis: {
        'model-repository': { header: 'admin-key', value: 'admin-value' },
        inference: { header: 'infer-key', value: 'infer-value' },
        metadata: { header: 'infer-key', value: 'infer-value' },
      },
      grpcRestrictedProtocols: {
        'model-repository': { header: 'triton-grpc-protocol-admin-key', value: 'admin-value' },
        inference: { header: 'triton-grpc-protocol-infer-key', value: 'infer-value' },
        health: { header: 'triton-grpc-protocol-infer-key', value: 'infer-value' },
      },
    });
    http = new InferenceServerClient(server.url);
    grpcClient = new InferenceServerClient(server.grpcUrl);
  });

  after(async () => {
    http?.close();
    grpcClient?.close();
    await server?.stop();
  });

  test('HTTP: 403 without the header, the API with it; other APIs stay open', async () => {
    const restricted = (e: InferenceServerError) =>
      e.httpStatus === 403 && e.message === "This API is restricted, expecting header 'infer-key'";
    await assert.rejects(http.getServerMetadata(), restricted);
    await assert.rejects(http.infer('simple', simpleInputs(), { headers: { test: '1' } }), restricted);
    await assert.rejects(http.getModelMetadata('simple'), restricted);
    const infer = await http.infer('simple', simpleInputs(), { headers: { 'infer-key': 'infer-value' } });
    assert.deepEqual(Array.from(infer.asTypedArray<Int32Array>('OUTPUT0')), new Array(16).fill(3));
    assert.equal((await http.getServerMetadata({ headers: { 'infer-key': 'infer-value' } })).name, 'triton');
    // Statistics and health are not restricted.
    await http.getInferenceStatistics('simple');
    assert.equal(await http.isServerLive(), true);
    // The repository wants its own header: with it, the request reaches Triton's mode check.
    await assert.rejects(
      http.unloadModel('simple', { headers: { 'infer-key': 'infer-value' } }),
      (e: InferenceServerError) => e.httpStatus === 403 && /expecting header 'admin-key'/.test(e.message),
    );
    await assert.rejects(
      http.unloadModel('simple', { headers: { 'admin-key': 'admin-value' } }),
      /explicit model load \/ unload is not allowed/,
    );
  });

  test('gRPC: UNAVAILABLE without the metadata entry, the RPC with it; streams too', async () => {
    const restricted = (header: string) => (e: InferenceServerError) =>
      e.status === 'UNAVAILABLE' &&
      e.message === `This protocol is restricted, expecting header 'triton-grpc-protocol-${header}'`;
    const key = { 'triton-grpc-protocol-infer-key': 'infer-value' };
    await assert.rejects(grpcClient.isServerLive(), restricted('infer-key'));
    assert.equal(await grpcClient.isServerLive({ headers: key }), true);
    await assert.rejects(
      grpcClient.infer('simple', simpleInputs(), { headers: { test: '1' } }),
      restricted('infer-key'),
    );
    await grpcClient.infer('simple', simpleInputs(), { headers: key });
    await grpcClient.getInferenceStatistics('simple'); // statistics: open
    await assert.rejects(grpcClient.unloadModel('simple', { headers: key }), restricted('admin-key'));
    await assert.rejects(
      grpcClient.unloadModel('simple', { headers: { 'triton-grpc-protocol-admin-key': 'admin-value' } }),
      /explicit model load \/ unload is not allowed/,
    );
    // A stream without the entry ends with the status once established.
    const errors: InferenceServerError[] = [];
    grpcClient.startStream((_r, e) => e && errors.push(e), { headers: { test: '1' } });
    await grpcClient.stopStream();
    assert.equal(errors.length, 1);
    assert.ok(restricted('infer-key')(errors[0]), errors[0].message);
    const results: unknown[] = [];
    grpcClient.startStream((r) => r && results.push(r), { headers: key });
    grpcClient.asyncStreamInfer('simple', simpleInputs());
    await grpcClient.stopStream();
    assert.equal(results.length, 1);
  });
});

describe('header forwarding', () => {
  let server: TestServer;

  before(async () => {
    const repo = tempDir();
    // Returns the request's parameters as JSON text.
    writePythonModel(
      repo,
      'params',
      `name: "params"
backend: "python"
input [{ name: "IN" data_type: TYPE_INT32 dims: [ 1 ] }]
output [{ name: "OUT" data_type: TYPE_STRING dims: [ 1 ] }]`,
      `import numpy as np
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor(
            "OUT", np.array([r.parameters()], dtype=np.object_))]) for r in requests]
`,
    );
    server = await serve([repo], {
      httpHeaderForwardPattern: '^x-(team|trace)',
      grpcHeaderForwardPattern: 'team$',
    });
  });

  after(() => server?.stop());

  test('matching headers become request parameters (HTTP headers and gRPC metadata)', async () => {
    const input = () => [new InferInput('IN', [1], 'INT32').setData(Int32Array.of(1))];
    const params = async (c: InferenceServerClient, headers: Record<string, string>) =>
      JSON.parse((await c.infer('params', input(), { headers })).asStrings('OUT')[0]);
    const http = new InferenceServerClient(server.url);
    const grpcClient = new InferenceServerClient(server.grpcUrl);
    try {
      assert.deepEqual(await params(http, { 'X-Team': 'ranking', 'X-Trace-Id': '42', other: 'no' }), {
        'x-team': 'ranking',
        'x-trace-id': '42',
      });
      assert.deepEqual(await params(grpcClient, { 'x-team': 'ranking', 'x-trace-id': '42' }), {
        'x-team': 'ranking',
      });
    } finally {
      http.close();
      grpcClient.close();
    }
  });
});

describe('gRPC over TLS', () => {
  let server: TestServer;
  let ca: Buffer;

  before(async () => {
    const dir = tempDir();
    const key = path.join(dir, 'server.key');
    const cert = path.join(dir, 'server.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    ca = fs.readFileSync(cert);
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    server = await serve([repo], { grpcSsl: { certFile: cert, keyFile: key, mutual: false } });
  });

  after(() => server?.stop());

  test('a TLS client is served; a plaintext one is not', async () => {
    const Client = grpc.makeGenericClientConstructor(serviceDefinition(INFERENCE_SERVICE), 'inference');
    const live = (credentials: grpc.ChannelCredentials) =>
      new Promise<boolean>((resolve, reject) => {
        const client = new Client(`localhost:${server.grpcPort}`, credentials) as unknown as grpc.Client &
          Record<
            string,
            (
              req: object,
              md: grpc.Metadata,
              o: object,
              cb: (e: Error | null, r: { live: boolean }) => void,
            ) => void
          >;
        client.ServerLive({}, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (e, r) => {
          client.close();
          if (e) reject(e);
          else resolve(r.live);
        });
      });
    assert.equal(await live(grpc.credentials.createSsl(ca)), true);
    await assert.rejects(live(grpc.credentials.createInsecure()));
  });
});

describe('--model-load-retry-count', () => {
  /** A model whose initialize fails until it has been tried `failures` times (counted in a file). */
  function writeFlaky(repo: string, failures: number): string {
    const counter = path.join(tempDir(), 'attempts');
    writePythonModel(
      repo,
      'flaky',
      `name: "flaky"
backend: "python"
input [{ name: "IN" data_type: TYPE_INT32 dims: [ 1 ] }]
output [{ name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] }]`,
      `import os

class TritonPythonModel:
    def initialize(self, args):
        path = ${JSON.stringify(counter)}
        n = int(open(path).read()) if os.path.exists(path) else 0
        with open(path, "w") as f:
            f.write(str(n + 1))
        if n < ${failures}:
            raise RuntimeError("not yet: attempt %d" % (n + 1))

    def execute(self, requests):
        return []
`,
    );
    return counter;
  }

  test('a model that fails to load is tried again, as often as the flag says', async () => {
    for (const [retries, ready] of [
      [0, false],
      [1, true],
    ] as const) {
      const repo = tempDir();
      const counter = writeFlaky(repo, 1);
      const server = await serve([repo], { modelLoadRetryCount: retries, allowGrpc: false });
      try {
        assert.equal(server.core.isModelReady('flaky'), ready, `retries ${retries}`);
        assert.equal(fs.readFileSync(counter, 'utf8'), String(retries + 1));
      } finally {
        await server.stop();
      }
    }
  });
});

describe('the nereid process refuses bad flags with Triton’s messages', () => {
  test('exit code 1 and the message, before any model loads', async () => {
    const repo = tempDir();
    const port = await freePort();
    for (const [flag, message] of [
      ['--http-max-input-size=0', 'Error: --http-max-input-size must be greater than 0.'],
      ['--http-restricted-api=model-reposit,health:k1=v1', "unknown restricted api 'model-reposit'"],
    ]) {
      const p = runNereid([`--model-repository=${repo}`, `--http-port=${port}`, flag]);
      assert.equal(await p.exit, 1, flag);
      assert.ok(p.output().includes(message), `${flag}: ${p.output()}`);
      assert.ok(p.output().includes(`Bad option: "--${flag.slice(2, flag.indexOf('='))}".`), p.output());
    }
  });
});

describe('--exit-on-error and unreadable repositories', () => {
  test('false: a repository that cannot be read is logged and the others serve; true: the start fails', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const missing = path.join(tempDir(), 'no-such-repository');
    const logLines: string[] = [];
    const server = await serve([repo, missing], { exitOnError: false, allowGrpc: false }, { logLines });
    try {
      assert.equal(server.core.isModelReady('simple'), true);
      assert.ok(
        logLines.some((l) => l.includes(`failed to open model repository '${missing}'`)),
        logLines.join('\n'),
      );
    } finally {
      await server.stop();
    }
    await assert.rejects(
      serve([repo, missing], { exitOnError: true, allowGrpc: false }),
      /failed to open model repository/,
    );
  });
});
