/**
 * How the scanner reports what it rejects: the error class, the error codes the scanners record
 * while they run (no allocation on the way), the messages built from them afterwards (worded
 * like JSON.parse's), and the nesting limit that is part of what is rejected.
 */

/**
 * Maximum nesting depth of objects/arrays accepted (the top-level container is depth 1).
 * JSON.parse has none; lua-cjson, which writes Kong's entries, refuses to encode more than 1000
 * levels. The scanner's stacks grow to this depth as a text needs them (13 bytes a level).
 */
export const MAX_DEPTH = 100_000;
/** Where a scan failed. `position` is a UTF-16 offset into the scanned text. */
export class JsonSyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = 'JsonSyntaxError';
    this.position = position;
  }
}

// Error codes (the positions that go with them are offsets relative to the region start).
export const E_EOF = 1;
export const E_UNEXPECTED = 2;
export const E_UNTERMINATED = 3;
export const E_CONTROL = 4;
export const E_ESCAPE = 5;
export const E_DEPTH = 6;
export const E_NOT_OBJECT = 7;
export const E_TRAILING = 8;
export const E_NOT_ARRAY = 9;
export const E_NUMBER = 10;

/** An error found by a scan: its code and its offset from the start of the scanned region. */
export interface ScanFailure {
  readonly code: number;
  readonly pos: number;
}

function describeChar(text: string, pos: number): string {
  const c = text.charCodeAt(pos);
  if (c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff)) return `\\u${c.toString(16).padStart(4, '0')}`;
  return text[pos] ?? '';
}

/** Build the error for `failure`; `base` converts region offsets to text offsets. */
export function makeError(text: string, base: number, end: number, failure: ScanFailure): JsonSyntaxError {
  const pos = base + failure.pos;
  const atEnd = pos >= end;
  let msg: string;
  switch (failure.code) {
    case E_EOF:
      msg = `Unexpected end of JSON input at position ${pos}`;
      break;
    case E_UNTERMINATED:
      msg = `Unterminated string in JSON at position ${pos}`;
      break;
    case E_CONTROL:
      msg = `Bad control character (${describeChar(text, pos)}) in string literal in JSON at position ${pos}`;
      break;
    case E_ESCAPE:
      msg = `Bad escaped character in JSON at position ${pos}`;
      break;
    case E_DEPTH:
      msg = `JSON nesting too deep (more than ${MAX_DEPTH} levels) at position ${pos}`;
      break;
    case E_NOT_OBJECT:
      msg = `JSON value at position ${pos} is not an object`;
      break;
    case E_NOT_ARRAY:
      msg = `JSON value at position ${pos} is not an array`;
      break;
    case E_TRAILING:
      msg = `Unexpected non-whitespace character after JSON at position ${pos}`;
      break;
    case E_NUMBER:
      msg = atEnd
        ? `Unexpected end of JSON input in a number at position ${pos}`
        : `Bad number: unexpected '${describeChar(text, pos)}' in JSON at position ${pos}`;
      break;
    default:
      msg = atEnd
        ? `Unexpected end of JSON input at position ${pos}`
        : `Unexpected token '${describeChar(text, pos)}' in JSON at position ${pos}`;
  }
  return new JsonSyntaxError(msg, pos);
}

/** The error for a region that cannot be copied into the scan buffer. */
export function tooLarge(s: number): JsonSyntaxError {
  return new JsonSyntaxError('JSON text too large: cannot allocate the scan buffer', s);
}
