/**
 * `--http-header-forward-pattern` / `--grpc-header-forward-pattern`: request headers whose name
 * matches a regular expression (case-insensitive, anywhere in the name) become string parameters of
 * the inference request, so a model sees them (Triton server `src/http_server.cc` ForwardHeaders,
 * `src/grpc/infer_handler.h` ForwardHeadersAsParameters; docs/protocol/extension_parameters.md).
 */
import { invalidArg } from '../protocol/errors.js';

/** Parameter keys a forwarded header may not take (Triton's `kReservedParameterKeys`). */
const RESERVED = new Set([
  'sequence_id',
  'sequence_start',
  'sequence_end',
  'priority',
  'timeout',
  'headers',
  'binary_data_output',
]);

/**
 * Compiles a forward pattern (undefined or '' forwards nothing).
 * @throws Error naming the flag when the pattern is not a valid regular expression.
 */
export function headerForwardRegex(pattern: string | undefined, flag: string): RegExp | undefined {
  if (!pattern) return undefined;
  try {
    return new RegExp(pattern, 'i');
  } catch (e) {
    throw new Error(`invalid regular expression for --${flag}: ${(e as Error).message}`);
  }
}

/**
 * The request parameters for the headers whose name matches `regex`: `parameters` itself when none
 * matches, else a copy with the headers added as strings (requests may share their parameter
 * objects, so they are never modified).
 * @param headers name/value pairs as the frontend received them (names lowercase).
 * @throws TritonError INVALID_ARG (Triton's message) for a matching header named like a reserved
 *   parameter or starting with `triton_`.
 */
export function withForwardedHeaders<P extends Record<string, string | number | boolean>>(
  regex: RegExp,
  headers: Iterable<[string, string]>,
  parameters: P,
): P {
  let out: P | undefined;
  for (const [name, value] of headers) {
    if (!regex.test(name)) continue;
    if (RESERVED.has(name) || name.startsWith('triton_')) {
      throw invalidArg(`Header '${name}' is reserved for Triton usage and cannot be forwarded.`);
    }
    out ??= { ...parameters };
    (out as Record<string, string>)[name] = value;
  }
  return out ?? parameters;
}
