/**
 * What metrics collection costs: `simple` (INT32 [1,16] add/sub, Triton's example model) requests/s
 * over HTTP with metrics on — `/metrics` scraped every second, as Prometheus would, CPU gauges
 * sampled every 2 s, the defaults — against metrics off (`--allow-metrics=false`), in one run on
 * one machine. Two Nereid processes serve the same repository. Each round loads both at once (the
 * same closed loop against each), so whatever else runs on the machine hits both alike, and a
 * server that spends more CPU gets fewer requests through; the overhead is 1 − the median of the
 * per-round on/off ratios. `--sequential` instead alternates rounds (on, off, off, on, …) and
 * compares medians, which is fairer on an idle machine and useless on a busy one. The issue's goal:
 * ≤ 3 %.
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
import { packageRoot } from '../src/core/package.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const rounds = arg('--rounds', 6);
const seconds = arg('--seconds', 4);
const concurrency = arg('--concurrency', 8);
const sequential = args.includes('--sequential');

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
      path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js'),
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
    const ratios: number[] = [];
    let scrapes = 0;
    for (let r = 0; r < rounds; r++) {
      const scrape = scraper(on.metrics!);
      let a: number;
      let b: number;
      if (sequential) {
        const first = r % 2 === 0 ? on.http : off.http;
        const x = await load(first, seconds * 1000);
        const y = await load(first === on.http ? off.http : on.http, seconds * 1000);
        [a, b] = first === on.http ? [x, y] : [y, x];
      } else {
        [a, b] = await Promise.all([load(on.http, seconds * 1000), load(off.http, seconds * 1000)]);
      }
      scrapes += scrape.stop();
      results.on.push(a);
      results.off.push(b);
      ratios.push(a / b);
      log(
        `round ${r + 1}/${rounds}: metrics on ${a.toFixed(0)}, off ${b.toFixed(0)} requests/s (on/off ${(a / b).toFixed(3)})`,
      );
    }
    const ratio = sequential ? median(results.on) / median(results.off) : median(ratios);
    const overhead = (1 - ratio) * 100;
    const text = await (await fetch(`http://127.0.0.1:${on.metrics}/metrics`)).text();
    const count = /nv_inference_request_success\{model="simple",version="1"\} (\d+)/.exec(text)?.[1];
    console.log(
      `simple over HTTP, ${concurrency} connections per server, ${rounds} ${sequential ? 'alternating' : 'paired (both servers loaded at once)'} rounds of ${seconds} s, ${os.availableParallelism()} cores`,
    );
    console.log(
      `metrics on  (scraped every 1 s, ${scrapes} scrapes): median ${median(results.on).toFixed(0)} requests/s  [${results.on.map((x) => x.toFixed(0)).join(', ')}]`,
    );
    console.log(
      `metrics off (--allow-metrics=false):        median ${median(results.off).toFixed(0)} requests/s  [${results.off.map((x) => x.toFixed(0)).join(', ')}]`,
    );
    console.log(
      `on/off ratio ${ratio.toFixed(3)} (${sequential ? 'ratio of medians' : `median of per-round ratios [${ratios.map((x) => x.toFixed(3)).join(', ')}]`}) → overhead ${overhead.toFixed(1)} % (goal ≤ 3 %)`,
    );
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
