/**
 * Starting the processes the benchmarks measure (a Nereid server from the compiled CLI, the bare
 * `node:http` stand-in of `bench/bare-http-server.ts`), waiting
 * until a server answers, and reading the best load level of a `nereid perf` report.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { PerfReport } from '../src/perf/index.js';
import { packageRoot } from '../src/core/package.js';

/**
 * Polls `url` every 50 ms until it answers 200.
 * @param timeoutMs how long to wait (ms).
 * @throws Error naming the URL when it did not become ready in time.
 */
export async function waitReady(url: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not become ready`);
}

/**
 * Starts `node dist/src/cli/main.js` over `repo` on the given ports, metrics and info logs off, its
 * output going to this process's stdout/stderr.
 * @param extraArgs more server flags.
 */
export function startNereid(
  repo: string,
  httpPort: number,
  grpcPort: number,
  extraArgs: string[] = [],
): ChildProcess {
  return spawn(
    process.execPath,
    [
      path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js'),
      `--model-repository=${repo}`,
      `--http-port=${httpPort}`,
      `--grpc-port=${grpcPort}`,
      '--allow-metrics=false',
      '--log-info=false',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
}

/**
 * Starts the bare `node:http` server (`dist/bench/bare-http-server.js`) on `port`; its stdout is
 * dropped, its stderr goes to this process's. Wait for it with `waitReady` on `/v2/models/simple`.
 */
export function startBareServer(port: number): ChildProcess {
  return spawn(
    process.execPath,
    [path.join(packageRoot(), 'dist', 'bench', 'bare-http-server.js'), String(port)],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/**
 * The load level with the highest throughput (infer/s) among a `nereid perf` report's levels, or
 * among the levels of several reports (a sweep measured one level per run; a missing run counts
 * for nothing): its throughput, level and p99 (µs). NaN throughput and p99 when there is no level.
 */
export function best(reports: PerfReport | Array<PerfReport | undefined>): {
  throughput: number;
  level: number;
  p99Us: number;
} {
  const levels = (Array.isArray(reports) ? reports : [reports]).flatMap((r) => r?.levels ?? []);
  let b = { throughput: NaN, level: 0, p99Us: NaN };
  for (const l of levels) {
    if (!(l.throughput <= b.throughput))
      b = { throughput: l.throughput, level: l.concurrency ?? 0, p99Us: l.percentilesUs['99'] };
  }
  return b;
}
