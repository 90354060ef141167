// A schema-driven parser and printer for the protobuf text format (the format
// of Triton's config.pbtxt), working for any protobufjs message type. Only the
// schema comes from protobufjs; lexing, parsing and printing are done here.
//
// Parsed messages use the shape described in reflect.ts: proto field names,
// defaults filled for scalars/enums/repeated/maps, enums as names, integers as
// numbers, optional fields absent unless set.

import type protobuf from 'protobufjs';
import {
  type FieldInfo,
  type MessageInfo,
  type ScalarType,
  type ValueKind,
  ValueError,
  defaultMessage,
  integerToNumber,
  isIntegerType,
  mapKeyString,
  messageInfo,
  setOwn,
  valueDefault,
} from '../protocol/model-config/reflect.js';

/**
 * A syntax or schema error in protobuf text format input. The message reads
 * `file:line:column: field.path: reason` (line and column are 1-based; the
 * path is omitted for errors outside any field).
 */
export class ConfigParseError extends Error {
  /** File name given to the parser (e.g. `config.pbtxt`). */
  readonly file: string;
  /** 1-based line of the offending token. */
  readonly line: number;
  /** 1-based column of the offending token. */
  readonly column: number;
  /** Dotted field path, e.g. `input[1].dims` (empty at the top level). */
  readonly fieldPath: string;
  /** The reason alone, without location or path. */
  readonly reason: string;

  /**
   * @param file file name used in the message
   * @param line 1-based line
   * @param column 1-based column
   * @param fieldPath dotted field path ('' for none)
   * @param reason what is wrong
   */
  constructor(file: string, line: number, column: number, fieldPath: string, reason: string) {
    super(`${file}:${line}:${column}: ${fieldPath ? `${fieldPath}: ` : ''}${reason}`);
    this.name = 'ConfigParseError';
    this.file = file;
    this.line = line;
    this.column = column;
    this.fieldPath = fieldPath;
    this.reason = reason;
  }
}

/** Options of {@link parseTextFormat}. */
export interface TextFormatParseOptions {
  /** File name used in error messages; default `input.pbtxt`. */
  filename?: string;
}

/** Options of {@link printTextFormat}. */
export interface TextFormatPrintOptions {
  /** Spaces per nesting level; default 2. */
  indent?: number;
}

type TokenKind = 'ident' | 'int' | 'float' | 'string' | 'symbol' | 'eof';

interface Token {
  kind: TokenKind;
  /** Raw source text (for strings: including the quotes). */
  text: string;
  /** Decoded bytes of a string literal. */
  bytes?: Buffer;
  line: number;
  col: number;
}

const SYMBOLS = new Set(['{', '}', '<', '>', '[', ']', ':', ',', ';', '-']);
const SIMPLE_ESCAPES: Record<string, number> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  '\\': 0x5c,
  "'": 0x27,
  '"': 0x22,
  '?': 0x3f,
};
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}
function isHexDigit(c: string): boolean {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}
function isIdentPart(c: string): boolean {
  return isIdentStart(c) || isDigit(c);
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of input';
    case 'symbol':
      return `'${t.text}'`;
    case 'string':
      return t.text.length > 40 ? `${t.text.slice(0, 37)}...` : t.text;
    default:
      return JSON.stringify(t.text.length > 40 ? `${t.text.slice(0, 37)}...` : t.text);
  }
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_v, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}

/** Closest known name for a "did you mean" hint, or undefined. */
function suggest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestScore = Infinity;
  for (const c of candidates) {
    const d = editDistance(name, c);
    const contained = Math.min(name.length, c.length) >= 3 && (c.includes(name) || name.includes(c));
    const score = contained ? Math.min(d, 1) : d;
    if (score < bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best !== undefined && bestScore <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

function enumValueList(enumType: protobuf.Enum): string {
  const names = Object.keys(enumType.values);
  const shown = names.slice(0, 20).join(', ');
  return names.length > 20 ? `${shown}, ... (${names.length} values)` : shown;
}

class TextParser {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private peeked: Token | null = null;
  private readonly path: string[] = [];

  constructor(
    private readonly src: string,
    private readonly file: string,
  ) {
    // Skip a UTF-8 byte order mark; columns still count from the first character after it.
    if (src.startsWith('\uFEFF')) this.pos = this.lineStart = 1;
  }

  // ---- errors -------------------------------------------------------------

  private pathString(): string {
    let out = '';
    for (const seg of this.path) out += seg.startsWith('[') || out === '' ? seg : `.${seg}`;
    return out;
  }

  private errorAt(line: number, col: number, reason: string): ConfigParseError {
    return new ConfigParseError(this.file, line, col, this.pathString(), reason);
  }

  private error(t: Token, reason: string): ConfigParseError {
    return this.errorAt(t.line, t.col, reason);
  }

  // ---- lexer --------------------------------------------------------------

  private skipSpace(): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === '\n') {
        this.pos++;
        this.line++;
        this.lineStart = this.pos;
      } else if (c === ' ' || c === '\t' || c === '\r' || c === '\v' || c === '\f') {
        this.pos++;
      } else if (c === '#') {
        while (this.pos < s.length && s[this.pos] !== '\n') this.pos++;
      } else {
        break;
      }
    }
  }

  private lex(): Token {
    this.skipSpace();
    const s = this.src;
    const start = this.pos;
    const line = this.line;
    const col = start - this.lineStart + 1;
    if (start >= s.length) return { kind: 'eof', text: '', line, col };
    const c = s[start];
    if (isIdentStart(c)) {
      let p = start + 1;
      while (p < s.length && isIdentPart(s[p])) p++;
      this.pos = p;
      return { kind: 'ident', text: s.slice(start, p), line, col };
    }
    if (isDigit(c) || (c === '.' && isDigit(s[start + 1] ?? ''))) return this.lexNumber(line, col);
    if (c === '"' || c === "'") return this.lexString(line, col);
    if (SYMBOLS.has(c)) {
      this.pos++;
      return { kind: 'symbol', text: c, line, col };
    }
    const hint = c === '/' ? " (comments start with '#')" : '';
    throw this.errorAt(line, col, `unexpected character ${JSON.stringify(c)}${hint}`);
  }

  private lexNumber(line: number, col: number): Token {
    const s = this.src;
    const start = this.pos;
    let p = start;
    let kind: TokenKind = 'int';
    if (s[p] === '0' && (s[p + 1] === 'x' || s[p + 1] === 'X')) {
      p += 2;
      const digits = p;
      while (p < s.length && isHexDigit(s[p])) p++;
      if (p === digits)
        throw this.errorAt(line, col, `invalid hexadecimal number ${JSON.stringify(s.slice(start, p))}`);
    } else {
      while (p < s.length && isDigit(s[p])) p++;
      if (s[p] === '.') {
        kind = 'float';
        p++;
        while (p < s.length && isDigit(s[p])) p++;
      }
      if (s[p] === 'e' || s[p] === 'E') {
        kind = 'float';
        p++;
        if (s[p] === '+' || s[p] === '-') p++;
        const digits = p;
        while (p < s.length && isDigit(s[p])) p++;
        if (p === digits)
          throw this.errorAt(line, col, `invalid number ${JSON.stringify(s.slice(start, p))}`);
      }
      if (s[p] === 'f' || s[p] === 'F') {
        kind = 'float';
        p++;
      }
      if (kind === 'int' && s[start] === '0' && p - start > 1 && !/^0[0-7]+$/.test(s.slice(start, p))) {
        throw this.errorAt(line, col, `invalid octal number ${JSON.stringify(s.slice(start, p))}`);
      }
    }
    if (p < s.length && (isIdentPart(s[p]) || s[p] === '.')) {
      let q = p;
      while (q < s.length && (isIdentPart(s[q]) || s[q] === '.')) q++;
      throw this.errorAt(line, col, `invalid number ${JSON.stringify(s.slice(start, q))}`);
    }
    this.pos = p;
    return { kind, text: s.slice(start, p), line, col };
  }

  private lexString(line: number, col: number): Token {
    const s = this.src;
    const start = this.pos;
    const quote = s[start];
    const bytes: number[] = [];
    let p = start + 1;
    let run = p;
    const flush = (end: number): void => {
      if (end > run) for (const b of Buffer.from(s.slice(run, end), 'utf8')) bytes.push(b);
    };
    for (;;) {
      if (p >= s.length || s[p] === '\n') {
        throw this.errorAt(line, col, `unterminated string: missing closing ${quote} on this line`);
      }
      const c = s[p];
      if (c === quote) {
        flush(p);
        p++;
        break;
      }
      if (c !== '\\') {
        p++;
        continue;
      }
      flush(p);
      const escCol = p - this.lineStart + 1;
      const e = s[p + 1] ?? '';
      p += 2;
      if (e in SIMPLE_ESCAPES) {
        bytes.push(SIMPLE_ESCAPES[e]);
      } else if (e === 'x' || e === 'X') {
        let q = p;
        while (q < s.length && q < p + 2 && isHexDigit(s[q])) q++;
        if (q === p) throw this.errorAt(line, escCol, 'invalid escape \\x: expected hex digits');
        bytes.push(parseInt(s.slice(p, q), 16));
        p = q;
      } else if (e >= '0' && e <= '7') {
        let q = p - 1;
        while (q < s.length && q < p + 2 && s[q] >= '0' && s[q] <= '7') q++;
        const v = parseInt(s.slice(p - 1, q), 8);
        if (v > 255) throw this.errorAt(line, escCol, `octal escape \\${s.slice(p - 1, q)} is above \\377`);
        bytes.push(v);
        p = q;
      } else if (e === 'u' || e === 'U') {
        const n = e === 'u' ? 4 : 8;
        const hex = s.slice(p, p + n);
        if (hex.length !== n || ![...hex].every(isHexDigit)) {
          throw this.errorAt(line, escCol, `invalid escape \\${e}: expected ${n} hex digits`);
        }
        let cp = parseInt(hex, 16);
        p += n;
        // Combine a UTF-16 surrogate pair written as two \u escapes.
        if (cp >= 0xd800 && cp <= 0xdbff && s[p] === '\\' && s[p + 1] === 'u') {
          const lo = parseInt(s.slice(p + 2, p + 6), 16);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
          }
        }
        if (cp > 0x10ffff)
          throw this.errorAt(line, escCol, `invalid escape: code point ${hex} is above U+10FFFF`);
        for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) bytes.push(b);
      } else {
        const shown = e === '' || e === '\n' ? '' : e;
        throw this.errorAt(line, escCol, `invalid escape sequence \\${shown}`);
      }
      run = p;
    }
    this.pos = p;
    return { kind: 'string', text: s.slice(start, p), bytes: Buffer.from(bytes), line, col };
  }

  private peek(): Token {
    if (this.peeked === null) this.peeked = this.lex();
    return this.peeked;
  }

  private next(): Token {
    const t = this.peek();
    this.peeked = null;
    return t;
  }

  private isSymbol(t: Token, sym: string): boolean {
    return t.kind === 'symbol' && t.text === sym;
  }

  private trySymbol(sym: string): boolean {
    if (this.isSymbol(this.peek(), sym)) {
      this.next();
      return true;
    }
    return false;
  }

  // ---- parser -------------------------------------------------------------

  /** Parses a whole document as the body of `info`. */
  parseDocument(info: MessageInfo): Record<string, unknown> {
    const obj = defaultMessage(info);
    this.parseBody(info, obj, null);
    return obj;
  }

  /** Parses fields into `obj` up to `close` (or end of input when `close` is null). */
  private parseBody(
    info: MessageInfo,
    obj: Record<string, unknown>,
    open: { close: string; tok: Token } | null,
  ): void {
    const seen = new Map<string, Token>();
    const oneofs = new Map<string, { field: string; tok: Token }>();
    const entryCounts = new Map<string, number>();
    for (;;) {
      const t = this.peek();
      if (open !== null && this.isSymbol(t, open.close)) {
        this.next();
        return;
      }
      if (t.kind === 'eof') {
        if (open === null) return;
        throw this.error(
          open.tok,
          `unterminated message: missing '${open.close}' to match this '${open.tok.text}'`,
        );
      }
      if (t.kind !== 'ident') {
        if (this.isSymbol(t, '[')) throw this.error(t, 'extension and Any syntax ([...]) is not supported');
        const what = open === null ? 'a field name' : `a field name or '${open.close}'`;
        throw this.error(t, `expected ${what}, got ${describe(t)}`);
      }
      this.next();
      this.path.push(t.text);
      const f = info.byName.get(t.text);
      if (f === undefined) {
        const hint = suggest(t.text, info.byName.keys());
        throw this.error(
          t,
          `unknown field in message ${info.fullName}${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}`,
        );
      }
      if (f.label === 'singular' || f.label === 'optional') {
        const first = seen.get(f.name);
        if (first !== undefined) {
          throw this.error(t, `field specified more than once (first at ${first.line}:${first.col})`);
        }
        seen.set(f.name, t);
        if (f.oneof !== undefined) {
          const other = oneofs.get(f.oneof);
          if (other !== undefined) {
            throw this.error(
              t,
              `oneof "${f.oneof}" already has "${other.field}" set (at ${other.tok.line}:${other.tok.col}); only one member may be set`,
            );
          }
          oneofs.set(f.oneof, { field: f.name, tok: t });
        }
      }
      this.parseField(f, obj, entryCounts);
      this.path.pop();
      if (!this.trySymbol(',')) this.trySymbol(';');
    }
  }

  private parseField(f: FieldInfo, obj: Record<string, unknown>, entryCounts: Map<string, number>): void {
    const isMessage = f.label === 'map' || f.value.kind === 'message';
    const multi = f.label === 'repeated' || f.label === 'map';
    if (isMessage) {
      this.trySymbol(':');
    } else {
      const t = this.peek();
      if (!this.isSymbol(t, ':')) {
        throw this.error(t, `expected ':' after the field name, got ${describe(t)}`);
      }
      this.next();
    }
    const readOne = (): void => {
      if (f.label === 'map') {
        const n = entryCounts.get(f.name) ?? 0;
        entryCounts.set(f.name, n + 1);
        this.path.push(`[${n}]`);
        this.parseMapEntry(f, obj[f.name] as Record<string, unknown>);
        this.path.pop();
      } else if (f.label === 'repeated') {
        const arr = obj[f.name] as unknown[];
        this.path.push(`[${arr.length}]`);
        arr.push(this.parseValue(f.value));
        this.path.pop();
      } else {
        obj[f.name] = this.parseValue(f.value);
      }
    };
    const lb = this.peek();
    if (this.isSymbol(lb, '[')) {
      if (!multi) throw this.error(lb, 'list syntax [...] is only allowed for repeated fields');
      this.next();
      if (this.trySymbol(']')) return;
      for (;;) {
        readOne();
        const t = this.peek();
        if (this.isSymbol(t, ',')) {
          this.next();
          continue;
        }
        if (this.isSymbol(t, ']')) {
          this.next();
          return;
        }
        if (t.kind === 'eof') throw this.error(lb, "unterminated list: missing ']' to match this '['");
        throw this.error(t, `expected ',' or ']' in list, got ${describe(t)}`);
      }
    }
    readOne();
  }

  private parseMapEntry(f: FieldInfo, map: Record<string, unknown>): void {
    const entry = f.entry as MessageInfo;
    const obj = this.parseMessageValue(entry);
    const key = mapKeyString(obj.key);
    const value = obj.value === undefined ? valueDefault(f.value) : obj.value;
    setOwn(map, key, value);
  }

  private parseMessageValue(info: MessageInfo): Record<string, unknown> {
    const t = this.next();
    let close: string;
    if (this.isSymbol(t, '{')) close = '}';
    else if (this.isSymbol(t, '<')) close = '>';
    else throw this.error(t, `expected '{' to open message ${info.fullName}, got ${describe(t)}`);
    const obj = defaultMessage(info);
    this.parseBody(info, obj, { close, tok: t });
    return obj;
  }

  private parseValue(value: ValueKind): unknown {
    switch (value.kind) {
      case 'message':
        return this.parseMessageValue(messageInfo(value.messageType));
      case 'enum':
        return this.parseEnum(value.enumType);
      case 'scalar':
        return this.parseScalar(value.scalar);
    }
  }

  private parseEnum(enumType: protobuf.Enum): string {
    const first = this.peek();
    if (first.kind === 'ident') {
      this.next();
      if (Object.prototype.hasOwnProperty.call(enumType.values, first.text)) return first.text;
      throw this.error(
        first,
        `unknown value ${JSON.stringify(first.text)} for enum ${enumType.fullName.replace(/^\./, '')}; valid values: ${enumValueList(enumType)}`,
      );
    }
    const neg = this.trySymbol('-');
    const t = this.next();
    const at = neg ? first : t;
    if (t.kind !== 'int') {
      throw this.error(at, `expected an enum value name, got ${describe(t)}`);
    }
    const n = (neg ? -1 : 1) * Number(BigInt(this.intText(t)));
    const name = enumType.valuesById[n];
    if (name === undefined) {
      throw this.error(
        at,
        `unknown number ${n} for enum ${enumType.fullName.replace(/^\./, '')}; valid values: ${enumValueList(enumType)}`,
      );
    }
    return name;
  }

  /** Integer token text in a form BigInt() accepts (octal gets a 0o prefix). */
  private intText(t: Token): string {
    return /^0[0-7]+$/.test(t.text) ? `0o${t.text.slice(1)}` : t.text;
  }

  private parseScalar(scalar: ScalarType): unknown {
    const first = this.peek();
    switch (scalar) {
      case 'string':
      case 'bytes': {
        if (first.kind !== 'string') throw this.error(first, `expected a string, got ${describe(first)}`);
        const parts: Buffer[] = [];
        while (this.peek().kind === 'string') parts.push(this.next().bytes as Buffer);
        const buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
        if (scalar === 'bytes') return buf;
        try {
          return utf8Decoder.decode(buf);
        } catch {
          throw this.error(first, 'string field contains invalid UTF-8 (use a bytes field for binary data)');
        }
      }
      case 'bool': {
        this.next();
        if (first.kind === 'ident') {
          if (first.text === 'true' || first.text === 'True' || first.text === 't') return true;
          if (first.text === 'false' || first.text === 'False' || first.text === 'f') return false;
        } else if (first.kind === 'int') {
          const v = BigInt(this.intText(first));
          if (v === 0n) return false;
          if (v === 1n) return true;
        }
        throw this.error(first, `expected a boolean (true or false), got ${describe(first)}`);
      }
      case 'float':
      case 'double': {
        const neg = this.trySymbol('-');
        const t = this.next();
        const sign = neg ? -1 : 1;
        if (t.kind === 'int') return sign * Number(BigInt(this.intText(t)));
        if (t.kind === 'float') return sign * Number(t.text.replace(/[fF]$/, ''));
        if (t.kind === 'ident') {
          const lower = t.text.toLowerCase();
          if (lower === 'inf' || lower === 'infinity') return sign * Infinity;
          if (lower === 'nan') return NaN;
        }
        throw this.error(neg ? first : t, `expected a number, got ${describe(t)}`);
      }
      default: {
        if (!isIntegerType(scalar)) throw this.error(first, `unsupported field type ${scalar}`);
        const neg = this.trySymbol('-');
        const t = this.next();
        const at = neg ? first : t;
        if (t.kind !== 'int') {
          const got =
            neg && t.kind !== 'eof' && t.kind !== 'symbol' ? JSON.stringify(`-${t.text}`) : describe(t);
          throw this.error(at, `expected an integer, got ${got}`);
        }
        let v = BigInt(this.intText(t));
        if (neg) v = -v;
        try {
          return integerToNumber(scalar, v);
        } catch (e) {
          if (e instanceof ValueError) throw this.error(at, e.message);
          throw e;
        }
      }
    }
  }
}

/**
 * Parses protobuf text format (e.g. a Triton `config.pbtxt`) into a message
 * object of the given protobufjs type. Follows the protobuf text format
 * language: `#` comments; `field: value`, `field { ... }`, `field: { ... }`,
 * `field < ... >`; optional `,`/`;` separators; repeated fields as repeated
 * entries or `[a, b]` lists; maps as repeated `{ key: .. value: .. }` entries;
 * enums by name or number; single/double-quoted strings with C escapes and
 * adjacent-literal concatenation; decimal/hex/octal integers; floats including
 * `inf`, `nan`, exponents and an `f` suffix; booleans
 * `true/false/True/False/t/f/1/0`.
 *
 * The result has every scalar, enum, repeated and map field present
 * (defaults filled: 0, false, "", [], {}, the zero enum name), integers of all
 * widths as JS numbers, enums as value names, bytes as Buffer, and singular
 * message fields / oneof members present only when given.
 *
 * @param type the protobufjs message type of the document (its root must resolve).
 * @param text the text-format document.
 * @param options `filename` for error messages.
 * @returns the parsed message object.
 * @throws {ConfigParseError} naming file, line, column and field path for any
 *   syntax error, unknown field or enum value, wrong value type, unterminated
 *   string/block/list, duplicate singular field, second member of a oneof, or
 *   integer outside its type's range (or beyond Number.MAX_SAFE_INTEGER).
 */
export function parseTextFormat(
  type: protobuf.Type,
  text: string,
  options: TextFormatParseOptions = {},
): Record<string, unknown> {
  return new TextParser(text, options.filename ?? 'input.pbtxt').parseDocument(messageInfo(type));
}

// ---- printer ----------------------------------------------------------------

function quoteString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function quoteBytes(b: Buffer): string {
  let out = '"';
  for (const c of b) {
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c >= 0x7f) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(c);
  }
  return `${out}"`;
}

function formatFloat(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  return String(n);
}

function formatScalar(value: ValueKind, v: unknown): string {
  if (value.kind === 'enum') return String(v);
  if (value.kind !== 'scalar') throw new Error('formatScalar called for a message');
  switch (value.scalar) {
    case 'string':
      return quoteString(String(v));
    case 'bytes':
      return quoteBytes(Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array));
    case 'bool':
      return v ? 'true' : 'false';
    case 'float':
    case 'double':
      return formatFloat(Number(v));
    default:
      return String(v);
  }
}

function isDefaultValue(value: ValueKind, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (value.kind === 'enum') return v === valueDefault(value) || v === 0;
  if (value.kind !== 'scalar') return false;
  switch (value.scalar) {
    case 'string':
      return v === '';
    case 'bytes':
      return (v as Uint8Array).length === 0;
    case 'bool':
      return v === false;
    default:
      return v === 0 && !Object.is(v, -0);
  }
}

class TextPrinter {
  private readonly lines: string[] = [];
  constructor(private readonly step: string) {}

  message(info: MessageInfo, obj: Record<string, unknown>, depth: number): void {
    const ind = this.step.repeat(depth);
    for (const f of info.fields) {
      const v = obj[f.name];
      switch (f.label) {
        case 'map': {
          const entry = f.entry as MessageInfo;
          for (const [k, val] of Object.entries((v ?? {}) as Record<string, unknown>)) {
            this.lines.push(`${ind}${f.name} {`);
            const keyKind = entry.fields[0].value;
            const key = keyKind.kind === 'scalar' && keyKind.scalar === 'string' ? quoteString(k) : k;
            this.lines.push(`${ind}${this.step}key: ${key}`);
            this.single('value', f.value, val, depth + 1);
            this.lines.push(`${ind}}`);
          }
          break;
        }
        case 'repeated': {
          const arr = (v ?? []) as unknown[];
          if (arr.length === 0) break;
          if (f.value.kind === 'message') {
            const sub = messageInfo(f.value.messageType);
            this.lines.push(`${ind}${f.name} [`);
            arr.forEach((el, i) => {
              this.lines.push(`${ind}${this.step}{`);
              this.message(sub, el as Record<string, unknown>, depth + 2);
              this.lines.push(`${ind}${this.step}}${i < arr.length - 1 ? ',' : ''}`);
            });
            this.lines.push(`${ind}]`);
          } else {
            const items = arr.map((el) => formatScalar(f.value, el));
            this.lines.push(`${ind}${f.name}: [ ${items.join(', ')} ]`);
          }
          break;
        }
        case 'optional':
          if (v !== undefined && v !== null) this.single(f.name, f.value, v, depth);
          break;
        case 'singular':
          if (!isDefaultValue(f.value, v)) this.single(f.name, f.value, v, depth);
          break;
      }
    }
  }

  private single(name: string, value: ValueKind, v: unknown, depth: number): void {
    const ind = this.step.repeat(depth);
    if (value.kind === 'message') {
      this.lines.push(`${ind}${name} {`);
      this.message(messageInfo(value.messageType), (v ?? {}) as Record<string, unknown>, depth + 1);
      this.lines.push(`${ind}}`);
    } else {
      this.lines.push(`${ind}${name}: ${formatScalar(value, v ?? valueDefault(value))}`);
    }
  }

  text(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }
}

/**
 * Prints a message object (the shape {@link parseTextFormat} returns) as
 * protobuf text format in Triton's config.pbtxt style: 2-space indentation,
 * `field: value` for scalars and enums (by name), `field {` blocks for
 * messages, `field [ {..}, {..} ]` for repeated messages, `field: [ a, b ]` for
 * repeated scalars, and one `field { key: .. value: .. }` block per map entry.
 * Fields holding their default value are omitted (optional fields and oneof
 * members are printed whenever present); `parseTextFormat(type, printTextFormat(type, x))`
 * gives back an object deep-equal to `x` (for an `x` in normalized shape).
 *
 * @param type the protobufjs message type of `message`.
 * @param message the message object; missing fields are treated as defaults.
 * @param options `indent` (spaces per level, default 2).
 * @returns the text, ending in a newline (or '' when everything is default).
 */
export function printTextFormat(
  type: protobuf.Type,
  message: object,
  options: TextFormatPrintOptions = {},
): string {
  const printer = new TextPrinter(' '.repeat(options.indent ?? 2));
  printer.message(messageInfo(type), message as Record<string, unknown>, 0);
  return printer.text();
}
