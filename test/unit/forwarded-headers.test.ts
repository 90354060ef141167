// --http-header-forward-pattern / --grpc-header-forward-pattern: which headers become request
// parameters, and Triton's refusal of reserved names.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { headerForwardRegex, withForwardedHeaders } from '../../src/core/forwarded-headers.js';

describe('forwarded headers', () => {
  test('matching names (case-insensitive, anywhere in the name) are added as strings; the input is not modified', () => {
    const regex = headerForwardRegex('^X-Team|trace', 'http-header-forward-pattern')!;
    const params = { priority: 1 };
    const out = withForwardedHeaders(
      regex,
      [
        ['x-team', 'ranking'],
        ['x-trace-id', '42'],
        ['accept', '*/*'],
      ],
      params,
    );
    assert.deepEqual(out, { priority: 1, 'x-team': 'ranking', 'x-trace-id': '42' });
    assert.deepEqual(params, { priority: 1 });
    assert.equal(
      withForwardedHeaders(regex, [['accept', '*/*']], params),
      params,
      'no match: the same object',
    );
  });

  test("reserved parameter names and triton_ prefixes are refused with Triton's message", () => {
    const regex = headerForwardRegex('.*', 'grpc-header-forward-pattern')!;
    for (const name of ['priority', 'sequence_id', 'timeout', 'triton_enable_empty_final_response']) {
      assert.throws(
        () => withForwardedHeaders(regex, [[name, '1']], {}),
        new RegExp(`Header '${name}' is reserved for Triton usage and cannot be forwarded\\.$`),
      );
    }
  });

  test('no pattern forwards nothing; an invalid one names the flag', () => {
    assert.equal(headerForwardRegex(undefined, 'x'), undefined);
    assert.equal(headerForwardRegex('', 'x'), undefined);
    assert.throws(
      () => headerForwardRegex('(', 'http-header-forward-pattern'),
      /--http-header-forward-pattern/,
    );
  });
});
