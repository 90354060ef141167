// The schema files: model_config.proto, its embedded copy, the generated
// types, and spot checks against Triton's published schema.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { PROTO_SOURCE, renderGeneratedFiles } from '../../scripts/gen-config-types.js';
import { packageRoot } from '../../src/core/package.js';
import { MODEL_CONFIG_PROTO } from '../../src/protocol/model-config/model_config_proto.js';
import {
  modelConfigRoot,
  modelConfigType,
  newModelConfigRoot,
} from '../../src/protocol/model-config/schema.js';

const modelConfigProtoPath = () => path.join(packageRoot(), PROTO_SOURCE);

describe('model_config.proto', () => {
  test('the embedded text is identical to src/protocol/model-config/model_config.proto', () => {
    assert.equal(MODEL_CONFIG_PROTO, readFileSync(modelConfigProtoPath(), 'utf8'));
  });

  test('generated files are up to date (run `node dist/scripts/gen-config-types.js` after editing the proto)', async () => {
    for (const file of await renderGeneratedFiles()) {
      const committed = readFileSync(path.join(packageRoot(), file.path), 'utf8');
      assert.equal(committed, file.content, `${file.path} is stale`);
    }
  });

  test('the file loads with protobufjs loadSync, keeping snake_case names', () => {
    const root = new protobuf.Root().loadSync(modelConfigProtoPath(), { keepCase: true });
    const t = root.lookupType('inference.ModelConfig');
    assert.ok(t.fields.max_batch_size);
    assert.equal(t.fields.max_batch_size.id, 4);
  });

  test('newModelConfigRoot accepts further definitions importing it', () => {
    const root = newModelConfigRoot();
    protobuf.parse(
      'syntax = "proto3"; package other; import "model_config.proto"; message R { inference.ModelConfig config = 1; }',
      root,
      { keepCase: true },
    );
    root.resolveAll();
    assert.equal(
      root.lookupType('other.R').fields.config.resolvedType,
      root.lookupType('inference.ModelConfig'),
    );
    assert.notEqual(root, modelConfigRoot());
  });

  test('field numbers, types and oneofs match Triton (spot checks)', () => {
    const root = modelConfigRoot();
    const field = (msg: string, name: string): protobuf.Field => {
      const f = root.lookupType(`inference.${msg}`).fields[name];
      assert.ok(f, `${msg}.${name} exists`);
      return f;
    };
    const expected: Array<[string, string, number, string]> = [
      ['ModelConfig', 'name', 1, 'string'],
      ['ModelConfig', 'platform', 2, 'string'],
      ['ModelConfig', 'version_policy', 3, 'ModelVersionPolicy'],
      ['ModelConfig', 'max_batch_size', 4, 'int32'],
      ['ModelConfig', 'input', 5, 'ModelInput'],
      ['ModelConfig', 'output', 6, 'ModelOutput'],
      ['ModelConfig', 'instance_group', 7, 'ModelInstanceGroup'],
      ['ModelConfig', 'default_model_filename', 8, 'string'],
      ['ModelConfig', 'cc_model_filenames', 9, 'string'],
      ['ModelConfig', 'metric_tags', 10, 'string'],
      ['ModelConfig', 'dynamic_batching', 11, 'ModelDynamicBatching'],
      ['ModelConfig', 'optimization', 12, 'ModelOptimizationPolicy'],
      ['ModelConfig', 'sequence_batching', 13, 'ModelSequenceBatching'],
      ['ModelConfig', 'parameters', 14, 'ModelParameter'],
      ['ModelConfig', 'ensemble_scheduling', 15, 'ModelEnsembling'],
      ['ModelConfig', 'model_warmup', 16, 'ModelWarmup'],
      ['ModelConfig', 'backend', 17, 'string'],
      ['ModelConfig', 'model_operations', 18, 'ModelOperations'],
      ['ModelConfig', 'model_transaction_policy', 19, 'ModelTransactionPolicy'],
      ['ModelConfig', 'batch_input', 20, 'BatchInput'],
      ['ModelConfig', 'batch_output', 21, 'BatchOutput'],
      ['ModelConfig', 'model_repository_agents', 23, 'ModelRepositoryAgents'],
      ['ModelConfig', 'response_cache', 24, 'ModelResponseCache'],
      ['ModelConfig', 'runtime', 25, 'string'],
      ['ModelConfig', 'model_metrics', 26, 'ModelMetrics'],
      ['ModelInstanceGroup', 'kind', 4, 'Kind'],
      ['ModelInstanceGroup', 'count', 2, 'int32'],
      ['ModelInstanceGroup', 'gpus', 3, 'int32'],
      ['ModelInstanceGroup', 'profile', 5, 'string'],
      ['ModelInstanceGroup', 'rate_limiter', 6, 'ModelRateLimiter'],
      ['ModelInstanceGroup', 'passive', 7, 'bool'],
      ['ModelInstanceGroup', 'secondary_devices', 8, 'SecondaryDevice'],
      ['ModelInstanceGroup', 'host_policy', 9, 'string'],
      ['ModelInput', 'reshape', 5, 'ModelTensorReshape'],
      ['ModelInput', 'is_non_linear_format_io', 9, 'bool'],
      ['ModelOutput', 'label_filename', 4, 'string'],
      ['ModelOutput', 'reshape', 5, 'ModelTensorReshape'],
      ['ModelOutput', 'is_non_linear_format_io', 7, 'bool'],
      ['BatchOutput', 'target_name', 1, 'string'],
      ['BatchOutput', 'kind', 2, 'Kind'],
      ['ModelDynamicBatching', 'max_queue_delay_microseconds', 2, 'uint64'],
      ['ModelDynamicBatching', 'priority_queue_policy', 7, 'ModelQueuePolicy'],
      ['ModelSequenceBatching', 'max_sequence_idle_microseconds', 1, 'uint64'],
      ['ModelSequenceBatching', 'direct', 3, 'StrategyDirect'],
      ['ModelSequenceBatching', 'oldest', 4, 'StrategyOldest'],
      ['ModelSequenceBatching', 'state', 5, 'State'],
      ['ModelSequenceBatching.Control', 'bool_false_true', 5, 'bool'],
      ['ModelSequenceBatching.Control', 'data_type', 4, 'DataType'],
      ['ModelSequenceBatching.InitialState', 'name', 5, 'string'],
      ['ModelSequenceBatching.StrategyDirect', 'minimum_slot_utilization', 2, 'float'],
      ['ModelEnsembling.Step', 'model_version', 2, 'int64'],
      ['ModelEnsembling.Step', 'model_namespace', 5, 'string'],
      ['ModelWarmup', 'inputs', 3, 'Input'],
      ['ModelWarmup', 'count', 4, 'uint32'],
      ['ModelOptimizationPolicy', 'eager_batching', 8, 'bool'],
      ['ModelOptimizationPolicy.Cuda.GraphSpec', 'graph_lower_bound', 3, 'LowerBound'],
      ['ModelMetrics.MetricControl.HistogramOptions', 'buckets', 1, 'double'],
    ];
    for (const [msg, name, id, type] of expected) {
      const f = field(msg, name);
      assert.equal(f.id, id, `${msg}.${name} number`);
      assert.equal(f.type, type, `${msg}.${name} type`);
    }
    assert.equal(
      (field('ModelDynamicBatching', 'priority_queue_policy') as unknown as protobuf.MapField).keyType,
      'uint64',
    );
    assert.equal((field('ModelConfig', 'parameters') as unknown as protobuf.MapField).keyType, 'string');

    const oneofs = (msg: string): Record<string, string[]> =>
      Object.fromEntries(root.lookupType(`inference.${msg}`).oneofsArray.map((o) => [o.name, o.oneof]));
    assert.deepEqual(oneofs('ModelConfig'), {
      scheduling_choice: ['dynamic_batching', 'sequence_batching', 'ensemble_scheduling'],
    });
    assert.deepEqual(oneofs('ModelVersionPolicy'), { policy_choice: ['latest', 'all', 'specific'] });
    assert.deepEqual(oneofs('ModelSequenceBatching'), { strategy_choice: ['direct', 'oldest'] });
    assert.deepEqual(oneofs('ModelSequenceBatching.InitialState'), {
      state_data: ['zero_data', 'data_file'],
    });
    assert.deepEqual(oneofs('ModelWarmup.Input'), {
      input_data_type: ['zero_data', 'random_data', 'input_data_file'],
    });
    assert.deepEqual(oneofs('ModelMetrics.MetricControl'), { metric_options: ['histogram_options'] });

    assert.deepEqual(
      { ...root.lookupEnum('inference.DataType').values },
      {
        TYPE_INVALID: 0,
        TYPE_BOOL: 1,
        TYPE_UINT8: 2,
        TYPE_UINT16: 3,
        TYPE_UINT32: 4,
        TYPE_UINT64: 5,
        TYPE_INT8: 6,
        TYPE_INT16: 7,
        TYPE_INT32: 8,
        TYPE_INT64: 9,
        TYPE_FP16: 10,
        TYPE_FP32: 11,
        TYPE_FP64: 12,
        TYPE_STRING: 13,
        TYPE_BF16: 14,
      },
    );
    assert.deepEqual(
      { ...root.lookupEnum('inference.BatchInput.Kind').values },
      {
        BATCH_ELEMENT_COUNT: 0,
        BATCH_ACCUMULATED_ELEMENT_COUNT: 1,
        BATCH_ACCUMULATED_ELEMENT_COUNT_WITH_ZERO: 2,
        BATCH_MAX_ELEMENT_COUNT_AS_SHAPE: 3,
        BATCH_ITEM_SHAPE: 4,
        BATCH_ITEM_SHAPE_FLATTEN: 5,
      },
    );
  });

  test("the 64-bit fields are exactly the set Triton core's ValidateModelConfigInt64 expects", () => {
    // Same walk as CollectInt64Fields in Triton core's model_config_utils.cc.
    const found = new Set<string>();
    const walk = (type: protobuf.Type, prefix: string): void => {
      for (const f of type.fieldsArray) {
        f.resolve();
        const name = `${prefix}::${f.name}`;
        if (f.map) {
          const key = (f as unknown as protobuf.MapField).keyType;
          if (/64$/.test(key)) found.add(`${name}::key`);
          if (f.resolvedType instanceof protobuf.Type) walk(f.resolvedType, `${name}::value`);
          else if (/64$/.test(f.type) && f.type !== 'double') found.add(`${name}::value`);
        } else if (f.resolvedType instanceof protobuf.Type) {
          walk(f.resolvedType, name);
        } else if (/64$/.test(f.type) && f.type !== 'double') {
          found.add(name);
        }
      }
    };
    walk(modelConfigType(), 'ModelConfig');
    assert.deepEqual(
      [...found].sort(),
      [
        'ModelConfig::input::dims',
        'ModelConfig::input::reshape::shape',
        'ModelConfig::output::dims',
        'ModelConfig::output::reshape::shape',
        'ModelConfig::version_policy::specific::versions',
        'ModelConfig::dynamic_batching::max_queue_delay_microseconds',
        'ModelConfig::dynamic_batching::default_queue_policy::default_timeout_microseconds',
        'ModelConfig::dynamic_batching::priority_queue_policy::value::default_timeout_microseconds',
        'ModelConfig::dynamic_batching::priority_levels',
        'ModelConfig::dynamic_batching::priority_queue_policy::key',
        'ModelConfig::dynamic_batching::default_priority_level',
        'ModelConfig::sequence_batching::direct::max_queue_delay_microseconds',
        'ModelConfig::sequence_batching::state::dims',
        'ModelConfig::sequence_batching::state::initial_state::dims',
        'ModelConfig::sequence_batching::oldest::max_queue_delay_microseconds',
        'ModelConfig::sequence_batching::max_sequence_idle_microseconds',
        'ModelConfig::ensemble_scheduling::step::model_version',
        'ModelConfig::model_warmup::inputs::value::dims',
        'ModelConfig::optimization::cuda::graph_spec::input::value::dim',
        'ModelConfig::optimization::cuda::graph_spec::graph_lower_bound::input::value::dim',
        'ModelConfig::instance_group::secondary_devices::device_id',
      ].sort(),
    );
  });
});
