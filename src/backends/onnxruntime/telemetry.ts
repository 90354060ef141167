/**
 * ONNX Runtime's own telemetry, switched off before ONNX Runtime starts.
 *
 * onnxruntime-node 1.29 is the first release whose Linux library carries telemetry (ONNX Runtime
 * PR #27379, "Add POSIX telemetry"). When the first session of a process initialises ONNX Runtime,
 * it starts a background thread that records events — the process, every session created,
 * aggregated run counts — into an SQLite file
 * (`~/.cache/Microsoft/DeveloperTools/.onnxruntime/onnxruntime.db`: 3.1 MB and 3,621 events on the
 * development machine after a few hours of tests) and uploads them over HTTPS; now and then that thread
 * starts a short-lived thread, which starts two more. In a server that loads and unloads models
 * this was the source of the slow RSS creep of the load/unload memory test
 * (`test/e2e/model-memory.test.ts`; traced with `/proc/self/smaps`, glibc's `malloc_info` and a
 * log of thread starts). glibc gives a new thread the malloc arena that the last exited thread
 * left, so every instance thread of a reloaded model works in the same arena as the one before
 * it — unless a thread starts in between. The telemetry threads did, at random moments: they took
 * the free arenas, new ones were created (11 grew to 16, glibc's limit on 2 cores, over 50 cycles),
 * later instance threads landed in other arenas, and each arena they left kept 2–2.5 MiB of freed
 * but untrimmed memory resident. RSS crept by 2.0–7.3 MiB from cycle 10 to 50 in five runs of the
 * test; with telemetry off the arenas stay at 13, every instance thread gets the same one, and the
 * creep is −0.8 to +2.5 MiB (40 runs). Nothing is written or sent either, and ~3 MiB of
 * ONNX Runtime's code is never read in.
 *
 * ONNX Runtime reads `ORT_DISABLE_TELEMETRY` from the C environment once, when it initialises (the
 * first session in the process, on a model instance's thread), and latches it; `1` leaves out the
 * uploader, the events, the device id file and the offline cache. Worker threads have their own
 * copy of `process.env`, so the variable is set here, on the main thread, where setting
 * `process.env` changes the real environment. A value the user set (e.g. `0` to keep telemetry) is
 * left as it is.
 */

/** The variable ONNX Runtime reads; `1` turns its telemetry off for the process. */
export const ORT_TELEMETRY_VARIABLE = 'ORT_DISABLE_TELEMETRY';

/**
 * Sets `ORT_DISABLE_TELEMETRY=1` unless it is set already. Must run on the main thread before the
 * first ONNX Runtime session of the process is created; later calls change nothing.
 * @returns the value in effect.
 */
export function disableOrtTelemetry(env: NodeJS.ProcessEnv = process.env): string {
  return (env[ORT_TELEMETRY_VARIABLE] ??= '1');
}
