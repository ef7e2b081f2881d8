/**
 * Scans of a JSON array (an http-log batch), by one walk over the array loaded into the scan
 * buffer: of a text, giving each element's bounds (or the exact error); of UTF-8 bytes, by the
 * wasm kernel alone, giving each element's bounds and, with a plan, the spans of the wanted
 * fields of each object element, in the same pass.
 */

import {
  E_EOF,
  E_NOT_ARRAY,
  E_TRAILING,
  E_UNEXPECTED,
  makeError,
  tooLarge,
  type JsonSyntaxError,
  type ScanFailure,
} from './errors.ts';
import { grown } from './js-scanner.ts';
import { KERNEL_LAYOUT } from './kernel/layout.ts';
import { EMPTY_PLAN, NO_SPANS, finishSpans, type FieldPlan } from './plan.ts';
import { emptyRegion, isWs, notAContainer, regionEnd, regionStart } from './region.ts';
import type { ScanParts } from './scan-parts.ts';

/** {@link ScannedArray.kinds}: an object whose plan spans were recorded. */
export const ELEMENT_SCANNED = 0;
/** {@link ScannedArray.kinds}: valid JSON, not an object. */
export const ELEMENT_NOT_OBJECT = 1;
/** {@link ScannedArray.kinds}: a valid object the kernel could not track (an escaped key where the plan looks): scan its text. */
export const ELEMENT_UNSCANNED = 2;

/** A UTF-8 JSON array scanned once with a plan (see {@link scanArrayOfObjectsUtf8}). */
export interface ScannedArray {
  /** Number of elements. */
  readonly count: number;
  /** [start, end) byte offsets of element k at 2k, 2k+1. */
  readonly bounds: Int32Array;
  /** Per element: ELEMENT_SCANNED, ELEMENT_NOT_OBJECT or ELEMENT_UNSCANNED. */
  readonly kinds: Uint8Array;
  /**
   * For a scanned element k, its spans as scanObject writes them, but as byte offsets relative
   * to the element's start: path i at spans[k * 2 * plan.size + 2i] and the entry after it.
   */
  readonly spans: Int32Array;
}

/** More elements than the caller's maximum: nothing of the array is returned but their number. */
export interface ArrayTooLong {
  readonly tooMany: number;
}

/** As many elements as bounds can hold: no limit. */
const NO_LIMIT = 0x7fffffff;

/**
 * For an HTTP body that is a JSON array: validate the whole array (same strictness as
 * scanObject) and return the [start,end) text offsets of each top-level element as pairs
 * (result[2k], result[2k+1] for element k; elements may be any JSON value, the caller checks
 * objects). Returns the error instead when text[start..end) is not exactly one JSON array plus
 * whitespace. Allocates the result.
 */
export function scanArrayElements(
  parts: ScanParts,
  text: string,
  start?: number,
  end?: number,
): Int32Array | JsonSyntaxError {
  const s = regionStart(text, start, end);
  const e = regionEnd(text, s, end);
  if (s >= e) return emptyRegion(text, s, e);
  const n = e - s;
  const { memory } = parts;
  if (!memory.prepare(null, n)) return tooLarge(s);
  memory.loadText(text, s, e, false);
  if (memory.text[0] !== 91) return notAContainer(parts, text, s, n, E_NOT_ARRAY);
  const walked = walkArray(parts, text, s, n, null, NO_LIMIT);
  if ('code' in walked) return makeError(text, s, e, walked);
  return walked.bounds.slice(0, 2 * walked.count);
}

/**
 * scanArrayElements for a UTF-8 body given as bytes, by the wasm kernel alone: the [start,end)
 * *byte* offsets of each top-level element, or null when the bytes are not a valid JSON array
 * (or there is no kernel, or no memory): the caller then takes the text path, which also gives
 * the exact error. The bytes go into the kernel's memory as they are: its one-byte-per-character
 * input only needs non-ASCII to be >= 0x80, which every byte of a non-ASCII UTF-8 sequence (or
 * of an invalid one) is, and such bytes are valid exactly where non-ASCII characters are, inside
 * strings. This saves decoding the body into one string (two-byte as soon as one character is
 * not ASCII) and loading that string back into the kernel's memory.
 */
export function scanArrayElementsUtf8(parts: ScanParts, bytes: Uint8Array): Int32Array | null {
  const walked = walkArrayBytes(parts, bytes, null, NO_LIMIT);
  if (walked === null || 'tooMany' in walked) return null;
  return walked.bounds.slice(0, 2 * walked.count);
}

/**
 * scanArrayElementsUtf8 and scanObject of each element in one pass, for an HTTP body of Kong
 * entries given as UTF-8 bytes: validates the array once and records each element's bounds and,
 * for objects, the spans of the plan's paths. Splitting first and decoding each entry afterwards
 * read every entry twice (and copied it into the kernel's memory a second time); here the kernel
 * takes the array one element at a time, tracking the plan (from its node 0) in object elements.
 *
 * Spans are byte offsets, so they are offsets into the element's byte string (see
 * event/byte-string.ts) and not into its decoded text, which is shorter once it holds a
 * non-ASCII character. Returns null when the bytes are not a valid JSON array, or without a kernel, a
 * plan image or memory, or when an element nests deeper than the kernel's stacks: the caller
 * then takes the text path, which also gives the exact error.
 * With more than `maxElements` elements it returns how many there are (counted, not stored): a
 * garbage body of millions of tiny elements costs no more memory than a good one.
 */
export function scanArrayOfObjectsUtf8(
  parts: ScanParts,
  bytes: Uint8Array,
  plan: FieldPlan,
  maxElements: number,
): ScannedArray | ArrayTooLong | null {
  return walkArrayBytes(parts, bytes, plan, maxElements);
}

/** Load the bytes of a UTF-8 array for walkArray (kernel only: null when it cannot take them). */
function walkArrayBytes(
  parts: ScanParts,
  bytes: Uint8Array,
  plan: FieldPlan | null,
  maxElements: number,
): ScannedArray | ArrayTooLong | null {
  const { memory, kernel } = parts;
  const n = bytes.length;
  let pos = 0;
  while (pos < n && isWs(bytes[pos])) pos++;
  if (bytes[pos] !== 91) return null; // not an array: nothing copied
  if (kernel === null || (plan !== null && plan._image === null) || !memory.prepare(plan, n)) return null;
  memory.loadBytes(bytes);
  const walked = walkArray(parts, null, 0, n, plan, maxElements, pos);
  if ('code' in walked) return null;
  if (walked.count > maxElements) return { tooMany: walked.count };
  return walked;
}

/**
 * The one walk over a JSON array loaded at [0, n) of the scan buffer (the text from `base`, or
 * bytes), its '[' at `open`: the kernel takes it one element at a time. With a plan (then there
 * is a kernel and the plan is loaded), it tracks the plan (from its node 0) in the object
 * elements among the first `maxElements`; without one every element is only validated and
 * bounded, and kinds says ELEMENT_NOT_OBJECT throughout. Bounds are offsets + base.
 *
 * When the kernel rejects an element (or there is none), the JS scanner scans it, given the
 * `text`: it finds the exact error; without a text the walk fails at once. Returns what
 * failed, or the elements (all of them counted, the first `maxElements` stored).
 */
function walkArray(
  parts: ScanParts,
  text: string | null,
  base: number,
  n: number,
  plan: FieldPlan | null,
  maxElements: number,
  open = 0,
): ScannedArray | ScanFailure {
  const { memory, js, stats, kernel } = parts;
  const u = memory.text;
  const out = memory.kernelSpans;
  const width = plan === null ? 0 : 2 * plan.size;
  const aliases = plan !== null && plan._aliases.length > 0;
  let bounds = new Int32Array(64);
  let kinds = new Uint8Array(32);
  let spans = new Int32Array(32 * width);
  let masked = false;
  let count = 0;
  let pos = open + 1;
  while (isWs(u[pos])) pos++;
  if (u[pos] === 93) {
    pos++;
  } else {
    for (;;) {
      let kind = ELEMENT_NOT_OBJECT;
      let rel: number = KERNEL_LAYOUT.SCAN_BAIL_OUT;
      if (kernel !== null) {
        stats.kernelScans++;
        if (plan !== null && u[pos] === 123 && count < maxElements) {
          out.fill(-1);
          rel = kernel.scan(n - pos, 0, memory.planAt, memory.spansAt, memory.textAt + pos, 0, 1);
          kind = rel === KERNEL_LAYOUT.SCAN_BAIL_OUT ? ELEMENT_UNSCANNED : ELEMENT_SCANNED;
        }
        // No plan, not an object, past the maximum, or the kernel bailed out: validate and find the end only
        // (node -1: nothing tracked, the plan arguments are not read).
        if (rel === KERNEL_LAYOUT.SCAN_BAIL_OUT)
          rel = kernel.scan(n - pos, 0, memory.planAt, memory.spansAt, memory.textAt + pos, -1, 1);
      }
      let r = pos + rel;
      if (rel < 0) {
        // no kernel, it rejected the element, or deeper than its stacks: the JS scanner gives the exact error
        if (text === null) return { code: E_UNEXPECTED, pos };
        if (!masked) memory.computeMask(n, kernel);
        masked = true;
        stats.jsScans++;
        r = js.scanValue(text, base, pos, n, 1, EMPTY_PLAN, NO_SPANS, -1, u, memory.mask);
        if (rel === KERNEL_LAYOUT.SCAN_INVALID && kernel !== null && r >= 0) stats.kernelMismatches++;
        if (r < 0) return js.failure;
      }
      if (count < maxElements) {
        if (count === kinds.length) {
          bounds = grown(bounds, 2 * bounds.length);
          kinds = grown(kinds, 2 * kinds.length);
          spans = grown(spans, 2 * spans.length);
        }
        bounds[2 * count] = base + pos;
        bounds[2 * count + 1] = base + r;
        kinds[count] = kind;
        if (kind === ELEMENT_SCANNED && plan !== null) {
          spans.set(out, count * width);
          if (aliases) finishSpans(plan, spans.subarray(count * width, (count + 1) * width));
        }
      }
      count++;
      pos = r;
      while (isWs(u[pos])) pos++;
      const c = u[pos];
      if (c === 93) {
        pos++;
        break;
      }
      if (c !== 44) return { code: pos >= n ? E_EOF : E_UNEXPECTED, pos };
      pos++;
      while (isWs(u[pos])) pos++;
    }
  }
  while (pos < n && isWs(u[pos])) pos++;
  if (pos < n) return { code: E_TRAILING, pos };
  return { count, bounds, kinds, spans };
}
