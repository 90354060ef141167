/**
 * Worker of the in-process ceiling measurement (bench/ceiling.ts): one ONNX Runtime session that, on
 * "go", runs the same feeds back to back until a deadline and reports how many runs it finished.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { Feed } from './ceiling.js';

const { modelPath, intraOpThreads, feeds, warmupRuns, executionProviders } = workerData as {
  modelPath: string;
  intraOpThreads: number;
  feeds: Record<string, Feed>;
  warmupRuns: number;
  executionProviders: string[];
};
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: intraOpThreads,
  interOpNumThreads: 1,
  extra: { session: { intra_op: { allow_spinning: '0' } } },
  executionProviders,
});
const views = { int64: BigInt64Array, float32: Float32Array, int32: Int32Array } as const;
const tensors: Record<string, ort.Tensor> = {};
for (const [name, f] of Object.entries(feeds)) {
  tensors[name] = new ort.Tensor(f.type, new views[f.type](f.data) as Float32Array, f.dims);
}
for (let i = 0; i < warmupRuns; i++) await session.run(tensors);
const port = parentPort!;
port.once('message', async ({ until }: { until: number }) => {
  let runs = 0;
  let last = Date.now();
  while (last < until) {
    await session.run(tensors);
    runs++;
    last = Date.now();
  }
  port.postMessage({ runs, last });
});
port.postMessage({ ready: true });
