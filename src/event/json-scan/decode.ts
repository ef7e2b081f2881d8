/**
 * Decoding the spans a scan found: only the values a caller needs are decoded, most without
 * JSON.parse.
 */

import { textOf, type ByteString } from '../byte-string.ts';

/** Whether text[start, end) can be used as it is as a string's value: no escape, and in a byte string no non-ASCII byte. */
function isPlain(text: string, start: number, end: number, bytes: boolean): boolean {
  const limit = bytes ? 0x80 : 0x10000;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 || c >= limit) return false;
  }
  return true;
}

/** JSON.parse of a raw value (of a byte string: of the text it encodes). */
function parseSpan(text: string, start: number, end: number, bytes: boolean): unknown {
  const raw = text.slice(start, end);
  return JSON.parse(bytes ? textOf(raw as ByteString) : raw) as unknown;
}

/**
 * Decode the raw JSON value text.slice(start, end) (a span from a successful scan of the same
 * text; `bytes`: text is a byte string, scanned with a `bytes` plan). Returns undefined when
 * start < 0 (absent path). Strings without backslashes (or bytes >= 0x80) are just sliced,
 * numbers and literals are decoded without JSON.parse, anything else goes through JSON.parse of
 * the slice. Throws a SyntaxError only if the span is not valid JSON (i.e. it did not come from
 * a successful scan of this text).
 */
export function decodeValue(text: string, start: number, end: number, bytes = false): unknown {
  if (start < 0) return undefined;
  const c = text.charCodeAt(start);
  if (c === 34) {
    if (end - start >= 2 && isPlain(text, start + 1, end - 1, bytes)) return text.slice(start + 1, end - 1);
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
  if (isPlain(text, start + 1, end - 1, bytes)) return text.slice(start + 1, end - 1);
  return parseSpan(text, start, end, bytes) as string;
}
