// ModelConfig layer: realistic config.pbtxt fixtures, print/parse round trips,
// and the JSON form of GET /v2/models/{m}/config plus its inverse.

import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseModelConfig, printModelConfig } from '../../src/config/index.js';
import {
  ConfigJsonError,
  type DataType,
  type ModelConfig,
  type ModelInstanceGroup_Kind,
  defaultModelConfig,
  modelConfigFromJson,
  modelConfigToJson,
} from '../../src/protocol/model-config/index.js';
import { packageRoot } from '../../src/core/package.js';

const ROOT = packageRoot();
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'config');

function fixture(name: string): ModelConfig {
  return parseModelConfig(readFileSync(path.join(FIXTURES, name), 'utf8'), name);
}

function jsonOf(config: ModelConfig): Record<string, unknown> {
  // Through JSON.stringify, as the HTTP frontend will serve it.
  return JSON.parse(JSON.stringify(modelConfigToJson(config))) as Record<string, unknown>;
}

const fixtureNames = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.pbtxt'))
  .sort();

describe('fixtures', () => {
  test('all fixtures are present', () => {
    assert.deepEqual(fixtureNames, [
      'dynamic_priority.pbtxt',
      'ensemble.pbtxt',
      'finalnet.pbtxt',
      'optimized.pbtxt',
      'sequence.pbtxt',
      'warmup.pbtxt',
    ]);
  });

  for (const name of fixtureNames) {
    test(`${name}: print -> parse round trip, print is stable, JSON round trip`, () => {
      const config = fixture(name);
      const printed = printModelConfig(config);
      const reparsed = parseModelConfig(printed, 'printed.pbtxt');
      assert.deepEqual(reparsed, config);
      assert.equal(printModelConfig(reparsed), printed);
      assert.deepEqual(modelConfigFromJson(jsonOf(config)), config);
    });
  }

  test('finalnet: values', () => {
    const c = fixture('finalnet.pbtxt');
    assert.equal(c.name, 'FinalNet_onnx');
    assert.equal(c.backend, 'onnxruntime');
    assert.equal(c.max_batch_size, 8192);
    assert.equal(c.input.length, 39);
    assert.deepEqual(c.input[38], {
      name: 'input_38',
      data_type: 'TYPE_INT64',
      format: 'FORMAT_NONE',
      dims: [1],
      is_shape_tensor: false,
      allow_ragged_batch: false,
      optional: false,
      is_non_linear_format_io: false,
    });
    assert.equal(c.output[0].data_type, 'TYPE_FP32');
    assert.equal(c.dynamic_batching?.max_queue_delay_microseconds, 300);
    assert.equal(c.instance_group[0].kind, 'KIND_CPU');
    assert.equal(c.instance_group[0].count, 2);
    // Types: enums are string-literal unions.
    const dt: DataType = c.input[0].data_type;
    const kind: ModelInstanceGroup_Kind = c.instance_group[0].kind;
    assert.equal(dt, 'TYPE_INT64');
    assert.equal(kind, 'KIND_CPU');
  });

  test('finalnet: printed in Triton style', () => {
    const printed = printModelConfig(fixture('finalnet.pbtxt'));
    assert.ok(
      printed.startsWith(
        'name: "FinalNet_onnx"\nbackend: "onnxruntime"\nmax_batch_size: 8192\ninput [\n  {\n' +
          '    name: "input_0"\n    data_type: TYPE_INT64\n    dims: [ 1 ]\n  },\n',
      ),
      printed.slice(0, 300),
    );
    assert.ok(
      printed.endsWith(
        'dynamic_batching {\n  max_queue_delay_microseconds: 300\n}\n' +
          'instance_group [\n  {\n    kind: KIND_CPU\n    count: 2\n  }\n]\n',
      ),
    );
  });

  test('ensemble: steps and maps', () => {
    const c = fixture('ensemble.pbtxt');
    assert.equal(c.platform, 'ensemble');
    const steps = c.ensemble_scheduling?.step ?? [];
    assert.equal(steps.length, 2);
    assert.deepEqual(steps[0], {
      model_name: 'image_preprocess',
      model_version: -1,
      input_map: { INPUT: 'RAW_IMAGE' },
      output_map: { OUTPUT: 'preprocessed_image' },
      model_namespace: '',
    });
    assert.deepEqual(steps[1].output_map, { softmax: 'PROBS', labels: 'CLASSIFICATION' });
    assert.equal(c.output[1].label_filename, 'labels.txt');
    assert.deepEqual(c.output[0].dims, [-1]);
  });

  test('sequence: controls, oldest strategy, state with initial state', () => {
    const c = fixture('sequence.pbtxt');
    const sb = c.sequence_batching;
    assert.ok(sb);
    assert.equal(sb.max_sequence_idle_microseconds, 5000000);
    assert.equal(sb.direct, undefined);
    assert.deepEqual(sb.oldest, {
      max_candidate_sequences: 32,
      preferred_batch_size: [4, 8],
      max_queue_delay_microseconds: 100,
      preserve_ordering: true,
    });
    assert.deepEqual(
      sb.control_input.map((ci) => [ci.name, ci.control[0].kind]),
      [
        ['START', 'CONTROL_SEQUENCE_START'],
        ['READY', 'CONTROL_SEQUENCE_READY'],
        ['END', 'CONTROL_SEQUENCE_END'],
        ['CORRID', 'CONTROL_SEQUENCE_CORRID'],
      ],
    );
    assert.deepEqual(sb.control_input[0].control[0].fp32_false_true, [0, 1]);
    assert.deepEqual(sb.control_input[1].control[0].bool_false_true, [false, true]);
    assert.deepEqual(sb.control_input[2].control[0].int32_false_true, [0, 1]);
    assert.equal(sb.control_input[3].control[0].data_type, 'TYPE_UINT64');
    assert.deepEqual(sb.state[0], {
      input_name: 'INPUT_STATE',
      output_name: 'OUTPUT_STATE',
      data_type: 'TYPE_FP32',
      dims: [-1, 128],
      initial_state: [{ name: 'zeros', data_type: 'TYPE_FP32', dims: [1, 128], zero_data: true }],
      use_same_buffer_for_input_output: true,
      use_growable_memory: true,
    });
    assert.deepEqual(c.version_policy, { latest: { num_versions: 2 } });
    assert.deepEqual(c.instance_group[0].gpus, [0]);
  });

  test('dynamic batching: priority queue policies', () => {
    const c = fixture('dynamic_priority.pbtxt');
    const db = c.dynamic_batching;
    assert.ok(db);
    assert.deepEqual(db.preferred_batch_size, [16, 32]);
    assert.equal(db.priority_levels, 3);
    assert.equal(db.default_priority_level, 2);
    assert.deepEqual(db.default_queue_policy, {
      timeout_action: 'DELAY',
      default_timeout_microseconds: 100000,
      allow_timeout_override: true,
      max_queue_size: 256,
    });
    assert.deepEqual(db.priority_queue_policy, {
      '1': {
        timeout_action: 'REJECT',
        default_timeout_microseconds: 5000,
        allow_timeout_override: false,
        max_queue_size: 16,
      },
      '3': {
        timeout_action: 'DELAY',
        default_timeout_microseconds: 0,
        allow_timeout_override: true,
        max_queue_size: 0,
      },
    });
    assert.deepEqual(c.input[0].reshape, { shape: [1, 3, 224, 224] });
    assert.equal(c.input[0].format, 'FORMAT_NCHW');
    assert.deepEqual(c.instance_group[0].gpus, [0, 1, 2, 3]);
  });

  test('warmup: inputs map with oneof data sources', () => {
    const c = fixture('warmup.pbtxt');
    assert.equal(c.model_warmup.length, 2);
    assert.deepEqual(c.model_warmup[0], {
      name: 'zeros',
      batch_size: 4,
      count: 0,
      inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [16], zero_data: true } },
    });
    assert.deepEqual(c.model_warmup[1].inputs, {
      INPUT0: { data_type: 'TYPE_FP32', dims: [16], random_data: true },
      TEXT: { data_type: 'TYPE_STRING', dims: [1], input_data_file: 'text_input' },
    });
    assert.equal(c.model_warmup[1].count, 3);
    assert.equal(c.input[1].optional, true);
  });

  test('optimized: optimization, instance groups, maps and the rest', () => {
    const c = fixture('optimized.pbtxt');
    assert.equal(c.runtime, 'libtriton_tensorrt.so');
    assert.deepEqual(c.version_policy, { specific: { versions: [1, 3] } });
    const opt = c.optimization;
    assert.ok(opt);
    assert.deepEqual(opt.graph, { level: 1 });
    assert.equal(opt.priority, 'PRIORITY_MAX');
    assert.deepEqual(opt.cuda?.graph_spec[0], {
      batch_size: 4,
      input: { INPUT0: { dim: [16, 16] } },
      graph_lower_bound: { batch_size: 1, input: { INPUT0: { dim: [8, 16] } } },
    });
    assert.deepEqual(opt.execution_accelerators, {
      gpu_execution_accelerator: [
        { name: 'tensorrt', parameters: { precision_mode: 'FP16', max_workspace_size_bytes: '1073741824' } },
      ],
      cpu_execution_accelerator: [{ name: 'openvino', parameters: {} }],
    });
    assert.deepEqual(opt.input_pinned_memory, { enable: false });
    assert.deepEqual(opt.output_pinned_memory, { enable: true });
    assert.equal(opt.gather_kernel_buffer_threshold, 4);
    assert.equal(opt.eager_batching, true);

    const [gpu, cpu] = c.instance_group;
    assert.equal(gpu.kind, 'KIND_GPU');
    assert.deepEqual(gpu.gpus, [0, 1]);
    assert.deepEqual(gpu.rate_limiter, {
      resources: [
        { name: 'R1', global: true, count: 2 },
        { name: 'R2', global: false, count: 1 },
      ],
      priority: 2,
    });
    assert.deepEqual(gpu.secondary_devices, [{ kind: 'KIND_NVDLA', device_id: 1 }]);
    assert.deepEqual(gpu.profile, ['0', '1']);
    assert.equal(gpu.host_policy, 'policy_a');
    assert.equal(cpu.passive, true);
    assert.equal(cpu.rate_limiter, undefined);

    assert.deepEqual(c.batch_input, [
      {
        kind: 'BATCH_ACCUMULATED_ELEMENT_COUNT',
        target_name: ['INDICES'],
        data_type: 'TYPE_FP32',
        source_input: ['INPUT0'],
      },
    ]);
    assert.deepEqual(c.batch_output[0].kind, 'BATCH_SCATTER_WITH_INPUT_SHAPE');
    assert.deepEqual(c.cc_model_filenames, { '7.5': 'model_t4.plan', '8.0': 'model_a100.plan' });
    assert.deepEqual(c.metric_tags, { team: 'search' });
    assert.deepEqual(c.parameters, {
      EXECUTION_ENV_PATH: { string_value: '$$TRITON_MODEL_DIRECTORY/env.tar.gz' },
      max_tokens: { string_value: '128' },
    });
    assert.deepEqual(c.model_operations, { op_library_filename: ['libcustom_ops.so'] });
    assert.deepEqual(c.model_transaction_policy, { decoupled: true });
    assert.equal(
      c.model_repository_agents?.agents[0].parameters['MD5:model.plan'],
      'd41d8cd98f00b204e9800998ecf8427e',
    );
    assert.deepEqual(c.response_cache, { enable: true });
    assert.deepEqual(c.model_metrics?.metric_control[0].histogram_options?.buckets, [-5, -2.5, 0, 3.5, 500]);
  });

  test('printing a hand-built config', () => {
    const c = defaultModelConfig();
    c.name = 'm';
    c.max_batch_size = 4;
    c.input.push({
      name: 'x',
      data_type: 'TYPE_FP32',
      format: 'FORMAT_NONE',
      dims: [-1, 3],
      is_shape_tensor: false,
      allow_ragged_batch: false,
      optional: false,
      is_non_linear_format_io: false,
    });
    c.dynamic_batching = {
      preferred_batch_size: [],
      max_queue_delay_microseconds: 0,
      preserve_ordering: false,
      priority_levels: 0,
      default_priority_level: 0,
      priority_queue_policy: {},
    };
    c.parameters.k = { string_value: 'v' };
    assert.equal(
      printModelConfig(c),
      [
        'name: "m"',
        'max_batch_size: 4',
        'input [',
        '  {',
        '    name: "x"',
        '    data_type: TYPE_FP32',
        '    dims: [ -1, 3 ]',
        '  }',
        ']',
        'dynamic_batching {',
        '}',
        'parameters {',
        '  key: "k"',
        '  value {',
        '    string_value: "v"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    assert.deepEqual(parseModelConfig(printModelConfig(c)), c);
  });
});

describe('JSON form (GET /v2/models/{m}/config)', () => {
  test('defaults are printed, unset messages are absent, fields in declaration order', () => {
    const json = jsonOf(fixture('finalnet.pbtxt'));
    assert.deepEqual(Object.keys(json), [
      'name',
      'platform',
      'backend',
      'runtime',
      'max_batch_size',
      'input',
      'output',
      'batch_input',
      'batch_output',
      'dynamic_batching',
      'instance_group',
      'default_model_filename',
      'cc_model_filenames',
      'metric_tags',
      'parameters',
      'model_warmup',
    ]);
    assert.equal(json.platform, '');
    assert.deepEqual(json.batch_input, []);
    assert.deepEqual(json.parameters, {});
    assert.deepEqual((json.input as unknown[])[0], {
      name: 'input_0',
      data_type: 'TYPE_INT64',
      format: 'FORMAT_NONE',
      dims: [1],
      is_shape_tensor: false,
      allow_ragged_batch: false,
      optional: false,
      is_non_linear_format_io: false,
    });
    assert.deepEqual(json.dynamic_batching, {
      preferred_batch_size: [],
      max_queue_delay_microseconds: 300,
      preserve_ordering: false,
      priority_levels: 0,
      default_priority_level: 0,
      priority_queue_policy: {},
    });
    assert.deepEqual(json.instance_group, [
      {
        name: '',
        kind: 'KIND_CPU',
        count: 2,
        gpus: [],
        secondary_devices: [],
        profile: [],
        passive: false,
        host_policy: '',
      },
    ]);
  });

  test('an empty config prints every default', () => {
    const json = jsonOf(parseModelConfig(''));
    assert.equal(json.max_batch_size, 0);
    assert.equal(json.name, '');
    assert.equal('version_policy' in json, false);
    assert.equal('optimization' in json, false);
  });

  test('64-bit integers Triton converts are numbers; the others stay strings', () => {
    const dp = jsonOf(fixture('dynamic_priority.pbtxt'));
    const input = (dp.input as Array<Record<string, unknown>>)[0];
    assert.deepEqual(input.dims, [3, 224, 224]);
    assert.deepEqual(input.reshape, { shape: [1, 3, 224, 224] });
    assert.deepEqual((dp.output as Array<Record<string, unknown>>)[0].reshape, { shape: [1, 1000] });
    assert.deepEqual(dp.dynamic_batching, {
      preferred_batch_size: [16, 32],
      max_queue_delay_microseconds: 500,
      preserve_ordering: true,
      priority_levels: 3,
      default_priority_level: 2,
      default_queue_policy: {
        timeout_action: 'DELAY',
        default_timeout_microseconds: 100000,
        allow_timeout_override: true,
        max_queue_size: 256,
      },
      priority_queue_policy: {
        '1': {
          timeout_action: 'REJECT',
          default_timeout_microseconds: 5000,
          allow_timeout_override: false,
          max_queue_size: 16,
        },
        '3': {
          timeout_action: 'DELAY',
          default_timeout_microseconds: 0,
          allow_timeout_override: true,
          max_queue_size: 0,
        },
      },
    });

    const seq = jsonOf(fixture('sequence.pbtxt'));
    const sb = seq.sequence_batching as Record<string, unknown>;
    assert.equal(sb.max_sequence_idle_microseconds, 5000000);
    assert.equal((sb.oldest as Record<string, unknown>).max_queue_delay_microseconds, 100);
    assert.equal('direct' in sb, false);
    const state = (sb.state as Array<Record<string, unknown>>)[0];
    assert.deepEqual(state.dims, [-1, 128]);
    // Triton leaves initial_state dims as strings (its fix-up looks in the wrong object).
    assert.deepEqual(state.initial_state, [
      { data_type: 'TYPE_FP32', dims: ['1', '128'], zero_data: true, name: 'zeros' },
    ]);
    const controls = sb.control_input as Array<{ control: Array<Record<string, unknown>> }>;
    assert.deepEqual(controls[0].control[0], {
      kind: 'CONTROL_SEQUENCE_START',
      int32_false_true: [],
      fp32_false_true: [0, 1],
      bool_false_true: [],
      data_type: 'TYPE_INVALID',
    });
    assert.deepEqual(seq.version_policy, { latest: { num_versions: 2 } });

    const direct = jsonOf(
      parseModelConfig('sequence_batching { direct { max_queue_delay_microseconds: 7 } }'),
    );
    assert.deepEqual((direct.sequence_batching as Record<string, unknown>).direct, {
      max_queue_delay_microseconds: 7,
      minimum_slot_utilization: 0,
    });

    const ens = jsonOf(fixture('ensemble.pbtxt'));
    const steps = (ens.ensemble_scheduling as { step: Array<Record<string, unknown>> }).step;
    assert.equal(steps[0].model_version, -1);
    assert.equal(steps[1].model_version, 3);
    assert.deepEqual(steps[0].input_map, { INPUT: 'RAW_IMAGE' });
    assert.deepEqual((ens.output as Array<Record<string, unknown>>)[0].dims, [-1]);

    const warm = jsonOf(fixture('warmup.pbtxt'));
    const warmups = warm.model_warmup as Array<Record<string, unknown>>;
    assert.deepEqual(warmups[0], {
      name: 'zeros',
      batch_size: 4,
      inputs: { INPUT0: { data_type: 'TYPE_FP32', dims: [16], zero_data: true } },
      count: 0,
    });
    assert.deepEqual((warmups[1].inputs as Record<string, unknown>).TEXT, {
      data_type: 'TYPE_STRING',
      dims: [1],
      input_data_file: 'text_input',
    });

    const opt = jsonOf(fixture('optimized.pbtxt'));
    assert.deepEqual(opt.version_policy, { specific: { versions: [1, 3] } });
    const groups = opt.instance_group as Array<Record<string, unknown>>;
    assert.deepEqual(groups[0].secondary_devices, [{ kind: 'KIND_NVDLA', device_id: '1' }]);
    assert.deepEqual(groups[0].gpus, [0, 1]);
    const cuda = (opt.optimization as Record<string, unknown>).cuda as {
      graph_spec: Array<Record<string, unknown>>;
    };
    assert.deepEqual(cuda.graph_spec[0], {
      batch_size: 4,
      input: { INPUT0: { dim: ['16', '16'] } },
      graph_lower_bound: { batch_size: 1, input: { INPUT0: { dim: ['8', '16'] } } },
    });
    assert.deepEqual((opt.optimization as Record<string, unknown>).graph, { level: 1 });
    assert.equal((opt.optimization as Record<string, unknown>).priority, 'PRIORITY_MAX');
    assert.deepEqual(opt.parameters, {
      EXECUTION_ENV_PATH: { string_value: '$$TRITON_MODEL_DIRECTORY/env.tar.gz' },
      max_tokens: { string_value: '128' },
    });
    const mc = (opt.model_metrics as { metric_control: Array<Record<string, unknown>> }).metric_control[0];
    assert.deepEqual(mc.histogram_options, { buckets: [-5, -2.5, 0, 3.5, 500] });
    assert.deepEqual(opt.response_cache, { enable: true });
  });

  test('non-finite floats use the proto3 JSON strings', () => {
    const c = parseModelConfig(
      'model_metrics { metric_control { histogram_options { buckets: [ -inf, 1, inf, nan ] } } }',
    );
    const json = jsonOf(c);
    const mc = (json.model_metrics as { metric_control: Array<{ histogram_options: unknown }> })
      .metric_control[0];
    assert.deepEqual(mc.histogram_options, { buckets: ['-Infinity', 1, 'Infinity', 'NaN'] });
    assert.deepEqual(modelConfigFromJson(json), c);
  });
});

describe('modelConfigFromJson', () => {
  test('accepts numbers or strings for integers, camelCase names, any-case enums, null', () => {
    const c = modelConfigFromJson({
      name: 'm',
      maxBatchSize: '8',
      input: [{ name: 'x', data_type: 'type_fp32', dims: ['-1', 3], format: 2 }],
      dynamic_batching: {
        max_queue_delay_microseconds: '100',
        priorityQueuePolicy: { '2': { max_queue_size: 5 } },
      },
      instance_group: [{ kind: 'KIND_GPU', gpus: [0] }],
      version_policy: null,
      parameters: { p: { string_value: 'v' } },
    });
    assert.equal(c.max_batch_size, 8);
    assert.deepEqual(c.input[0].dims, [-1, 3]);
    assert.equal(c.input[0].data_type, 'TYPE_FP32');
    assert.equal(c.input[0].format, 'FORMAT_NCHW');
    assert.equal(c.input[0].optional, false);
    assert.equal(c.dynamic_batching?.max_queue_delay_microseconds, 100);
    assert.equal(c.dynamic_batching?.priority_queue_policy['2'].max_queue_size, 5);
    assert.equal(c.dynamic_batching?.priority_queue_policy['2'].timeout_action, 'REJECT');
    assert.equal(c.instance_group[0].count, 0);
    assert.equal(c.version_policy, undefined);
    assert.deepEqual(c.parameters, { p: { string_value: 'v' } });
    assert.deepEqual(c.output, []);
  });

  test('a Triton-style JSON document converts to a config and back unchanged', () => {
    const text = JSON.stringify({
      name: 'simple',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      runtime: '',
      version_policy: { latest: { num_versions: 1 } },
      max_batch_size: 8,
      input: [
        {
          name: 'INPUT0',
          data_type: 'TYPE_INT32',
          format: 'FORMAT_NONE',
          dims: [16],
          is_shape_tensor: false,
          allow_ragged_batch: false,
          optional: false,
          is_non_linear_format_io: false,
        },
      ],
      output: [
        {
          name: 'OUTPUT0',
          data_type: 'TYPE_INT32',
          dims: [16],
          label_filename: '',
          is_shape_tensor: false,
          is_non_linear_format_io: false,
        },
      ],
      batch_input: [],
      batch_output: [],
      optimization: {
        priority: 'PRIORITY_DEFAULT',
        input_pinned_memory: { enable: true },
        output_pinned_memory: { enable: true },
        gather_kernel_buffer_threshold: 0,
        eager_batching: false,
      },
      dynamic_batching: {
        preferred_batch_size: [4],
        max_queue_delay_microseconds: 100,
        preserve_ordering: false,
        priority_levels: 0,
        default_priority_level: 0,
        priority_queue_policy: {},
      },
      instance_group: [
        {
          name: 'simple',
          kind: 'KIND_CPU',
          count: 1,
          gpus: [],
          secondary_devices: [],
          profile: [],
          passive: false,
          host_policy: '',
        },
      ],
      default_model_filename: 'model.onnx',
      cc_model_filenames: {},
      metric_tags: {},
      parameters: {},
      model_warmup: [],
    });
    const config = modelConfigFromJson(text);
    assert.equal(JSON.stringify(modelConfigToJson(config)), text);
    assert.deepEqual(modelConfigFromJson(JSON.parse(text)), config);
  });

  test('a string that is not JSON is rejected', () => {
    assert.throws(
      () => modelConfigFromJson('{"name": '),
      (e: unknown) => {
        assert.ok(e instanceof ConfigJsonError);
        assert.match(e.message, /^invalid JSON: /);
        return true;
      },
    );
  });

  const errors: Array<[string, unknown, string]> = [
    ['non-object root', [], 'expected an object for message inference.ModelConfig, got an array'],
    [
      'unknown field',
      { input: [{ nme: 'x' }] },
      'input[0].nme: unknown field in message inference.ModelInput',
    ],
    [
      'wrong type in repeated',
      { input: [{ dims: [1, 'x'] }] },
      'input[0].dims[1]: expected an integer, got string "x"',
    ],
    ['fractional integer', { max_batch_size: 1.5 }, 'max_batch_size: expected an integer, got number 1.5'],
    [
      'integer out of range',
      { max_batch_size: 2 ** 31 },
      'max_batch_size: value 2147483648 is out of range for int32 (-2147483648..2147483647)',
    ],
    [
      'unsafe integer',
      { input: [{ dims: ['9007199254740993'] }] },
      "input[0].dims[0]: value 9007199254740993 is beyond JavaScript's safe integer range (±9007199254740991) and is not supported",
    ],
    [
      'unknown enum',
      { instance_group: [{ kind: 'KIND_TPU' }] },
      'instance_group[0].kind: unknown value "KIND_TPU" for enum inference.ModelInstanceGroup.Kind; valid values: KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL',
    ],
    [
      'bool as string',
      { input: [{ optional: 'true' }] },
      'input[0].optional: expected true or false, got string "true"',
    ],
    ['string as number', { name: 5 }, 'name: expected a string, got number 5'],
    ['repeated not an array', { input: { name: 'x' } }, 'input: expected an array, got an object'],
    [
      'message not an object',
      { dynamic_batching: true },
      'dynamic_batching: expected an object for message inference.ModelDynamicBatching, got boolean true',
    ],
    [
      'two oneof members',
      { dynamic_batching: {}, sequence_batching: {} },
      'sequence_batching: oneof "scheduling_choice" already has "dynamic_batching" set; only one member may be set',
    ],
    [
      'same field twice',
      { max_batch_size: 1, maxBatchSize: 2 },
      'maxBatchSize: field given twice (also as "max_batch_size")',
    ],
    [
      'bad map key',
      { dynamic_batching: { priority_queue_policy: { high: {} } } },
      'dynamic_batching.priority_queue_policy["high"]: map key "high" is not an integer',
    ],
    [
      'map value of wrong type',
      { parameters: { p: 'v' } },
      'parameters["p"]: expected an object for message inference.ModelParameter, got string "v"',
    ],
    ['null in repeated', { input: [null] }, 'input[0]: repeated elements cannot be null'],
  ];
  for (const [title, json, message] of errors) {
    test(`error: ${title}`, () => {
      assert.throws(
        () => modelConfigFromJson(json),
        (e: unknown) => {
          assert.ok(e instanceof ConfigJsonError);
          assert.equal(e.message, message);
          return true;
        },
      );
    });
  }

  test('error objects carry the field path', () => {
    try {
      modelConfigFromJson({ output: [{}, { dims: [true] }] });
      assert.fail('expected an error');
    } catch (e) {
      assert.ok(e instanceof ConfigJsonError);
      assert.equal(e.fieldPath, 'output[1].dims[0]');
      assert.equal(e.reason, 'expected an integer, got boolean true');
    }
  });
});
