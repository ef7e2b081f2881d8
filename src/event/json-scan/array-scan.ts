/**
 * Scans of a JSON array (an http-log batch): of a text, giving each element's bounds; of UTF-8
 * bytes, by the wasm kernel alone, giving each element's bounds and, with a plan, the spans of
 * the wanted fields of each object element, in the same pass.
 */

import { stats, useWasm } from './backend.ts';
import {
  E_EOF,
  E_NOT_ARRAY,
  E_TRAILING,
  E_UNEXPECTED,
  fail,
  makeError,
  tooLarge,
  type JsonSyntaxError,
} from './errors.ts';
import { grown, scanValue } from './js-scanner.ts';
import { EMPTY_PLAN, NO_SPANS, finishSpans, type FieldPlan } from './plan.ts';
import { emptyRegion, gRegionEnd, gRegionStart, isWs, notAContainer, region } from './region.ts';
import { computeMask, ensureMemory, gSpans, gU8, load, planOff, spansOff, textOff, usePlan } from './scan-memory.ts';
import { wasm } from './wasm-instance.ts';

/** scanArrayElements' growable scratch for the bounds it finds (it returns a copy). */
let elemBuf = new Int32Array(64);

/**
 * For an HTTP body that is a JSON array: validate the whole array (same strictness as
 * {@link scanObject}) and return the [start,end) text offsets of each top-level element as
 * pairs (result[2k], result[2k+1] for element k; elements may be any JSON value, the caller
 * checks objects). Returns the error instead when text[start..end) is not exactly one JSON
 * array plus whitespace. Allocates the result.
 */
export function scanArrayElements(text: string, start?: number, end?: number): Int32Array | JsonSyntaxError {
  region(text, start, end);
  const s = gRegionStart;
  const e = gRegionEnd;
  if (s >= e) return emptyRegion(text);
  if (!load(text, s, e, false)) return tooLarge(s);
  const n = e - s;
  const u = gU8;
  if (u[0] !== 91) return notAContainer(text, s, n, E_NOT_ARRAY);
  const k = useWasm ? wasm : null;
  let masked = false;
  let count = 0;
  let pos = 1;
  while (isWs(u[pos])) pos++;
  if (u[pos] === 93) {
    pos++;
  } else {
    for (;;) {
      let r = -1;
      let rel = -1;
      if (k !== null) {
        // node -1: nothing tracked, the plan arguments are not used
        rel = k.scan(n - pos, 0, planOff, spansOff, textOff + pos, -1, 1);
        if (rel >= 0) r = pos + rel;
      }
      if (r < 0) {
        // no kernel, or it rejected the element: the JS scanner gives the exact error
        if (!masked) computeMask(n);
        masked = true;
        r = scanValue(text, s, pos, n, 1, EMPTY_PLAN, NO_SPANS, -1);
        if (k !== null && rel === -1 && r >= 0) stats.kernelMismatches++; // -2: deeper than the kernel's stacks
        if (r < 0) return makeError(text, s, e);
      }
      if (count + 2 > elemBuf.length) elemBuf = grown(elemBuf, elemBuf.length * 2);
      elemBuf[count++] = s + pos;
      elemBuf[count++] = s + r;
      pos = r;
      while (isWs(u[pos])) pos++;
      const c = u[pos];
      if (c === 93) {
        pos++;
        break;
      }
      if (c !== 44) {
        fail(pos >= n ? E_EOF : E_UNEXPECTED, pos);
        return makeError(text, s, e);
      }
      pos++;
      while (isWs(u[pos])) pos++;
    }
  }
  if (pos < n) {
    fail(E_TRAILING, pos);
    return makeError(text, s, e);
  }
  const out = elemBuf.slice(0, count);
  if (elemBuf.length > 65536) elemBuf = new Int32Array(64); // do not keep a huge buffer alive
  return out;
}

/** As many elements as bounds can hold: no limit. */
const NO_LIMIT = 0x7fffffff;

/**
 * scanArrayElements for a UTF-8 body given as bytes, by the wasm kernel alone: the [start,end)
 * *byte* offsets of each top-level element, or null when the bytes are not a valid JSON array
 * (or there is no kernel, or no memory): the caller then takes the text path, which also gives
 * the exact error. The bytes go into the kernel's memory as they are: its one-byte-per-unit
 * input only needs non-ASCII to be >= 0x80, which every byte of a non-ASCII UTF-8 sequence (or
 * of an invalid one) is, and such bytes are valid exactly where non-ASCII characters are, inside
 * strings. This saves decoding the body into one string (two-byte as soon as one character is
 * not ASCII) and loading that string back into the kernel's memory. (The walk of
 * scanArrayOfObjectsUtf8, without a plan.)
 */
export function scanArrayElementsUtf8(bytes: Uint8Array): Int32Array | null {
  const walked = walkArrayUtf8(bytes, null, NO_LIMIT);
  if (walked === null || 'tooMany' in walked) return null;
  return walked.bounds.slice(0, 2 * walked.count);
}

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
  bytes: Uint8Array,
  plan: FieldPlan,
  maxElements: number,
): ScannedArray | ArrayTooLong | null {
  return walkArrayUtf8(bytes, plan, maxElements);
}

/**
 * The walk behind both UTF-8 scans: the kernel takes the array one element at a time. With a
 * plan, it tracks the plan (from its node 0) in the object elements among the first
 * `maxElements`; without one (null) every element is only validated and bounded, and kinds
 * says ELEMENT_NOT_OBJECT throughout.
 */
function walkArrayUtf8(
  bytes: Uint8Array,
  plan: FieldPlan | null,
  maxElements: number,
): ScannedArray | ArrayTooLong | null {
  const k = useWasm ? wasm : null;
  const image = plan === null ? null : plan._image;
  const n = bytes.length;
  let pos = 0;
  while (pos < n && isWs(bytes[pos])) pos++;
  if (bytes[pos] !== 91) return null; // not an array: nothing copied
  // (usePlan may move the text area when it grows memory: gU8 is read after it.)
  if (k === null || !ensureMemory(0, 0, n + 64)) return null;
  if (plan !== null && (image === null || !usePlan(plan, image))) return null;
  const u = gU8;
  const out = gSpans;
  u.set(bytes);
  u[n] = 0;
  pos++;
  const width = plan === null ? 0 : 2 * plan.size;
  const aliases = plan !== null && plan._aliases.length > 0;
  let bounds = new Int32Array(64);
  let kinds = new Uint8Array(32);
  let spans = new Int32Array(32 * width);
  let count = 0;
  while (isWs(u[pos])) pos++;
  if (u[pos] === 93) {
    pos++;
  } else {
    for (;;) {
      stats.kernelScans++;
      let kind = ELEMENT_NOT_OBJECT;
      let rel = -2;
      if (plan !== null && u[pos] === 123 && count < maxElements) {
        out.fill(-1);
        rel = k.scan(n - pos, 0, planOff, spansOff, textOff + pos, 0, 1);
        kind = rel === -2 ? ELEMENT_UNSCANNED : ELEMENT_SCANNED;
      }
      // No plan, not an object, past the maximum, or the kernel bailed out: validate and find the end only.
      if (rel === -2) rel = k.scan(n - pos, 0, planOff, spansOff, textOff + pos, -1, 1);
      if (rel < 0) return null;
      const r = pos + rel;
      if (count < maxElements) {
        if (count === kinds.length) {
          bounds = grown(bounds, 2 * bounds.length);
          kinds = grown(kinds, 2 * kinds.length);
          spans = grown(spans, 2 * spans.length);
        }
        bounds[2 * count] = pos;
        bounds[2 * count + 1] = r;
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
      if (c !== 44) return null;
      pos++;
      while (isWs(u[pos])) pos++;
    }
  }
  while (pos < n && isWs(u[pos])) pos++;
  if (pos < n) return null;
  if (count > maxElements) return { tooMany: count };
  return { count, bounds, kinds, spans };
}
