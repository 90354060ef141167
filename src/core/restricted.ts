/**
 * Restricted APIs (`--http-restricted-api`, `--grpc-restricted-protocol`): groups of endpoints
 * that answer only requests carrying a given header with a given value. Categories, the flag format
 * and the messages are Triton's (server `src/restricted_features.h`, `src/command_line_parser.cc`
 * ParseRestrictedFeatureOption, docs/customization_guide/inference_protocols.md "Limit Endpoint
 * Access"). The frontends enforce them: HTTP answers 403 "This API is restricted, expecting header
 * '<key>'", gRPC UNAVAILABLE "This protocol is restricted, expecting header '<key>'".
 */

/** The restrictable groups of endpoints, in Triton's order. */
export const RESTRICTED_CATEGORIES = [
  'health',
  'metadata',
  'inference',
  'shared-memory',
  'model-config',
  'model-repository',
  'statistics',
  'trace',
  'logging',
] as const;

/** A restrictable group of endpoints. */
export type RestrictedCategory = (typeof RESTRICTED_CATEGORIES)[number];

/** The header and value a restricted category requires (the name as configured; matched in any case). */
export interface Restriction {
  header: string;
  value: string;
}

/** The restrictions of one protocol, by category; a category without an entry is open. */
export type Restrictions = Partial<Record<RestrictedCategory, Restriction>>;

/**
 * Parses one `--http-restricted-api` / `--grpc-restricted-protocol` value,
 * `<category>[,<category>…]:<header>=<value>`, into `into`.
 * @param optionName the flag without dashes, for messages.
 * @param headerPrefix prepended to the header name (gRPC: `triton-grpc-protocol-`).
 * @param featureType `api` (HTTP) or `protocol` (gRPC), as Triton's messages say.
 * @throws Error with Triton's message for a malformed value, an unknown category, or a category
 *   already restricted by an earlier value.
 */
export function parseRestriction(
  arg: string,
  optionName: string,
  headerPrefix: string,
  featureType: 'api' | 'protocol',
  into: Restrictions,
): void {
  const colon = arg.indexOf(':');
  const equals = colon < 0 ? -1 : arg.indexOf('=', colon + 1);
  if (colon < 0 || equals < 0) {
    throw new Error(`--${optionName} option format is '<config name>:<setting>=<value>'. Got ${arg}`);
  }
  const header = headerPrefix + arg.slice(colon + 1, equals);
  const value = arg.slice(equals + 1);
  for (const name of arg.slice(0, colon).split(',')) {
    if (!(RESTRICTED_CATEGORIES as readonly string[]).includes(name)) {
      throw new Error(`unknown restricted ${featureType} '${name}' `);
    }
    const category = name as RestrictedCategory;
    if (into[category]) {
      throw new Error(`restricted ${featureType} '${name}' can not be specified in multiple config groups`);
    }
    into[category] = { header, value };
  }
}

/**
 * Whether a request may use `category`: true when the category is open, or when `header(name)`
 * returns the required value for the required header.
 * @param header looks a request header up by its lowercase name.
 */
export function allowed(
  restrictions: Restrictions | undefined,
  category: RestrictedCategory,
  header: (name: string) => string | undefined,
): boolean {
  const r = restrictions?.[category];
  return r === undefined || header(r.header.toLowerCase()) === r.value;
}

/** The header a restricted category expects, for Triton's refusal message; undefined when open. */
export function requiredHeader(
  restrictions: Restrictions | undefined,
  category: RestrictedCategory,
): string | undefined {
  return restrictions?.[category]?.header;
}
