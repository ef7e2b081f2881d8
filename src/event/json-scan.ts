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
 * - So each scan copies the region into WebAssembly memory with `TextEncoder.encodeInto`
 *   (~0.06 ns/char for ASCII). Every UTF-16 unit becomes exactly one byte so that byte offsets
 *   are string offsets: ASCII as is, any other unit the placeholder 0x80 (non-ASCII text is
 *   UTF-8-encoded, then collapsed by the `collapse` kernel). 0x80 is never a JSON token byte,
 *   inside strings it is as fine as any non-ASCII char, so validation is unchanged.
 * - The relay's own entries are byte strings (see ../byte-string.ts) and are scanned with a
 *   `bytes` plan: each character is already one byte, written into WebAssembly memory as it is
 *   (`Buffer#write(…, 'latin1')`, a memcpy), and offsets are byte offsets.
 * - A hand-assembled WebAssembly kernel (`scan`, built by `buildWasm`; no toolchain needed) then
 *   validates the bytes and walks the plan's trie, skipping string contents 16 bytes at a time
 *   with SIMD compares for `"`, `\` and control characters (rejecting the latter), and writes
 *   the spans. A 0 sentinel byte after the region means no bounds checks: no token can
 *   continue over a NUL byte.
 * - The same algorithm exists in JS (`scanValue`, on the same bytes plus a bitmap of the string
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
 * Scans are synchronous and share module-level scratch buffers; every call resets what it uses.
 *
 * Where (src/event/json-scan/, nothing outside imports from there but this module):
 * - plan.ts: FieldPlan, the compiled trie and its image for the kernel.
 * - wasm-assembler.ts, wasm-kernel.ts, wasm-instance.ts: the assembler, the kernel's bytes and
 *   memory layout, the shared instance.
 * - scan-memory.ts: the scan buffer (plan image, kernel spans, text, bitmap) and text loading.
 * - js-scanner.ts: scanValue, the JS scanner.
 * - errors.ts: JsonSyntaxError, MAX_DEPTH, error codes and messages.
 * - backend.ts: the backend switch and the scan counters.
 * - object-scan.ts, array-scan.ts: the public scans, with region.ts (the region they scan, and
 *   the error when it is not the container they expect); decode.ts: the span decoders.
 */

export {
  ELEMENT_NOT_OBJECT,
  ELEMENT_SCANNED,
  ELEMENT_UNSCANNED,
  scanArrayElements,
  scanArrayElementsUtf8,
  scanArrayOfObjectsUtf8,
} from './json-scan/array-scan.ts';
export type { ArrayTooLong, ScannedArray } from './json-scan/array-scan.ts';
export { getScanStats, scanUsesWasm, setScanBackend, type ScanBackend, type ScanStats } from './json-scan/backend.ts';
export { decodeString, decodeValue } from './json-scan/decode.ts';
export { JsonSyntaxError, MAX_DEPTH } from './json-scan/errors.ts';
export { scanObject } from './json-scan/object-scan.ts';
export { FieldPlan, type JsonPath } from './json-scan/plan.ts';
