/**
 * `config.pbtxt`: Triton's `inference.ModelConfig` in protobuf text format, as the model repository
 * stores it. The schema, its TypeScript types and its JSON form are in `src/protocol/model-config`.
 */
import { modelConfigType } from '../protocol/model-config/schema.js';
import type { ModelConfig } from '../protocol/model-config/types.js';
import { parseTextFormat, printTextFormat } from './textformat.js';

export { ConfigParseError, parseTextFormat, printTextFormat } from './textformat.js';
export type { TextFormatParseOptions, TextFormatPrintOptions } from './textformat.js';

/**
 * Parses a Triton `config.pbtxt` (protobuf text format of
 * `inference.ModelConfig`, Triton's model_config.proto) into a fully
 * defaulted {@link ModelConfig}: every scalar, enum, repeated and map field is
 * present (0, false, "", [], {}, enums as their zero name such as
 * `'TYPE_INVALID'`), 64-bit integers are numbers, and singular message fields
 * (e.g. `dynamic_batching`, `version_policy`) are present only when written.
 * No Triton-side validation or auto-completion is applied.
 *
 * @param text the file contents.
 * @param filename name used in error messages.
 * @returns the parsed configuration.
 * @throws {ConfigParseError} with `file:line:column: field.path: reason` for
 *   any syntax or schema error (see {@link parseTextFormat}).
 */
export function parseModelConfig(text: string, filename = 'config.pbtxt'): ModelConfig {
  return parseTextFormat(modelConfigType(), text, { filename }) as unknown as ModelConfig;
}

/**
 * Prints a {@link ModelConfig} as Triton-style protobuf text format
 * (config.pbtxt): 2-space indentation, default-valued fields omitted.
 * `parseModelConfig(printModelConfig(c))` is deep-equal to a parsed `c`.
 *
 * @param config the configuration (missing fields count as defaults).
 * @returns the text, ending in a newline.
 */
export function printModelConfig(config: ModelConfig): string {
  return printTextFormat(modelConfigType(), config);
}
