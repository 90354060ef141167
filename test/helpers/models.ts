/** Small ONNX models written into test repositories. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { simpleAddSubModel } from '../../src/examples/build.js';
import { buildOnnxModel, OnnxDataType } from '../../src/examples/onnx-builder.js';

/** The config.pbtxt of `simple` under another name. */
export function addSubConfig(name: string, extra = ''): string {
  return `name: "${name}"
backend: "onnxruntime"
max_batch_size: 8
input [
  { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] },
  { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] }
]
${extra}`;
}

/**
 * Writes `<repo>/<name>/config.pbtxt` (unless `config` is null) and the add/sub model into each of
 * `versions`.
 */
export function writeAddSub(
  repo: string,
  name: string,
  versions: number[] = [1],
  config: string | null = addSubConfig(name),
): void {
  const dir = path.join(repo, name);
  fs.mkdirSync(dir, { recursive: true });
  if (config !== null) fs.writeFileSync(path.join(dir, 'config.pbtxt'), config);
  const model = simpleAddSubModel();
  for (const v of versions) {
    fs.mkdirSync(path.join(dir, String(v)), { recursive: true });
    fs.writeFileSync(path.join(dir, String(v), 'model.onnx'), model);
  }
}

/** JSON inputs for the add/sub models: INPUT0 = 0..15, INPUT1 = all `b`, batch 1. */
export function addSubJsonInputs(b = 1): unknown[] {
  return [
    { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: Array.from({ length: 16 }, (_, i) => i) },
    { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: Array(16).fill(b) },
  ];
}

/**
 * A deliberately slow model: FP32 [batch, n] → `layers` × (MatMul n×n, Tanh) → OUTPUT0 [batch, n],
 * n = 512 by default. With batch 256, one run costs 2·256·n²·layers FLOP (3.2 GFLOP by default,
 * 34 GFLOP with n = 1024 and 64 layers): long enough to observe what the server does while an
 * instance is busy. `extraConfig` is appended to config.pbtxt (e.g. a `dynamic_batching` block).
 */
export function writeSlowModel(
  repo: string,
  name = 'slow',
  instances = 1,
  n = 512,
  layers = 24,
  extraConfig = '',
  maxBatch = 256,
): void {
  const dir = path.join(repo, name);
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  const w = new Float32Array(n * n);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 7919) % 1000) / 1000 / n;
  const nodes = [];
  let x = 'INPUT0';
  for (let i = 0; i < layers; i++) {
    nodes.push({ opType: 'MatMul', inputs: [x, 'W'], outputs: [`m${i}`] });
    const out = i === layers - 1 ? 'OUTPUT0' : `t${i}`;
    nodes.push({ opType: 'Tanh', inputs: [`m${i}`], outputs: [out] });
    x = out;
  }
  const t = OnnxDataType.FLOAT;
  fs.writeFileSync(
    path.join(dir, '1', 'model.onnx'),
    buildOnnxModel({
      inputs: [{ name: 'INPUT0', elemType: t, shape: ['batch', n] }],
      outputs: [{ name: 'OUTPUT0', elemType: t, shape: ['batch', n] }],
      nodes,
      initializers: [{ name: 'W', elemType: t, dims: [n, n], data: w }],
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'config.pbtxt'),
    `name: "${name}"\nbackend: "onnxruntime"\nmax_batch_size: ${maxBatch}\n` +
      `input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ ${n} ] }]\n` +
      `output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ ${n} ] }]\n` +
      `instance_group [{ kind: KIND_CPU count: ${instances} }]\n` +
      `parameters { key: "intra_op_thread_count" value: { string_value: "1" } }\n` +
      extraConfig,
  );
}

/** A binary infer body for the slow model: batch × n FP32 of 0.5. */
export function slowBody(batch = 256, n = 512): { body: Buffer; headerLength: number } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: 'INPUT0',
          datatype: 'FP32',
          shape: [batch, n],
          parameters: { binary_data_size: batch * n * 4 },
        },
      ],
      outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }],
    }),
  );
  return {
    body: Buffer.concat([header, Buffer.from(new Float32Array(batch * n).fill(0.5).buffer)]),
    headerLength: header.length,
  };
}

/**
 * The add/sub model as `name` with a `label_filename` on OUTPUT0 (labels "label0".."label15"), for
 * the classification extension.
 */
export function writeLabelledAddSub(repo: string, name: string): void {
  writeAddSub(
    repo,
    name,
    [1],
    addSubConfig(name).replace(
      '{ name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }',
      '{ name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] label_filename: "labels.txt" }',
    ),
  );
  fs.writeFileSync(
    path.join(repo, name, 'labels.txt'),
    Array.from({ length: 16 }, (_, i) => `label${i}`).join('\n'),
  );
}
