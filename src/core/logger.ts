/**
 * Server log, built on pino, printing Triton's line layouts.
 *
 * Formats (server docs/user_guide/logging.md / `--log-format`):
 * - `default`: `I1121 05:22:21.123456 4242 nereid] message`  (level letter, MMDD, time with µs, pid)
 * - `ISO8601`: `2026-11-21T05:22:21Z I 4242 nereid] message`
 * - `json`:    one JSON object per line (pino's own output; Nereid's addition, Triton has none)
 * Levels: error, warning, info and verbose (verbose messages carry a level ≥ 1 and print when
 * `--log-verbose` ≥ that level).
 */
import { pino, type Logger as PinoLogger } from 'pino';

/** Log line layout (`--log-format`). */
export type LogFormat = 'default' | 'ISO8601' | 'json';

/** Settings of the log, changeable at run time (the `/v2/logging` API uses the same names). */
export interface LogSettings {
  /** Print errors (`--log-error`). */
  logError: boolean;
  /** Print warnings (`--log-warning`). */
  logWarning: boolean;
  /** Print info (`--log-info`). */
  logInfo: boolean;
  /** Verbose level (`--log-verbose`, 0 = off). */
  logVerbose: number;
  /** Line layout. */
  format: LogFormat;
}

/** A logger bound to some context (e.g. a model). */
export interface Logger {
  /** Logs an error. */
  error(msg: string): void;
  /** Logs a warning. */
  warn(msg: string): void;
  /** Logs information. */
  info(msg: string): void;
  /** Logs `msg` when the verbose level is ≥ `level`; `msg` may be a thunk to avoid building it. */
  verbose(level: number, msg: string | (() => string)): void;
  /** True when verbose messages of `level` would print (to skip expensive formatting). */
  isVerbose(level: number): boolean;
  /** A logger whose lines are prefixed with `prefix` (e.g. `simple:1`). */
  child(prefix: string): Logger;
  /** The current settings (shared by the root logger and all children). */
  readonly settings: LogSettings;
}

/** Default settings: Triton's (`--log-info/warning/error` true, verbose 0, default layout). */
export function defaultLogSettings(): LogSettings {
  return { logError: true, logWarning: true, logInfo: true, logVerbose: 0, format: 'default' };
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

function triton(letter: string, format: LogFormat, msg: string): string {
  const now = new Date();
  if (format === 'ISO8601') {
    return `${now.toISOString().slice(0, 19)}Z ${letter} ${process.pid} nereid] ${msg}\n`;
  }
  const us = pad(now.getUTCMilliseconds() * 1000 + (Math.floor(performance.now() * 1000) % 1000), 6);
  return (
    `${letter}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())} ` +
    `${pad(now.getUTCHours())}:${pad(now.getUTCMinutes())}:${pad(now.getUTCSeconds())}.${us} ` +
    `${process.pid} nereid] ${msg}\n`
  );
}

class NereidLogger implements Logger {
  constructor(
    readonly settings: LogSettings,
    private readonly out: NodeJS.WritableStream,
    private readonly json: PinoLogger,
    private readonly prefix: string,
  ) {}

  private emit(letter: 'E' | 'W' | 'I' | 'V', msg: string, level = 0): void {
    const text = this.prefix ? `${this.prefix}: ${msg}` : msg;
    if (this.settings.format === 'json') {
      const fields = this.prefix ? { context: this.prefix } : {};
      if (letter === 'E') this.json.error(fields, msg);
      else if (letter === 'W') this.json.warn(fields, msg);
      else if (letter === 'I') this.json.info(fields, msg);
      else this.json.debug({ ...fields, verbose: level }, msg);
      return;
    }
    this.out.write(triton(letter, this.settings.format, text));
  }

  error(msg: string): void {
    if (this.settings.logError) this.emit('E', msg);
  }
  warn(msg: string): void {
    if (this.settings.logWarning) this.emit('W', msg);
  }
  info(msg: string): void {
    if (this.settings.logInfo) this.emit('I', msg);
  }
  verbose(level: number, msg: string | (() => string)): void {
    if (this.settings.logVerbose >= level) this.emit('V', typeof msg === 'function' ? msg() : msg, level);
  }
  isVerbose(level: number): boolean {
    return this.settings.logVerbose >= level;
  }
  child(prefix: string): Logger {
    return new NereidLogger(
      this.settings,
      this.out,
      this.json,
      this.prefix ? `${this.prefix}/${prefix}` : prefix,
    );
  }
}

/**
 * Creates the root logger.
 * @param settings initial settings (mutable later through `logger.settings`).
 * @param out where lines go (default: standard error, as Triton).
 */
export function createLogger(
  settings: LogSettings = defaultLogSettings(),
  out: NodeJS.WritableStream = process.stderr,
): Logger {
  const json = pino(
    { level: 'debug', base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    out,
  );
  return new NereidLogger(settings, out, json, '');
}

/** A logger that drops everything (tests, tools). */
export function silentLogger(): Logger {
  const settings = { ...defaultLogSettings(), logError: false, logWarning: false, logInfo: false };
  const sink = { write: () => true } as unknown as NodeJS.WritableStream;
  return createLogger(settings, sink);
}
