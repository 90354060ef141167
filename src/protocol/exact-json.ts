/**
 * JSON with exact 64-bit integers. `JSON.parse` reads every number as a double, so INT64/UINT64
 * tensor data and dims beyond 2^53 lose digits; Triton reads them exactly (rapidjson's int64 and
 * uint64). Here an integer literal outside JavaScript's safe range is read as a marked string that
 * keeps its digits ({@link bigIntegerOf} turns it into a bigint); everything else parses as
 * `JSON.parse` parses it.
 *
 * Cost: a regular-expression test of the text, nothing more, unless the text holds an integer
 * literal of 16 or more digits; only then is the text scanned (outside strings) before parsing.
 */

/**
 * What a marked string starts with: a NUL and a token drawn per process, so that no string a client
 * sends can pass for a marked integer.
 */
const TOKEN = Math.random().toString(36).slice(2, 10);
const MARK = `\u0000${TOKEN}:`;
/** {@link MARK} as it is written inside JSON text. */
const MARK_IN_JSON = `\\u0000${TOKEN}:`;

/** An integer literal of 16+ digits that is not the fraction or exponent of another number. */
const LONG_INTEGER = /(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/;

/**
 * Parses JSON like `JSON.parse`, except that integer literals outside ±(2^53 − 1) become marked
 * strings (read them with {@link bigIntegerOf}).
 * @throws SyntaxError as `JSON.parse` does.
 */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(LONG_INTEGER.test(text) ? markUnsafeIntegers(text) : text);
}

/** The exact value of a marked string (an integer literal beyond 2^53), else undefined. */
export function bigIntegerOf(v: unknown): bigint | undefined {
  return typeof v === 'string' && v.startsWith(MARK) ? BigInt(v.slice(MARK.length)) : undefined;
}

/**
 * `v` as a marked string, as {@link parseJsonExact} reads an integer literal beyond 2^53 (for
 * frontends that receive 64-bit integers some other way, e.g. a gRPC int64 parameter).
 */
export function markBigInteger(v: bigint): string {
  return `${MARK}${v}`;
}

/** A JSON value as text for messages, with marked integers printed as their digits. */
export function jsonText(v: unknown): string {
  const big = bigIntegerOf(v);
  return big !== undefined ? big.toString() : JSON.stringify(v);
}

/** Quotes and marks the unsafe integer literals outside strings. */
function markUnsafeIntegers(text: string): string {
  const out: string[] = [];
  let from = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      let integer = true;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d >= 0x30 && d <= 0x39) i++;
        else if (d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) {
          integer = false;
          i++;
        } else break;
      }
      if (integer && i - start >= 16) {
        const literal = text.slice(start, i);
        if (!Number.isSafeInteger(Number(literal))) {
          out.push(text.slice(from, start), `"${MARK_IN_JSON}${literal}"`);
          from = i;
        }
      }
      continue;
    }
    i++;
  }
  if (from === 0) return text;
  out.push(text.slice(from));
  return out.join('');
}
