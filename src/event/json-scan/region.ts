/**
 * What every scan of a text starts with: the region of the text it looks at (clamped, JSON
 * whitespace trimmed), and the errors when that region is empty or does not open with the
 * container the scan expects.
 */

import { E_EOF, E_TRAILING, makeError, type JsonSyntaxError } from './errors.ts';
import { EMPTY_PLAN, NO_SPANS } from './plan.ts';
import type { ScanParts } from './scan-parts.ts';

/** JSON whitespace: space, \n, \r, \t. */
export function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

function clampStart(text: string, start: number | undefined): number {
  const s = start === undefined ? 0 : Math.trunc(start);
  if (!(s >= 0)) return 0; // also NaN
  return Math.min(s, text.length);
}

function clampEnd(text: string, s: number, end: number | undefined): number {
  let e = end === undefined ? text.length : Math.trunc(end);
  if (!(e <= text.length)) e = text.length;
  return Math.max(e, s);
}

/** Where the region of text[start, end) starts: optional start/end clamped, JSON whitespace skipped. */
export function regionStart(text: string, start: number | undefined, end: number | undefined): number {
  let s = clampStart(text, start);
  const e = clampEnd(text, s, end);
  while (s < e && isWs(text.charCodeAt(s))) s++;
  return s;
}

/** Where the region that starts at `s` (from regionStart) ends: `end` clamped, JSON whitespace trimmed. */
export function regionEnd(text: string, s: number, end: number | undefined): number {
  let e = clampEnd(text, s, end);
  while (e > s && isWs(text.charCodeAt(e - 1))) e--;
  return e;
}

/** The error for a region that holds nothing but whitespace. */
export function emptyRegion(text: string, s: number, e: number): JsonSyntaxError {
  return makeError(text, s, e, { code: E_EOF, pos: 0 });
}

/**
 * Error for the loaded region [0, n) of text from `s` that does not start with the expected
 * bracket: its syntax error, trailing garbage, or `wrongType` when it is one valid JSON value.
 */
export function notAContainer(
  parts: ScanParts,
  text: string,
  s: number,
  n: number,
  wrongType: number,
): JsonSyntaxError {
  const { memory, js } = parts;
  memory.computeMask(n, parts.kernel);
  const r = js.scanValue(text, s, 0, n, 0, EMPTY_PLAN, NO_SPANS, -1, memory.text, memory.mask);
  const failure = r < 0 ? js.failure : { code: r < n ? E_TRAILING : wrongType, pos: r < n ? r : 0 };
  return makeError(text, s, s + n, failure);
}
