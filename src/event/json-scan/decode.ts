/**
 * Decoding the spans a scan found: only the values a caller needs are decoded, most without
 * JSON.parse.
 */

import { textOf, type ByteString } from '../byte-string.ts';

/** The contents of a string span are its value as they are. */
const PLAIN = 0;
/** Its only escapes are `\/` (lua-cjson writes every "/" so: every Kong URI has them). */
const SLASHES = 1;
/** Other escapes, or in a byte string a non-ASCII byte: JSON.parse decodes it. */
const ESCAPED = 2;

/** What decoding the contents text[start, end) of a string takes (PLAIN, SLASHES or ESCAPED). */
function stringKind(text: string, start: number, end: number, bytes: boolean): number {
  const limit = bytes ? 0x80 : 0x10000;
  let kind = PLAIN;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 92) {
      if (text.charCodeAt(i + 1) !== 47) return ESCAPED;
      kind = SLASHES;
      i++;
    } else if (c >= limit) return ESCAPED;
  }
  return kind;
}

/** The value of the string whose contents are text[start, end), or undefined when JSON.parse must decode it. */
function simpleString(text: string, start: number, end: number, bytes: boolean): string | undefined {
  const kind = stringKind(text, start, end, bytes);
  if (kind === PLAIN) return text.slice(start, end);
  return kind === SLASHES ? text.slice(start, end).replaceAll('\\/', '/') : undefined;
}

/** JSON.parse of a raw value (of a byte string: of the text it encodes). */
function parseSpan(text: string, start: number, end: number, bytes: boolean): unknown {
  const raw = text.slice(start, end);
  return JSON.parse(bytes ? textOf(raw as ByteString) : raw) as unknown;
}

/**
 * Decode the raw JSON value text.slice(start, end) (a span from a successful scan of the same
 * text; `bytes`: text is a byte string, scanned with a `bytes` plan). Returns undefined when
 * start < 0 (absent path). Strings without escapes other than `\/` (and in a byte string
 * without bytes >= 0x80) are sliced, numbers and literals are decoded without JSON.parse,
 * anything else goes through JSON.parse of the slice. Throws a SyntaxError only if the span is not valid JSON (i.e. it did not come from
 * a successful scan of this text).
 */
export function decodeValue(text: string, start: number, end: number, bytes = false): unknown {
  if (start < 0) return undefined;
  const c = text.charCodeAt(start);
  if (c === 34) {
    const simple = end - start >= 2 ? simpleString(text, start + 1, end - 1, bytes) : undefined;
    if (simple !== undefined) return simple;
  } else if (c === 45 || (c >= 48 && c <= 57)) {
    return Number(text.slice(start, end));
  } else if (c === 116 && end - start === 4) {
    return true;
  } else if (c === 102 && end - start === 5) {
    return false;
  } else if (c === 110 && end - start === 4) {
    return null;
  }
  return parseSpan(text, start, end, bytes);
}

/**
 * Decode a span that holds a JSON string (from a successful scan of the same text, `bytes` as
 * for decodeValue); undefined when the path was absent (start < 0) or the value is not a string.
 */
export function decodeString(text: string, start: number, end: number, bytes = false): string | undefined {
  if (start < 0 || end - start < 2 || text.charCodeAt(start) !== 34) return undefined;
  return simpleString(text, start + 1, end - 1, bytes) ?? (parseSpan(text, start, end, bytes) as string);
}
