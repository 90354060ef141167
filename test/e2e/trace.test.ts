/**
 * Tracing (server docs/user_guide/trace.md, docs/protocol/extension_trace.md) on real servers:
 * Triton-mode trace files (records, ordered and complete timestamps over HTTP and gRPC, TENSORS,
 * rate, count, log_frequency files), the trace settings API over HTTP and gRPC, and OpenTelemetry
 * spans received by a local OTLP/HTTP collector with W3C `traceparent` propagation.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { InferenceServerClient, InferInput } from '../../src/client/index.js';
import { parseTraceConfig } from '../../src/core/trace.js';
import { addSubConfig, addSubJsonInputs, writeAddSub } from '../helpers/models.js';
import { http as httpJson, serve } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { waitFor } from '../helpers/process.js';

const HTTP_ORDER = [
  'HTTP_RECV_START',
  'HTTP_RECV_END',
  'REQUEST_START',
  'QUEUE_START',
  'COMPUTE_START',
  'COMPUTE_INPUT_END',
  'COMPUTE_OUTPUT_START',
  'COMPUTE_END',
  'REQUEST_END',
  'HTTP_SEND_START',
  'HTTP_SEND_END',
];
const GRPC_ORDER = [
  'GRPC_WAITREAD_START',
  'GRPC_WAITREAD_END',
  ...HTTP_ORDER.slice(2, -2),
  'GRPC_SEND_START',
  'GRPC_SEND_END',
];

function repo(): string {
  const dir = tempDir();
  writeAddSub(dir, 'simple', [1], addSubConfig('simple', 'instance_group [{ count: 1 kind: KIND_CPU }]\n'));
  return dir;
}

const infer = (url: string, id?: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/v2/models/simple/infer`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ ...(id ? { id } : {}), inputs: addSubJsonInputs() }),
  }).then(async (r) => {
    assert.equal(r.status, 200, await r.clone().text());
    await r.arrayBuffer();
  });

function grpcInputs(): InferInput[] {
  return [
    new InferInput('INPUT0', [1, 16], 'INT32').setData(Int32Array.from({ length: 16 }, (_, i) => i)),
    new InferInput('INPUT1', [1, 16], 'INT32').setData(new Int32Array(16).fill(1)),
  ];
}

interface TraceGroup {
  header: Record<string, unknown>;
  timestamps: Array<{ name: string; ns: number }>;
  tensors: Array<{ activity: string; tensor: Record<string, string> }>;
}

/** Groups the records of a Triton trace file by trace id, keeping their order. */
function groupTraces(records: Array<Record<string, unknown>>): Map<number, TraceGroup> {
  const traces = new Map<number, TraceGroup>();
  for (const r of records) {
    const id = r.id as number;
    if ('model_name' in r) {
      assert.ok(!traces.has(id), `one header per trace ${id}`);
      traces.set(id, { header: r, timestamps: [], tensors: [] });
      continue;
    }
    const t = traces.get(id);
    assert.ok(t, `record of trace ${id} after its header`);
    if ('timestamps' in r) {
      const ts = r.timestamps as Array<{ name: string; ns: number }>;
      assert.equal(ts.length, 1, 'one timestamp per record, as Triton writes them');
      t.timestamps.push(ts[0]);
    } else {
      t.tensors.push(r as unknown as TraceGroup['tensors'][number]);
    }
  }
  return traces;
}

function assertOrdered(t: TraceGroup, order: string[]): void {
  assert.deepEqual(
    t.timestamps.map((x) => x.name),
    order,
  );
  for (let i = 1; i < t.timestamps.length; i++) {
    assert.ok(
      t.timestamps[i].ns >= t.timestamps[i - 1].ns,
      `${t.timestamps[i - 1].name} ≤ ${t.timestamps[i].name}`,
    );
    assert.ok(Number.isInteger(t.timestamps[i].ns) && t.timestamps[i].ns > 0);
  }
}

describe('Triton trace mode', () => {
  test('trace file: records, ordered timestamps, TENSORS, settings API over HTTP and gRPC, rate and count', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'trace.json');
    const server = await serve([repo()], {
      trace: parseTraceConfig([`triton,file=${file}`, 'level=TIMESTAMPS', 'rate=1']),
    });
    const client = new InferenceServerClient(server.grpcUrl);
    try {
      const global = (await httpJson(server.url, 'GET', '/v2/trace/setting')).body;
      assert.deepEqual(global, {
        trace_level: ['TIMESTAMPS'],
        trace_rate: '1',
        trace_count: '-1',
        log_frequency: '0',
        trace_file: file,
        trace_mode: 'triton',
      });
      const v2 = (await httpJson(server.url, 'GET', '/v2')).body;
      assert.ok(v2.extensions.includes('trace') && v2.extensions.includes('logging'));
      // 3 HTTP requests and 1 gRPC request, all traced (rate 1).
      await infer(server.url, 'req-1');
      await infer(server.url);
      await infer(server.url);
      await client.infer('simple', grpcInputs(), { requestId: 'g-1' });
      // The trace file cannot be moved over the network; bad values are refused.
      const moved = await httpJson(server.url, 'POST', '/v2/trace/setting', { trace_file: '/tmp/x' });
      assert.equal(moved.status, 400);
      assert.match(moved.body.error, /trace file location can not be updated through network protocol/);
      const bad = await httpJson(server.url, 'POST', '/v2/trace/setting', { trace_level: ['LOUD'] });
      assert.equal(bad.status, 400);
      assert.equal((await httpJson(server.url, 'GET', '/v2/models/nope/trace/setting')).status, 400);
      // simple: TIMESTAMPS + TENSORS every 2nd request; the global settings do not change.
      const set = await httpJson(server.url, 'POST', '/v2/models/simple/trace/setting', {
        trace_level: ['TIMESTAMPS', 'TENSORS'],
        trace_rate: '2',
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body.trace_level, ['TIMESTAMPS', 'TENSORS']);
      assert.equal(set.body.trace_rate, '2');
      assert.equal((await httpJson(server.url, 'GET', '/v2/trace/setting')).body.trace_rate, '1');
      for (let i = 0; i < 4; i++) await infer(server.url);
      // gRPC TraceSetting: one more trace for simple, then none.
      const raw = new grpc.Client(server.grpcUrl.slice('grpc://'.length), grpc.credentials.createInsecure());
      const { messageType } = await import('../../src/protocol/grpc/protos.js');
      const reqType = messageType('TraceSettingRequest');
      const resType = messageType('TraceSettingResponse');
      const reply = await new Promise<Record<string, { value: string[] }>>((resolve, reject) =>
        raw.makeUnaryRequest(
          '/inference.GRPCInferenceService/TraceSetting',
          (m: object) => Buffer.from(reqType.encode(reqType.fromObject(m)).finish()),
          (b: Buffer) =>
            resType.toObject(resType.decode(b)) as { settings: Record<string, { value: string[] }> },
          { model_name: 'simple', settings: { trace_count: { value: ['1'] } } },
          (err, value) => (err ? reject(err) : resolve(value!.settings)),
        ),
      );
      raw.close();
      assert.deepEqual(reply.trace_count.value, ['1']);
      assert.deepEqual(reply.trace_level.value, ['TIMESTAMPS', 'TENSORS']);
      for (let i = 0; i < 4; i++) await infer(server.url);
      assert.equal(
        (await httpJson(server.url, 'GET', '/v2/models/simple/trace/setting')).body.trace_count,
        '0',
      );
    } finally {
      client.close();
      await server.stop();
    }
    const records = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
    const traces = groupTraces(records);
    assert.equal(
      traces.size,
      4 + 2 + 1,
      [...traces.values()].map((t) => JSON.stringify(t.header)).join('\n'),
    );
    const list = [...traces.values()];
    assert.deepEqual(list[0].header, {
      id: list[0].header.id,
      model_name: 'simple',
      model_version: 1,
      request_id: 'req-1',
    });
    assert.ok(!('request_id' in list[1].header) && !('parent_id' in list[1].header));
    for (const [i, t] of list.entries()) {
      if (i === 3) {
        assert.equal(t.header.request_id, 'g-1');
        assertOrdered(t, GRPC_ORDER);
      } else {
        assertOrdered(t, HTTP_ORDER);
      }
      if (i < 4) assert.equal(t.tensors.length, 0);
      else {
        assert.deepEqual(
          t.tensors.map((x) => `${x.activity}:${x.tensor.name}`),
          [
            'TENSOR_QUEUE_INPUT:INPUT0',
            'TENSOR_QUEUE_INPUT:INPUT1',
            'TENSOR_BACKEND_OUTPUT:OUTPUT0',
            'TENSOR_BACKEND_OUTPUT:OUTPUT1',
          ],
        );
        assert.deepEqual(t.tensors[0].tensor, {
          name: 'INPUT0',
          data: Array.from({ length: 16 }, (_, k) => k).join(','),
          shape: '1,16',
          dtype: 'INT32',
        });
        assert.equal(t.tensors[2].tensor.data, Array.from({ length: 16 }, (_, k) => k + 1).join(','));
      }
    }
    // Tensor records sit between QUEUE_START and REQUEST_END, as Triton emits them.
    const ids = new Set(list.slice(4).map((t) => t.header.id));
    const order = records.filter((r) => ids.has(r.id as number)).slice(0, 8);
    const names = order.map((r) =>
      'timestamps' in r ? (r.timestamps as Array<{ name: string }>)[0].name : r.activity,
    );
    assert.deepEqual(names.slice(0, 7), [
      undefined,
      'HTTP_RECV_START',
      'HTTP_RECV_END',
      'REQUEST_START',
      'QUEUE_START',
      'TENSOR_QUEUE_INPUT',
      'TENSOR_QUEUE_INPUT',
    ]);
  });

  test('log_frequency writes every N traces to <file>.<n>, the rest at shutdown', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'freq.json');
    const server = await serve([repo()], {
      allowGrpc: false,
      trace: parseTraceConfig([
        `triton,file=${file}`,
        'triton,log-frequency=2',
        'level=TIMESTAMPS',
        'rate=1',
      ]),
    });
    try {
      for (let i = 0; i < 5; i++) await infer(server.url);
      await waitFor(() => fs.existsSync(`${file}.1`), 'the second trace file');
    } finally {
      await server.stop();
    }
    const counts = [0, 1, 2].map(
      (n) => groupTraces(JSON.parse(fs.readFileSync(`${file}.${n}`, 'utf8'))).size,
    );
    assert.deepEqual(counts, [2, 2, 1]);
    assert.ok(!fs.existsSync(file));
  });

  test('--trace-config parsing', () => {
    const c = parseTraceConfig([
      'mode=opentelemetry',
      'level=TIMESTAMPS',
      'rate=5',
      'count=10',
      'opentelemetry,url=http://collector:4318/v1/traces',
      'opentelemetry,resource=service.name=nereid',
      'opentelemetry,bsp_schedule_delay=100',
    ]);
    assert.equal(c.mode, 'opentelemetry');
    assert.deepEqual(c.global.level, ['TIMESTAMPS']);
    assert.equal(c.global.rate, 5);
    assert.equal(c.global.count, 10);
    assert.equal(c.otel.url, 'http://collector:4318/v1/traces');
    assert.equal(c.otel.resource['service.name'], 'nereid');
    assert.equal(c.otel.bspScheduleDelayMs, 100);
    assert.throws(() => parseTraceConfig(['level=LOUD']), /invalid trace level/);
    assert.throws(
      () => parseTraceConfig(['mode=opentelemetry', 'level=TENSORS']),
      /TENSORS is not supported/,
    );
    assert.throws(() => parseTraceConfig(['triton,nope=1']), /unknown --trace-config triton setting/);
  });
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  events: Array<{ name: string; timeUnixNano: string }>;
}

describe('OpenTelemetry trace mode', () => {
  let collector: http.Server;
  let url = '';
  const spans: OtlpSpan[] = [];
  const resources: Array<Array<{ key: string; value: Record<string, unknown> }>> = [];
  const contentTypes: string[] = [];

  before(async () => {
    collector = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        contentTypes.push(String(req.headers['content-type']));
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        for (const rs of body.resourceSpans ?? []) {
          resources.push(rs.resource?.attributes ?? []);
          for (const ss of rs.scopeSpans ?? []) spans.push(...ss.spans);
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
  });

  after(() => new Promise<void>((r) => collector.close(() => r())));

  test('spans with Triton events reach the collector; traceparent from HTTP headers and gRPC metadata is the parent', async () => {
    const server = await serve([repo()], {
      trace: parseTraceConfig([
        'mode=opentelemetry',
        'level=TIMESTAMPS',
        'rate=1000',
        `opentelemetry,url=${url}`,
        'opentelemetry,resource=service.name=nereid-test',
        'opentelemetry,bsp_schedule_delay=100',
      ]),
    });
    const httpTrace = '0af7651916cd43dd8448eb211c80319c';
    const httpParent = 'b7ad6b7169203331';
    const grpcTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const grpcParent = '00f067aa0ba902b7';
    const client = new InferenceServerClient(server.grpcUrl);
    try {
      const s = (await httpJson(server.url, 'GET', '/v2/trace/setting')).body;
      assert.equal(s.trace_mode, 'opentelemetry');
      assert.equal(
        (await httpJson(server.url, 'POST', '/v2/trace/setting', { trace_rate: '1' })).status,
        501,
      );
      // rate 1000: only requests with a propagated context are traced.
      await infer(server.url, 'otel-1', { traceparent: `00-${httpTrace}-${httpParent}-01` });
      await infer(server.url, 'untraced');
      await client.infer('simple', grpcInputs(), {
        requestId: 'otel-2',
        headers: { traceparent: `00-${grpcTrace}-${grpcParent}-01` },
      });
      await waitFor(() => spans.length >= 6, 'six spans at the collector', 30_000);
    } finally {
      client.close();
      await server.stop();
    }
    assert.ok(
      contentTypes.every((c) => c.startsWith('application/json')),
      contentTypes.join(),
    );
    assert.ok(
      resources.some((r) => r.some((a) => a.key === 'service.name' && a.value.stringValue === 'nereid-test')),
    );
    assert.equal(spans.length, 6, spans.map((s) => s.name).join());
    for (const [traceId, parent, frontend] of [
      [httpTrace, httpParent, 'HTTP'],
      [grpcTrace, grpcParent, 'GRPC'],
    ]) {
      const mine = spans.filter((s) => s.traceId === traceId);
      assert.deepEqual(mine.map((s) => s.name).sort(), ['InferRequest', 'compute', 'simple']);
      const root = mine.find((s) => s.name === 'InferRequest')!;
      const model = mine.find((s) => s.name === 'simple')!;
      const compute = mine.find((s) => s.name === 'compute')!;
      assert.equal(root.parentSpanId, parent);
      assert.equal(model.parentSpanId, root.spanId);
      assert.equal(compute.parentSpanId, model.spanId);
      const events = (s: OtlpSpan) => s.events.map((e) => e.name);
      assert.deepEqual(events(model), ['REQUEST_START', 'QUEUE_START', 'REQUEST_END']);
      assert.deepEqual(events(compute), [
        'COMPUTE_START',
        'COMPUTE_INPUT_END',
        'COMPUTE_OUTPUT_START',
        'COMPUTE_END',
      ]);
      assert.deepEqual(
        events(root),
        frontend === 'HTTP'
          ? ['HTTP_RECV_START', 'HTTP_RECV_END', 'HTTP_SEND_START', 'HTTP_SEND_END']
          : ['GRPC_WAITREAD_START', 'GRPC_WAITREAD_END', 'GRPC_SEND_START', 'GRPC_SEND_END'],
      );
      const attr = (k: string) => model.attributes.find((a) => a.key === k)?.value;
      assert.deepEqual(attr('triton.model_name'), { stringValue: 'simple' });
      assert.equal(Number(attr('triton.model_version')?.intValue), 1);
      assert.deepEqual(attr('triton.request_id'), { stringValue: frontend === 'HTTP' ? 'otel-1' : 'otel-2' });
      const start = BigInt(root.startTimeUnixNano);
      const now = BigInt(Date.now()) * 1_000_000n;
      assert.ok(start <= now && now - start < 600_000_000_000n, 'wall-clock span times');
      assert.ok(
        BigInt(model.startTimeUnixNano) >= start &&
          BigInt(compute.endTimeUnixNano) <= BigInt(root.endTimeUnixNano),
      );
    }
  });
});
