/**
 * Logging (server docs/protocol/extension_logging.md, docs/user_guide/logging.md): Triton's line
 * layouts and Nereid's JSON lines, `/v2/logging` GET/POST and gRPC LogSettings changing levels and
 * format at run time with the effect visible in the log, and `--log-file` on a real process.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { defaultServeSettings, startServer, type RunningServer } from '../../src/serve.js';
import { createLogger, defaultLogSettings } from '../../src/core/logger.js';
import { messageType } from '../../src/protocol/grpc/protos.js';
import { addSubConfig, addSubJsonInputs, writeAddSub } from '../helpers/models.js';
import { runNereid, waitFor } from '../helpers/process.js';
import { http } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

const DEFAULT_LINE = /^([EWIV])(\d{4}) (\d\d:\d\d:\d\d\.\d{6}) (\d+) nereid\] (.*)$/;
const ISO_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) ([EWIV]) (\d+) nereid\] (.*)$/;

function repo(): string {
  const dir = tempDir();
  writeAddSub(dir, 'simple', [1], addSubConfig('simple', 'instance_group [{ count: 1 kind: KIND_CPU }]\n'));
  return dir;
}

/** Calls a unary GRPCInferenceService method with protobufjs (de)serialization. */
function grpcCall(address: string, method: string, request: object): Promise<Record<string, unknown>> {
  const req = messageType(`${method}Request`);
  const res = messageType(`${method}Response`);
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      `/inference.GRPCInferenceService/${method}`,
      (m: object) => Buffer.from(req.encode(req.fromObject(m)).finish()),
      (b: Buffer) => res.toObject(res.decode(b)),
      request,
      (err, value) => {
        client.close();
        if (err) reject(err);
        else resolve(value as Record<string, unknown>);
      },
    ),
  );
}

describe('log settings at run time', () => {
  let server: RunningServer;
  let url = '';
  let lines: string[] = [];
  const infer = async () => {
    const r = await fetch(`${url}/v2/models/simple/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: addSubJsonInputs() }),
    });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  };
  const newLines = async (action: () => Promise<void>) => {
    const from = lines.length;
    await action();
    return lines.slice(from);
  };

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const settings = {
      ...defaultServeSettings(),
      repositories: [repo()],
      httpPort: 0,
      httpAddress: '127.0.0.1',
      grpcPort: 0,
      grpcAddress: '127.0.0.1',
      metricsPort: 0,
      metricsAddress: '127.0.0.1',
      exitTimeoutSecs: 5,
    };
    server = await startServer(settings, createLogger(settings.log, sink));
    url = `http://127.0.0.1:${server.httpPort}`;
  });

  after(async () => {
    await server?.stop();
    lines = [];
  });

  test("start-up lines use Triton's default layout", () => {
    const started = lines.find((l) => l.includes('Started HTTPService'));
    assert.ok(started, lines.join('\n'));
    const m = DEFAULT_LINE.exec(started);
    assert.ok(m, started);
    assert.equal(m[1], 'I');
    assert.equal(Number(m[4]), process.pid);
  });

  test('/v2/logging GET shows the settings; POST changes the verbose level and the effect shows', async () => {
    const get = await http(url, 'GET', '/v2/logging');
    assert.deepEqual(get.body, {
      log_file: '',
      log_info: true,
      log_warning: true,
      log_error: true,
      log_verbose_level: 0,
      log_format: 'default',
    });
    assert.equal((await newLines(infer)).length, 0, 'nothing is logged per request at verbose 0');
    const post = await http(url, 'POST', '/v2/logging', { log_verbose_level: 1 });
    assert.equal(post.status, 200);
    assert.equal(post.body.log_verbose_level, 1);
    const verbose = await newLines(infer);
    assert.equal(verbose.length, 1, verbose.join('\n'));
    const m = DEFAULT_LINE.exec(verbose[0]);
    assert.ok(m, verbose[0]);
    assert.equal(m[1], 'V');
    assert.equal(m[5], 'HTTP request: POST /v2/models/simple/infer');
  });

  test('POST switches to ISO8601 and to JSON lines; each JSON line is one valid object', async () => {
    await http(url, 'POST', '/v2/logging', { log_verbose_level: 1, log_format: 'ISO8601' });
    const iso = await newLines(infer);
    assert.equal(iso.length, 1);
    const m = ISO_LINE.exec(iso[0]);
    assert.ok(m, iso[0]);
    assert.equal(m[2], 'V');
    assert.ok(Math.abs(Date.parse(m[1]) - Date.now()) < 600_000);
    const r = await http(url, 'POST', '/v2/logging', { log_format: 'json' });
    assert.equal(r.body.log_format, 'json');
    const json = await newLines(async () => {
      await infer();
      await infer();
    });
    assert.equal(json.length, 2);
    for (const line of json) {
      const o = JSON.parse(line);
      assert.equal(o.level, 'verbose');
      assert.equal(o.verbose, 1);
      assert.equal(o.pid, process.pid);
      assert.equal(o.msg, 'HTTP request: POST /v2/models/simple/infer');
      assert.ok(!Number.isNaN(Date.parse(o.time)));
    }
  });

  test('invalid updates are refused and change nothing', async () => {
    const before = (await http(url, 'GET', '/v2/logging')).body;
    for (const [body, re] of [
      [{ log_file: '/tmp/x.log' }, /log file location can not be updated through network protocol/],
      [{ log_verbose_level: -1 }, /log_verbose_level/],
      [{ log_info: 'yes' }, /expect boolean for 'log_info'/],
      [{ log_format: 'xml' }, /log_format/],
      [{ log_info: false, nope: 1 }, /unknown log setting 'nope'/],
    ] as const) {
      const r = await http(url, 'POST', '/v2/logging', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.match(r.body.error, re);
    }
    assert.deepEqual((await http(url, 'GET', '/v2/logging')).body, before);
    assert.equal((await http(url, 'PUT', '/v2/logging')).status, 405);
  });

  test('gRPC LogSettings reads and changes the same settings', async () => {
    const address = `127.0.0.1:${server.grpcPort}`;
    const read = (await grpcCall(address, 'LogSettings', {})).settings as Record<
      string,
      Record<string, unknown>
    >;
    assert.equal(read.log_format.string_param, 'json');
    assert.equal(read.log_verbose_level.uint32_param, 1);
    assert.equal(read.log_info.bool_param, true);
    assert.equal(read.log_file.string_param, '');
    const changed = (
      await grpcCall(address, 'LogSettings', {
        settings: { log_verbose_level: { uint32_param: 0 }, log_format: { string_param: 'default' } },
      })
    ).settings as Record<string, Record<string, unknown>>;
    assert.equal(changed.log_verbose_level.uint32_param, 0);
    assert.equal(changed.log_format.string_param, 'default');
    assert.equal((await newLines(infer)).length, 0, 'verbose is off again');
    assert.equal((await http(url, 'GET', '/v2/logging')).body.log_verbose_level, 0);
    await assert.rejects(
      grpcCall(address, 'LogSettings', { settings: { log_file: { string_param: 'x' } } }),
      (e: grpc.ServiceError) =>
        e.code === grpc.status.INVALID_ARGUMENT && /log file location/.test(e.details),
    );
  });

  test('log_info=false silences information messages', () => {
    const settings = { ...defaultLogSettings(), logInfo: false };
    const out: string[] = [];
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c.toString());
        cb();
      },
    });
    const log = createLogger(settings, sink);
    log.info('hidden');
    log.warn('shown');
    settings.logInfo = true;
    log.child('simple:1').info('shown too');
    assert.equal(out.length, 2);
    assert.match(out[0], /^W\d{4} .* nereid\] shown\n$/);
    assert.match(out[1], /^I\d{4} .* nereid\] simple:1: shown too\n$/);
  });
});

describe('--log-file on the nereid process', () => {
  test('JSON lines go to the file, one valid object per line', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'nereid.log');
    const p = runNereid([
      `--model-repository=${repo()}`,
      '--http-port=0',
      '--http-address=127.0.0.1',
      '--allow-grpc=false',
      `--log-file=${file}`,
      '--log-format=json',
      '--log-verbose=1',
    ]);
    try {
      await waitFor(
        () => fs.existsSync(file) && fs.readFileSync(file, 'utf8').includes('Started Metrics Service'),
        'the log file',
      );
    } finally {
      p.child.kill('SIGTERM');
      await p.exit;
    }
    const text = fs.readFileSync(file, 'utf8');
    const records = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.ok(records.length >= 4);
    for (const r of records) {
      assert.ok(['error', 'warning', 'info', 'verbose'].includes(r.level), r.level);
      assert.equal(typeof r.msg, 'string');
      assert.equal(typeof r.pid, 'number');
      assert.ok(!Number.isNaN(Date.parse(r.time)));
    }
    assert.ok(records.some((r) => /Started HTTPService at 127\.0\.0\.1:\d+/.test(r.msg)));
    assert.ok(
      records.some((r) => r.msg === 'server stopped'),
      'the shutdown is logged too',
    );
    assert.doesNotMatch(p.output(), /Started HTTPService/, 'nothing on standard error');
  });
});
