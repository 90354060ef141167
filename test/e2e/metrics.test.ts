/**
 * Prometheus metrics (server docs/user_guide/metrics.md) on a real server: after a known number of
 * successes, failures of every reason and dynamic batches, every counter of `/metrics` has Triton's
 * name, type, help, labels (`model`, `version`, `_<tag>`, `reason`) and the expected value, and
 * agrees with the statistics extension; pending requests, model load time, CPU gauges, summaries;
 * the metrics flags on a real process; the Grafana dashboard only queries exported metrics.
 * (Dynamic batching delays are a few seconds: the batcher's wake-up timers outlive the requests and
 * keep the test process alive that long.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildOnnxModel, OnnxDataType } from '../../src/examples/onnx-builder.js';
import { parseMeminfo, parseProcStat, utilization } from '../../src/frontends/metrics/cpu.js';
import { defaultMetricsConfig, parseMetricsConfig } from '../../src/frontends/metrics/metrics.js';
import { scrape, type Scrape } from '../helpers/metrics.js';
import { addSubConfig, addSubJsonInputs, writeAddSub } from '../helpers/models.js';
import { freePort, runNereid, waitFor } from '../helpers/process.js';
import { http, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { packageRoot } from '../../src/core/package.js';

const ONE_INSTANCE = 'instance_group [{ count: 1 kind: KIND_CPU }]\n';

/** A model whose execution fails in ONNX Runtime when A and B have different widths. */
function writeBroken(repo: string): void {
  const dir = path.join(repo, 'broken');
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  const t = OnnxDataType.FLOAT;
  fs.writeFileSync(
    path.join(dir, '1', 'model.onnx'),
    buildOnnxModel({
      inputs: [
        { name: 'A', elemType: t, shape: ['batch', 'n'] },
        { name: 'B', elemType: t, shape: ['batch', 'm'] },
      ],
      outputs: [{ name: 'C', elemType: t, shape: ['batch', 'k'] }],
      nodes: [{ opType: 'Add', inputs: ['A', 'B'], outputs: ['C'] }],
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'config.pbtxt'),
    `name: "broken"\nbackend: "onnxruntime"\nmax_batch_size: 8\n` +
      `input [{ name: "A" data_type: TYPE_FP32 dims: [ -1 ] }, { name: "B" data_type: TYPE_FP32 dims: [ -1 ] }]\n` +
      `output [{ name: "C" data_type: TYPE_FP32 dims: [ -1 ] }]\n` +
      ONE_INSTANCE,
  );
}

/** The repository of the metrics tests. */
function writeRepo(): string {
  const repo = tempDir();
  writeAddSub(
    repo,
    'tagged',
    [1],
    addSubConfig(
      'tagged',
      ONE_INSTANCE +
        'metric_tags { key: "team" value: "search" }\nmetric_tags { key: "tier" value: "gold" }\n',
    ),
  );
  writeAddSub(
    repo,
    'batched',
    [1],
    addSubConfig(
      'batched',
      ONE_INSTANCE +
        'dynamic_batching { preferred_batch_size: [ 4 ] max_queue_delay_microseconds: 3000000 }\n',
    ),
  );
  writeAddSub(
    repo,
    'rejecting',
    [1],
    addSubConfig(
      'rejecting',
      ONE_INSTANCE +
        'dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 2000000 ' +
        'default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 100000 } }\n',
    ),
  );
  writeAddSub(
    repo,
    'held',
    [1],
    addSubConfig(
      'held',
      ONE_INSTANCE +
        'dynamic_batching { preferred_batch_size: [ 8 ] max_queue_delay_microseconds: 6000000 }\n',
    ),
  );
  writeBroken(repo);
  return repo;
}

/** JSON add/sub inputs of batch `b` (INPUT0 = 0..15 per row, INPUT1 = ones). */
function batchInputs(b: number): unknown[] {
  return [
    {
      name: 'INPUT0',
      datatype: 'INT32',
      shape: [b, 16],
      data: Array.from({ length: 16 * b }, (_, i) => i % 16),
    },
    { name: 'INPUT1', datatype: 'INT32', shape: [b, 16], data: Array(16 * b).fill(1) },
  ];
}

const infer = (url: string, model: string, inputs: unknown[], signal?: AbortSignal) =>
  fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', body: JSON.stringify({ inputs }), signal });

const LATENCY_COUNTERS: Array<[string, string]> = [
  ['nv_inference_request_duration_us', 'success'],
  ['nv_inference_queue_duration_us', 'queue'],
  ['nv_inference_compute_input_duration_us', 'compute_input'],
  ['nv_inference_compute_infer_duration_us', 'compute_infer'],
  ['nv_inference_compute_output_duration_us', 'compute_output'],
];

describe('Prometheus metrics', () => {
  let server: TestServer;
  let final: Scrape;
  let pendingWhileHeld = -1;

  before(async () => {
    server = await serve([writeRepo()], {
      allowGrpc: false,
      metricsConfig: parseMetricsConfig(['summary_latencies=true', 'summary_quantiles=0.5:0.05,0.9:0.01']),
      metricsIntervalMs: 100,
    });
    const url = server.url;
    // tagged: 5 successes, 2 failures (invalid shape: OTHER), each request its own execution.
    for (let i = 0; i < 5; i++) assert.equal((await infer(url, 'tagged', addSubJsonInputs())).status, 200);
    const bad = [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 8], data: Array(8).fill(0) },
      addSubJsonInputs()[1],
    ];
    for (let i = 0; i < 2; i++) assert.equal((await infer(url, 'tagged', bad)).status, 400);
    // batched: 4 requests of batch 1 form one execution of 4, then 2 requests of batch 2 another.
    const first = await Promise.all(Array.from({ length: 4 }, () => infer(url, 'batched', batchInputs(1))));
    assert.deepEqual(
      first.map((r) => r.status),
      [200, 200, 200, 200],
    );
    const second = await Promise.all(Array.from({ length: 2 }, () => infer(url, 'batched', batchInputs(2))));
    assert.deepEqual(
      second.map((r) => r.status),
      [200, 200],
    );
    // rejecting: one request expires in the queue after 100 ms (REJECTED).
    const rejected = await infer(url, 'rejecting', addSubJsonInputs());
    assert.equal(rejected.status, 503);
    assert.match(await rejected.text(), /Request timeout expired/);
    // held: a request waits in the queue (pending 1) until its client goes away (CANCELED).
    const abort = new AbortController();
    const held = infer(url, 'held', addSubJsonInputs(), abort.signal).catch((e: Error) => e);
    await waitFor(async () => {
      const s = await scrape(server.metricsUrl);
      pendingWhileHeld = s.value('nv_inference_pending_request_count', { model: 'held' });
      return pendingWhileHeld === 1;
    }, 'the held request to be pending');
    abort.abort();
    await held;
    await waitFor(
      async () =>
        (await http(url, 'GET', '/v2/models/held/stats')).body.model_stats[0].inference_stats.fail.count ===
        1,
      'the cancelled request to be counted',
    );
    // broken: ONNX Runtime fails the execution (BACKEND).
    const broken = await infer(url, 'broken', [
      { name: 'A', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
      { name: 'B', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] },
    ]);
    assert.notEqual(broken.status, 200);
    final = await scrape(server.metricsUrl);
  });

  after(async () => {
    await server?.stop();
  });

  test('families have Triton types and help texts', () => {
    const expected: Record<string, string> = {
      nv_inference_request_success: 'counter',
      nv_inference_request_failure: 'counter',
      nv_inference_count: 'counter',
      nv_inference_exec_count: 'counter',
      nv_inference_request_duration_us: 'counter',
      nv_inference_queue_duration_us: 'counter',
      nv_inference_compute_input_duration_us: 'counter',
      nv_inference_compute_infer_duration_us: 'counter',
      nv_inference_compute_output_duration_us: 'counter',
      nv_inference_pending_request_count: 'gauge',
      nv_model_load_duration_secs: 'gauge',
      nv_cpu_utilization: 'gauge',
      nv_cpu_memory_total_bytes: 'gauge',
      nv_cpu_memory_used_bytes: 'gauge',
      nv_inference_request_summary_us: 'summary',
      nv_inference_queue_summary_us: 'summary',
      nv_inference_compute_input_summary_us: 'summary',
      nv_inference_compute_infer_summary_us: 'summary',
      nv_inference_compute_output_summary_us: 'summary',
    };
    for (const [name, type] of Object.entries(expected)) assert.equal(final.types.get(name), type, name);
    assert.equal(
      final.help.get('nv_inference_request_success'),
      'Number of successful inference requests, all batch sizes',
    );
    assert.equal(
      final.help.get('nv_inference_queue_duration_us'),
      'Cumulative inference queuing duration in microseconds (includes cached requests)',
    );
    assert.ok(
      ![...final.types.keys()].some((n) => n.startsWith('nv_cache_')),
      'no cache metrics without a cache',
    );
  });

  test('labels: model, version, metric_tags as _<key>, reason on failures, in sorted order', () => {
    assert.ok(
      final.lines.includes(
        'nv_inference_request_success{_team="search",_tier="gold",model="tagged",version="1"} 5',
      ),
      final.lines.filter((l) => l.startsWith('nv_inference_request_success')).join('\n'),
    );
    assert.ok(
      final.lines.includes(
        'nv_inference_request_failure{_team="search",_tier="gold",model="tagged",reason="OTHER",version="1"} 2',
      ),
    );
    for (const s of final.find('nv_inference_count')) {
      const keys = Object.keys(s.labels);
      assert.deepEqual(keys, [...keys].sort());
      assert.ok(s.labels.model && s.labels.version === '1');
    }
    const reasons = final
      .find('nv_inference_request_failure', { model: 'batched' })
      .map((s) => s.labels.reason);
    assert.deepEqual(reasons, ['REJECTED', 'CANCELED', 'BACKEND', 'OTHER']);
  });

  test('counter values after known successes, failures and batches', () => {
    const v = (name: string, model: string, extra: Record<string, string> = {}) =>
      final.value(name, { model, ...extra });
    // tagged: default scheduler, 5 successes and 2 invalid requests.
    assert.equal(v('nv_inference_request_success', 'tagged'), 5);
    assert.equal(v('nv_inference_count', 'tagged'), 5);
    assert.equal(v('nv_inference_exec_count', 'tagged'), 5);
    // batched: 6 requests, 8 inferences, 2 executions.
    assert.equal(v('nv_inference_request_success', 'batched'), 6);
    assert.equal(v('nv_inference_count', 'batched'), 8);
    assert.equal(v('nv_inference_exec_count', 'batched'), 2);
    // one failure of each other reason, on its own model.
    const failures = (model: string) =>
      Object.fromEntries(
        final.find('nv_inference_request_failure', { model }).map((s) => [s.labels.reason, s.value]),
      );
    assert.deepEqual(failures('tagged'), { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 2 });
    assert.deepEqual(failures('batched'), { REJECTED: 0, CANCELED: 0, BACKEND: 0, OTHER: 0 });
    assert.deepEqual(failures('rejecting'), { REJECTED: 1, CANCELED: 0, BACKEND: 0, OTHER: 0 });
    assert.deepEqual(failures('held'), { REJECTED: 0, CANCELED: 1, BACKEND: 0, OTHER: 0 });
    assert.deepEqual(failures('broken'), { REJECTED: 0, CANCELED: 0, BACKEND: 1, OTHER: 0 });
    for (const model of ['rejecting', 'held']) {
      assert.equal(v('nv_inference_request_success', model), 0);
      assert.equal(v('nv_inference_exec_count', model), 0);
    }
    assert.equal(v('nv_inference_request_success', 'broken'), 0);
    // latencies: positive where requests succeeded.
    for (const [name] of LATENCY_COUNTERS) {
      if (name !== 'nv_inference_queue_duration_us') assert.ok(v(name, 'batched') > 0, name);
    }
    assert.ok(v('nv_inference_queue_duration_us', 'batched') > 0, 'batched requests waited for their batch');
    assert.equal(v('nv_inference_request_duration_us', 'held'), 0);
  });

  test('pending request count while a request is queued, and after', () => {
    assert.equal(pendingWhileHeld, 1);
    for (const s of final.find('nv_inference_pending_request_count')) assert.equal(s.value, 0);
  });

  test('model load time and CPU gauges', () => {
    for (const s of final.find('nv_model_load_duration_secs'))
      assert.ok(s.value > 0 && s.value < 120, `${s.value}`);
    const util = final.value('nv_cpu_utilization');
    assert.ok(util >= 0 && util <= 1, `utilization ${util}`);
    const total = final.value('nv_cpu_memory_total_bytes');
    const used = final.value('nv_cpu_memory_used_bytes');
    assert.ok(total > 1e8 && used > 0 && used <= total, `${used} of ${total}`);
  });

  test('summaries: count and sum per model, configured quantiles', () => {
    assert.equal(final.value('nv_inference_request_summary_us_count', { model: 'batched' }), 6);
    assert.equal(final.value('nv_inference_compute_infer_summary_us_count', { model: 'batched' }), 6);
    const quantiles = final
      .find('nv_inference_request_summary_us', { model: 'batched' })
      .map((s) => s.labels.quantile);
    assert.deepEqual(quantiles, ['0.5', '0.9']);
    const sum = final.value('nv_inference_request_summary_us_sum', { model: 'batched' });
    const counter = final.value('nv_inference_request_duration_us', { model: 'batched' });
    assert.ok(Math.abs(sum - counter) <= 6, `summary sum ${sum} vs counter ${counter}`);
  });

  test('statistics and metrics agree, over HTTP and in every counter', async () => {
    const stats = (await http(server.url, 'GET', '/v2/models/stats')).body.model_stats;
    assert.equal(stats.length, 5);
    for (const s of stats) {
      const labels = { model: s.name, version: s.version };
      const is = s.inference_stats;
      assert.equal(final.value('nv_inference_request_success', labels), is.success.count, s.name);
      const failed = final.find('nv_inference_request_failure', labels).reduce((n, f) => n + f.value, 0);
      assert.equal(failed, is.fail.count, s.name);
      assert.equal(final.value('nv_inference_count', labels), s.inference_count, s.name);
      assert.equal(final.value('nv_inference_exec_count', labels), s.execution_count, s.name);
      for (const [name, key] of LATENCY_COUNTERS) {
        assert.equal(final.value(name, labels), Math.floor(is[key].ns / 1000), `${s.name} ${name}`);
      }
      assert.deepEqual(is.cache_hit, { count: 0, ns: 0 });
      assert.deepEqual(is.cache_miss, { count: 0, ns: 0 });
      assert.deepEqual(s.response_stats, {});
      assert.deepEqual(s.memory_usage, []);
    }
    const batched = stats.find((s: { name: string }) => s.name === 'batched');
    assert.deepEqual(
      batched.batch_stats.map((b: { batch_size: number; compute_infer: { count: number } }) => [
        b.batch_size,
        b.compute_infer.count,
      ]),
      [[4, 2]],
    );
    assert.equal(batched.inference_stats.compute_infer.count, 6, 'every request of a batch is charged');
    assert.ok(batched.last_inference > Date.now() - 600_000 && batched.last_inference <= Date.now());
  });

  test('unknown paths and verbs', async () => {
    assert.equal((await fetch(`${server.metricsUrl}/nope`)).status, 404);
    assert.equal((await fetch(`${server.metricsUrl}/metrics`, { method: 'POST' })).status, 405);
  });
});

describe('metrics settings', () => {
  test('--metrics-config parsing', () => {
    assert.deepEqual(parseMetricsConfig([]), defaultMetricsConfig());
    const c = parseMetricsConfig([
      'counter_latencies=false',
      'summary_latencies=true',
      'histogram_latencies=true',
      'summary_quantiles="0.5:0.05,0.99:0.001"',
    ]);
    assert.equal(c.counterLatencies, false);
    assert.equal(c.summaryLatencies, true);
    assert.equal(c.histogramLatencies, true);
    assert.deepEqual(c.summaryQuantiles, [
      [0.5, 0.05],
      [0.99, 0.001],
    ]);
    assert.throws(() => parseMetricsConfig(['nope=1']), /unknown --metrics-config setting 'nope'/);
    assert.throws(() => parseMetricsConfig(['summary_latencies=maybe']), /expects true or false/);
  });

  test('CPU figures from /proc text', () => {
    const a = parseProcStat('cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n');
    const b = parseProcStat('cpu  200 0 100 850 50 0 0 0 0 0\n');
    assert.deepEqual(a, { busy: 150, idle: 850 });
    assert.equal(utilization(a, b), 150 / 200);
    assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 250 kB\n'), {
      totalBytes: 1024000,
      usedBytes: 768000,
    });
    assert.throws(() => parseProcStat('intr 1 2'), /aggregate CPU/);
  });

  test('counter_latencies=false drops the duration counters', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple', [1], addSubConfig('simple', ONE_INSTANCE));
    const s = await serve([repo], {
      allowGrpc: false,
      allowCpuMetrics: false,
      metricsConfig: parseMetricsConfig(['counter_latencies=false']),
    });
    try {
      const m = await scrape(s.metricsUrl);
      assert.equal(m.value('nv_inference_request_success', { model: 'simple' }), 0);
      assert.equal(m.find('nv_inference_request_duration_us').length, 0);
      assert.equal(m.types.get('nv_cpu_utilization'), undefined);
    } finally {
      await s.stop();
    }
  });

  test('metrics flags on the nereid process', async () => {
    const repo = tempDir();
    writeAddSub(repo, 'simple', [1], addSubConfig('simple', ONE_INSTANCE));
    const port = await freePort();
    const p = runNereid([
      `--model-repository=${repo}`,
      '--http-port=0',
      '--allow-grpc=false',
      `--metrics-port=${port}`,
      '--metrics-address=127.0.0.1',
      '--allow-cpu-metrics=false',
      '--allow-gpu-metrics=false',
      '--metrics-interval-ms=500',
    ]);
    try {
      await waitFor(
        () => /Started Metrics Service at 127\.0\.0\.1:\d+/.test(p.output()),
        'the metrics service',
      );
      const m = await scrape(`http://127.0.0.1:${port}`);
      assert.equal(m.value('nv_inference_exec_count', { model: 'simple', version: '1' }), 0);
      assert.equal(m.types.get('nv_cpu_utilization'), undefined);
    } finally {
      p.child.kill('SIGTERM');
      await p.exit;
    }
    const q = runNereid([
      `--model-repository=${repo}`,
      '--http-port=0',
      '--allow-grpc=false',
      '--allow-metrics=false',
    ]);
    try {
      await waitFor(() => /Started HTTPService/.test(q.output()), 'the HTTP service');
      assert.doesNotMatch(q.output(), /Metrics Service/);
    } finally {
      q.child.kill('SIGTERM');
      await q.exit;
    }
  });
});

describe('Grafana dashboard', () => {
  const file = path.join(packageRoot(), 'deploy', 'grafana', 'nereid-dashboard.json');

  test('parses, and every query uses only metrics Nereid exports', async () => {
    const dashboard = JSON.parse(fs.readFileSync(file, 'utf8'));
    const exprs: string[] = [];
    const walk = (panels: Array<{ targets?: Array<{ expr?: string }>; panels?: unknown[] }>) => {
      for (const p of panels) {
        for (const t of p.targets ?? []) if (t.expr) exprs.push(t.expr);
        if (p.panels) walk(p.panels as typeof panels);
      }
    };
    walk(dashboard.panels);
    assert.ok(exprs.length >= 7, `${exprs.length} queries`);
    const repo = tempDir();
    writeAddSub(repo, 'simple', [1], addSubConfig('simple', ONE_INSTANCE));
    const s = await serve([repo], {
      allowGrpc: false,
      metricsConfig: parseMetricsConfig(['summary_latencies=true']),
    });
    let exported: Set<string>;
    try {
      assert.equal((await infer(s.url, 'simple', addSubJsonInputs())).status, 200);
      const m = await scrape(s.metricsUrl);
      exported = new Set(m.samples.map((x) => x.name));
    } finally {
      await s.stop();
    }
    const titles = JSON.stringify(dashboard.panels).toLowerCase();
    for (const topic of ['throughput', 'latency', 'queue', 'batch', 'failure', 'pending', 'cpu']) {
      assert.ok(titles.includes(topic), `a panel about ${topic}`);
    }
    for (const expr of exprs) {
      const names = expr.match(/\bnv_[a-z_]+\b/g) ?? [];
      assert.ok(names.length > 0, expr);
      for (const n of names) assert.ok(exported.has(n), `${n} (in ${expr}) is not exported`);
    }
  });
});
