#!/usr/bin/env -S MALLOC_TRIM_THRESHOLD_=65536 MALLOC_MMAP_THRESHOLD_=65536 node
/**
 * `nereid`: the entry point. Parses the command line (program.ts, with `tritonserver`'s flags),
 * starts the server, and drains and exits on SIGINT/SIGTERM.
 */
import { createLogger } from '../core/logger.js';
import { startServer, type ServeSettings } from '../serve.js';
import { buildProgram } from './program.js';

/**
 * Runs the server until SIGINT/SIGTERM, then drains and exits 0 (1 when it cannot start).
 *
 * The signal handlers are installed before the server starts: a signal that arrives while models
 * load or ports open (after "Started HTTPService" is printed but before the metrics port is up, say)
 * must not fall through to Node's default action, which kills the process with no drain and no exit
 * code. Such a signal stops the server as soon as it has started.
 */
async function serve(settings: ServeSettings): Promise<void> {
  const logger = createLogger(settings.log);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  let stopRequested = false;
  const drainAndExit = (running: NonNullable<typeof server>) => {
    running.stop().then(
      () => {
        logger.info('server stopped');
        process.exit(0);
      },
      (e: Error) => {
        logger.error(`error while stopping: ${e.message}`);
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: string) => {
    if (stopRequested) {
      logger.warn(`received ${signal} again, exiting now`);
      process.exit(1);
    }
    stopRequested = true;
    logger.info(
      `received ${signal}, stopping: no new requests, waiting for in-flight ones, unloading models`,
    );
    if (server) drainAndExit(server);
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  try {
    server = await startServer(settings, logger);
  } catch (e) {
    logger.error(`error: creating server: ${(e as Error).message}`);
    process.exit(1);
  }
  if (stopRequested) drainAndExit(server);
}

await buildProgram(serve).parseAsync(process.argv);
