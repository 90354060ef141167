/**
 * Server log, built on pino, printing Triton's line layouts.
 *
 * Formats (server docs/user_guide/logging.md / `--log-format`):
 * - `default`: `I1121 05:22:21.123456 4242 nereid] message`  (level letter, MMDD, time with µs, pid)
 * - `ISO8601`: `2026-11-21T05:22:21Z I 4242 nereid] message`
 * - `json`:    one JSON object per line, e.g.
 *   `{"level":"info","time":"2026-11-21T05:22:21.123Z","pid":4242,"msg":"..."}` (pino; levels `error`,
 *   `warning`, `info`, `verbose` with a `verbose` field; `context` names the model). Nereid's
 *   addition: Triton has no JSON log format.
 * Lines go to standard error, or to `--log-file` (appended).
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
  /** `--log-file`: file the log is appended to; '' = standard error. Fixed at start. */
  file?: string;
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
  return { logError: true, logWarning: true, logInfo: true, logVerbose: 0, format: 'default', file: '' };
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

const LEVEL_NAMES: Record<string, string> = { warn: 'warning', debug: 'verbose' };

/**
 * Creates the root logger.
 * @param settings initial settings (mutable later through `logger.settings`).
 * @param out where lines go (default: `settings.file` when set, appended with synchronous writes so
 *   nothing is lost at exit; else standard error, as Triton).
 */
export function createLogger(
  settings: LogSettings = defaultLogSettings(),
  out?: NodeJS.WritableStream,
): Logger {
  out ??= settings.file
    ? (pino.destination({
        dest: settings.file,
        sync: true,
        append: true,
        mkdir: true,
      }) as unknown as NodeJS.WritableStream)
    : process.stderr;
  const json = pino(
    {
      level: 'debug',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: LEVEL_NAMES[label] ?? label }) },
    },
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

/** Log settings as the logging extension shows them (server docs/protocol/extension_logging.md). */
export interface LogSettingsJson {
  log_file: string;
  log_info: boolean;
  log_warning: boolean;
  log_error: boolean;
  log_verbose_level: number;
  log_format: LogFormat;
}

/** The logging extension's view of `settings` (GET /v2/logging, gRPC LogSettings). */
export function logSettingsJson(settings: LogSettings): LogSettingsJson {
  return {
    log_file: settings.file ?? '',
    log_info: settings.logInfo,
    log_warning: settings.logWarning,
    log_error: settings.logError,
    log_verbose_level: settings.logVerbose,
    log_format: settings.format,
  };
}

/**
 * Applies a logging extension update (POST /v2/logging, gRPC LogSettings) to `settings`, all or
 * nothing: `log_info`, `log_warning`, `log_error` (booleans), `log_verbose_level` (integer ≥ 0),
 * `log_format` (`default`, `ISO8601` or Nereid's `json`). A key with value null is left unchanged.
 * @returns the settings after the update.
 * @throws Error naming the key for `log_file` (not changeable over the network, as in Triton),
 *   unknown keys and values of the wrong type.
 */
export function updateLogSettings(settings: LogSettings, update: Record<string, unknown>): LogSettingsJson {
  const next = { ...settings };
  for (const [key, v] of Object.entries(update)) {
    if (v === null || v === undefined) continue;
    switch (key) {
      case 'log_file':
        throw new Error('log file location can not be updated through network protocol');
      case 'log_info':
      case 'log_warning':
      case 'log_error': {
        if (typeof v !== 'boolean') throw new Error(`expect boolean for '${key}', got ${JSON.stringify(v)}`);
        const field = key === 'log_info' ? 'logInfo' : key === 'log_warning' ? 'logWarning' : 'logError';
        next[field] = v;
        break;
      }
      case 'log_verbose_level':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
          throw new Error(`expect non-negative integer for 'log_verbose_level', got ${JSON.stringify(v)}`);
        }
        next.logVerbose = v;
        break;
      case 'log_format':
        if (v !== 'default' && v !== 'ISO8601' && v !== 'json') {
          throw new Error(
            `invalid argument for 'log_format': expected default, ISO8601 or json, got ${JSON.stringify(v)}`,
          );
        }
        next.format = v;
        break;
      default:
        throw new Error(`unknown log setting '${key}'`);
    }
  }
  Object.assign(settings, next);
  return logSettingsJson(settings);
}
