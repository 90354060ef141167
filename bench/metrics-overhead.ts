/**
 * What metrics collection costs: `simple` (INT32 [1,16] add/sub, Triton's example model) requests/s
 * over HTTP with metrics on — `/metrics` scraped every second, as Prometheus would, CPU gauges
 * sampled every 2 s, the defaults — against metrics off (`--allow-metrics=false`), in one run on
 * one machine. Two Nereid processes serve the same repository; rounds alternate between them (on,
 * off, on, off, …) so drifting machine load hits both alike, and the ratio of the medians is the
 * overhead. The goal: ≤ 3 %.
 *
 *   npm run build && node dist/bench/metrics-overhead.js [--rounds N] [--seconds S] [--concurrency C]
 *
 * The load is a closed loop of C keep-alive HTTP connections sending binary infer requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { simpleAddSubModel } from '../src/examples/build.js';
import { projectRoot } from './models.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const rounds = arg('--rounds', 6);
const seconds = arg('--seconds', 4);
const concurrency = arg('--concurrency', 8);

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function writeRepo(): string {
  const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'nereid-metrics-bench-'));
  const dir = path.join(repo, 'simple');
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  fs.writeFileSync(path.join(dir, '1', 'model.onnx'), simpleAddSubModel());
  const io = (name: string) => `{ name: "${name}" data_type: TYPE_INT32 dims: [ 16 ] }`;
  fs.writeFileSync(
    path.join(dir, 'config.pbtxt'),
    `name: "simple"\nbackend: "onnxruntime"\nmax_batch_size: 8\n` +
      `input [ ${io('INPUT0')}, ${io('INPUT1')} ]\noutput [ ${io('OUTPUT0')}, ${io('OUTPUT1')} ]\n`,
  );
  return repo;
}

/** Starts nereid on free ports; resolves with its HTTP (and metrics) port once it serves. */
function start(
  repo: string,
  metrics: boolean,
): Promise<{ child: ChildProcess; http: number; metrics?: number }> {
  const child = spawn(
    process.execPath,
    [
      path.join(projectRoot(), 'dist', 'src', 'cli', 'main.js'),
      `--model-repository=${repo}`,
      '--http-port=0',
      '--http-address=127.0.0.1',
      '--allow-grpc=false',
      ...(metrics ? ['--metrics-port=0'] : ['--allow-metrics=false']),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`nereid exited with ${code}: ${out}`)));
    child.stderr!.on('data', (d) => {
      out += d;
      const h = /Started HTTPService at [^:]+:(\d+)/.exec(out);
      const m = /Started Metrics Service at [^:]+:(\d+)/.exec(out);
      if (h && (!metrics || m)) resolve({ child, http: Number(h[1]), metrics: m ? Number(m[1]) : undefined });
    });
  });
}

const header = Buffer.from(
  JSON.stringify({
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({
      name,
      datatype: 'INT32',
      shape: [1, 16],
      parameters: { binary_data_size: 64 },
    })),
    outputs: ['OUTPUT0', 'OUTPUT1'].map((name) => ({ name, parameters: { binary_data: true } })),
  }),
);
const body = Buffer.concat([header, Buffer.from(new Int32Array(32).fill(3).buffer)]);

/** Requests/s of a closed loop of `concurrency` connections for `ms`. */
function load(port: number, ms: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const end = Date.now() + ms;
  let done = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/v2/models/simple/infer',
          headers: { 'Inference-Header-Content-Length': header.length, 'Content-Length': body.length },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const worker = async () => {
    while (Date.now() < end) {
      await one();
      done++;
    }
  };
  const t0 = performance.now();
  return Promise.all(Array.from({ length: concurrency }, worker)).then(() => {
    agent.destroy();
    return (done * 1000) / (performance.now() - t0);
  });
}

/** Milliseconds each scrape took (request to last byte), across the run. */
const scrapeMs: number[] = [];

/** Scrapes `/metrics` every second until stopped, like Prometheus; returns the scrape count. */
function scraper(port: number): { stop: () => number } {
  let scrapes = 0;
  const timer = setInterval(() => {
    const t0 = performance.now();
    http.get({ port, host: '127.0.0.1', path: '/metrics' }, (res) => {
      res.resume();
      res.on('end', () => {
        scrapes++;
        scrapeMs.push(performance.now() - t0);
      });
    });
  }, 1000);
  return {
    stop() {
      clearInterval(timer);
      return scrapes;
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const repo = writeRepo();
  const on = await start(repo, true);
  const off = await start(repo, false);
  try {
    log(`warm-up (${seconds} s each)`);
    await load(on.http, seconds * 1000);
    await load(off.http, seconds * 1000);
    const results = { on: [] as number[], off: [] as number[] };
    let scrapes = 0;
    for (let r = 0; r < rounds; r++) {
      const order: Array<'on' | 'off'> = r % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
      for (const which of order) {
        const s = which === 'on' ? scraper(on.metrics!) : undefined;
        const rps = await load(which === 'on' ? on.http : off.http, seconds * 1000);
        scrapes += s?.stop() ?? 0;
        results[which].push(rps);
        log(`round ${r + 1}/${rounds} metrics ${which.padEnd(3)}: ${rps.toFixed(0)} requests/s`);
      }
    }
    const mOn = median(results.on);
    const mOff = median(results.off);
    const overhead = (1 - mOn / mOff) * 100;
    const text = await (await fetch(`http://127.0.0.1:${on.metrics}/metrics`)).text();
    const count = /nv_inference_request_success\{model="simple",version="1"\} (\d+)/.exec(text)?.[1];
    console.log(
      `simple over HTTP, ${concurrency} connections, ${rounds} alternating rounds of ${seconds} s, ${os.availableParallelism()} cores`,
    );
    console.log(
      `metrics on  (scraped every 1 s, ${scrapes} scrapes): median ${mOn.toFixed(0)} requests/s  [${results.on.map((x) => x.toFixed(0)).join(', ')}]`,
    );
    console.log(
      `metrics off (--allow-metrics=false):        median ${mOff.toFixed(0)} requests/s  [${results.off.map((x) => x.toFixed(0)).join(', ')}]`,
    );
    console.log(`on/off ratio ${(mOn / mOff).toFixed(3)} → overhead ${overhead.toFixed(1)} % (goal ≤ 3 %)`);
    console.log(
      `scrape duration under load: median ${median(scrapeMs).toFixed(2)} ms, max ${Math.max(...scrapeMs).toFixed(2)} ms; ` +
        `nv_inference_request_success at the end: ${count}`,
    );
  } finally {
    on.child.kill('SIGTERM');
    off.child.kill('SIGTERM');
    fs.rmSync(repo, { recursive: true, force: true });
  }
}

await main();
