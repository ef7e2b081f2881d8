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
 * - A hand-assembled WebAssembly kernel (`scan`, built by `buildWasm`; no toolchain needed) then
 *   validates the bytes and walks the plan's trie, skipping string contents 16 bytes at a time
 *   with SIMD compares for `"`, `\` and control characters (rejecting the latter), and writes
 *   the spans. A 0 sentinel byte after the region means no bounds checks: no token can
 *   continue over a NUL byte.
 * - The same algorithm exists in JS (`scanValue`, on the same bytes plus a bitmap of the string
 *   specials). It is used when WebAssembly SIMD is unavailable, when the plan has a non-ASCII
 *   key, when the kernel bails out (a key with a backslash inside an object the plan looks
 *   into: JS unescapes it), and to produce the exact error after the kernel rejected the text.
 *   Both are property-tested against JSON.parse.
 * - Iterative (explicit stacks): no recursion, no stack overflow on deep input; nesting deeper
 *   than {@link MAX_DEPTH} is reported as an error.
 * - Per successful scan nothing is allocated but the small result object of `encodeInto` (and a
 *   sliced string when start/end select part of the text).
 *
 * Scans are synchronous and share module-level scratch buffers; every call resets what it uses.
 */

import { byteStringOf, textOf, type ByteString } from './byte-string.ts';

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
 *
 * With `bytes`, the texts scanned with the plan are byte strings (see byte-string.ts): offsets
 * are byte offsets, and keys are matched on their UTF-8 bytes.
 */
export class FieldPlan {
  /** Number of paths (slots). A spans array must have at least 2*size entries. */
  readonly size: number;
  /** The paths, as given (copied). */
  readonly paths: readonly JsonPath[];
  /** Texts scanned with this plan are byte strings. */
  readonly bytes: boolean;

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
  /** @internal the trie for the wasm kernel, or null when a key is not ASCII (then the JS scanner is used) */
  readonly _image: Int32Array | null;

  constructor(paths: readonly JsonPath[], options: { readonly bytes?: boolean } = {}) {
    if (!Array.isArray(paths)) throw new TypeError("FieldPlan: paths must be an array of paths");
    this.paths = Object.freeze(paths.map((p) => Object.freeze([...(p as JsonPath)])));
    this.size = paths.length;
    this.bytes = options.bytes === true;
    const keyOf = this.bytes ? byteStringOf : (step: string): string => step;
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
          const key = keyOf(step);
          next = n.keys.get(key);
          if (next === undefined) n.keys.set(key, (next = mk()));
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
    this._image = this.buildImage(kidKey);
  }

  /**
   * Serialize the trie for the wasm kernel. Byte offsets are relative to the image start:
   *   header [kidsRel, 0, 0, 0]
   *   node i at 16 + 32*i: [slot, hashRel, hashMask, keyCount, idxRel, idxCount, subRel, subCount]
   *   hash tables (i32: key child index + 1, 0 = empty), key children [len, bytesRel, node],
   *   index children [index, node], slots below nodes, key bytes.
   */
  private buildImage(kidKey: readonly string[]): Int32Array | null {
    for (const k of kidKey) for (let c = 0; c < k.length; c++) if (k.charCodeAt(c) >= 0x80) return null;
    const N = this._slot.length;
    const K = kidKey.length;
    const hashRel = IMG_HEADER + IMG_NODE * N;
    const kidsRel = hashRel + 4 * this._hashTable.length;
    const idxRel = kidsRel + 12 * K;
    const subRel = idxRel + 8 * this._idxVal.length;
    const bytesRel = subRel + 4 * this._subSlots.length;
    let keyBytes = 0;
    for (const k of kidKey) keyBytes += k.length;
    const img = new Int32Array((bytesRel + keyBytes + 3) >> 2);
    img[0] = kidsRel;
    for (let i = 0; i < N; i++) {
      const o = (IMG_HEADER + IMG_NODE * i) >> 2;
      img[o] = this._slot[i];
      img[o + 1] = hashRel + 4 * this._hashAt[i];
      img[o + 2] = this._hashMask[i];
      img[o + 3] = this._keyCount[i];
      img[o + 4] = idxRel + 8 * this._idxStart[i];
      img[o + 5] = this._idxCount[i];
      img[o + 6] = subRel + 4 * this._subStart[i];
      img[o + 7] = this._subCount[i];
    }
    img.set(this._hashTable, hashRel >> 2);
    const bytes = new Uint8Array(img.buffer);
    let at = bytesRel;
    for (let j = 0; j < K; j++) {
      const o = (kidsRel >> 2) + 3 * j;
      img[o] = kidKey[j].length;
      img[o + 1] = at;
      img[o + 2] = this._kidNode[j];
      for (let c = 0; c < kidKey[j].length; c++) bytes[at++] = kidKey[j].charCodeAt(c);
    }
    for (let j = 0; j < this._idxVal.length; j++) {
      img[(idxRel >> 2) + 2 * j] = this._idxVal[j];
      img[(idxRel >> 2) + 2 * j + 1] = this._idxNode[j];
    }
    img.set(this._subSlots, subRel >> 2);
    return img;
  }

  /** A fresh spans array of the right size (2*size), all -1. */
  newSpans(): Int32Array {
    return new Int32Array(2 * this.size).fill(-1);
  }
}

// ---------------------------------------------------------------------------------------
// WebAssembly kernel and byte buffer.

/** Minimal WebAssembly code emitter: structured control flow with named labels. */
class Asm {
  readonly out: number[] = [];
  private readonly labels: string[] = [];
  op(...bytes: number[]): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }
  get(l: number): this {
    return this.op(0x20, l);
  }
  set(l: number): this {
    return this.op(0x21, l);
  }
  tee(l: number): this {
    return this.op(0x22, l);
  }
  i32(v: number): this {
    return this.op(0x41, ...sleb(v));
  }
  add(): this {
    return this.op(0x6a);
  }
  sub(): this {
    return this.op(0x6b);
  }
  mul(): this {
    return this.op(0x6c);
  }
  and(): this {
    return this.op(0x71);
  }
  or(): this {
    return this.op(0x72);
  }
  xor(): this {
    return this.op(0x73);
  }
  shl(): this {
    return this.op(0x74);
  }
  shrU(): this {
    return this.op(0x76);
  }
  eqz(): this {
    return this.op(0x45);
  }
  eq(): this {
    return this.op(0x46);
  }
  ne(): this {
    return this.op(0x47);
  }
  ltS(): this {
    return this.op(0x48);
  }
  ltU(): this {
    return this.op(0x49);
  }
  geS(): this {
    return this.op(0x4e);
  }
  geU(): this {
    return this.op(0x4f);
  }
  ctz(): this {
    return this.op(0x68);
  }
  load(offset = 0): this {
    return this.op(0x28, 2, ...uleb(offset));
  }
  load8(offset = 0): this {
    return this.op(0x2d, 0, ...uleb(offset));
  }
  store(offset = 0): this {
    return this.op(0x36, 2, ...uleb(offset));
  }
  store8(offset = 0): this {
    return this.op(0x3a, 0, ...uleb(offset));
  }
  ret(): this {
    return this.op(0x0f);
  }
  /** local += v */
  inc(l: number, v = 1): this {
    return this.get(l).i32(v).add().set(l);
  }
  block(name: string, body: () => void): this {
    this.op(0x02, 0x40);
    this.labels.push(name);
    body();
    this.labels.pop();
    return this.op(0x0b);
  }
  loop(name: string, body: () => void): this {
    this.op(0x03, 0x40);
    this.labels.push(name);
    body();
    this.labels.pop();
    return this.op(0x0b);
  }
  /** if (pop) body [else elseBody] */
  if(body: () => void, elseBody?: () => void): this {
    this.op(0x04, 0x40);
    this.labels.push("");
    body();
    if (elseBody !== undefined) {
      this.op(0x05);
      elseBody();
    }
    this.labels.pop();
    return this.op(0x0b);
  }
  private depth(name: string): number {
    const i = this.labels.lastIndexOf(name);
    if (i < 0) throw new Error(`wasm asm: no label ${name}`);
    return this.labels.length - 1 - i;
  }
  br(name: string): this {
    return this.op(0x0c, ...uleb(this.depth(name)));
  }
  brIf(name: string): this {
    return this.op(0x0d, ...uleb(this.depth(name)));
  }
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

// Fixed memory layout of the wasm kernel (byte addresses).
const W_CLS = 256; // 256-byte character class table
const CLS_WS = 1; // JSON whitespace
const CLS_ESC = 2; // valid character after a backslash (except u)
const CLS_HEX = 4;
const CLS_DIGIT = 8;
const W_STK_NODE = 512; // i32 per nesting level
const W_STK_START = W_STK_NODE + 4 * (MAX_DEPTH + 8);
const W_STK_IDX = W_STK_START + 4 * (MAX_DEPTH + 8);
const W_STK_ARR = W_STK_IDX + 4 * (MAX_DEPTH + 8);
const W_FIXED_END = W_STK_ARR + 4 * (MAX_DEPTH + 8);

/** Plan image layout (see FieldPlan._image): header then 32-byte node records. */
const IMG_HEADER = 16;
const IMG_NODE = 32;

/**
 * Build the WebAssembly module (no toolchain needed). Exports:
 *   memory
 *   mask(src, words, dst): for w in [0, words): i32 at dst+4w = bitmap of the 32 bytes at src+32w
 *     ('"' | '\' | < 0x20, one v128 compare per 16 bytes + i8x16.bitmask); used by the JS scanner.
 *   collapse(src, n, dst) -> count: rewrite UTF-8 as one byte per UTF-16 unit (ASCII kept, each
 *     other code point becomes 0x80, two for 4-byte sequences); works in place, copies 16 bytes at
 *     a time while they are ASCII.
 *   narrow(src, units, dst) -> any: UTF-16LE units to one byte each, min(unit, 0x80), 16 units per
 *     step; works in place; returns non-zero when some unit was >= 0x80 (may over-report).
 *   scan(n, delta, planB, spansB, textB, node, baseDepth) -> end | -1 (invalid) | -2 (bail out):
 *     the whole validating scanner with plan tracking, see scanValue (the JS version) for the logic.
 */
function buildWasm(): Uint8Array {
  const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  const SIMD = 0xfd;
  const v128splat = (a: Asm, b: number): Asm => a.op(SIMD, 0x0c, ...(new Array(16).fill(b) as number[]));
  /** i32 bitmask of the v128 in local v: (v == '"') | (v == '\') | (v <u 0x20), locals q/b/c hold the splats */
  const special = (a: Asm, v: number, q: number, b: number, c: number): Asm =>
    a
      .get(v).get(q).op(SIMD, 0x23) // i8x16.eq
      .get(v).get(b).op(SIMD, 0x23)
      .op(SIMD, 0x50) // v128.or
      .get(v).get(c).op(SIMD, 0x26) // i8x16.lt_u
      .op(SIMD, 0x50)
      .op(SIMD, 0x64); // i8x16.bitmask

  // ---- mask(src, words, dst) ----
  const mask = new Asm();
  {
    const SRC = 0, WORDS = 1, DST = 2, Q = 3, B = 4, C = 5, V = 6;
    v128splat(mask, 34).set(Q);
    v128splat(mask, 92).set(B);
    v128splat(mask, 32).set(C);
    mask.block("out", () => {
      mask.loop("top", () => {
        mask.get(WORDS).eqz().brIf("out");
        mask.get(DST);
        mask.get(SRC).op(SIMD, 0x00, 4, 0).set(V);
        special(mask, V, Q, B, C);
        mask.get(SRC).op(SIMD, 0x00, 4, 16).set(V);
        special(mask, V, Q, B, C);
        mask.i32(16).shl().or().store();
        mask.inc(SRC, 32).inc(DST, 4).inc(WORDS, -1).br("top");
      });
    });
  }
  const maskCode = [1, 4, 0x7b, ...mask.out, 0x0b];

  // ---- collapse(src, n, dst) -> count ----
  const col = new Asm();
  {
    const SRC = 0, N = 1, DST = 2, END = 3, BYTE = 4, D0 = 5, V = 6;
    col.get(SRC).get(N).add().set(END).get(DST).set(D0);
    col.block("out", () => {
      col.loop("top", () => {
        col.get(SRC).get(END).geU().brIf("out");
        // 16 ASCII bytes at once (dst <= src, and v is loaded before the store)
        col.get(END).get(SRC).sub().i32(16).geU().if(() => {
          col.get(SRC).op(SIMD, 0x00, 0, 0).tee(V).op(SIMD, 0x64).eqz().if(() => {
            col.get(DST).get(V).op(SIMD, 0x0b, 0, 0); // v128.store
            col.inc(SRC, 16).inc(DST, 16).br("top");
          });
        });
        col.get(SRC).load8().set(BYTE);
        col.get(BYTE).i32(0x80).ltU().if(
          () => void col.get(DST).get(BYTE).store8().inc(DST),
          () => {
            col.get(BYTE).i32(0xc0).geU().if(() => {
              col.get(DST).i32(0x80).store8().inc(DST);
              col.get(BYTE).i32(0xf0).geU().if(() => void col.get(DST).i32(0x80).store8().inc(DST));
            });
          },
        );
        col.inc(SRC).br("top");
      });
    });
    col.get(DST).get(D0).sub();
  }
  const colCode = [2, 3, 0x7f, 1, 0x7b, ...col.out, 0x0b];

  // ---- narrow(src, units, dst) -> any unit >= 0x80: UTF-16LE units -> bytes, min(unit, 0x80) ----
  const nar = new Asm();
  {
    const SRC = 0, UNITS = 1, DST = 2, ANY = 3, LIM = 4, V = 5;
    nar.op(SIMD, 0x0c, ...(new Array(8).fill([0x80, 0]).flat() as number[])).set(LIM); // i16x8 splat 0x80
    nar.block("out", () => {
      nar.loop("top", () => {
        nar.get(UNITS).i32(0).op(0x4c).brIf("out"); // i32.le_s
        nar.get(SRC).op(SIMD, 0x00, 0, 0).get(LIM).op(SIMD, 0x97, 0x01); // i16x8.min_u
        nar.get(SRC).op(SIMD, 0x00, 0, 16).get(LIM).op(SIMD, 0x97, 0x01);
        nar.op(SIMD, 0x66).set(V); // i8x16.narrow_i16x8_u (no saturation: all lanes <= 0x80)
        nar.get(DST).get(V).op(SIMD, 0x0b, 0, 0); // store 16 bytes (dst <= src/2: in place is safe)
        nar.get(ANY).get(V).op(SIMD, 0x64).or().set(ANY);
        nar.inc(SRC, 32).inc(DST, 16).inc(UNITS, -16).br("top");
      });
    });
    nar.get(ANY);
  }
  const narCode = [2, 1, 0x7f, 2, 0x7b, ...nar.out, 0x0b]; // locals: ANY i32; LIM, V v128

  // ---- scan(n, delta, planB, spansB, textB, node, baseDepth) -> i32 ----
  const a = new Asm();
  const N = 0, DELTA = 1, PLANB = 2, SPANSB = 3, TEXTB = 4, NODE = 5, BASED = 6;
  let next = 7;
  const POS = next++, C = next++, SP = next++, NEEDKEY = next++, VS = next++, S = next++, J = next++, T = next++;
  const LEN = next++, H = next++, AT = next++, MASK = next++, K = next++, P = next++, BITS = next++, KS = next++;
  const PAR = next++, END = next++, ESC = next++, E2 = next++, KIDS = next++, KB = next++, CNT = next++, TOP = next++;
  const ADDR = next++;
  const I32_LOCALS = next - 7;
  const VQ = next++, VB = next++, VC = next++, V = next++;

  const fail = (): void => void a.i32(-1).ret();
  /** c = u[pos] */
  const loadC = (): void => void a.get(POS).load8().set(C);
  /** while (c is whitespace) c = u[++pos] */
  const skipWs = (): void => {
    a.block("ws_done", () => {
      a.loop("ws", () => {
        a.get(C).load8(W_CLS).i32(CLS_WS).and().eqz().brIf("ws_done");
        a.inc(POS);
        loadC();
        a.br("ws");
      });
    });
  };
  /** push the address of node record `l` */
  const nodeAddr = (l: number): Asm => a.get(PLANB).get(l).i32(5).shl().add().i32(IMG_HEADER).add();
  /** string at pos (opening quote) -> pos after the closing quote; sets ESC; fails on errors */
  const skipString = (): void => {
    a.i32(0).set(ESC);
    a.get(POS).i32(1).add().set(P);
    a.block("s_done", () => {
      a.loop("s_loop", () => {
        a.get(P).op(SIMD, 0x00, 0, 0).set(V);
        special(a, V, VQ, VB, VC).tee(BITS);
        a.eqz().if(() => void a.inc(P, 16).br("s_loop"));
        a.get(P).get(BITS).ctz().add().tee(J).load8().set(E2);
        a.get(E2).i32(34).eq().if(() => void a.get(J).i32(1).add().set(POS).br("s_done"));
        a.get(E2).i32(92).ne().if(() => fail()); // control character or the sentinel
        a.i32(1).set(ESC);
        a.get(J).load8(1).set(E2);
        a.get(E2).load8(W_CLS).i32(CLS_ESC).and().if(() => void a.get(J).i32(2).add().set(P).br("s_loop"));
        a.get(E2).i32(117).ne().if(() => fail());
        a.get(J).load8(2).load8(W_CLS);
        a.get(J).load8(3).load8(W_CLS).and();
        a.get(J).load8(4).load8(W_CLS).and();
        a.get(J).load8(5).load8(W_CLS).and();
        a.i32(CLS_HEX).and().eqz().if(() => fail());
        a.get(J).i32(6).add().set(P).br("s_loop");
      });
    });
  };
  /** record span [startLocal, POS) + delta for node in local `l` (stores via ADDR) */
  const record = (l: number, startFrom: () => void): void => {
    a.get(l).i32(0).geS().if(() => {
      nodeAddr(l).load().tee(S).i32(0).geS().if(() => {
        a.get(SPANSB).get(S).i32(3).shl().add().tee(ADDR);
        startFrom();
        a.get(DELTA).add().store();
        a.get(ADDR).get(POS).get(DELTA).add().store(4);
      });
    });
  };
  /** NODE = index child `idx` (on stack top pushed by idxPush) of node in PAR, or -1 */
  const findIndex = (idxPush: () => void): void => {
    a.i32(-1).set(NODE);
    a.get(PAR).i32(0).geS().if(() => {
      nodeAddr(PAR).tee(ADDR).load(20).set(CNT);
      a.get(PLANB).get(ADDR).load(16).add().set(AT);
      a.block("fi_done", () => {
        a.loop("fi", () => {
          a.get(CNT).eqz().brIf("fi_done");
          a.get(AT).load();
          idxPush();
          a.eq().if(() => void a.get(AT).load(4).set(NODE).br("fi_done"));
          a.inc(AT, 8).inc(CNT, -1).br("fi");
        });
      });
    });
  };

  // init
  v128splat(a, 34).set(VQ);
  v128splat(a, 92).set(VB);
  v128splat(a, 32).set(VC);
  a.get(PLANB).get(PLANB).load().add().set(KIDS);
  a.get(TEXTB).set(POS);
  a.get(TEXTB).get(N).add().set(END);
  a.get(DELTA).get(TEXTB).sub().set(DELTA); // spans store address + (delta - textB)
  loadC();
  a.loop("main", () => {
    // ---- object member: key, colon ----
    a.get(NEEDKEY).if(() => {
      a.get(C).i32(34).ne().if(() => fail());
      a.get(POS).set(KS);
      skipString();
      a.i32(-1).set(NODE);
      a.get(SP).i32(2).shl().load(W_STK_NODE - 4).tee(PAR).i32(0).geS().if(() => {
        nodeAddr(PAR).tee(ADDR).load(12).if(() => {
          a.get(ESC).if(() => void a.i32(-2).ret()); // escaped key in a tracked object: JS handles it
          // hash lookup of the key bytes [KS+1, POS-1)
          a.get(POS).get(KS).sub().i32(2).sub().tee(LEN).if(
            () => {
              a.get(LEN).i32(7).mul();
              a.get(KS).load8(1).i32(3).mul().add();
              a.get(POS).i32(2).sub().load8().tee(E2).i32(5).mul().add();
              a.get(E2).i32(2).shrU().xor().set(H);
            },
            () => void a.i32(0).set(H),
          );
          a.get(PLANB).get(ADDR).load(4).add().set(AT);
          a.get(ADDR).load(8).set(MASK);
          a.get(H).get(MASK).and().set(T);
          a.block("fk_done", () => {
            a.loop("probe", () => {
              a.get(AT).get(T).i32(2).shl().add().load().i32(1).sub().tee(J).i32(0).ltS().brIf("fk_done");
              a.get(KIDS).get(J).i32(12).mul().add().tee(ADDR).load().get(LEN).eq().if(() => {
                a.get(PLANB).get(ADDR).load(4).add().set(KB);
                a.i32(0).set(K);
                a.block("cmp_fail", () => {
                  a.loop("cmp", () => {
                    a.get(K).get(LEN).geU().if(() => void a.get(ADDR).load(8).set(NODE).br("fk_done"));
                    a.get(KB).get(K).add().load8().get(KS).get(K).add().load8(1).ne().brIf("cmp_fail");
                    a.inc(K).br("cmp");
                  });
                });
              });
              a.get(T).i32(1).add().get(MASK).and().set(T);
              a.br("probe");
            });
          });
          // a new occurrence of a tracked key: forget what was found below it
          a.get(NODE).i32(0).geS().if(() => {
            nodeAddr(NODE).tee(ADDR).load(28).set(CNT);
            a.get(PLANB).get(ADDR).load(24).add().set(AT);
            a.block("rb_done", () => {
              a.loop("rb", () => {
                a.get(CNT).eqz().brIf("rb_done");
                a.get(SPANSB).get(AT).load().i32(3).shl().add().tee(ADDR).i32(-1).store();
                a.get(ADDR).i32(-1).store(4);
                a.inc(AT, 4).inc(CNT, -1).br("rb");
              });
            });
          });
        });
      });
      loadC();
      skipWs();
      a.get(C).i32(58).ne().if(() => fail());
      a.inc(POS);
      loadC();
      skipWs();
      a.i32(0).set(NEEDKEY);
    });
    // ---- a value starts at POS ----
    a.get(POS).set(VS);
    a.block("val", () => {
      a.get(C).i32(34).eq().if(() => {
        skipString();
        a.br("val");
      });
      a.get(C).i32(123).eq().get(C).i32(91).eq().or().if(() => {
        a.get(BASED).get(SP).add().i32(MAX_DEPTH).geS().if(() => fail());
        a.get(SP).i32(2).shl().tee(ADDR).get(NODE).store(W_STK_NODE);
        a.get(ADDR).get(VS).store(W_STK_START);
        a.get(ADDR).i32(0).store(W_STK_IDX);
        a.get(ADDR).get(C).i32(91).eq().tee(E2).store(W_STK_ARR);
        a.inc(SP).inc(POS);
        loadC();
        skipWs();
        // empty container?
        a.get(C).i32(125).get(E2).i32(-32).mul().add().eq().if(() => {
          a.inc(SP, -1).inc(POS).br("val");
        });
        a.get(E2).if(() => {
          a.get(NODE).set(PAR);
          findIndex(() => void a.i32(0));
          a.br("main");
        });
        a.i32(1).set(NEEDKEY);
        a.br("main");
      });
      a.get(C).i32(116).eq().if(() => {
        a.get(POS).load().i32(0x65757274).ne().if(() => fail()); // "true"
        a.inc(POS, 4).br("val");
      });
      a.get(C).i32(102).eq().if(() => {
        a.get(POS).load(1).i32(0x65736c61).ne().if(() => fail()); // "alse"
        a.inc(POS, 5).br("val");
      });
      a.get(C).i32(110).eq().if(() => {
        a.get(POS).load().i32(0x6c6c756e).ne().if(() => fail()); // "null"
        a.inc(POS, 4).br("val");
      });
      // number: -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
      const digitsLoop = (label: string): void => {
        a.loop(label, () => {
          a.inc(POS);
          loadC();
          a.get(C).load8(W_CLS).i32(CLS_DIGIT).and().brIf(label);
        });
      };
      const requireDigit = (): void => void a.get(C).load8(W_CLS).i32(CLS_DIGIT).and().eqz().if(() => fail());
      a.get(C).i32(45).eq().if(() => {
        a.inc(POS);
        loadC();
        requireDigit();
      });
      requireDigit();
      a.get(C).i32(48).eq().if(
        () => {
          a.inc(POS);
          loadC();
        },
        () => digitsLoop("int"),
      );
      a.get(C).i32(46).eq().if(() => {
        a.inc(POS);
        loadC();
        requireDigit();
        digitsLoop("frac");
      });
      a.get(C).i32(32).or().i32(101).eq().if(() => {
        a.inc(POS);
        loadC();
        a.get(C).i32(43).eq().get(C).i32(45).eq().or().if(() => {
          a.inc(POS);
          loadC();
        });
        requireDigit();
        digitsLoop("exp");
      });
    });
    // ---- value [VS, POS) done ----
    record(NODE, () => void a.get(VS));
    a.loop("after", () => {
      a.get(SP).eqz().if(() => void a.get(POS).get(TEXTB).sub().ret());
      loadC();
      skipWs();
      a.get(SP).i32(1).sub().tee(TOP).i32(2).shl().set(ADDR);
      a.get(C).i32(44).eq().if(() => {
        a.inc(POS);
        loadC();
        skipWs();
        a.get(ADDR).load(W_STK_ARR).if(
          () => {
            a.get(ADDR).get(ADDR).load(W_STK_IDX).i32(1).add().tee(K).store(W_STK_IDX);
            a.get(ADDR).load(W_STK_NODE).set(PAR);
            findIndex(() => void a.get(K));
          },
          () => void a.i32(1).set(NEEDKEY),
        );
        a.br("main");
      });
      // closing bracket of the open container: '}' (125) for objects, ']' (93) for arrays
      a.get(C).i32(125).get(ADDR).load(W_STK_ARR).i32(-32).mul().add().eq().if(() => {
        a.inc(POS);
        a.get(TOP).set(SP);
        a.get(ADDR).load(W_STK_START).set(VS);
        a.get(ADDR).load(W_STK_NODE).set(PAR);
        record(PAR, () => void a.get(VS));
        a.br("after");
      });
      fail();
    });
  });
  a.op(0x00); // unreachable
  const scanCode = [2, I32_LOCALS, 0x7f, 4, 0x7b, ...a.out, 0x0b];

  const i32x3 = [0x7f, 0x7f, 0x7f];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [
      3,
      0x60, 3, ...i32x3, 0, // (i32 i32 i32) -> ()
      0x60, 3, ...i32x3, 1, 0x7f, // (i32 i32 i32) -> i32
      0x60, 7, ...i32x3, ...i32x3, 0x7f, 1, 0x7f, // (i32 x7) -> i32
    ]),
    ...section(3, [4, 0, 1, 2, 1]),
    ...section(5, [1, 0, 1]),
    ...section(7, [
      5,
      ...name("memory"), 2, 0,
      ...name("mask"), 0, 0,
      ...name("collapse"), 0, 1,
      ...name("scan"), 0, 2,
      ...name("narrow"), 0, 3,
    ]),
    ...section(10, [
      4,
      ...uleb(maskCode.length), ...maskCode,
      ...uleb(colCode.length), ...colCode,
      ...uleb(scanCode.length), ...scanCode,
      ...uleb(narCode.length), ...narCode,
    ]),
  ]);
}

interface WasmKernel {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  mask(src: number, words: number, dst: number): void;
  collapse(src: number, n: number, dst: number): number;
  scan(n: number, delta: number, planB: number, spansB: number, textB: number, node: number, baseDepth: number): number;
  narrow(src: number, units: number, dst: number): number;
}

/** The part of the WebAssembly JS API used here (not in the es2023 lib typings). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}

function loadWasm(): WasmKernel | null {
  try {
    // Bitmap words are read through an Int32Array in platform byte order; wasm stores little-endian.
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) return null;
    const WA = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
    if (WA === undefined) return null;
    const instance = new WA.Instance(new WA.Module(buildWasm()), {});
    const k = instance.exports as unknown as WasmKernel;
    const cls = new Uint8Array(k.memory.buffer, W_CLS, 256);
    for (let c = 0; c < 256; c++) {
      let v = 0;
      if (c === 32 || c === 9 || c === 10 || c === 13) v |= CLS_WS;
      if (c === 34 || c === 92 || c === 47 || c === 98 || c === 102 || c === 110 || c === 114 || c === 116) v |= CLS_ESC;
      if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)) v |= CLS_HEX;
      if (c >= 48 && c <= 57) v |= CLS_DIGIT;
      cls[c] = v;
    }
    return k;
  } catch {
    return null; // no WebAssembly or no SIMD: the JS scanner gives the same results, slower
  }
}

const wasm = loadWasm();
let useWasm = wasm !== null;

/**
 * "auto": the WebAssembly SIMD kernel when the runtime supports it (the default);
 * "wasm-utf8": the kernel, but non-ASCII text always goes through UTF-8 (what non-Node runtimes do);
 * "js": pure JS, no WebAssembly at all (same results, much slower; what runtimes without wasm get).
 */
export type ScanBackend = "auto" | "wasm-utf8" | "js";
let backend: ScanBackend = "auto";

/** Whether scans currently use the WebAssembly SIMD kernel. */
export function scanUsesWasm(): boolean {
  return useWasm;
}

/** Counters, mostly for tests: a non-zero kernelMismatches means the wasm kernel rejected valid JSON. */
export interface ScanStats {
  /** scanObject calls handled by the wasm kernel */
  kernelScans: number;
  /** of which the kernel bailed out (escaped key in a tracked object) */
  kernelBailouts: number;
  /** scans by the JS scanner (fallbacks, errors, JS backend) */
  jsScans: number;
  /** texts the kernel rejected but the JS scanner accepted (should stay 0) */
  kernelMismatches: number;
}
const stats: ScanStats = { kernelScans: 0, kernelBailouts: 0, jsScans: 0, kernelMismatches: 0 };

/** A copy of the scan counters since the process started. */
export function getScanStats(): ScanStats {
  return { ...stats };
}

/** Select the scan backend (for tests and benchmarks); returns the previous setting. */
export function setScanBackend(b: ScanBackend): ScanBackend {
  const prev = backend;
  backend = b;
  useWasm = b !== "js" && wasm !== null;
  utf16Route = b === "auto";
  return prev;
}

// Memory layout (one ArrayBuffer: the wasm memory, or a plain buffer without wasm):
//   [0, W_FIXED_END)           wasm kernel tables and stacks
//   [planOff, +planCap)        image of the current FieldPlan (wasm kernel)
//   [spansOff, +spansCap)      spans written by the wasm kernel
//   [textOff, +cap)            the region's text, one byte per UTF-16 unit, then a 0 sentinel
//   [textOff+cap, +cap/8+8)    bitmap for the JS scanner: bit (i&31) of word (i>>5) set iff byte i is '"', '\' or < 0x20
const encoder = new TextEncoder();
const planOff = (W_FIXED_END + 63) & ~63;
let planCap = 0;
let spansOff = planOff;
let spansCap = 0;
let textOff = planOff;
let cap = 0;
let gU8 = new Uint8Array(0);
let gMask = new Int32Array(0);
let gSpans = new Int32Array(0); // view of the wasm spans area for loadedPlan

/** Node's Buffer (absent in Deno, whose polyfilled utf16le write is ~100x slower than encodeInto). */
interface Utf16Writer {
  write(s: string, offset: number, length: number, encoding: "utf16le" | "latin1"): number;
}
const NodeBuffer: { from(ab: ArrayBuffer, offset: number, length: number): Utf16Writer } | null =
  (globalThis as { Deno?: unknown }).Deno === undefined
    ? ((globalThis as { Buffer?: { from(ab: ArrayBuffer, offset: number, length: number): Utf16Writer } }).Buffer ?? null)
    : null;
/** Buffer view of the text area (Node only), for writing UTF-16 code units or byte strings directly. */
let gUtf16: Utf16Writer | null = null;
/** The last text was not ASCII: try the UTF-16 route first (encodeInto is slow for two-byte strings). */
let preferUtf16 = false;
/** Whether the UTF-16 route may be used (see ScanBackend "wasm-utf8"). */
let utf16Route = true;
let loadedPlan: FieldPlan | null = null;
let jsBuffer: ArrayBuffer | null = null;

/** Make room for a plan image, its spans and a text region. Returns false when memory cannot grow. */
function ensureMemory(planBytes: number, spansBytes: number, textNeed: number): boolean {
  if (planBytes <= planCap && spansBytes <= spansCap && textNeed <= cap) return true;
  try {
    growMemory(planBytes, spansBytes, textNeed);
    return true;
  } catch {
    return false; // RangeError from memory.grow / new ArrayBuffer: the text is too large
  }
}

function growMemory(planBytes: number, spansBytes: number, textNeed: number): void {
  if (textNeed > 1 << 30 || planBytes > 1 << 26 || spansBytes > 1 << 26) throw new RangeError("too large");
  const newPlanCap = Math.max(planCap, (planBytes + 1023) & ~1023);
  const newSpansCap = Math.max(spansCap, (spansBytes + 255) & ~255);
  let c = Math.max(cap, 4096);
  while (c < textNeed) c *= 2;
  const newSpansOff = planOff + newPlanCap;
  const newTextOff = (newSpansOff + newSpansCap + 63) & ~63;
  const total = newTextOff + c + (c >> 3) + 64;
  let buf: ArrayBuffer;
  if (wasm !== null) {
    const have = wasm.memory.buffer.byteLength;
    if (have < total) wasm.memory.grow(Math.ceil((total - have) / 65536)); // throws when it cannot
    buf = wasm.memory.buffer;
  } else {
    if (jsBuffer === null || jsBuffer.byteLength < total) jsBuffer = new ArrayBuffer(total);
    buf = jsBuffer;
  }
  planCap = newPlanCap;
  spansCap = newSpansCap;
  spansOff = newSpansOff;
  textOff = newTextOff;
  cap = c;
  gU8 = new Uint8Array(buf, textOff, cap);
  gMask = new Int32Array(buf, textOff + cap, (cap >> 5) + 2);
  gUtf16 = NodeBuffer !== null ? NodeBuffer.from(buf, textOff, cap) : null;
  loadedPlan = null; // the spans view must be recreated (and the plan image copied again)
}

/** Make `plan` the plan of the wasm kernel (copy its image when it changes). */
function usePlan(plan: FieldPlan, image: Int32Array): boolean {
  if (plan === loadedPlan || wasm === null) return true;
  if (!ensureMemory(image.length * 4, plan.size * 8, 0)) return false;
  new Int32Array(wasm.memory.buffer, planOff, image.length).set(image);
  gSpans = new Int32Array(wasm.memory.buffer, spansOff, plan.size * 2);
  loadedPlan = plan;
  return true;
}

/**
 * Put text[s..e) into gU8[0..n) (one byte per UTF-16 unit: ASCII as is, anything else 0x80)
 * followed by a 0 sentinel at gU8[n]. Returns false when the buffer cannot grow that large.
 *
 * Routes: ASCII text via TextEncoder.encodeInto (~0.07 ns/char). Other text on Node: its UTF-16
 * units via Buffer#write('utf16le') (a memcpy for two-byte strings, where encodeInto costs
 * ~0.6 ns/char), narrowed by the `narrow` kernel. Elsewhere: UTF-8 via encodeInto, collapsed by
 * the `collapse` kernel; without wasm: a JS loop.
 */
function load(text: string, s: number, e: number, bytes: boolean): boolean {
  const n = e - s;
  if (!ensureMemory(0, 0, n + 64)) return false;
  const str = s === 0 && e === text.length ? text : text.slice(s, e);
  if (bytes) {
    loadByteString(str, n);
    return true;
  }
  const k = useWasm ? wasm : null;
  if (k !== null && preferUtf16 && loadUtf16(k, str, n)) return true;
  const r = encoder.encodeInto(str, gU8);
  if (r.read === n && r.written === n) {
    gU8[n] = 0; // pure ASCII
    return true;
  }
  if (k !== null) {
    if (loadUtf16(k, str, n)) return true;
    if (ensureMemory(0, 0, 3 * n + 64)) {
      // (growing keeps textOff and the bytes written so far)
      const written = r.read === n ? r.written : encoder.encodeInto(str, gU8).written;
      if (k.collapse(textOff, written, textOff) === n) {
        gU8[n] = 0;
        return true;
      }
    }
  }
  const u = gU8;
  for (let i = 0; i < n; i++) {
    const c = str.charCodeAt(i);
    u[i] = c < 0x80 ? c : 0x80;
  }
  u[n] = 0;
  return true;
}

/** A byte string's characters are its bytes: copied as they are (on Node a memcpy). */
function loadByteString(str: string, n: number): void {
  const u = gU8;
  if (gUtf16 !== null) {
    gUtf16.write(str, 0, n, "latin1");
  } else {
    const r = encoder.encodeInto(str, u);
    if (r.read !== n || r.written !== n) for (let i = 0; i < n; i++) u[i] = str.charCodeAt(i);
  }
  u[n] = 0;
}

function loadUtf16(k: WasmKernel, str: string, n: number): boolean {
  if (NodeBuffer === null || !utf16Route || wasm === null || !ensureMemory(0, 0, 2 * n + 64) || gUtf16 === null) return false;
  if (gUtf16.write(str, 0, 2 * n, "utf16le") !== 2 * n) return false;
  preferUtf16 = k.narrow(textOff, n, textOff) !== 0;
  gU8[n] = 0;
  return true;
}

/** Compute the bitmap of the loaded region (needed by the JS scanner only). */
function computeMask(n: number): void {
  const words = (n >>> 5) + 1;
  if (useWasm && wasm !== null) wasm.mask(textOff, words, textOff + cap);
  else maskJs(words);
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
    // (Non-ASCII bytes of a byte string are compared as 0x80, like the units of a text.)
    first = Math.min(u[s], 0x80);
    h = keyHash(len, first, Math.min(u[e - 1], 0x80));
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
    key = plan.bytes ? byteStringOf(JSON.parse(textOf(text.slice(ks, ke) as ByteString)) as string) : JSON.parse(text.slice(ks, ke));
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
  if (s > text.length) s = text.length;
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
  const n = e - s;
  const image = plan._image;
  let kernel = 0; // what the wasm kernel said: 0 not run, -1 invalid, -2 bailed out
  if (useWasm && wasm !== null && image !== null) {
    if (!usePlan(plan, image) || !load(text, s, e, plan.bytes)) return tooLarge(s);
    if (loadedPlan !== plan && !usePlan(plan, image)) return tooLarge(s); // text area grew: new spans view
    if (gU8[0] !== 123) return notAContainer(text, s, n, E_NOT_OBJECT);
    const out = gSpans;
    out.fill(-1);
    stats.kernelScans++;
    const r = wasm.scan(n, s, planOff, spansOff, textOff, 0, 0);
    if (r === n) {
      spans.set(out);
      return finishSpans(plan, spans);
    }
    if (r >= 0) {
      fail(E_TRAILING, r);
      return makeError(text, s, e);
    }
    // -1: invalid JSON (the JS scanner below finds the exact error), -2: an escaped key in an
    // object the plan looks into (the JS scanner unescapes it).
    kernel = r;
    if (r === -2) stats.kernelBailouts++;
    spans.fill(-1, 0, n2);
  } else {
    if (!load(text, s, e, plan.bytes)) return tooLarge(s);
    if (gU8[0] !== 123) return notAContainer(text, s, n, E_NOT_OBJECT);
  }
  computeMask(n);
  stats.jsScans++;
  const r = scanValue(text, s, 0, n, 0, plan, spans, 0);
  if (kernel === -1 && r === n) stats.kernelMismatches++; // a kernel bug: the JS result is used
  if (r < 0) return makeError(text, s, e);
  if (r < n) {
    fail(E_TRAILING, r);
    return makeError(text, s, e);
  }
  return finishSpans(plan, spans);
}

function tooLarge(s: number): JsonSyntaxError {
  return new JsonSyntaxError("JSON text too large: cannot allocate the scan buffer", s);
}

/** Error for a region that does not start with the expected bracket (`wrongType` if it is valid JSON). */
function notAContainer(text: string, s: number, n: number, wrongType: number): JsonSyntaxError {
  computeMask(n);
  classifyNonContainer(text, s, n, wrongType);
  return makeError(text, s, s + n);
}

/** Copy the spans of paths listed more than once. */
function finishSpans(plan: FieldPlan, spans: Int32Array): null {
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
      if (k !== null) {
        // node -1: nothing tracked, the plan arguments are not used
        const rel = k.scan(n - pos, 0, planOff, spansOff, textOff + pos, -1, 1);
        if (rel >= 0) r = pos + rel;
      }
      if (r < 0) {
        // no kernel, or it rejected the element: the JS scanner gives the exact error
        if (!masked) computeMask(n);
        masked = true;
        r = scanValue(text, s, pos, n, 1, EMPTY_PLAN, NO_SPANS, -1);
        if (k !== null && r >= 0) stats.kernelMismatches++;
        if (r < 0) return makeError(text, s, e);
      }
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

/**
 * scanArrayElements for a UTF-8 body given as bytes, by the wasm kernel alone: the [start,end)
 * *byte* offsets of each top-level element, or null when the bytes are not a valid JSON array
 * (or there is no kernel, or no memory): the caller then takes the text path, which also gives
 * the exact error. The bytes go into the kernel's memory as they are: its one-byte-per-unit
 * input only needs non-ASCII to be >= 0x80, which every byte of a non-ASCII UTF-8 sequence (or
 * of an invalid one) is, and such bytes are valid exactly where non-ASCII characters are, inside
 * strings. This saves decoding the body into one string (two-byte as soon as one character is
 * not ASCII) and loading that string back into the kernel's memory.
 */
export function scanArrayElementsUtf8(bytes: Uint8Array): Int32Array | null {
  const k = useWasm ? wasm : null;
  const n = bytes.length;
  if (k === null || !ensureMemory(0, 0, n + 64)) return null;
  const u = gU8;
  u.set(bytes);
  u[n] = 0;
  let pos = 0;
  while (pos < n && isWs(u[pos])) pos++;
  if (u[pos] !== 91) return null;
  pos++;
  let count = 0;
  while (isWs(u[pos])) pos++;
  if (u[pos] === 93) {
    pos++;
  } else {
    for (;;) {
      stats.kernelScans++;
      // node -1: nothing tracked, the plan arguments are not used
      const rel = k.scan(n - pos, 0, planOff, spansOff, textOff + pos, -1, 1);
      if (rel < 0) return null;
      const r = pos + rel;
      if (count + 2 > elemBuf.length) {
        const bigger = new Int32Array(elemBuf.length * 2);
        bigger.set(elemBuf);
        elemBuf = bigger;
      }
      elemBuf[count++] = pos;
      elemBuf[count++] = r;
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
  const out = elemBuf.slice(0, count);
  if (elemBuf.length > 65536) elemBuf = new Int32Array(64); // do not keep a huge buffer alive
  return out;
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
 * Spans are byte offsets. They are offsets into the entry's decoded text only when that text has
 * one UTF-16 unit per byte (ASCII; the caller checks the length); other entries must be scanned
 * again as text. Returns null when the bytes are not a valid JSON array, or without a kernel, a
 * plan image or memory: the caller then takes the text path, which also gives the exact error.
 * With more than `maxElements` elements it returns how many there are (counted, not stored): a
 * garbage body of millions of tiny elements costs no more memory than a good one.
 */
export function scanArrayOfObjectsUtf8(bytes: Uint8Array, plan: FieldPlan, maxElements: number): ScannedArray | ArrayTooLong | null {
  const k = useWasm ? wasm : null;
  const image = plan._image;
  const n = bytes.length;
  let pos = 0;
  while (pos < n && isWs(bytes[pos])) pos++;
  if (bytes[pos] !== 91) return null; // not an array: nothing copied
  // (usePlan may move the text area when it grows memory: gU8 is read after it.)
  if (k === null || image === null || !ensureMemory(0, 0, n + 64) || !usePlan(plan, image)) return null;
  const u = gU8;
  const out = gSpans;
  u.set(bytes);
  u[n] = 0;
  pos++;
  const width = 2 * plan.size;
  const aliases = plan._aliases.length > 0;
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
      if (u[pos] === 123 && count < maxElements) {
        out.fill(-1);
        rel = k.scan(n - pos, 0, planOff, spansOff, textOff + pos, 0, 1);
        kind = rel === -2 ? ELEMENT_UNSCANNED : ELEMENT_SCANNED;
      }
      // Not an object, past the maximum, or the kernel bailed out: validate and find the end only.
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
        if (kind === ELEMENT_SCANNED) {
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

/** A copy of `a` with room for `length` items. */
function grown<T extends Int32Array | Uint8Array>(a: T, length: number): T {
  const bigger = new (a.constructor as new (n: number) => T)(length);
  bigger.set(a);
  return bigger;
}

// ---------------------------------------------------------------------------------------
// Decoding.

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
