// JSON with exact 64-bit integers (src/protocol/exact-json.ts) and the tensor codec reading them.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bigIntegerOf, parseJsonExact } from '../../src/protocol/exact-json.js';
import { jsonDataToBytes } from '../../src/protocol/json-tensor.js';

describe('parseJsonExact', () => {
  test('integers beyond 2^53 keep their digits; everything else is JSON.parse', () => {
    const v = parseJsonExact(
      '{"a":[9223372036854775807,-9223372036854775808,9007199254740991,1.2345678901234567,' +
        '12345678901234567e3,"12345678901234567890"],"b":{"c":18446744073709551615}}',
    ) as { a: unknown[]; b: { c: unknown } };
    assert.equal(bigIntegerOf(v.a[0]), 9223372036854775807n);
    assert.equal(bigIntegerOf(v.a[1]), -9223372036854775808n);
    assert.equal(v.a[2], 9007199254740991, 'a safe integer stays a number');
    assert.equal(v.a[3], 1.2345678901234567, 'fractions are untouched');
    assert.equal(v.a[4], 12345678901234567e3, 'exponents are untouched');
    assert.equal(v.a[5], '12345678901234567890', 'digits inside strings are untouched');
    assert.equal(bigIntegerOf(v.b.c), 18446744073709551615n);
    assert.deepEqual(parseJsonExact('{"s":"a\\\\\\"1234567890123456789"}'), { s: 'a\\"1234567890123456789' });
  });

  test('a client string cannot pass for a marked integer', () => {
    const v = parseJsonExact('["\\u0000int:5", "\\u00001234:5"]') as unknown[];
    assert.equal(bigIntegerOf(v[0]), undefined);
    assert.equal(bigIntegerOf(v[1]), undefined);
  });

  test('the tensor codec takes the whole INT64/UINT64 range and refuses beyond it', () => {
    const data = parseJsonExact('[-9223372036854775808, 9223372036854775807, 5]');
    const bytes = jsonDataToBytes('INT64', [3], data, 'input', 'x');
    assert.deepEqual(Array.from(new BigInt64Array(bytes.buffer)), [-(2n ** 63n), 2n ** 63n - 1n, 5n]);
    const u = jsonDataToBytes('UINT64', [1], parseJsonExact('[18446744073709551615]'), 'input', 'x');
    assert.deepEqual(Array.from(new BigUint64Array(u.buffer)), [2n ** 64n - 1n]);
    assert.throws(
      () => jsonDataToBytes('INT64', [1], parseJsonExact('[9223372036854775808]'), "input 'x'", 'x'),
      /element 0 of 'data' is 9223372036854775808, expected an integer in \[-9223372036854775808, 9223372036854775807\]/,
    );
    assert.throws(
      () => jsonDataToBytes('BYTES', [1], parseJsonExact('[12345678901234567890]'), "input 'x'", 'x'),
      /element 0 of 'data' is 12345678901234567890; BYTES elements must be JSON strings/,
    );
  });
});
