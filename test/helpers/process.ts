/** Helpers for tests that run the `nereid` command as a real process. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';
import { packageRoot } from '../../src/core/package.js';

/** The compiled CLI entry point (dist/src/cli/main.js). */
export const MAIN = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

/** A free TCP port on 127.0.0.1 (free when returned; tests bind it right away). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A running `nereid` process: its output so far (stdout and stderr) and its exit code. */
export interface NereidProcess {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

/**
 * Starts `node dist/src/cli/main.js --metrics-port=0 ...args` (metrics on a free port so parallel
 * tests never collide on 8002; `args` may override it).
 */
export function runNereid(args: string[]): NereidProcess {
  const child = spawn(process.execPath, [MAIN, '--metrics-port=0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

/** Polls `cond` every 50 ms until it holds. @throws Error naming `what` after `ms`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  ms = 20_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
