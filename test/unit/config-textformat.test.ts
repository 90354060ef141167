// Protobuf text format: every syntax construct (parsed through Triton's
// ModelConfig and through a small ad-hoc schema), and every error with its
// exact location and field path.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import {
  ConfigParseError,
  parseModelConfig,
  parseTextFormat,
  printModelConfig,
  printTextFormat,
} from '../../src/config/index.js';
import type { ModelConfig } from '../../src/protocol/model-config/index.js';
import { fromProto3Json, toProto3Json } from '../../src/protocol/model-config/proto3-json.js';

function parse(text: string): ModelConfig {
  return parseModelConfig(text);
}

function parseError(text: string, filename?: string): ConfigParseError {
  try {
    parseModelConfig(text, filename);
  } catch (e) {
    assert.ok(e instanceof ConfigParseError, `expected ConfigParseError, got ${String(e)}`);
    return e;
  }
  assert.fail(`expected a ConfigParseError for ${JSON.stringify(text)}`);
}

describe('text format: fields and messages', () => {
  test('empty input gives a fully defaulted config', () => {
    const c = parse('');
    assert.equal(c.name, '');
    assert.equal(c.max_batch_size, 0);
    assert.deepEqual(c.input, []);
    assert.deepEqual(c.parameters, {});
    assert.equal(c.dynamic_batching, undefined);
    assert.equal('dynamic_batching' in c, false);
    assert.equal('version_policy' in c, false);
  });

  test('# comments anywhere, but not inside strings', () => {
    const c = parse(
      [
        '# leading comment',
        'name: "a#b" # trailing comment',
        'input { # after brace',
        '  # inside block',
        '  name: "x"#no space',
        '}',
        '# final comment without newline',
      ].join('\n'),
    );
    assert.equal(c.name, 'a#b');
    assert.equal(c.input[0].name, 'x');
  });

  test('message syntax: field {}, field: {}, field < >, nested', () => {
    const c = parse(
      'dynamic_batching { max_queue_delay_microseconds: 1 default_queue_policy: { max_queue_size: 2 } }\n' +
        'optimization < graph < level: -1 > input_pinned_memory: < enable: true > >\n' +
        'version_policy: { all {} }',
    );
    assert.equal(c.dynamic_batching?.max_queue_delay_microseconds, 1);
    assert.equal(c.dynamic_batching?.default_queue_policy?.max_queue_size, 2);
    assert.equal(c.dynamic_batching?.default_queue_policy?.timeout_action, 'REJECT');
    assert.equal(c.optimization?.graph?.level, -1);
    assert.equal(c.optimization?.input_pinned_memory?.enable, true);
    assert.deepEqual(c.version_policy, { all: {} });
  });

  test('separators , and ; are optional', () => {
    const c = parse('name: "a", max_batch_size: 4; backend: "b"\ninput { name: "x"; dims: 1, dims: 2 },');
    assert.equal(c.name, 'a');
    assert.equal(c.max_batch_size, 4);
    assert.equal(c.backend, 'b');
    assert.deepEqual(c.input[0].dims, [1, 2]);
  });

  test('a UTF-8 byte order mark is skipped', () => {
    assert.equal(parse('\uFEFFname: "m"').name, 'm');
    assert.equal(
      parseError('\uFEFFnope: 1').message,
      'config.pbtxt:1:1: nope: unknown field in message inference.ModelConfig',
    );
  });

  test('an empty message field is present', () => {
    const c = parse('sequence_batching {}');
    assert.deepEqual(c.sequence_batching, {
      max_sequence_idle_microseconds: 0,
      control_input: [],
      state: [],
      iterative_sequence: false,
    });
  });
});

describe('text format: repeated fields', () => {
  test('repeated scalars: repeated entries, lists, empty list, mixed', () => {
    const c = parse('input { dims: 1 dims: 2 dims: [3, 4] dims: [] dims: [ -1 ] }');
    assert.deepEqual(c.input[0].dims, [1, 2, 3, 4, -1]);
  });

  test('repeated messages: entries, field [..], field: [..], field: [ {..} ]', () => {
    const c = parse(
      [
        'input { name: "a" }',
        'input [ { name: "b" }, < name: "c" > ]',
        'input: [ { name: "d" } ]',
        'input: [ ]',
        'output: [{name: "o1"},{name: "o2"}]',
      ].join('\n'),
    );
    assert.deepEqual(
      c.input.map((i) => i.name),
      ['a', 'b', 'c', 'd'],
    );
    assert.deepEqual(
      c.output.map((o) => o.name),
      ['o1', 'o2'],
    );
  });

  test('repeated strings, bools and floats in lists', () => {
    const c = parse(
      'batch_input { target_name: [ "a", \'b\' ] source_input: "s" source_input: "t" }\n' +
        'sequence_batching { control_input { control { bool_false_true: [ false, true ] fp32_false_true: [ 0, 1.5 ] } } }',
    );
    assert.deepEqual(c.batch_input[0].target_name, ['a', 'b']);
    assert.deepEqual(c.batch_input[0].source_input, ['s', 't']);
    const control = c.sequence_batching?.control_input[0].control[0];
    assert.deepEqual(control?.bool_false_true, [false, true]);
    assert.deepEqual(control?.fp32_false_true, [0, 1.5]);
  });
});

describe('text format: maps', () => {
  test('map entries as blocks and as a list; missing key/value default; last duplicate wins', () => {
    const c = parse(
      [
        'parameters { key: "a" value { string_value: "1" } }',
        'parameters: { value: { string_value: "2" } key: "b" }',
        'parameters [ { key: "c" }, { key: "a" value { string_value: "3" } } ]',
        'parameters { value { string_value: "no key" } }',
        'metric_tags { key: "k" }',
        'metric_tags < key: "j" value: "v" >',
      ].join('\n'),
    );
    assert.deepEqual(c.parameters, {
      a: { string_value: '3' },
      b: { string_value: '2' },
      c: { string_value: '' },
      '': { string_value: 'no key' },
    });
    assert.deepEqual(c.metric_tags, { k: '', j: 'v' });
  });

  test('uint64 map keys become decimal strings', () => {
    const c = parse(
      'dynamic_batching { priority_queue_policy { key: 0x10 value { max_queue_size: 1 } } priority_queue_policy { key: 2 } }',
    );
    const pqp = c.dynamic_batching?.priority_queue_policy ?? {};
    assert.deepEqual(Object.keys(pqp).sort(), ['16', '2']);
    assert.equal(pqp['16'].max_queue_size, 1);
    assert.deepEqual(pqp['2'], {
      timeout_action: 'REJECT',
      default_timeout_microseconds: 0,
      allow_timeout_override: false,
      max_queue_size: 0,
    });
  });

  test('a __proto__ key is stored as an ordinary key', () => {
    const c = parse('metric_tags { key: "__proto__" value: "x" }');
    assert.equal(Object.getPrototypeOf(c.metric_tags), Object.prototype);
    assert.deepEqual(Object.keys(c.metric_tags), ['__proto__']);
    assert.equal(Object.getOwnPropertyDescriptor(c.metric_tags, '__proto__')?.value, 'x');
  });
});

describe('text format: scalar values', () => {
  test('enums by name and by number', () => {
    const c = parse(
      'input { data_type: TYPE_FP32 format: 2 } instance_group { kind: 1 } instance_group { kind: KIND_CPU }',
    );
    assert.equal(c.input[0].data_type, 'TYPE_FP32');
    assert.equal(c.input[0].format, 'FORMAT_NCHW');
    assert.equal(c.instance_group[0].kind, 'KIND_GPU');
    assert.equal(c.instance_group[1].kind, 'KIND_CPU');
    assert.equal(parse('input {}').input[0].data_type, 'TYPE_INVALID');
  });

  test('strings: quotes, C escapes, unicode, concatenation', () => {
    const c = parse(
      [
        `name: 'single "quoted"'`,
        `platform: "tab\\t nl\\n cr\\r bs\\\\ dq\\" sq\\' q\\? bell\\a bsp\\b ff\\f vt\\v"`,
        `backend: "hex\\x41\\x4a oct\\101\\60\\0 u\\u00e9 U\\U0001F600 pair\\ud83d\\ude00 raw é"`,
        `runtime: "con" 'cat' "enated"`,
        `default_model_filename: "\\303\\251"`,
      ].join('\n'),
    );
    assert.equal(c.name, 'single "quoted"');
    assert.equal(c.platform, 'tab\t nl\n cr\r bs\\ dq" sq\' q? bell\x07 bsp\b ff\f vt\v');
    assert.equal(c.backend, 'hexAJ octA0\0 u\u00e9 U\u{1F600} pair\u{1F600} raw é');
    assert.equal(c.runtime, 'concatenated');
    assert.equal(c.default_model_filename, 'é');
  });

  test('integers: decimal, hex, octal, negative, int64/uint64 up to the safe limit', () => {
    const c = parse(
      [
        'max_batch_size: 0x1F',
        'input { dims: [ 010, -0x10, -7, 0, 9007199254740991, -9007199254740991 ] }',
        'dynamic_batching { max_queue_delay_microseconds: 9007199254740991 priority_levels: 0X2 }',
        'instance_group { count: -1 gpus: [ 2147483647, -2147483648 ] }',
        'optimization { gather_kernel_buffer_threshold: 4294967295 }',
      ].join('\n'),
    );
    assert.equal(c.max_batch_size, 31);
    assert.deepEqual(c.input[0].dims, [8, -16, -7, 0, 9007199254740991, -9007199254740991]);
    assert.equal(c.dynamic_batching?.max_queue_delay_microseconds, Number.MAX_SAFE_INTEGER);
    assert.equal(c.dynamic_batching?.priority_levels, 2);
    assert.equal(c.instance_group[0].count, -1);
    assert.deepEqual(c.instance_group[0].gpus, [2147483647, -2147483648]);
    assert.equal(c.optimization?.gather_kernel_buffer_threshold, 4294967295);
  });

  test('floats: decimals, exponents, f suffix, integers, inf/nan', () => {
    const c = parse(
      'model_metrics { metric_control { histogram_options { buckets: [ 1e-3, 1.5f, -2.5F, .5, 3, 1E3, 2e+2, -0x10, inf, -inf, Infinity, -INF, nan, 7. ] } } }\n' +
        'sequence_batching { direct { minimum_slot_utilization: 0.25 } }',
    );
    const buckets = c.model_metrics?.metric_control[0].histogram_options?.buckets;
    assert.deepEqual(buckets, [
      0.001,
      1.5,
      -2.5,
      0.5,
      3,
      1000,
      200,
      -16,
      Infinity,
      -Infinity,
      Infinity,
      -Infinity,
      NaN,
      7,
    ]);
    assert.equal(c.sequence_batching?.direct?.minimum_slot_utilization, 0.25);
  });

  test('booleans: true/false/True/False/t/f/1/0', () => {
    const c = parse(
      'input { is_shape_tensor: true allow_ragged_batch: True optional: t is_non_linear_format_io: 1 }\n' +
        'input { is_shape_tensor: false allow_ragged_batch: False optional: f is_non_linear_format_io: 0 }',
    );
    const [a, b] = c.input;
    assert.deepEqual(
      [a.is_shape_tensor, a.allow_ragged_batch, a.optional, a.is_non_linear_format_io],
      [true, true, true, true],
    );
    assert.deepEqual(
      [b.is_shape_tensor, b.allow_ragged_batch, b.optional, b.is_non_linear_format_io],
      [false, false, false, false],
    );
  });

  test('oneof members are present only when set, even with a default value', () => {
    const c = parse('model_warmup { inputs { key: "x" value { zero_data: false } } }');
    const input = c.model_warmup[0].inputs.x;
    assert.equal(input.zero_data, false);
    assert.equal('random_data' in input, false);
    assert.equal('input_data_file' in input, false);
    assert.match(printModelConfig(c), /zero_data: false/);
  });
});

describe('text format: errors', () => {
  const cases: Array<[string, string, string]> = [
    [
      'non-integer for an integer field',
      'name: "m"\ndynamic_batching {\n  max_queue_delay_microseconds: abc\n}',
      'config.pbtxt:3:33: dynamic_batching.max_queue_delay_microseconds: expected an integer, got "abc"',
    ],
    [
      'float for an integer field',
      'max_batch_size: 1.5',
      'config.pbtxt:1:17: max_batch_size: expected an integer, got "1.5"',
    ],
    [
      'string for an integer field',
      'max_batch_size: "8"',
      'config.pbtxt:1:17: max_batch_size: expected an integer, got "8"',
    ],
    ['integer for a string field', 'name: 12', 'config.pbtxt:1:7: name: expected a string, got "12"'],
    [
      'bad boolean',
      'input {\n  optional: yes\n}',
      'config.pbtxt:2:13: input[0].optional: expected a boolean (true or false), got "yes"',
    ],
    [
      'boolean 2',
      'response_cache { enable: 2 }',
      'config.pbtxt:1:26: response_cache.enable: expected a boolean (true or false), got "2"',
    ],
    [
      'bad float',
      'sequence_batching { direct { minimum_slot_utilization: x } }',
      'config.pbtxt:1:56: sequence_batching.direct.minimum_slot_utilization: expected a number, got "x"',
    ],
    [
      'unknown top-level field',
      'name: "m"\n  max_batch: 4',
      'config.pbtxt:2:3: max_batch: unknown field in message inference.ModelConfig (did you mean "max_batch_size"?)',
    ],
    [
      'unknown nested field',
      'input [\n  { name: "a" },\n  { name: "b", shape: [1] }\n]',
      'config.pbtxt:3:16: input[1].shape: unknown field in message inference.ModelInput (did you mean "reshape"?)',
    ],
    [
      'unknown field in a map value',
      'parameters { key: "k" value { value: "v" } }',
      'config.pbtxt:1:31: parameters[0].value.value: unknown field in message inference.ModelParameter (did you mean "string_value"?)',
    ],
    [
      'unknown enum value',
      'input { data_type: TYPE_FLOAT32 }',
      'config.pbtxt:1:20: input[0].data_type: unknown value "TYPE_FLOAT32" for enum inference.DataType; valid values: ' +
        'TYPE_INVALID, TYPE_BOOL, TYPE_UINT8, TYPE_UINT16, TYPE_UINT32, TYPE_UINT64, TYPE_INT8, TYPE_INT16, ' +
        'TYPE_INT32, TYPE_INT64, TYPE_FP16, TYPE_FP32, TYPE_FP64, TYPE_STRING, TYPE_BF16',
    ],
    [
      'unknown enum number',
      'instance_group { kind: 7 }',
      'config.pbtxt:1:24: instance_group[0].kind: unknown number 7 for enum inference.ModelInstanceGroup.Kind; ' +
        'valid values: KIND_AUTO, KIND_GPU, KIND_CPU, KIND_MODEL',
    ],
    [
      'unterminated string',
      'name: "m"\nplatform: "onnx\n',
      'config.pbtxt:2:11: platform: unterminated string: missing closing " on this line',
    ],
    [
      'unterminated single-quoted string at end of input',
      "backend: 'py",
      "config.pbtxt:1:10: backend: unterminated string: missing closing ' on this line",
    ],
    [
      'unterminated block',
      'dynamic_batching {\n  max_queue_delay_microseconds: 5\n',
      "config.pbtxt:1:18: dynamic_batching: unterminated message: missing '}' to match this '{'",
    ],
    [
      'unterminated nested angle block',
      'optimization { graph < level: 1 }',
      "config.pbtxt:1:33: optimization.graph: expected a field name or '>', got '}'",
    ],
    [
      'unterminated list',
      'input { dims: [ 1, 2',
      "config.pbtxt:1:15: input[0].dims: unterminated list: missing ']' to match this '['",
    ],
    [
      'missing comma in list',
      'input { dims: [ 1 2 ] }',
      "config.pbtxt:1:19: input[0].dims: expected ',' or ']' in list, got \"2\"",
    ],
    [
      'trailing comma in list',
      'input { dims: [ 1, ] }',
      "config.pbtxt:1:20: input[0].dims[1]: expected an integer, got ']'",
    ],
    [
      'duplicate singular scalar',
      'name: "a"\nmax_batch_size: 1\nname: "b"',
      'config.pbtxt:3:1: name: field specified more than once (first at 1:1)',
    ],
    [
      'duplicate singular message',
      'optimization { graph { level: 1 } graph { level: 2 } }',
      'config.pbtxt:1:35: optimization.graph: field specified more than once (first at 1:16)',
    ],
    [
      'duplicate map key field',
      'metric_tags { key: "a" key: "b" }',
      'config.pbtxt:1:24: metric_tags[0].key: field specified more than once (first at 1:15)',
    ],
    [
      'two members of the scheduling oneof',
      'dynamic_batching { }\nensemble_scheduling { }',
      'config.pbtxt:2:1: ensemble_scheduling: oneof "scheduling_choice" already has "dynamic_batching" set (at 1:1); only one member may be set',
    ],
    [
      'two members of a nested oneof',
      'model_warmup { inputs { key: "x" value { zero_data: true random_data: true } } }',
      'config.pbtxt:1:58: model_warmup[0].inputs[0].value.random_data: oneof "input_data_type" already has "zero_data" set (at 1:42); only one member may be set',
    ],
    [
      'int32 overflow',
      'max_batch_size: 2147483648',
      'config.pbtxt:1:17: max_batch_size: value 2147483648 is out of range for int32 (-2147483648..2147483647)',
    ],
    [
      'negative uint32',
      'optimization { gather_kernel_buffer_threshold: -1 }',
      'config.pbtxt:1:48: optimization.gather_kernel_buffer_threshold: value -1 is out of range for uint32 (0..4294967295)',
    ],
    [
      'negative uint64',
      'dynamic_batching { max_queue_delay_microseconds: -5 }',
      'config.pbtxt:1:50: dynamic_batching.max_queue_delay_microseconds: value -5 is out of range for uint64 (0..18446744073709551615)',
    ],
    [
      'int64 beyond the safe-integer range',
      'input { dims: [ 9007199254740992 ] }',
      "config.pbtxt:1:17: input[0].dims[0]: value 9007199254740992 is beyond JavaScript's safe integer range (±9007199254740991) and is not supported",
    ],
    [
      'int64 beyond int64',
      'ensemble_scheduling { step { model_version: 0x8000000000000000 } }',
      'config.pbtxt:1:45: ensemble_scheduling.step[0].model_version: value 9223372036854775808 is out of range for int64 (-9223372036854775808..9223372036854775807)',
    ],
    [
      'missing colon for a scalar',
      'name "m"',
      `config.pbtxt:1:6: name: expected ':' after the field name, got "m"`,
    ],
    [
      'list syntax for a singular field',
      'name: [ "a" ]',
      'config.pbtxt:1:7: name: list syntax [...] is only allowed for repeated fields',
    ],
    [
      'message field without a block',
      'dynamic_batching: 5',
      'config.pbtxt:1:19: dynamic_batching: expected \'{\' to open message inference.ModelDynamicBatching, got "5"',
    ],
    ['value where a field name is expected', '"name"', 'config.pbtxt:1:1: expected a field name, got "name"'],
    ['stray closing brace', 'name: "a"\n}', "config.pbtxt:2:1: expected a field name, got '}'"],
    [
      'C++ style comment',
      '// hello',
      'config.pbtxt:1:1: unexpected character "/" (comments start with \'#\')',
    ],
    [
      'extension syntax',
      '[ext.field]: 1',
      'config.pbtxt:1:1: extension and Any syntax ([...]) is not supported',
    ],
    ['invalid escape', 'name: "a\\qb"', 'config.pbtxt:1:9: name: invalid escape sequence \\q'],
    [
      'invalid UTF-8 in a string field',
      'name: "\\xff"',
      'config.pbtxt:1:7: name: string field contains invalid UTF-8 (use a bytes field for binary data)',
    ],
    [
      'identifier glued to a number',
      'max_batch_size: 12abc',
      'config.pbtxt:1:17: max_batch_size: invalid number "12abc"',
    ],
    ['bad octal', 'max_batch_size: 09', 'config.pbtxt:1:17: max_batch_size: invalid octal number "09"'],
    ['bad hex', 'max_batch_size: 0x', 'config.pbtxt:1:17: max_batch_size: invalid hexadecimal number "0x"'],
    ['tab counts as one column', '\tname:\t12', 'config.pbtxt:1:8: name: expected a string, got "12"'],
  ];
  for (const [title, text, message] of cases) {
    test(title, () => {
      assert.equal(parseError(text).message, message);
    });
  }

  test('error fields and custom file name', () => {
    const err = parseError('a\n\n   input { dims: [ x ] }', 'models/m/config.pbtxt');
    assert.equal(err.file, 'models/m/config.pbtxt');
    assert.equal(err.line, 1);
    assert.equal(err.column, 1);
    assert.equal(err.fieldPath, 'a');
    assert.equal(err.reason, 'unknown field in message inference.ModelConfig');
    assert.equal(err.name, 'ConfigParseError');
    assert.ok(err instanceof Error);
    const err2 = parseError('\n\n   input { dims: [ x ] }', 'models/m/config.pbtxt');
    assert.equal(err2.message, 'models/m/config.pbtxt:3:20: input[0].dims[0]: expected an integer, got "x"');
  });
});

// A schema exercising types ModelConfig does not use.
const TEST_PROTO = `
syntax = "proto3";
package test;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Inner { int32 a = 1; repeated Color colors = 2; }
message All {
  double d = 1;
  float f = 2;
  sint64 s64 = 3;
  fixed32 f32 = 4;
  sfixed64 sf64 = 5;
  bytes data = 6;
  optional int32 maybe = 7;
  map<bool, string> by_bool = 8;
  map<int32, Color> by_int = 9;
  map<string, Inner> inner_map = 10;
  repeated bytes blobs = 11;
  Inner inner = 12;
  oneof choice { string text = 13; Inner sub = 14; }
}
`;

describe('text format: generic schemas', () => {
  const root = protobuf.parse(TEST_PROTO, { keepCase: true }).root;
  const All = root.lookupType('test.All');

  test('other scalar types, proto3 optional, non-string map keys, bytes', () => {
    const msg = parseTextFormat(
      All,
      [
        'd: -1.25e-300 f: 3.5 s64: -9007199254740991 f32: 4294967295 sf64: -3',
        'data: "\\000\\377ab" maybe: 0',
        'by_bool { key: true value: "yes" } by_bool { key: f value: "no" }',
        'by_int { key: -1 value: BLUE } by_int [ { key: 5, value: 1 } ]',
        'inner_map { key: "x" }',
        'blobs: [ "\\x01", "" ] inner { colors: [ RED, 2 ] } sub { a: 1 }',
      ].join('\n'),
    );
    assert.deepEqual(msg, {
      d: -1.25e-300,
      f: 3.5,
      s64: -9007199254740991,
      f32: 4294967295,
      sf64: -3,
      data: Buffer.from([0, 255, 97, 98]),
      maybe: 0,
      by_bool: { true: 'yes', false: 'no' },
      by_int: { '-1': 'BLUE', '5': 'GREEN' },
      inner_map: { x: { a: 0, colors: [] } },
      blobs: [Buffer.from([1]), Buffer.alloc(0)],
      inner: { a: 0, colors: ['RED', 'BLUE'] },
      sub: { a: 1, colors: [] },
    });
    const printed = printTextFormat(All, msg);
    assert.deepEqual(parseTextFormat(All, printed), msg);
    assert.match(printed, /^maybe: 0$/m);
    assert.match(printed, /^data: "\\000\\377ab"$/m);
    assert.match(printed, /^by_bool \{\n {2}key: true\n {2}value: "yes"\n\}$/m);

    const json = toProto3Json(All, msg);
    assert.equal(json.s64, '-9007199254740991');
    assert.equal(json.f32, 4294967295);
    assert.equal(json.data, Buffer.from([0, 255, 97, 98]).toString('base64'));
    assert.deepEqual(json.by_bool, { true: 'yes', false: 'no' });
    assert.deepEqual(json.by_int, { '-1': 'BLUE', '5': 'GREEN' });
    assert.equal(json.maybe, 0);
    assert.equal('text' in json, false);
    assert.deepEqual(fromProto3Json(All, JSON.parse(JSON.stringify(json))), msg);
  });

  test('printer omits defaults and escapes strings', () => {
    assert.equal(printTextFormat(All, {}), '');
    const text = printTextFormat(All, { d: 0, text: 'a"b\\c\nd\u0001é' });
    assert.equal(text, 'text: "a\\"b\\\\c\\nd\\001é"\n');
    assert.deepEqual(parseTextFormat(All, text).text, 'a"b\\c\nd\u0001é');
    assert.equal(printTextFormat(All, { d: NaN, f: -Infinity }), 'd: nan\nf: -inf\n');
  });

  test('the default file name is input.pbtxt', () => {
    assert.throws(() => parseTextFormat(All, 'nope: 1'), {
      message: 'input.pbtxt:1:1: nope: unknown field in message test.All',
    });
  });
});
