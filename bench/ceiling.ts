/**
 * The in-process ceiling of onnxruntime-node on this machine: K worker threads, each with its own
 * session of T intra-op threads (spinning off), running the same feeds back to back — no server, no
 * protocol, no copies. The benchmarks compare Nereid's throughput against the best configuration.
 */
import { Worker } from 'node:worker_threads';

/** One feed: ORT type name, dims, raw little-endian bytes. */
export interface Feed {
  type: 'int64' | 'float32' | 'int32';
  dims: number[];
  data: ArrayBuffer;
}

/** Result of one configuration. */
export interface CeilingResult {
  workers: number;
  intraOpThreads: number;
  /** Batch elements (inferences) per second over all workers. */
  inferencesPerSecond: number;
}

/**
 * Measures `workers` sessions × `intraOpThreads` threads for about `seconds`, after `warmupRuns` runs
 * per worker; all workers start together once every one has warmed up, and each finishes the run in
 * progress at the deadline (throughput = all runs ÷ time until the last one ended).
 * @param batch rows per run (the feeds' first dim).
 * @param executionProviders onnxruntime-node `executionProviders` (e.g. `[{ name: 'cuda', deviceId: 0 }]`).
 */
export async function measureCeiling(
  modelPath: string,
  feeds: Record<string, Feed>,
  batch: number,
  workers: number,
  intraOpThreads: number,
  seconds: number,
  warmupRuns = 2,
  executionProviders: unknown[] = ['cpu'],
): Promise<CeilingResult> {
  const url = new URL('./ceiling-worker.js', import.meta.url);
  const threads = Array.from(
    { length: workers },
    () =>
      new Worker(url, { workerData: { modelPath, intraOpThreads, feeds, warmupRuns, executionProviders } }),
  );
  try {
    await Promise.all(
      threads.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once('message', () => resolve());
            w.once('error', reject);
          }),
      ),
    );
    const start = Date.now();
    const until = start + seconds * 1000;
    const done = await Promise.all(
      threads.map(
        (w) =>
          new Promise<{ runs: number; last: number }>((resolve) => {
            w.once('message', resolve);
            w.postMessage({ until });
          }),
      ),
    );
    // Each worker finishes the run in progress at the deadline: count every run over the time
    // until the last one ended, so no partial run is lost.
    const runs = done.reduce((a, d) => a + d.runs, 0);
    const elapsed = (Math.max(...done.map((d) => d.last)) - start) / 1000;
    return { workers, intraOpThreads, inferencesPerSecond: (runs * batch) / elapsed };
  } finally {
    await Promise.all(threads.map((w) => w.terminate()));
  }
}
