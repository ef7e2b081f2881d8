/**
 * What every scan of a text starts with: the region of the text it looks at (clamped, JSON
 * whitespace trimmed), and the errors when that region is empty or does not open with the
 * container the scan expects.
 */

import { E_EOF, E_TRAILING, fail, makeError, type JsonSyntaxError } from './errors.ts';
import { scanValue } from './js-scanner.ts';
import { EMPTY_PLAN, NO_SPANS } from './plan.ts';
import { computeMask } from './scan-memory.ts';

/** JSON whitespace: space, \n, \r, \t. */
export function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/** The region found by the last region() call: text[gRegionStart, gRegionEnd). */
export let gRegionStart = 0;
export let gRegionEnd = 0;

/** Clamp optional start/end and trim JSON whitespace at both ends (into gRegionStart/End). */
export function region(text: string, start: number | undefined, end: number | undefined): void {
  let s = start === undefined ? 0 : Math.trunc(start);
  let e = end === undefined ? text.length : Math.trunc(end);
  if (!(s >= 0)) s = 0; // also NaN
  if (s > text.length) s = text.length;
  if (!(e <= text.length)) e = text.length;
  if (!(e >= s)) e = s;
  while (s < e && isWs(text.charCodeAt(s))) s++;
  while (e > s && isWs(text.charCodeAt(e - 1))) e--;
  gRegionStart = s;
  gRegionEnd = e;
}

/** The error for a region that holds nothing but whitespace. */
export function emptyRegion(text: string): JsonSyntaxError {
  fail(E_EOF, 0);
  return makeError(text, gRegionStart, gRegionEnd);
}

/** Scan the loaded region [0, n) as one value; report a syntax error, trailing garbage, or `wrongType`. */
function classifyNonContainer(text: string, s: number, n: number, wrongType: number): void {
  const r = scanValue(text, s, 0, n, 0, EMPTY_PLAN, NO_SPANS, -1);
  if (r >= 0) {
    if (r < n) fail(E_TRAILING, r);
    else fail(wrongType, 0);
  }
}

/** Error for a region that does not start with the expected bracket (`wrongType` if it is valid JSON). */
export function notAContainer(text: string, s: number, n: number, wrongType: number): JsonSyntaxError {
  computeMask(n);
  classifyNonContainer(text, s, n, wrongType);
  return makeError(text, s, s + n);
}
