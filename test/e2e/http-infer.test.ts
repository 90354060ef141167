/**
 * The HTTP/REST protocol over a real server and the bundled example repository: metadata, health,
 * JSON and binary inference for every datatype, BYTES edge cases, compression, classification,
 * statistics, and Triton's error semantics.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as nodeHttp from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { buildExampleRepository } from '../../src/examples/build.js';
import { serializeBytesTensor } from '../../src/protocol/bytes-tensor.js';
import { buildOnnxModel, OnnxDataType } from '../../src/examples/onnx-builder.js';
import { binaryBody, http, inferBinary, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { addSubJsonInputs, writeAddSub, writeLabelledAddSub } from '../helpers/models.js';

const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const gunzip = promisify(zlib.gunzip);

const range16 = Array.from({ length: 16 }, (_, i) => i);
const int32 = (values: number[]) => new Uint8Array(Int32Array.from(values).buffer);

/** Values for each identity model: JSON form and the typed array of their bytes. */
const CASES: Array<{ dt: string; json?: unknown[]; bytes: Uint8Array }> = [
  { dt: 'BOOL', json: [true, false, true], bytes: new Uint8Array([1, 0, 1]) },
  { dt: 'UINT8', json: [0, 7, 255], bytes: new Uint8Array([0, 7, 255]) },
  { dt: 'UINT16', json: [0, 300, 65535], bytes: new Uint8Array(Uint16Array.from([0, 300, 65535]).buffer) },
  {
    dt: 'UINT32',
    json: [0, 70000, 4294967295],
    bytes: new Uint8Array(Uint32Array.from([0, 70000, 4294967295]).buffer),
  },
  {
    dt: 'UINT64',
    json: [0, 1, 9007199254740991],
    bytes: new Uint8Array(BigUint64Array.from([0n, 1n, 9007199254740991n]).buffer),
  },
  { dt: 'INT8', json: [-128, 0, 127], bytes: new Uint8Array(Int8Array.from([-128, 0, 127]).buffer) },
  {
    dt: 'INT16',
    json: [-32768, 1, 32767],
    bytes: new Uint8Array(Int16Array.from([-32768, 1, 32767]).buffer),
  },
  { dt: 'INT32', json: [-2147483648, 5, 2147483647], bytes: int32([-2147483648, 5, 2147483647]) },
  {
    dt: 'INT64',
    json: [-9007199254740991, 0, 9007199254740991],
    bytes: new Uint8Array(BigInt64Array.from([-9007199254740991n, 0n, 9007199254740991n]).buffer),
  },
  // FP16 travels only in binary: 1.0, -2.0, 65504 as bit patterns.
  { dt: 'FP16', bytes: new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x7bff]).buffer) },
  {
    dt: 'FP32',
    json: [1.5, -0.25, 1048576.125],
    bytes: new Uint8Array(Float32Array.from([1.5, -0.25, 1048576.125]).buffer),
  },
  {
    dt: 'FP64',
    json: [Math.PI, -1e-300, 2 ** 60],
    bytes: new Uint8Array(Float64Array.from([Math.PI, -1e-300, 2 ** 60]).buffer),
  },
];

function bytesTensor(items: Array<string | Uint8Array>): Uint8Array {
  const parts = items.map((s) => (typeof s === 'string' ? Buffer.from(s) : Buffer.from(s)));
  return Buffer.concat(parts.flatMap((p) => [Buffer.from(Uint32Array.from([p.length]).buffer), p]));
}

describe('HTTP/REST protocol', () => {
  let server: TestServer;
  let small: TestServer;
  let url: string;

  before(async () => {
    const repo = tempDir();
    await buildExampleRepository(repo);
    // A model with labels for the classification extension.
    writeLabelledAddSub(repo, 'simple_labels');
    // NonZero: the output's shape depends on the input's values, not only on its shape.
    fs.mkdirSync(path.join(repo, 'nonzero', '1'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, 'nonzero', '1', 'model.onnx'),
      buildOnnxModel({
        inputs: [{ name: 'X', elemType: OnnxDataType.INT32, shape: [4] }],
        outputs: [{ name: 'Y', elemType: OnnxDataType.INT64, shape: [1, 'k'] }],
        nodes: [{ opType: 'NonZero', inputs: ['X'], outputs: ['Y'] }],
      }),
    );
    fs.writeFileSync(
      path.join(repo, 'nonzero', 'config.pbtxt'),
      'backend: "onnxruntime"\nmax_batch_size: 0\n' +
        'input [ { name: "X" data_type: TYPE_INT32 dims: [ 4 ] } ]\n' +
        'output [ { name: "Y" data_type: TYPE_INT64 dims: [ 1, -1 ] } ]\n',
    );
    // One BYTES element per request, and two variable dims: the shapes a raw binary body needs.
    fs.mkdirSync(path.join(repo, 'string_one', '1'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, 'string_one', '1', 'model.onnx'),
      buildOnnxModel({
        inputs: [{ name: 'INPUT0', elemType: OnnxDataType.STRING, shape: [1] }],
        outputs: [{ name: 'OUTPUT0', elemType: OnnxDataType.STRING, shape: [1] }],
        nodes: [{ opType: 'Identity', inputs: ['INPUT0'], outputs: ['OUTPUT0'] }],
      }),
    );
    fs.writeFileSync(
      path.join(repo, 'string_one', 'config.pbtxt'),
      'backend: "onnxruntime"\nmax_batch_size: 0\n' +
        'input [ { name: "INPUT0" data_type: TYPE_STRING dims: [ 1 ] } ]\n' +
        'output [ { name: "OUTPUT0" data_type: TYPE_STRING dims: [ 1 ] } ]\n',
    );
    fs.mkdirSync(path.join(repo, 'two_variable', '1'), { recursive: true });
    fs.writeFileSync(
      path.join(repo, 'two_variable', '1', 'model.onnx'),
      buildOnnxModel({
        inputs: [{ name: 'INPUT0', elemType: OnnxDataType.FLOAT, shape: ['a', 'b'] }],
        outputs: [{ name: 'OUTPUT0', elemType: OnnxDataType.FLOAT, shape: ['a', 'b'] }],
        nodes: [{ opType: 'Identity', inputs: ['INPUT0'], outputs: ['OUTPUT0'] }],
      }),
    );
    fs.writeFileSync(
      path.join(repo, 'two_variable', 'config.pbtxt'),
      'backend: "onnxruntime"\nmax_batch_size: 0\n' +
        'input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1, -1 ] } ]\n' +
        'output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1, -1 ] } ]\n',
    );
    server = await serve([repo]);
    url = server.url;
    const smallRepo = tempDir();
    writeAddSub(smallRepo, 'simple');
    small = await serve([smallRepo], { httpMaxInputSize: 1024 });
  });

  after(async () => {
    await server.stop();
    await small.stop();
  });

  describe('metadata and health', () => {
    test('server metadata names "triton" and lists implemented extensions', async () => {
      const r = await http(url, 'GET', '/v2');
      assert.equal(r.status, 200);
      assert.equal(r.body.name, 'triton');
      assert.ok(r.body.extensions.includes('binary_tensor_data'));
      assert.ok(r.body.extensions.includes('classification'));
      assert.ok(!r.body.extensions.includes('system_shared_memory'), 'not implemented, not listed');
    });

    test('health endpoints answer 200 with an empty body', async () => {
      for (const p of ['/v2/health/live', '/v2/health/ready']) {
        const res = await fetch(url + p);
        assert.equal(res.status, 200);
        assert.equal(await res.text(), '');
      }
    });

    test('model metadata has the batch dimension and platform', async () => {
      const r = await http(url, 'GET', '/v2/models/simple');
      assert.deepEqual(r.body, {
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
      });
      const v = await http(url, 'GET', '/v2/models/simple/versions/1');
      assert.deepEqual(v.body.versions, ['1']);
    });

    test('model config is served as Triton JSON', async () => {
      const r = await http(url, 'GET', '/v2/models/simple/config');
      assert.equal(r.status, 200);
      assert.equal(r.body.name, 'simple');
      assert.equal(r.body.max_batch_size, 8);
      assert.deepEqual(r.body.input[0].dims, [16]);
      assert.equal(r.body.input[0].data_type, 'TYPE_INT32');
    });

    test('model ready', async () => {
      assert.equal((await fetch(`${url}/v2/models/simple/ready`)).status, 200);
      assert.equal((await fetch(`${url}/v2/models/simple/versions/1/ready`)).status, 200);
      assert.equal((await fetch(`${url}/v2/models/missing/ready`)).status, 400);
    });
  });

  describe('inference on simple', () => {
    test('JSON in, JSON out: sums and differences', async () => {
      const r = await http(url, 'POST', '/v2/models/simple/infer', {
        id: 'req-7',
        inputs: addSubJsonInputs(3),
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/json');
      assert.equal(r.body.id, 'req-7');
      assert.equal(r.body.model_name, 'simple');
      assert.equal(r.body.model_version, '1');
      assert.deepEqual(r.body.outputs, [
        { name: 'OUTPUT0', datatype: 'INT32', shape: [1, 16], data: range16.map((i) => i + 3) },
        { name: 'OUTPUT1', datatype: 'INT32', shape: [1, 16], data: range16.map((i) => i - 3) },
      ]);
    });

    test('no id → no "id" key in the response', async () => {
      const r = await http(url, 'POST', '/v2/models/simple/infer', { inputs: addSubJsonInputs() });
      assert.ok(!('id' in r.body));
    });

    test('nested JSON data is accepted', async () => {
      const inputs = addSubJsonInputs(1) as Array<{ data: unknown }>;
      inputs[0].data = [range16];
      const r = await http(url, 'POST', '/v2/models/simple/infer', { inputs });
      assert.deepEqual(
        r.body.outputs[0].data,
        range16.map((i) => i + 1),
      );
    });

    test('binary in, binary out, batch of 2', async () => {
      const a = int32([...range16, ...range16.map((i) => 100 + i)]);
      const b = int32(Array(32).fill(10));
      const { body, headerLength } = binaryBody(
        [
          { name: 'INPUT0', datatype: 'INT32', shape: [2, 16], data: a },
          { name: 'INPUT1', datatype: 'INT32', shape: [2, 16], data: b },
        ],
        { parameters: { binary_data_output: true } },
      );
      const r = await inferBinary(url, 'simple', body, headerLength);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/octet-stream');
      assert.deepEqual(r.header.outputs[0], {
        name: 'OUTPUT0',
        datatype: 'INT32',
        shape: [2, 16],
        parameters: { binary_data_size: 128 },
      });
      const sum = new Int32Array(new Uint8Array(r.outputs.get('OUTPUT0')!).buffer);
      const diff = new Int32Array(new Uint8Array(r.outputs.get('OUTPUT1')!).buffer);
      assert.deepEqual(Array.from(sum), [...range16.map((i) => i + 10), ...range16.map((i) => 110 + i)]);
      assert.deepEqual(Array.from(diff), [...range16.map((i) => i - 10), ...range16.map((i) => 90 + i)]);
    });

    test('binary inputs with JSON outputs, one requested output as binary', async () => {
      const { body, headerLength } = binaryBody(
        [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(Array(16).fill(1)) },
        ],
        { outputs: [{ name: 'OUTPUT1', parameters: { binary_data: true } }, { name: 'OUTPUT0' }] },
      );
      const r = await inferBinary(url, 'simple', body, headerLength);
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.header.outputs.map((o: { name: string }) => o.name),
        ['OUTPUT1', 'OUTPUT0'],
        'outputs come in the requested order',
      );
      assert.deepEqual(
        r.header.outputs[1].data,
        range16.map((i) => i + 1),
      );
      assert.deepEqual(
        Array.from(new Int32Array(new Uint8Array(r.outputs.get('OUTPUT1')!).buffer)),
        range16.map((i) => i - 1),
      );
    });

    test('a repeated binary header serves each body with its own data', async () => {
      // The server remembers parsed headers; the same header must still carry each request's data
      // and still report a body that does not fit it.
      const make = (k: number) =>
        binaryBody(
          [
            { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(range16.map((i) => i * k)) },
            { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(Array(16).fill(k)) },
          ],
          { parameters: { binary_data_output: true } },
        );
      for (const k of [1, 2, 3]) {
        const { body, headerLength } = make(k);
        const r = await inferBinary(url, 'simple', body, headerLength);
        assert.equal(r.status, 200);
        const sum = new Int32Array(new Uint8Array(r.outputs.get('OUTPUT0')!).buffer);
        assert.deepEqual(
          Array.from(sum),
          range16.map((i) => i * k + k),
        );
      }
      const { body, headerLength } = make(4);
      // The same header to another model is validated against that model.
      const other = await inferBinary(url, 'identity_int32', body, headerLength);
      assert.equal(other.status, 400);
      assert.match(other.header.error, /expected 1 inputs but got 2 inputs for model 'identity_int32'/);
      const short = await inferBinary(url, 'simple', body.subarray(0, body.length - 4), headerLength);
      assert.equal(short.status, 400);
      assert.match(short.header.error, /unexpected size for input 'INPUT1', expecting 64 additional bytes/);
      const long = await inferBinary(url, 'simple', Buffer.concat([body, Buffer.alloc(4)]), headerLength);
      assert.equal(long.status, 400);
      assert.match(long.header.error, /unexpected additional input data for model 'simple'/);
    });

    test('a repeated binary header gets a reply header that describes each response', async () => {
      // The server also remembers the reply header of a repeated request header; an output whose
      // shape changes with the data must still be described as it is.
      const send = (values: number[]) => {
        const { body, headerLength } = binaryBody(
          [{ name: 'X', datatype: 'INT32', shape: [4], data: int32(values) }],
          {
            parameters: { binary_data_output: true },
          },
        );
        return inferBinary(url, 'nonzero', body, headerLength);
      };
      for (const [values, nonzero] of [
        [[5, 0, 0, 0], [0]],
        [[5, 0, 0, 0], [0]],
        [
          [0, 1, 1, 1],
          [1, 2, 3],
        ],
        [
          [0, 1, 1, 1],
          [1, 2, 3],
        ],
        [[0, 0, 7, 0], [2]],
      ] as const) {
        const r = await send([...values]);
        assert.equal(r.status, 200);
        assert.deepEqual(r.header.outputs, [
          {
            name: 'Y',
            datatype: 'INT64',
            shape: [1, nonzero.length],
            parameters: { binary_data_size: 8 * nonzero.length },
          },
        ]);
        const y = new BigInt64Array(new Uint8Array(r.outputs.get('Y')!).buffer);
        assert.deepEqual(Array.from(y, Number), [...nonzero]);
      }
    });

    test('only the requested outputs are returned', async () => {
      const r = await http(url, 'POST', '/v2/models/simple/infer', {
        inputs: addSubJsonInputs(),
        outputs: [{ name: 'OUTPUT1' }],
      });
      assert.deepEqual(
        r.body.outputs.map((o: { name: string }) => o.name),
        ['OUTPUT1'],
      );
    });

    test('gzip and deflate request bodies; gzip response when accepted', async () => {
      const json = Buffer.from(JSON.stringify({ inputs: addSubJsonInputs(2) }));
      for (const [enc, fn] of [
        ['gzip', gzip],
        ['deflate', deflate],
      ] as const) {
        const res = await fetch(`${url}/v2/models/simple/infer`, {
          method: 'POST',
          body: (await fn(json)) as unknown as BodyInit,
          headers: { 'Content-Encoding': enc },
        });
        assert.equal(res.status, 200, enc);
        assert.deepEqual(
          (await res.json()).outputs[0].data,
          range16.map((i) => i + 2),
        );
      }
      // node:http lets us read the compressed bytes as they are.
      const res = await new Promise<{ headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
        const req = nodeHttp.request(`${url}/v2/models/simple/infer`, {
          method: 'POST',
          headers: { 'Accept-Encoding': 'identity;q=0.5, gzip;q=1.0' },
        });
        req.on('response', (r: nodeHttp.IncomingMessage) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => resolve({ headers: r.headers, body: Buffer.concat(chunks) }));
        });
        req.on('error', reject);
        req.end(json);
      });
      assert.equal(res.headers['content-encoding'], 'gzip');
      const body = JSON.parse((await gunzip(res.body)).toString());
      assert.deepEqual(
        body.outputs[1].data,
        range16.map((i) => i - 2),
      );
    });

    test('header names in any case; a repeated Accept-Encoding counts all its values', async () => {
      // Raw bytes on a socket, so the header names go out exactly as written here.
      const { body, headerLength } = binaryBody([
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(range16.map(() => 3)) },
      ]);
      const compressed = await gzip(body);
      const { port } = new URL(url);
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => {
          socket.write(
            'POST /v2/models/simple/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
              `inference-header-content-length: ${headerLength}\r\n` +
              `CONTENT-ENCODING: gzip\r\nContent-length: ${compressed.length}\r\n` +
              'Accept-Encoding: identity;q=0.1\r\naccept-encoding: deflate\r\n\r\n',
          );
          socket.write(compressed);
        });
        const chunks: Buffer[] = [];
        socket.on('data', (c) => chunks.push(c));
        socket.on('end', () => resolve(Buffer.concat(chunks)));
        socket.on('error', reject);
      });
      const split = reply.indexOf('\r\n\r\n');
      const head = reply.subarray(0, split).toString('latin1');
      assert.match(head, /^HTTP\/1\.1 200 OK/);
      // "identity;q=0.1, deflate": the second line's deflate wins.
      assert.match(head, /\r\nContent-Encoding: deflate\r\n/i);
      const json = JSON.parse((await promisify(zlib.inflate)(reply.subarray(split + 4))).toString());
      assert.deepEqual(
        json.outputs[0].data,
        range16.map((i) => i + 3),
      );
    });

    test('classification returns "value:index:label", top k', async () => {
      const r = await http(url, 'POST', '/v2/models/simple_labels/infer', {
        inputs: addSubJsonInputs(0),
        outputs: [{ name: 'OUTPUT0', parameters: { classification: 3 } }],
      });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.outputs[0], {
        name: 'OUTPUT0',
        datatype: 'BYTES',
        shape: [1, 3],
        data: ['15:15:label15', '14:14:label14', '13:13:label13'],
      });
      const noLabels = await http(url, 'POST', '/v2/models/simple/infer', {
        inputs: addSubJsonInputs(0),
        outputs: [{ name: 'OUTPUT1', parameters: { classification: 2 } }],
      });
      assert.deepEqual(noLabels.body.outputs[0].data, ['15:15', '14:14']);
    });

    test('simple_string: BYTES numbers in, BYTES sums out', async () => {
      const r = await http(url, 'POST', '/v2/models/simple_string/infer', {
        inputs: [
          { name: 'INPUT0', datatype: 'BYTES', shape: [1, 16], data: range16.map(String) },
          { name: 'INPUT1', datatype: 'BYTES', shape: [1, 16], data: Array(16).fill('2') },
        ],
      });
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.outputs[0].data,
        range16.map((i) => String(i + 2)),
      );
      assert.deepEqual(
        r.body.outputs[1].data,
        range16.map((i) => String(i - 2)),
      );
    });

    test('raw binary body (header length 0) for a one-input model', async () => {
      const data = Buffer.from(Float32Array.from([1, 2, 3, 4]).buffer);
      const res = await fetch(`${url}/v2/models/identity_fp32/infer`, {
        method: 'POST',
        body: data as unknown as BodyInit,
        headers: { 'Inference-Header-Content-Length': '0' },
      });
      assert.equal(res.status, 200);
      const buf = Buffer.from(await res.arrayBuffer());
      const hl = Number(res.headers.get('inference-header-content-length'));
      const header = JSON.parse(buf.subarray(0, hl).toString());
      assert.deepEqual(header.outputs[0].shape, [1, 4]);
      assert.deepEqual(buf.subarray(hl), data);
    });

    test("raw binary BYTES: the body is the one element (Triton adds its length); Triton's refusals", async () => {
      const raw = (model: string, body: Buffer) =>
        fetch(`${url}/v2/models/${model}/infer`, {
          method: 'POST',
          body: body as unknown as BodyInit,
          headers: { 'Inference-Header-Content-Length': '0' },
        });
      const res = await raw('string_one', Buffer.from('427'));
      assert.equal(res.status, 200);
      const buf = Buffer.from(await res.arrayBuffer());
      const hl = Number(res.headers.get('inference-header-content-length'));
      assert.equal(buf.subarray(hl + 4).toString(), '427');
      assert.equal(buf.readUInt32LE(hl), 3);
      const many = await raw('identity_bytes', Buffer.from('427'));
      assert.equal(many.status, 400);
      assert.equal(
        (await many.json()).error,
        "[request id: <id_unknown>] For BYTE datatype raw input 'INPUT0', the model must have input shape [1]",
      );
      const two = await raw('two_variable', Buffer.alloc(16));
      assert.equal(two.status, 400);
      assert.equal(
        (await two.json()).error,
        "[request id: <id_unknown>] The shape of the raw input 'INPUT0' can not be deduced because there are more than one variable-sized dimension",
      );
    });

    test('chunked request bodies (Transfer-Encoding: chunked), JSON and binary', async () => {
      const send = (body: Buffer, headers: Record<string, string>) =>
        new Promise<{ status: number; body: Buffer; headers: nodeHttp.IncomingHttpHeaders }>(
          (resolve, reject) => {
            const req = nodeHttp.request(
              `${url}/v2/models/simple/infer`,
              { method: 'POST', headers },
              (res) => {
                const chunks: Buffer[] = [];
                res.on('data', (c) => chunks.push(c));
                res.on('end', () =>
                  resolve({ status: res.statusCode!, body: Buffer.concat(chunks), headers: res.headers }),
                );
              },
            );
            req.on('error', reject);
            // Three chunks: Node sends Transfer-Encoding: chunked when no Content-Length is set.
            const third = Math.ceil(body.length / 3);
            req.write(body.subarray(0, third));
            req.write(body.subarray(third, 2 * third));
            req.end(body.subarray(2 * third));
          },
        );
      const json = await send(Buffer.from(JSON.stringify({ inputs: addSubJsonInputs() })), {});
      assert.equal(json.status, 200, json.body.toString());
      assert.deepEqual(
        JSON.parse(json.body.toString()).outputs[0].data,
        range16.map((i) => i + 1),
      );
      const { body, headerLength } = binaryBody([
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
      ]);
      const bin = await send(body, { 'Inference-Header-Content-Length': String(headerLength) });
      assert.equal(bin.status, 200, bin.body.toString());
    });
  });

  describe('every datatype round-trips through identity models', () => {
    for (const c of CASES) {
      const model = `identity_${c.dt.toLowerCase()}`;
      test(`${c.dt} binary`, async () => {
        const { body, headerLength } = binaryBody(
          [{ name: 'INPUT0', datatype: c.dt, shape: [1, 3], data: c.bytes }],
          {
            parameters: { binary_data_output: true },
          },
        );
        const r = await inferBinary(url, model, body, headerLength);
        assert.equal(r.status, 200, JSON.stringify(r.header));
        assert.equal(r.header.outputs[0].datatype, c.dt);
        assert.deepEqual(r.header.outputs[0].shape, [1, 3]);
        assert.deepEqual(new Uint8Array(r.outputs.get('OUTPUT0')!), c.bytes);
      });
      if (c.json) {
        test(`${c.dt} JSON`, async () => {
          const r = await http(url, 'POST', `/v2/models/${model}/infer`, {
            inputs: [{ name: 'INPUT0', datatype: c.dt, shape: [1, 3], data: c.json }],
          });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          assert.deepEqual(r.body.outputs[0].data, c.json);
        });
      }
    }

    test('FP16 via JSON is refused with Triton message', async () => {
      const r = await http(url, 'POST', '/v2/models/identity_fp16/infer', {
        inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 1], data: [1] }],
      });
      assert.equal(r.status, 400);
      assert.equal(
        r.body.error,
        'receiving FP16 data via JSON is not supported. Please use the binary data format for input INPUT0',
      );
    });

    test("BYTES element counts that differ from the shape: Triton's messages (it stops at one past)", async () => {
      const elements = (n: number) => Array.from({ length: n }, (_, i) => String(i));
      for (const [n, message] of [
        [2, "expected 4 string elements for inference input 'INPUT0' for model 'identity_bytes', got 2"],
        [
          7,
          "unexpected number of string elements 5 for inference input 'INPUT0' for model 'identity_bytes', expecting 4",
        ],
      ] as const) {
        const { body, headerLength } = binaryBody([
          { name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], data: serializeBytesTensor(elements(n)) },
        ]);
        const r = await inferBinary(url, 'identity_bytes', body, headerLength);
        assert.equal(r.status, 400);
        assert.equal(r.header.error, `[request id: <id_unknown>] ${message}`);
      }
    });

    test('BYTES JSON: empty strings and Unicode', async () => {
      const data = ['', 'hello', 'ünïcödé ✓', ''];
      const r = await http(url, 'POST', '/v2/models/identity_bytes/infer', {
        inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], data }],
      });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.outputs[0].data, data);
    });

    test('BYTES binary: length-prefixed elements, empty ones included', async () => {
      const data = bytesTensor(['', 'abc', '', 'x'.repeat(1000)]);
      const { body, headerLength } = binaryBody(
        [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 4], data }],
        {
          parameters: { binary_data_output: true },
        },
      );
      const r = await inferBinary(url, 'identity_bytes', body, headerLength);
      assert.equal(r.status, 200, JSON.stringify(r.header));
      assert.deepEqual(new Uint8Array(r.outputs.get('OUTPUT0')!), new Uint8Array(data));
      assert.equal(r.header.outputs[0].parameters.binary_data_size, data.byteLength);
    });

    test('BYTES binary: non-UTF-8 bytes get a clear 400 from the ONNX Runtime backend', async () => {
      const data = bytesTensor([new Uint8Array([0xff, 0xfe, 0x00, 0x80])]);
      const { body, headerLength } = binaryBody([{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data }]);
      const r = await inferBinary(url, 'identity_bytes', body, headerLength);
      assert.equal(r.status, 400);
      assert.match(r.header.error, /input 'INPUT0' holds bytes that are not valid UTF-8/);
    });

    test('BYTES binary: a NUL byte gets a clear 400 instead of a cut string', async () => {
      const data = bytesTensor([new Uint8Array([0x61, 0x00, 0x62])]);
      const { body, headerLength } = binaryBody([{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data }]);
      const r = await inferBinary(url, 'identity_bytes', body, headerLength);
      assert.equal(r.status, 400);
      assert.match(r.header.error, /input 'INPUT0' holds a NUL byte/);
    });

    test('BYTES binary: a truncated length prefix is refused', async () => {
      const data = Buffer.from([5, 0, 0, 0, 0x61, 0x62]); // says 5 bytes, has 2
      const { body, headerLength } = binaryBody([{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], data }]);
      const r = await inferBinary(url, 'identity_bytes', body, headerLength);
      assert.equal(r.status, 400);
      assert.match(r.header.error, /input 'INPUT0' for model 'identity_bytes'.*runs past the end/);
    });
  });

  describe("Triton's error semantics", () => {
    const expectError = async (
      res: Promise<{ status: number; body: { error: string } }>,
      status: number,
      re: RegExp,
    ) => {
      const r = await res;
      assert.equal(r.status, status, JSON.stringify(r.body));
      assert.match(r.body.error, re);
    };

    test('unknown model → 400 with Triton message', async () => {
      const r = await http(url, 'POST', '/v2/models/nope/infer', { inputs: addSubJsonInputs() });
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { error: "Request for unknown model: 'nope' is not found" });
      for (const p of ['/v2/models/nope', '/v2/models/nope/config']) {
        const m = await http(url, 'GET', p);
        assert.deepEqual([m.status, m.body.error], [400, "Request for unknown model: 'nope' is not found"]);
      }
    });

    test('wrong shape names model, input, expected and got', async () => {
      const inputs = addSubJsonInputs() as Array<{ shape: number[]; data: unknown[] }>;
      inputs[0].shape = [16];
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', { inputs }),
        400,
        /^\[request id: <id_unknown>\] unexpected shape for input 'INPUT0' for model 'simple'\. Expected \[-1,16\], got \[16\]\. NOTE: Setting a non-zero max_batch_size/,
      );
    });

    test('wrong datatype', async () => {
      const inputs = addSubJsonInputs() as Array<{ datatype: string }>;
      inputs[1].datatype = 'FP32';
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', { inputs }),
        400,
        /inference input 'INPUT1' data-type is 'FP32', but model 'simple' expects 'INT32'/,
      );
    });

    test('missing input', async () => {
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', { inputs: addSubJsonInputs().slice(1) }),
        400,
        /expected 2 inputs but got 1 inputs for model 'simple'.*missing required input\(s\) \['INPUT0'\]/,
      );
    });

    test('unknown input and unknown output', async () => {
      const inputs = addSubJsonInputs() as Array<{ name: string }>;
      inputs[1].name = 'INPUTX';
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', { inputs }),
        400,
        /missing required input\(s\) \['INPUT1'\]/,
      );
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', {
          inputs: addSubJsonInputs(),
          outputs: [{ name: 'OUTPUT9' }],
        }),
        400,
        /^unexpected inference output 'OUTPUT9' for model 'simple'$/,
      );
    });

    test('batch larger than max_batch_size', async () => {
      const inputs = addSubJsonInputs() as Array<{ shape: number[]; data: number[] }>;
      for (const i of inputs) {
        i.shape = [9, 16];
        i.data = Array(9 * 16).fill(1);
      }
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', { inputs }),
        400,
        /batch-size must be <= 8 for 'simple'/,
      );
    });

    test('JSON data count that does not match the shape', async () => {
      const inputs = addSubJsonInputs() as Array<{ data: number[] }>;
      inputs[0].data = [1, 2, 3];
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', { inputs }),
        400,
        /input 'INPUT0' for model 'simple': 'data' has 3 elements but shape \[1,16\] needs 16/,
      );
    });

    test('malformed JSON', async () => {
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', '{"inputs": [ {"name": '),
        400,
        /^failed to parse the request JSON buffer for model 'simple'/,
      );
    });

    test('truncated binary body names the input and the missing bytes', async () => {
      const { body, headerLength } = binaryBody([
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
      ]);
      const r = await inferBinary(url, 'simple', body.subarray(0, body.length - 10), headerLength);
      assert.equal(r.status, 400);
      assert.match(
        r.header.error,
        /^unexpected size for input 'INPUT1', expecting 64 additional bytes for model 'simple'/,
      );
    });

    test('binary byte size that does not match the shape', async () => {
      const { body, headerLength } = binaryBody([
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(range16.slice(0, 15)) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
      ]);
      const r = await inferBinary(url, 'simple', body, headerLength);
      assert.equal(r.status, 400);
      assert.match(
        r.header.error,
        /input byte size mismatch for input 'INPUT0' for model 'simple'. Expected 64, got 60/,
      );
    });

    test('extra bytes after the last binary input', async () => {
      const { body, headerLength } = binaryBody([
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: int32(range16) },
      ]);
      const r = await inferBinary(url, 'simple', Buffer.concat([body, Buffer.alloc(3)]), headerLength);
      assert.equal(r.status, 400);
      assert.match(r.header.error, /unexpected additional input data for model 'simple'/);
    });

    test('header length beyond the body', async () => {
      const r = await inferBinary(url, 'simple', Buffer.from('{}'), 50);
      assert.equal(r.status, 400);
      assert.match(r.header.error, /inference header size should be in range \(0, 2\), got: 50/);
    });

    test("oversized JSON → Triton's 400, read to its end so the connection stays usable", async () => {
      const big = JSON.stringify({ inputs: addSubJsonInputs(), pad: 'x'.repeat(4096) });
      const r = await http(small.url, 'POST', '/v2/models/simple/infer', big);
      assert.equal(r.status, 400);
      assert.equal(
        r.body.error,
        `request JSON size of ${Buffer.byteLength(big)} bytes exceeds the maximum allowed input size of 1024 bytes. ` +
          'Use --http-max-input-size to increase the limit.',
      );
      // The server keeps serving.
      const ok = await http(small.url, 'POST', '/v2/models/simple/infer', { inputs: addSubJsonInputs() });
      assert.equal(ok.status, 200);
    });

    test("JSON data that would take more tensor bytes than the limit: Triton's 400", async () => {
      const r = await http(small.url, 'POST', '/v2/models/simple/infer', {
        inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [64, 16], data: [1] }],
      });
      assert.deepEqual(
        [r.status, r.body.error],
        [
          400,
          "JSON input 'INPUT0' has a byte_size (4096 bytes) that exceeds the maximum allowed value of 1024 bytes. " +
            'Use --http-max-input-size to increase the limit.',
        ],
      );
    });

    test('the limit bounds the JSON header and raw bodies, not binary tensor data; one connection throughout', async () => {
      const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
      const sockets = new Set<unknown>();
      const post = (body: Buffer, headers: Record<string, string | number>) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = nodeHttp.request(
            `${small.url}/v2/models/simple/infer`,
            { method: 'POST', agent, headers: { 'Content-Length': body.length, ...headers } },
            (res) => {
              sockets.add(res.socket);
              const chunks: Buffer[] = [];
              res.on('data', (c) => chunks.push(c));
              res.on('end', () =>
                resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }),
              );
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      try {
        // 1 KiB of binary tensor data behind a small header: over 1024 bytes in all, accepted.
        const batch = new Uint8Array(8 * 16 * 4);
        const { body, headerLength } = binaryBody([
          { name: 'INPUT0', datatype: 'INT32', shape: [8, 16], data: batch },
          { name: 'INPUT1', datatype: 'INT32', shape: [8, 16], data: batch },
        ]);
        assert.ok(body.length > 1024);
        const ok = await post(body, { 'Inference-Header-Content-Length': headerLength });
        assert.equal(ok.status, 200, ok.body);
        // A raw body of 4 KiB: over the limit.
        const raw = await post(Buffer.alloc(4096), { 'Inference-Header-Content-Length': 0 });
        assert.equal(raw.status, 400);
        assert.equal(
          JSON.parse(raw.body).error,
          'Raw input has a byte_size (4096 bytes) that exceeds the maximum allowed value of 1024 bytes. ' +
            'Use --http-max-input-size to increase the limit.',
        );
        // A header that says it is over the limit.
        const header = await post(Buffer.alloc(3000, 32), { 'Inference-Header-Content-Length': 2000 });
        assert.equal(header.status, 400);
        assert.match(JSON.parse(header.body).error, /^request JSON size of 2000 bytes exceeds/);
        const again = await post(body, { 'Inference-Header-Content-Length': headerLength });
        assert.equal(again.status, 200);
        assert.equal(sockets.size, 1, 'every answer came on the same keep-alive connection');
      } finally {
        agent.destroy();
      }
    });

    test('a compressed body that inflates past the limit is refused', async () => {
      const bomb = await gzip(
        Buffer.from(JSON.stringify({ inputs: addSubJsonInputs(), pad: ' '.repeat(100_000) })),
      );
      assert.ok(bomb.length < 1024);
      const res = await fetch(`${small.url}/v2/models/simple/infer`, {
        method: 'POST',
        body: bomb as unknown as BodyInit,
        headers: { 'Content-Encoding': 'gzip' },
      });
      assert.equal(res.status, 400);
      assert.equal(
        (await res.json()).error,
        'Decompressed data size exceeds the maximum allowed value of 1024 bytes. Use --http-max-input-size to increase the limit.',
      );
    });

    test('unknown Content-Encoding → 501', async () => {
      const res = await fetch(`${url}/v2/models/simple/infer`, {
        method: 'POST',
        body: '{}',
        headers: { 'Content-Encoding': 'br' },
      });
      assert.equal(res.status, 501);
      assert.deepEqual(await res.json(), { error: 'Unsupported compression type' });
    });

    test('wrong verb → 405, unknown route → 404', async () => {
      for (const [method, p] of [
        ['GET', '/v2/models/simple/infer'],
        ['POST', '/v2/models/simple'],
        ['DELETE', '/v2'],
        ['POST', '/v2/health/ready'],
        ['GET', '/v2/repository/index'],
      ]) {
        const r = await http(url, method, p);
        assert.deepEqual([r.status, r.body], [405, { error: 'Method Not Allowed' }], `${method} ${p}`);
      }
      const nf = await http(url, 'GET', '/v3/nothing');
      assert.deepEqual([nf.status, nf.body], [404, { error: 'Not Found' }]);
    });

    test("request parameters starting with 'triton_' are reserved", async () => {
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', {
          inputs: addSubJsonInputs(),
          parameters: { triton_x: 1 },
        }),
        400,
        /parameter keys starting with 'triton_' are reserved/,
      );
    });

    test('request parameters Triton reads itself: its 500 for a value of the wrong type', async () => {
      const cases: Array<[string, unknown, string]> = [
        ['sequence_id', -1, 'non-string as string'],
        ['sequence_id', 1.5, 'non-string as string'],
        ['sequence_id', true, 'non-string as string'],
        ['sequence_start', 1, 'non-boolean as boolean'],
        ['sequence_end', 'yes', 'non-boolean as boolean'],
        ['binary_data_output', 0, 'non-boolean as boolean'],
        ['priority', -1, 'non-unsigned-integer as unsigned-integer'],
        ['timeout', 2.5, 'non-unsigned-integer as unsigned-integer'],
      ];
      for (const [key, value, why] of cases) {
        await expectError(
          http(url, 'POST', '/v2/models/simple/infer', { parameters: { [key]: value }, inputs: [] }),
          500,
          new RegExp(`^Unable to parse '${key}': attempt to access JSON ${why}$`),
        );
      }
      // A sequence_id beyond uint64 is no uint64 and no string either.
      const r = await fetch(`${url}/v2/models/simple/infer`, {
        method: 'POST',
        body: '{"parameters":{"sequence_id":18446744073709551616},"inputs":[]}',
      });
      assert.equal(r.status, 500);
      assert.match(((await r.json()) as { error: string }).error, /^Unable to parse 'sequence_id'/);
    });

    test('a body that is not an infer request', async () => {
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', { input: [] }),
        400,
        /'inputs'.*model 'simple'/,
      );
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', {
          inputs: [{ name: 'INPUT0', datatype: 'INT33', shape: [1], data: [1] }],
        }),
        400,
        /invalid datatype "INT33" for input 'INPUT0' for model 'simple'/,
      );
    });

    test('shapes as Triton reads them: a negative dim is its 500, overflowing dims its 400s', async () => {
      // Triton answers INTERNAL (500) here: its JSON reader fails on the negative number.
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', {
          inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [1, -16], data: [] }],
        }),
        500,
        /^Unable to parse 'shape': attempt to access JSON non-unsigned-integer as unsigned-integer$/,
      );
      // Dims beyond 2^53 are read exactly (2^60 + 2 below), as in Triton's L0_http test.
      const body = (dims: string) =>
        `{"inputs":[{"name":"INPUT0","shape":${dims},"datatype":"INT32","data":[1]},` +
        `{"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":[1]}]}`;
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', body('[16,1152921504606846978]')),
        400,
        /^invalid shape for input 'INPUT0': shape \[16,1152921504606846978\] causes total element count to exceed maximum size of 9223372036854775807$/,
      );
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', body('[4,1152921504606846978]')),
        400,
        /^byte size overflow for input 'INPUT0': element count \(4611686018427387912\) \* data type size \(4\) exceeds maximum allowed size \(9223372036854775807\)$/,
      );
    });

    test('INT64 and UINT64 JSON data over the whole 64-bit range, exactly, both ways', async () => {
      const int64 = [
        '-9223372036854775808',
        '9223372036854775807',
        '-1423731546835645400',
        '9007199254740993',
      ];
      const r = await http(
        url,
        'POST',
        '/v2/models/identity_int64/infer',
        `{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,4],"data":[${int64.join(',')}]}]}`,
      );
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const text = await (
        await fetch(`${url}/v2/models/identity_int64/infer`, {
          method: 'POST',
          body: `{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,4],"data":[${int64.join(',')}]}]}`,
        })
      ).text();
      assert.ok(text.includes(`"data":[${int64.join(',')}]`), text);
      const uint64 = '18446744073709551615';
      const u = await fetch(`${url}/v2/models/identity_uint64/infer`, {
        method: 'POST',
        body: `{"inputs":[{"name":"INPUT0","datatype":"UINT64","shape":[1,1],"data":[${uint64}]}]}`,
      });
      assert.ok((await u.text()).includes(`"data":[${uint64}]`));
      await expectError(
        http(
          url,
          'POST',
          '/v2/models/identity_int64/infer',
          '{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,1],"data":[9223372036854775808]}]}',
        ),
        400,
        /element 0 of 'data' is 9223372036854775808, expected an integer in \[-9223372036854775808, 9223372036854775807\] for INT64/,
      );
    });

    test("a requested output named twice: Triton's 400", async () => {
      await expectError(
        http(url, 'POST', '/v2/models/simple/infer', {
          id: 'dup',
          inputs: addSubJsonInputs(),
          outputs: [{ name: 'OUTPUT0' }, { name: 'OUTPUT0' }],
        }),
        400,
        /^\[request id: dup\] output 'OUTPUT0' already exists in request$/,
      );
    });
  });

  describe('statistics', () => {
    test('per-model stats count requests and executions', async () => {
      const before = (await http(url, 'GET', '/v2/models/identity_int32/stats')).body.model_stats[0];
      for (let i = 0; i < 3; i++) {
        await http(url, 'POST', '/v2/models/identity_int32/infer', {
          inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [2, 2], data: [1, 2, 3, 4] }],
        });
      }
      await http(url, 'POST', '/v2/models/identity_int32/infer', {
        inputs: [{ name: 'INPUT0', datatype: 'INT64', shape: [1, 1], data: [1] }],
      });
      const s = (await http(url, 'GET', '/v2/models/identity_int32/stats')).body.model_stats[0];
      assert.equal(s.name, 'identity_int32');
      assert.equal(s.version, '1');
      assert.equal(s.inference_stats.success.count - before.inference_stats.success.count, 3);
      assert.equal(s.inference_stats.fail.count - before.inference_stats.fail.count, 1);
      assert.equal(s.inference_count - before.inference_count, 6, 'batch elements');
      assert.equal(s.execution_count - before.execution_count, 3);
      assert.ok(s.inference_stats.compute_infer.ns > 0);
      assert.ok(s.last_inference > 0);
      assert.ok(s.batch_stats.some((b: { batch_size: number }) => b.batch_size === 2));
      const all = (await http(url, 'GET', '/v2/models/stats')).body.model_stats;
      assert.ok(all.some((m: { name: string }) => m.name === 'simple'));
    });
  });
});
