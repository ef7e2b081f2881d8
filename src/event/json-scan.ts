/**
 * Validating, (almost) non-allocating JSON scanner that extracts only wanted fields.
 *
 * The hot path of the relay: instead of `JSON.parse`-ing every Kong log entry we scan the
 * text once, validate it exactly like `JSON.parse` would (RFC 8259), and record the
 * [start, end) offsets of the raw JSON values found at a few wanted paths. Callers then decode
 * only the values they need with {@link decodeValue} / {@link decodeString}.
 *
 * How (numbers measured on Node 20, see bench/json-scan.bench.ts):
 * - `text.charCodeAt(i)` costs ~2 ns per call on this class of machine, about what `JSON.parse`
 *   spends per character as a whole, and `text.indexOf('"', i)` costs ~9 ns per call, so a
 *   scanner that works on the JS string cannot be much faster than `JSON.parse`.
 * - So each scan first copies the text into a byte buffer with `TextEncoder.encodeInto`
 *   (~0.07 ns/char for ASCII; byte offsets == string offsets because every UTF-16 unit becomes
 *   exactly one byte, non-ASCII units become the placeholder byte 0x80, see `load`), then a tiny
 *   hand-assembled WebAssembly SIMD kernel computes a bitmap of the bytes that matter inside
 *   strings (`"`, `\` and control characters < 0x20). The JS state machine then reads only the
 *   structural bytes, numbers and escapes, and jumps over string contents with the bitmap
 *   (Math.clz32), which also rejects unescaped control characters without looking at each char.
 * - Where WebAssembly SIMD is unavailable the bitmap is computed in JS (slower, same results).
 * - A 0x00 sentinel byte after the region means no bounds checks are needed in the hot loops:
 *   no JSON token can continue over a NUL byte.
 * - Iterative (explicit stack in module-level typed arrays): no recursion, no stack overflow on
 *   deep input; nesting deeper than {@link MAX_DEPTH} is reported as an error.
 * - Nothing is allocated per successful scan of an ASCII object except the small result object
 *   of `encodeInto` (and a sliced string when start/end select a part of the text); substrings
 *   are only created to unescape a key with a backslash inside an object the plan looks into.
 *
 * Scans are synchronous and share module-level scratch buffers; every call resets what it uses.
 */

/** One wanted path, e.g. ["request", "method"], ["workspaces", 0, "name"], ["request","headers","host"]. */
export type JsonPath = readonly (string | number)[];

/** Maximum nesting depth of objects/arrays accepted (the top-level container is depth 1). */
export const MAX_DEPTH = 512;

/** Where a scan failed. `position` is a UTF-16 offset into the scanned text. */
export class JsonSyntaxError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(message);
    this.name = "JsonSyntaxError";
    this.position = position;
  }
}

interface TrieBuildNode {
  slot: number;
  keys: Map<string, TrieBuildNode>;
  indices: Map<number, TrieBuildNode>;
  id: number;
}

/**
 * Compiled set of wanted paths (build once, reuse for millions of scans).
 * Path i is reported in slot i, i.e. in spans[2*i] and spans[2*i+1].
 *
 * A string step only matches an object key (compared after unescaping), a number step (a
 * non-negative integer) only matches an array index. The empty path `[]` selects the whole
 * top-level value. The same path may be listed more than once; every slot is filled.
 * Throws a TypeError for a step that is neither a string nor a non-negative integer.
 */
export class FieldPlan {
  /** Number of paths (slots). A spans array must have at least 2*size entries. */
  readonly size: number;
  /** The paths, as given (copied). */
  readonly paths: readonly JsonPath[];

  // ---- compiled trie, flattened into typed arrays (internal) ----
  /** @internal per node: slot index or -1 */
  readonly _slot: Int32Array;
  /** @internal per node: first key child in the _kid* arrays */
  readonly _keyStart: Int32Array;
  /** @internal per node: number of key children */
  readonly _keyCount: Int32Array;
  /** @internal per key child: key length in UTF-16 units */
  readonly _kidLen: Int32Array;
  /** @internal per key child: first unit of the key as a scan byte (0x80 if non-ASCII), -1 for "" */
  readonly _kidFirst: Int32Array;
  /** @internal per key child: 1 when the key is all ASCII (compared on bytes), else 0 (compared on the text) */
  readonly _kidAscii: Uint8Array;
  /** @internal per key child: offset of its UTF-16 units in _kidCodes */
  readonly _kidCodeAt: Int32Array;
  /** @internal UTF-16 units of all keys */
  readonly _kidCodes: Uint16Array;
  /** @internal per key child: child node */
  readonly _kidNode: Int32Array;
  /** @internal per node: offset of its open-addressing key hash table in _hashTable */
  readonly _hashAt: Int32Array;
  /** @internal per node: table size - 1 (a power of two minus one) */
  readonly _hashMask: Int32Array;
  /** @internal key child index + 1 per table entry, 0 = empty */
  readonly _hashTable: Int32Array;
  /** @internal per node: key -> child node, used for keys with escapes (null when no key children) */
  readonly _keyMap: (Map<string, number> | null)[];
  /** @internal per node: first index child in the _idx* arrays */
  readonly _idxStart: Int32Array;
  /** @internal per node: number of index children */
  readonly _idxCount: Int32Array;
  /** @internal per index child: the array index */
  readonly _idxVal: Int32Array;
  /** @internal per index child: child node */
  readonly _idxNode: Int32Array;
  /** @internal per node: first entry in _subSlots of the slots strictly below the node */
  readonly _subStart: Int32Array;
  /** @internal per node: number of slots strictly below the node */
  readonly _subCount: Int32Array;
  /** @internal */
  readonly _subSlots: Int32Array;
  /** @internal (dst, src) slot pairs for paths listed more than once */
  readonly _aliases: Int32Array;

  constructor(paths: readonly JsonPath[]) {
    if (!Array.isArray(paths)) throw new TypeError("FieldPlan: paths must be an array of paths");
    this.paths = Object.freeze(paths.map((p) => Object.freeze([...(p as JsonPath)])));
    this.size = paths.length;
    const nodes: TrieBuildNode[] = [];
    const mk = (): TrieBuildNode => {
      const n: TrieBuildNode = { slot: -1, keys: new Map(), indices: new Map(), id: nodes.length };
      nodes.push(n);
      return n;
    };
    const root = mk();
    const aliases: number[] = [];
    paths.forEach((path, slot) => {
      if (!Array.isArray(path)) throw new TypeError(`FieldPlan: path ${slot} is not an array`);
      let n = root;
      for (const step of path as readonly unknown[]) {
        let next: TrieBuildNode | undefined;
        if (typeof step === "string") {
          next = n.keys.get(step);
          if (next === undefined) n.keys.set(step, (next = mk()));
        } else if (typeof step === "number" && Number.isInteger(step) && step >= 0 && step <= 0x7fffffff) {
          next = n.indices.get(step);
          if (next === undefined) n.indices.set(step, (next = mk()));
        } else {
          throw new TypeError(
            `FieldPlan: path ${slot} has an invalid step ${String(step)} (expected a string or a non-negative integer)`,
          );
        }
        n = next;
      }
      if (n.slot >= 0) aliases.push(slot, n.slot);
      else n.slot = slot;
    });

    const N = nodes.length;
    this._slot = new Int32Array(N);
    this._keyStart = new Int32Array(N);
    this._keyCount = new Int32Array(N);
    this._idxStart = new Int32Array(N);
    this._idxCount = new Int32Array(N);
    this._subStart = new Int32Array(N);
    this._subCount = new Int32Array(N);
    this._keyMap = [];
    const kidKey: string[] = [];
    const kidNode: number[] = [];
    const idxVal: number[] = [];
    const idxNode: number[] = [];
    const subSlots: number[] = [];
    const collect = (n: TrieBuildNode, out: number[]): void => {
      for (const k of [...n.keys.values(), ...n.indices.values()]) {
        if (k.slot >= 0) out.push(k.slot);
        collect(k, out);
      }
    };
    for (const n of nodes) {
      const i = n.id;
      this._slot[i] = n.slot;
      this._keyStart[i] = kidKey.length;
      this._keyCount[i] = n.keys.size;
      this._keyMap.push(n.keys.size > 0 ? new Map([...n.keys].map(([k, v]) => [k, v.id])) : null);
      for (const [k, v] of n.keys) {
        kidKey.push(k);
        kidNode.push(v.id);
      }
      this._idxStart[i] = idxVal.length;
      this._idxCount[i] = n.indices.size;
      for (const [k, v] of n.indices) {
        idxVal.push(k);
        idxNode.push(v.id);
      }
      const below: number[] = [];
      collect(n, below);
      this._subStart[i] = subSlots.length;
      this._subCount[i] = below.length;
      subSlots.push(...below);
    }
    const K = kidKey.length;
    this._kidLen = new Int32Array(K);
    this._kidFirst = new Int32Array(K);
    this._kidAscii = new Uint8Array(K);
    this._kidCodeAt = new Int32Array(K);
    let total = 0;
    for (const k of kidKey) total += k.length;
    this._kidCodes = new Uint16Array(total);
    let at = 0;
    for (let j = 0; j < K; j++) {
      const k = kidKey[j];
      this._kidLen[j] = k.length;
      this._kidCodeAt[j] = at;
      let ascii = 1;
      for (let c = 0; c < k.length; c++) {
        const u = k.charCodeAt(c);
        this._kidCodes[at++] = u;
        if (u >= 0x80) ascii = 0;
      }
      this._kidAscii[j] = ascii;
      this._kidFirst[j] = k.length === 0 ? -1 : Math.min(k.charCodeAt(0), 0x80);
    }
    this._kidNode = Int32Array.from(kidNode);
    // Per node hash tables over (length, first unit, last unit) of the keys, load factor <= 1/2.
    this._hashAt = new Int32Array(N);
    this._hashMask = new Int32Array(N);
    const table: number[] = [];
    for (let i = 0; i < N; i++) {
      const count = this._keyCount[i];
      if (count === 0) continue;
      let size = 4;
      while (size < 2 * count) size *= 2;
      this._hashAt[i] = table.length;
      this._hashMask[i] = size - 1;
      const at = table.length;
      for (let t = 0; t < size; t++) table.push(0);
      for (let j = this._keyStart[i], stop = j + count; j < stop; j++) {
        const k = kidKey[j];
        const h = k.length === 0 ? 0 : keyHash(k.length, Math.min(k.charCodeAt(0), 0x80), Math.min(k.charCodeAt(k.length - 1), 0x80));
        let t = h & (size - 1);
        while (table[at + t] !== 0) t = (t + 1) & (size - 1);
        table[at + t] = j + 1;
      }
    }
    this._hashTable = Int32Array.from(table);
    this._idxVal = Int32Array.from(idxVal);
    this._idxNode = Int32Array.from(idxNode);
    this._subSlots = Int32Array.from(subSlots);
    this._aliases = Int32Array.from(aliases);
  }

  /** A fresh spans array of the right size (2*size), all -1. */
  newSpans(): Int32Array {
    return new Int32Array(2 * this.size).fill(-1);
  }
}

// ---------------------------------------------------------------------------------------
// Byte buffer + string-content bitmap.
//
// Memory layout (one ArrayBuffer, the WebAssembly memory when available):
//   [0, cap)                 the region's text as bytes, one byte per UTF-16 unit, then a 0 sentinel
//   [cap, cap + cap/8)       bitmap: bit (i & 31) of int32 word (i >> 5) is set iff byte i is '"', '\' or < 0x20

/**
 * Hand-assembled WebAssembly module (no toolchain needed). Exports:
 *   memory
 *   mask(src, words, dst): for w in [0, words): i32 at dst+4w = bitmap of the 32 bytes at src+32w
 *     (one v128 compare per 16 bytes: eq '"' | eq '\' | lt_u 0x20, then i8x16.bitmask)
 *   collapse(src, n, dst) -> count: rewrite UTF-8 bytes as one byte per UTF-16 unit: ASCII bytes
 *     are kept, each other code point becomes 0x80 (two for 4-byte sequences, which are surrogate
 *     pairs in UTF-16). Works in place (dst == src).
 */
function buildWasm(): Uint8Array {
  const leb = (n: number): number[] => {
    const out: number[] = [];
    do {
      let b = n & 0x7f;
      n >>>= 7;
      if (n !== 0) b |= 0x80;
      out.push(b);
    } while (n !== 0);
    return out;
  };
  const section = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];
  const ascii = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const LOCAL_GET = 0x20;
  const LOCAL_SET = 0x21;
  const I32_CONST = 0x41;
  const I32_ADD = 0x6a;
  const SIMD = 0xfd;
  const v128splat = (b: number): number[] => [SIMD, 0x0c, ...(new Array(16).fill(b) as number[])];
  // bitmask of local 6 (v128): (v == '"') | (v == '\') | (v <u 0x20)
  const maskOf = [
    ...[LOCAL_GET, 6, LOCAL_GET, 3, SIMD, 0x23], // i8x16.eq
    ...[LOCAL_GET, 6, LOCAL_GET, 4, SIMD, 0x23],
    ...[SIMD, 0x50], // v128.or
    ...[LOCAL_GET, 6, LOCAL_GET, 5, SIMD, 0x26], // i8x16.lt_u
    ...[SIMD, 0x50],
    ...[SIMD, 0x64], // i8x16.bitmask
  ];
  // params: 0 src, 1 words, 2 dst; locals 3..6: v128
  const maskBody = [
    1, 4, 0x7b,
    ...v128splat(34), LOCAL_SET, 3,
    ...v128splat(92), LOCAL_SET, 4,
    ...v128splat(32), LOCAL_SET, 5,
    0x02, 0x40, // block
    0x03, 0x40, // loop
    LOCAL_GET, 1, 0x45, 0x0d, 1, // br_if (words == 0) out
    LOCAL_GET, 2, // store address
    LOCAL_GET, 0, SIMD, 0x00, 4, 0, LOCAL_SET, 6, // v128.load offset 0
    ...maskOf,
    LOCAL_GET, 0, SIMD, 0x00, 4, 16, LOCAL_SET, 6, // v128.load offset 16
    ...maskOf,
    I32_CONST, 16, 0x74, 0x72, // (hi << 16) | lo
    0x36, 2, 0, // i32.store
    LOCAL_GET, 0, I32_CONST, 32, I32_ADD, LOCAL_SET, 0,
    LOCAL_GET, 2, I32_CONST, 4, I32_ADD, LOCAL_SET, 2,
    LOCAL_GET, 1, I32_CONST, 1, 0x6b, LOCAL_SET, 1,
    0x0c, 0, // br loop
    0x0b, 0x0b, 0x0b,
  ];
  // params: 0 src, 1 n, 2 dst; locals 3 end, 4 b, 5 d0
  const inc = (local: number): number[] => [LOCAL_GET, local, I32_CONST, 1, I32_ADD, LOCAL_SET, local];
  const store80 = [LOCAL_GET, 2, I32_CONST, 0x80, 0x01, 0x3a, 0, 0, ...inc(2)];
  const collapseBody = [
    1, 3, 0x7f,
    LOCAL_GET, 0, LOCAL_GET, 1, I32_ADD, LOCAL_SET, 3,
    LOCAL_GET, 2, LOCAL_SET, 5,
    0x02, 0x40,
    0x03, 0x40,
    LOCAL_GET, 0, LOCAL_GET, 3, 0x4f, 0x0d, 1, // br_if (src >=u end) out
    LOCAL_GET, 0, 0x2d, 0, 0, LOCAL_SET, 4, // b = load8_u(src)
    LOCAL_GET, 4, I32_CONST, 0x80, 0x01, 0x49, // b <u 0x80
    0x04, 0x40,
    LOCAL_GET, 2, LOCAL_GET, 4, 0x3a, 0, 0, ...inc(2), // store8(dst, b)
    0x05,
    LOCAL_GET, 4, I32_CONST, 0xc0, 0x01, 0x4f, // b >=u 0xc0 (lead byte)
    0x04, 0x40,
    ...store80,
    LOCAL_GET, 4, I32_CONST, 0xf0, 0x01, 0x4f, // b >=u 0xf0 (4-byte sequence)
    0x04, 0x40,
    ...store80,
    0x0b,
    0x0b,
    0x0b,
    ...inc(0),
    0x0c, 0,
    0x0b, 0x0b,
    LOCAL_GET, 2, LOCAL_GET, 5, 0x6b, // dst - d0
    0x0b,
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [2, 0x60, 3, 0x7f, 0x7f, 0x7f, 0, 0x60, 3, 0x7f, 0x7f, 0x7f, 1, 0x7f]),
    ...section(3, [2, 0, 1]),
    ...section(5, [1, 0, 1]),
    ...section(7, [3, ...ascii("memory"), 2, 0, ...ascii("mask"), 0, 0, ...ascii("collapse"), 0, 1]),
    ...section(10, [2, ...leb(maskBody.length), ...maskBody, ...leb(collapseBody.length), ...collapseBody]),
  ]);
}

interface WasmKernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  mask(src: number, words: number, dst: number): void;
  collapse(src: number, n: number, dst: number): number;
}

/** The part of the WebAssembly JS API used here (not in the es2023 lib typings). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}

function loadWasm(): WasmKernel | null {
  try {
    // Typed-array bitmap words are read in platform byte order; wasm stores little-endian.
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) return null;
    const WA = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
    if (WA === undefined) return null;
    const instance = new WA.Instance(new WA.Module(buildWasm()), {});
    return instance.exports as unknown as WasmKernel;
  } catch {
    return null; // no WebAssembly or no SIMD: the JS fallback computes the same bitmap
  }
}

const wasm = loadWasm();
/** Whether the WebAssembly SIMD kernel is in use (else a slower pure-JS bitmap is computed). */
export const JSON_SCAN_USES_WASM: boolean = wasm !== null;

const encoder = new TextEncoder();
let cap = 0; // capacity of the text area (bytes)
let gU8 = new Uint8Array(0); // the text area
let gMask = new Int32Array(0); // the bitmap
let jsBuffer: ArrayBuffer | null = null;

function ensureCapacity(need: number): void {
  if (need <= cap && gU8.buffer.byteLength !== 0) return;
  let c = Math.max(cap, 4096);
  while (c < need) c *= 2;
  const total = c + (c >> 3) + 64;
  let buf: ArrayBuffer;
  if (wasm !== null) {
    const have = wasm.memory.buffer.byteLength;
    if (have < total) wasm.memory.grow(Math.ceil((total - have) / 65536));
    buf = wasm.memory.buffer;
  } else {
    if (jsBuffer === null || jsBuffer.byteLength < total) jsBuffer = new ArrayBuffer(total);
    buf = jsBuffer;
  }
  cap = c;
  gU8 = new Uint8Array(buf, 0, c);
  gMask = new Int32Array(buf, c, (c >> 5) + 2);
}

/**
 * Put text[s..e) into gU8[0..n) (one byte per UTF-16 unit: ASCII as is, anything else 0x80),
 * a 0 sentinel at gU8[n], and the bitmap of '"', '\\' and control bytes in gMask.
 */
function load(text: string, s: number, e: number): void {
  const n = e - s;
  ensureCapacity(n + 64);
  const str = s === 0 && e === text.length ? text : text.slice(s, e);
  const r = encoder.encodeInto(str, gU8);
  if (r.read !== n || r.written !== n) {
    // Not pure ASCII: each non-ASCII unit must become one 0x80 byte so that offsets match.
    let done = false;
    if (wasm !== null) {
      ensureCapacity(3 * n + 64);
      const r2 = encoder.encodeInto(str, gU8);
      done = r2.read === n && wasm.collapse(0, r2.written, 0) === n;
    }
    if (!done) transcodeJs(str, n);
  }
  gU8[n] = 0;
  const words = (n >>> 5) + 1;
  if (wasm !== null) wasm.mask(0, words, cap);
  else maskJs(words);
}

function transcodeJs(str: string, n: number): void {
  const u = gU8;
  for (let i = 0; i < n; i++) {
    const c = str.charCodeAt(i);
    u[i] = c < 0x80 ? c : 0x80;
  }
}

function maskJs(words: number): void {
  const u = gU8;
  const m = gMask;
  for (let w = 0; w < words; w++) {
    let bits = 0;
    const b = w << 5;
    for (let k = 0; k < 32; k++) {
      const c = u[b + k];
      if (c === 34 || c === 92 || c < 32) bits |= 1 << k;
    }
    m[w] = bits;
  }
}

// ---------------------------------------------------------------------------------------
// Scratch state (scans are synchronous; every call resets what it uses).

const stkNode = new Int32Array(MAX_DEPTH + 2);
const stkStart = new Int32Array(MAX_DEPTH + 2);
const stkIdx = new Int32Array(MAX_DEPTH + 2);
const stkIsArr = new Uint8Array(MAX_DEPTH + 2);

/** Whether the last scanned string contained an escape. */
let gEsc = false;
/** Error reporting (byte positions == text offsets relative to the region start). */
let gErrCode = 0;
let gErrPos = 0;

const E_EOF = 1;
const E_UNEXPECTED = 2;
const E_UNTERMINATED = 3;
const E_CONTROL = 4;
const E_ESCAPE = 5;
const E_DEPTH = 6;
const E_NOT_OBJECT = 7;
const E_TRAILING = 8;
const E_NOT_ARRAY = 9;
const E_NUMBER = 10;

function fail(code: number, pos: number): number {
  gErrCode = code;
  gErrPos = pos;
  return -1;
}

function describeChar(text: string, pos: number): string {
  const c = text.charCodeAt(pos);
  if (c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff)) return `\\u${c.toString(16).padStart(4, "0")}`;
  return text[pos] ?? "";
}

/** Build the error for gErrCode/gErrPos; `base` converts region offsets to text offsets. */
function makeError(text: string, base: number, end: number): JsonSyntaxError {
  const pos = base + gErrPos;
  const atEnd = pos >= end;
  let msg: string;
  switch (gErrCode) {
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

// ---------------------------------------------------------------------------------------
// Strings.

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/**
 * Scan the string whose opening quote is at byte i. Returns the position after the closing
 * quote, or -1 (error recorded). Sets gEsc. `end` is where the sentinel byte is.
 */
function scanString(u: Uint8Array, m: Int32Array, i: number, end: number): number {
  let p = i + 1;
  let w = p >>> 5;
  let bits = m[w] & (-1 << (p & 31));
  let esc = false;
  for (;;) {
    while (bits === 0) bits = m[++w];
    const j = (w << 5) + 31 - Math.clz32(bits & -bits);
    const b = u[j];
    if (b === 34) {
      gEsc = esc;
      return j + 1;
    }
    if (b !== 92) return j >= end ? fail(E_UNTERMINATED, i) : fail(E_CONTROL, j);
    // escape at j; u[end] is the 0 sentinel so reads stop there
    esc = true;
    const e = u[j + 1];
    if (e === 34 || e === 92 || e === 47 || e === 110 || e === 116 || e === 114 || e === 98 || e === 102) {
      p = j + 2;
    } else if (e === 117) {
      if (!(isHex(u[j + 2]) && isHex(u[j + 3]) && isHex(u[j + 4]) && isHex(u[j + 5]))) {
        return j + 5 >= end ? fail(E_UNTERMINATED, i) : fail(E_ESCAPE, j);
      }
      p = j + 6;
    } else {
      return j + 1 >= end ? fail(E_UNTERMINATED, i) : fail(E_ESCAPE, j);
    }
    w = p >>> 5;
    bits = m[w] & (-1 << (p & 31));
  }
}

// ---------------------------------------------------------------------------------------
// Plan helpers.

/** Find the key child of `node` whose key equals the unescaped key at bytes [s, e). */
function findKey(plan: FieldPlan, node: number, u: Uint8Array, s: number, e: number, text: string, base: number): number {
  const len = e - s;
  let first = -1;
  let h = 0;
  if (len > 0) {
    first = u[s];
    h = keyHash(len, first, u[e - 1]);
  }
  const table = plan._hashTable;
  const at = plan._hashAt[node];
  const mask = plan._hashMask[node];
  const kidLen = plan._kidLen;
  const kidFirst = plan._kidFirst;
  for (let t = h & mask; ; t = (t + 1) & mask) {
    const j = table[at + t] - 1;
    if (j < 0) return -1;
    if (kidLen[j] === len && kidFirst[j] === first) {
      const codes = plan._kidCodes;
      const at = plan._kidCodeAt[j];
      let k = 1;
      if (plan._kidAscii[j] === 1) {
        while (k < len && u[s + k] === codes[at + k]) k++;
      } else {
        k = 0;
        while (k < len && text.charCodeAt(base + s + k) === codes[at + k]) k++;
      }
      if (k >= len) return plan._kidNode[j];
    }
  }
}

/** Hash of a key by its length and first/last units (non-ASCII units as 0x80, like the scan bytes). */
function keyHash(len: number, first: number, last: number): number {
  return (len * 7 + first * 3 + last * 5) ^ (last >>> 2);
}

/** Find the key child of `node` for a raw key at text[ks, ke) (quotes included) that has escapes. */
function findEscapedKey(plan: FieldPlan, node: number, text: string, ks: number, ke: number): number {
  const map = plan._keyMap[node];
  if (map === null) return -1;
  let key: unknown;
  try {
    key = JSON.parse(text.slice(ks, ke));
  } catch {
    return -1; // cannot happen: the key was validated
  }
  const n = map.get(key as string);
  return n === undefined ? -1 : n;
}

function findIndex(plan: FieldPlan, node: number, index: number): number {
  const idxVal = plan._idxVal;
  for (let j = plan._idxStart[node], stop = j + plan._idxCount[node]; j < stop; j++) {
    if (idxVal[j] === index) return plan._idxNode[j];
  }
  return -1;
}

function resetBelow(plan: FieldPlan, node: number, spans: Int32Array): void {
  const sub = plan._subSlots;
  for (let j = plan._subStart[node], stop = j + plan._subCount[node]; j < stop; j++) {
    const s = sub[j] << 1;
    spans[s] = -1;
    spans[s + 1] = -1;
  }
}

// ---------------------------------------------------------------------------------------
// The scanner.

/**
 * Scan one JSON value starting exactly at byte `pos` (no leading whitespace) of the loaded
 * region; `end` is the region length (sentinel position). `node` is the plan node of the value
 * (-1: not tracked), `baseDepth` the nesting depth of its parent container. Spans are recorded
 * as text offsets (byte offset + base). Returns the position just after the value, or -1 with
 * the error recorded in gErrCode/gErrPos.
 */
function scanValue(
  text: string,
  base: number,
  pos: number,
  end: number,
  baseDepth: number,
  plan: FieldPlan,
  spans: Int32Array,
  node: number,
): number {
  const u = gU8;
  const m = gMask;
  const slotOf = plan._slot;
  const keyCount = plan._keyCount;
  const idxCount = plan._idxCount;
  let sp = 0; // open containers in this call
  let needKey = false;
  let c = u[pos];

  for (;;) {
    if (needKey) {
      // An object member is expected at pos (whitespace already skipped, c = u[pos]).
      if (c !== 34) return fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
      const ks = pos;
      pos = scanString(u, m, pos, end);
      if (pos < 0) return -1;
      const parent = stkNode[sp - 1];
      if (parent >= 0 && keyCount[parent] > 0) {
        node = gEsc
          ? findEscapedKey(plan, parent, text, base + ks, base + pos)
          : findKey(plan, parent, u, ks + 1, pos - 1, text, base);
        if (node >= 0) resetBelow(plan, node, spans);
      } else {
        node = -1;
      }
      c = u[pos];
      if (c !== 58) {
        while (c === 32 || c === 10 || c === 13 || c === 9) c = u[++pos];
        if (c !== 58) return fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
      }
      c = u[++pos];
      while (c === 32 || c === 10 || c === 13 || c === 9) c = u[++pos];
      needKey = false;
    }

    // ---- a value starts at pos, c === u[pos] ----
    const vs = pos;
    if (c === 34) {
      pos = scanString(u, m, pos, end);
      if (pos < 0) return -1;
    } else if (c === 123 || c === 91) {
      if (baseDepth + sp >= MAX_DEPTH) return fail(E_DEPTH, pos);
      const isArr = c === 91;
      stkNode[sp] = node;
      stkStart[sp] = vs;
      stkIdx[sp] = 0;
      stkIsArr[sp] = isArr ? 1 : 0;
      sp++;
      c = u[++pos];
      while (c === 32 || c === 10 || c === 13 || c === 9) c = u[++pos];
      if (c === (isArr ? 93 : 125)) {
        // empty container: recorded as a value below
        sp--;
        pos++;
      } else if (isArr) {
        node = node >= 0 && idxCount[node] > 0 ? findIndex(plan, node, 0) : -1;
        continue;
      } else {
        needKey = true;
        continue;
      }
    } else if (c === 116) {
      if (u[pos + 1] === 114 && u[pos + 2] === 117 && u[pos + 3] === 101) pos += 4;
      else return fail(E_UNEXPECTED, literalErrorPos(u, pos, "true"));
    } else if (c === 102) {
      if (u[pos + 1] === 97 && u[pos + 2] === 108 && u[pos + 3] === 115 && u[pos + 4] === 101) pos += 5;
      else return fail(E_UNEXPECTED, literalErrorPos(u, pos, "false"));
    } else if (c === 110) {
      if (u[pos + 1] === 117 && u[pos + 2] === 108 && u[pos + 3] === 108) pos += 4;
      else return fail(E_UNEXPECTED, literalErrorPos(u, pos, "null"));
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      // -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
      if (c === 45) {
        c = u[++pos];
        if (c < 48 || c > 57) return fail(E_NUMBER, pos);
      }
      if (c === 48) {
        c = u[++pos];
      } else {
        do c = u[++pos];
        while (c >= 48 && c <= 57);
      }
      if (c === 46) {
        c = u[++pos];
        if (c < 48 || c > 57) return fail(E_NUMBER, pos);
        do c = u[++pos];
        while (c >= 48 && c <= 57);
      }
      if (c === 101 || c === 69) {
        c = u[++pos];
        if (c === 43 || c === 45) c = u[++pos];
        if (c < 48 || c > 57) return fail(E_NUMBER, pos);
        do c = u[++pos];
        while (c >= 48 && c <= 57);
      }
    } else {
      return fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
    }

    // ---- value [vs, pos) done (scalar or empty container) ----
    if (node >= 0) {
      const s = slotOf[node];
      if (s >= 0) {
        spans[s << 1] = base + vs;
        spans[(s << 1) + 1] = base + pos;
      }
    }

    // ---- after a value: close containers, or move to the next member/element ----
    for (;;) {
      if (sp === 0) return pos;
      c = u[pos];
      while (c === 32 || c === 10 || c === 13 || c === 9) c = u[++pos];
      const top = sp - 1;
      if (c === 44) {
        c = u[++pos];
        while (c === 32 || c === 10 || c === 13 || c === 9) c = u[++pos];
        if (stkIsArr[top] === 0) {
          needKey = true;
        } else {
          const idx = ++stkIdx[top];
          const parent = stkNode[top];
          node = parent >= 0 && idxCount[parent] > 0 ? findIndex(plan, parent, idx) : -1;
        }
        break;
      }
      if (c === (stkIsArr[top] === 0 ? 125 : 93)) {
        pos++;
        sp = top;
        const n = stkNode[top];
        if (n >= 0) {
          const s = slotOf[n];
          if (s >= 0) {
            spans[s << 1] = base + stkStart[top];
            spans[(s << 1) + 1] = base + pos;
          }
        }
        continue;
      }
      return fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
    }
  }
}

/** Position of the first byte where u[pos..] stops matching the literal. */
function literalErrorPos(u: Uint8Array, pos: number, lit: string): number {
  let k = 1;
  while (k < lit.length && u[pos + k] === lit.charCodeAt(k)) k++;
  return pos + k;
}

function isWs(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

const EMPTY_PLAN = new FieldPlan([]);
const NO_SPANS = new Int32Array(0);

let gRegionStart = 0;
let gRegionEnd = 0;

/** Clamp optional start/end and trim JSON whitespace at both ends (into gRegionStart/End). */
function region(text: string, start: number | undefined, end: number | undefined): void {
  let s = start === undefined ? 0 : Math.trunc(start);
  let e = end === undefined ? text.length : Math.trunc(end);
  if (!(s >= 0)) s = 0; // also NaN
  if (!(e <= text.length)) e = text.length;
  if (!(e >= s)) e = s;
  while (s < e && isWs(text.charCodeAt(s))) s++;
  while (e > s && isWs(text.charCodeAt(e - 1))) e--;
  gRegionStart = s;
  gRegionEnd = e;
}

/** Scan the loaded region [0, n) as one value; report a syntax error, trailing garbage, or `wrongType`. */
function classifyNonContainer(text: string, s: number, n: number, wrongType: number): void {
  const r = scanValue(text, s, 0, n, 0, EMPTY_PLAN, NO_SPANS, -1);
  if (r >= 0) {
    if (r < n) fail(E_TRAILING, r);
    else fail(wrongType, 0);
  }
}

/**
 * Validate that text[start..end) is exactly one JSON value that is an OBJECT, optionally
 * surrounded by JSON whitespace (and nothing else up to `end`, default text.length), and fill
 * spans: spans[2*i] = start offset of the raw value at plan path i, spans[2*i+1] = end offset
 * (exclusive), both -1 when the path is absent. Offsets are into `text` (not relative to start).
 *
 * Returns null on success or a JsonSyntaxError (never throws because of the text; nesting deeper
 * than {@link MAX_DEPTH} is an error although JSON.parse would accept it). On error the content
 * of spans is unspecified. Throws a RangeError only if spans is shorter than 2*plan.size.
 */
export function scanObject(
  text: string,
  plan: FieldPlan,
  spans: Int32Array,
  start?: number,
  end?: number,
): JsonSyntaxError | null {
  const n2 = plan.size << 1;
  if (spans.length < n2) throw new RangeError(`scanObject: spans has ${spans.length} entries, the plan needs ${n2}`);
  spans.fill(-1, 0, n2);
  region(text, start, end);
  const s = gRegionStart;
  const e = gRegionEnd;
  if (s >= e) {
    fail(E_EOF, 0);
    return makeError(text, s, e);
  }
  load(text, s, e);
  const n = e - s;
  if (gU8[0] !== 123) {
    classifyNonContainer(text, s, n, E_NOT_OBJECT);
    return makeError(text, s, e);
  }
  const r = scanValue(text, s, 0, n, 0, plan, spans, 0);
  if (r < 0) return makeError(text, s, e);
  if (r < n) {
    fail(E_TRAILING, r);
    return makeError(text, s, e);
  }
  const al = plan._aliases;
  for (let j = 0; j < al.length; j += 2) {
    const dst = al[j] << 1;
    const src = al[j + 1] << 1;
    spans[dst] = spans[src];
    spans[dst + 1] = spans[src + 1];
  }
  return null;
}

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
  if (s >= e) {
    fail(E_EOF, 0);
    return makeError(text, s, e);
  }
  load(text, s, e);
  const n = e - s;
  const u = gU8;
  if (u[0] !== 91) {
    classifyNonContainer(text, s, n, E_NOT_ARRAY);
    return makeError(text, s, e);
  }
  let count = 0;
  let pos = 1;
  while (isWs(u[pos])) pos++;
  if (u[pos] === 93) {
    pos++;
  } else {
    for (;;) {
      const r = scanValue(text, s, pos, n, 1, EMPTY_PLAN, NO_SPANS, -1);
      if (r < 0) return makeError(text, s, e);
      if (count + 2 > elemBuf.length) {
        const bigger = new Int32Array(elemBuf.length * 2);
        bigger.set(elemBuf);
        elemBuf = bigger;
      }
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

// ---------------------------------------------------------------------------------------
// Decoding.

function hasBackslash(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (text.charCodeAt(i) === 92) return true;
  return false;
}

/**
 * Decode the raw JSON value text.slice(start, end) (a span from a successful scan of the same
 * text). Returns undefined when start < 0 (absent path). Strings without backslashes are just
 * sliced, numbers and literals are decoded without JSON.parse, anything else goes through
 * JSON.parse of the slice. Throws a SyntaxError only if the span is not valid JSON (i.e. it did
 * not come from a successful scan of this text).
 */
export function decodeValue(text: string, start: number, end: number): unknown {
  if (start < 0) return undefined;
  const c = text.charCodeAt(start);
  if (c === 34) {
    if (end - start >= 2 && !hasBackslash(text, start + 1, end - 1)) return text.slice(start + 1, end - 1);
  } else if (c === 45 || (c >= 48 && c <= 57)) {
    return Number(text.slice(start, end));
  } else if (c === 116 && end - start === 4) {
    return true;
  } else if (c === 102 && end - start === 5) {
    return false;
  } else if (c === 110 && end - start === 4) {
    return null;
  }
  return JSON.parse(text.slice(start, end)) as unknown;
}

/**
 * Decode a span that holds a JSON string (from a successful scan of the same text); undefined
 * when the path was absent (start < 0) or the value is not a string.
 */
export function decodeString(text: string, start: number, end: number): string | undefined {
  if (start < 0 || end - start < 2 || text.charCodeAt(start) !== 34) return undefined;
  if (!hasBackslash(text, start + 1, end - 1)) return text.slice(start + 1, end - 1);
  return JSON.parse(text.slice(start, end)) as string;
}
