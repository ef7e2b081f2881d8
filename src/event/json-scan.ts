/**
 * Validating, (almost) non-allocating JSON scanner that extracts only wanted fields.
 *
 * The hot path of the relay: instead of `JSON.parse`-ing every Kong log entry we scan the
 * text once, validate it exactly like `JSON.parse` would (RFC 8259), and record the
 * [start, end) offsets of the raw JSON values found at a few wanted paths. Callers then decode
 * only the values they need with {@link decodeValue} / {@link decodeString}.
 *
 * How (numbers measured on Node 20 on the dev machine, see bench/json-scan.bench.ts):
 * - `text.charCodeAt(i)` costs ~2 ns per call there, about what `JSON.parse` spends per
 *   character as a whole, and `text.indexOf('"', i)` ~9 ns per call, so no scanner that walks
 *   the JS string can be much faster than `JSON.parse` (the first version of this file did that:
 *   1.1x). Walking a Uint8Array copy from JS with a SIMD bitmap of the string specials got 2.3x.
 * - So each scan copies the region into WebAssembly memory, one byte per character, so that
 *   byte offsets are string offsets. The relay's entries are byte strings (see
 *   ../byte-string.ts), scanned with a `bytes` plan: each character is already one byte, written
 *   as it is (`Buffer#write(…, 'latin1')`, a memcpy). Other texts (replay, the demo, tests) are
 *   copied with `TextEncoder.encodeInto` when ASCII (~0.06 ns/char), else by a JS loop that
 *   writes any non-ASCII unit as 0x80: never a JSON token byte, and inside strings as fine as
 *   any non-ASCII char, so validation is unchanged.
 * - The WebAssembly kernel (json-scan/kernel/scan-kernel.wat, built with wabt into a committed
 *   module) then validates the bytes and walks the plan's trie, skipping string contents 16
 *   bytes at a time with SIMD compares for `"`, `\` and control characters (rejecting the
 *   latter), and writes the spans. A 0 sentinel byte after the region means no bounds checks:
 *   no token can continue over a NUL byte.
 * - The same algorithm exists in JS (`JsScanner`, on the same bytes plus a bitmap of the string
 *   specials). It is used when WebAssembly SIMD is unavailable, when the plan has a non-ASCII
 *   key, when the kernel bails out (a key with a backslash inside an object the plan looks
 *   into: JS unescapes it; or nesting deeper than the kernel's 1024-level stacks), and to
 *   produce the exact error after the kernel rejected the text. Both are property-tested
 *   against JSON.parse.
 * - Iterative (explicit stacks): no recursion, no stack overflow on deep input; nesting deeper
 *   than {@link MAX_DEPTH} (100,000) levels is reported as an error (JSON.parse has no limit;
 *   lua-cjson, which writes Kong's entries, stops at 1000).
 * - Per successful scan nothing is allocated but the small result object of `encodeInto` (and a
 *   sliced string when start/end select part of the text).
 *
 * A JsonScanner holds all that scans use (kernel instance and memory, JS stacks, last error,
 * backend, counters); the functions below scan with one scanner shared by the process (scans
 * are synchronous; each sets up what it uses).
 *
 * Where (src/event/json-scan/, nothing outside imports from there but this module):
 * - scanner.ts: JsonScanner; scan-parts.ts: what its scans are handed.
 * - kernel/: the kernel's source (scan-kernel.wat), the one table of numbers it shares with
 *   TypeScript (layout.ts), the built module (scan-kernel.wasm.ts, `npm run build:kernel`) and
 *   its instantiation (instance.ts).
 * - plan.ts: FieldPlan, the compiled trie and its image for the kernel.
 * - scan-memory.ts: the scan buffer (plan image, kernel spans, text, bitmap) and text loading.
 * - js-scanner.ts: JsScanner, the JS scanner.
 * - errors.ts: JsonSyntaxError, MAX_DEPTH, error codes and messages.
 * - object-scan.ts, array-scan.ts: the scans, with region.ts (the region they scan, and
 *   the error when it is not the container they expect); decode.ts: the span decoders.
 */

import type { ArrayTooLong, ScannedArray } from './json-scan/array-scan.ts';
import type { JsonSyntaxError } from './json-scan/errors.ts';
import type { FieldPlan } from './json-scan/plan.ts';
import type { ScanStats } from './json-scan/scan-parts.ts';
import { JsonScanner, type ScanBackend } from './json-scan/scanner.ts';

export { ELEMENT_SCANNED } from './json-scan/array-scan.ts';
export type { ArrayTooLong, ScannedArray } from './json-scan/array-scan.ts';
export { decodeString, decodeValue } from './json-scan/decode.ts';
export { JsonSyntaxError, MAX_DEPTH } from './json-scan/errors.ts';
export { FieldPlan, type JsonPath } from './json-scan/plan.ts';
export type { ScanStats } from './json-scan/scan-parts.ts';
export { JsonScanner, type ScanBackend } from './json-scan/scanner.ts';

/** The scanner the functions below share. */
const shared = new JsonScanner();

/** See JsonScanner#scanObject. */
export function scanObject(
  text: string,
  plan: FieldPlan,
  spans: Int32Array,
  start?: number,
  end?: number,
): JsonSyntaxError | null {
  return shared.scanObject(text, plan, spans, start, end);
}

/** See JsonScanner#scanArrayElements. */
export function scanArrayElements(text: string, start?: number, end?: number): Int32Array | JsonSyntaxError {
  return shared.scanArrayElements(text, start, end);
}

/** See JsonScanner#scanArrayElementsUtf8. */
export function scanArrayElementsUtf8(bytes: Uint8Array): Int32Array | null {
  return shared.scanArrayElementsUtf8(bytes);
}

/** See JsonScanner#scanArrayOfObjectsUtf8. */
export function scanArrayOfObjectsUtf8(
  bytes: Uint8Array,
  plan: FieldPlan,
  maxElements: number,
): ScannedArray | ArrayTooLong | null {
  return shared.scanArrayOfObjectsUtf8(bytes, plan, maxElements);
}

/** Whether the shared scanner uses the WebAssembly SIMD kernel. */
export function scanUsesWasm(): boolean {
  return shared.usesWasm;
}

/** A copy of the shared scanner's counters. */
export function getScanStats(): ScanStats {
  return shared.stats();
}

/** Select the shared scanner's backend (for tests and benchmarks); returns the previous one. */
export function setScanBackend(backend: ScanBackend): ScanBackend {
  return shared.setBackend(backend);
}
