/**
 * The gRPC flags of the `nereid` command on a real process: gRPC on --grpc-port next to HTTP (started
 * first, as tritonserver), --allow-grpc=false, the keepalive and compression flags, a taken port,
 * graceful SIGTERM with a stream open.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, test } from 'node:test';
import { freePort, runNereid, waitFor } from '../helpers/process.js';
import { InferenceServerClient, InferInput } from '../../src/client/index.js';
import { writeAddSub } from '../helpers/models.js';
import { tempDir } from '../../support/temp-dir.js';

const run = runNereid;

const inputs = () => [
  new InferInput('INPUT0', [1, 16], 'INT32').setData(new Int32Array(16).fill(2)),
  new InferInput('INPUT1', [1, 16], 'INT32').setData(new Int32Array(16).fill(1)),
];

describe('nereid command, gRPC flags', () => {
  test('serves gRPC on --grpc-port (started before HTTP) with every keepalive flag; SIGTERM ends open streams', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const p = run([
      `--model-repository=${repo}`,
      `--http-port=${httpPort}`,
      '--http-address=127.0.0.1',
      `--grpc-port=${grpcPort}`,
      '--grpc-address=127.0.0.1',
      '--grpc-keepalive-time=60000',
      '--grpc-keepalive-timeout=5000',
      '--grpc-keepalive-permit-without-calls=true',
      '--grpc-http2-max-pings-without-data=0',
      '--grpc-http2-min-recv-ping-interval-without-data=10000',
      '--grpc-http2-max-ping-strikes=3',
      '--grpc-infer-response-compression-level=high',
    ]);
    try {
      await waitFor(() => p.output().includes('Started HTTPService'), 'server start');
      const out = p.output();
      assert.ok(
        out.indexOf('Started GRPCInferenceService at 127.0.0.1:') < out.indexOf('Started HTTPService'),
      );
      assert.match(out, /--grpc-infer-response-compression-level=high: @grpc\/grpc-js cannot compress/);
      const client = new InferenceServerClient(`grpc://127.0.0.1:${grpcPort}`);
      const r = await client.infer('simple', inputs());
      assert.deepEqual(Array.from(r.asTypedArray<Int32Array>('OUTPUT0')), Array(16).fill(3));
      const answers: unknown[] = [];
      client.startStream((res, err) => answers.push(err ?? res));
      client.asyncStreamInfer('simple', inputs());
      await waitFor(() => answers.length === 1, 'stream answer');
      p.child.kill('SIGTERM');
      assert.equal(await p.exit, 0);
      await client.stopStream();
      client.close();
      assert.ok(answers.every((a) => !(a instanceof Error)));
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  test('--allow-grpc=false serves HTTP only', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const grpcPort = await freePort();
    const p = run([
      `--model-repository=${repo}`,
      `--http-port=${await freePort()}`,
      '--allow-grpc=false',
      `--grpc-port=${grpcPort}`,
    ]);
    try {
      await waitFor(() => p.output().includes('Started HTTPService'), 'server start');
      assert.doesNotMatch(p.output(), /GRPCInferenceService/);
      const client = new InferenceServerClient(`grpc://127.0.0.1:${grpcPort}`);
      await assert.rejects(client.isServerLive(), { code: 'UNAVAILABLE' });
      client.close();
    } finally {
      p.child.kill('SIGINT');
      await p.exit;
    }
  });

  test('a taken gRPC port fails the start; bad flag values are refused', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const p = run([
        `--model-repository=${repo}`,
        `--http-port=${await freePort()}`,
        `--grpc-port=${taken}`,
        '--grpc-address=127.0.0.1',
      ]);
      assert.equal(await p.exit, 1);
      assert.match(p.output(), new RegExp(`failed to start GRPC service on 127\\.0\\.0\\.1:${taken}`));
    } finally {
      blocker.close();
    }
    const q = run([`--model-repository=${repo}`, '--grpc-infer-response-compression-level=max']);
    assert.notEqual(await q.exit, 0);
    assert.match(
      q.output(),
      /--grpc-infer-response-compression-level.*Allowed choices are none, low, medium, high/,
    );
    const r = run([`--model-repository=${repo}`, '--grpc-port=x']);
    assert.notEqual(await r.exit, 0);
    assert.match(r.output(), /--grpc-port.*expected an integer/);
  });

  test('--help lists the gRPC flags with their defaults', async () => {
    const p = run(['--help']);
    assert.equal(await p.exit, 0);
    const help = p.output().replace(/\s+/g, ' ');
    for (const [flag, def] of [
      ['--allow-grpc', 'true'],
      ['--grpc-port', '8001'],
      ['--grpc-address', '"0.0.0.0"'],
      ['--grpc-keepalive-time', '7200000'],
      ['--grpc-keepalive-timeout', '20000'],
      ['--grpc-keepalive-permit-without-calls', 'false'],
      ['--grpc-http2-max-pings-without-data', '2'],
      ['--grpc-http2-min-recv-ping-interval-without-data', '300000'],
      ['--grpc-http2-max-ping-strikes', '2'],
      ['--grpc-infer-response-compression-level', '"none"'],
    ]) {
      assert.match(help, new RegExp(`${flag} .*?default: ${def}\\)`), flag);
    }
  });
});
