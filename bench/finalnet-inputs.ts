/**
 * FinalNet inputs for the benchmarks: in-process feeds for the ceiling measurement and perf_analyzer
 * input data with valid ids for every field.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Feed } from './ceiling.js';

/** FinalNet feeds of `batch` rows with valid ids for every field. */
export function finalNetFeeds(vocab: number[], batch: number): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  vocab.forEach((v, i) => {
    const a = BigInt64Array.from({ length: batch }, (_, k) => BigInt((k * 7919 + i) % v));
    feeds[`input_${i}`] = { type: 'int64', dims: [batch, 1], data: a.buffer };
  });
  return feeds;
}

/**
 * Writes `<outDir>/finalnet_input_data.json`, perf_analyzer input data for FinalNet: one batch-1
 * entry per row of `reference.json` (`input_0..input_38`, INT64 `[1]`), whose ids are valid for
 * every field (random integers are not: some vocabularies have 5 rows).
 * @param finalnet the FinalNet model directory (holds `1/reference.json`).
 * @returns the file's path.
 */
export function writeFinalNetInputData(finalnet: string, outDir: string): string {
  const reference = JSON.parse(fs.readFileSync(path.join(finalnet, '1', 'reference.json'), 'utf8')) as {
    inputs: Record<string, number[]>;
  };
  const file = path.join(outDir, 'finalnet_input_data.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      data: reference.inputs.input_0.map((_, row) =>
        Object.fromEntries(
          Object.entries(reference.inputs).map(([name, v]) => [name, { content: [v[row]], shape: [1] }]),
        ),
      ),
    }),
  );
  return file;
}
