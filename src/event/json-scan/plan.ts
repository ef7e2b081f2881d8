/**
 * FieldPlan: the wanted paths compiled into a trie, as flat typed arrays for the JS scanner and
 * as a serialized image for the wasm kernel (copied into its memory by scan-memory.ts).
 */

import { byteStringOf } from '../byte-string.ts';
import { KERNEL_LAYOUT } from './kernel/layout.ts';

/** One wanted path, e.g. ["request", "method"], ["workspaces", 0, "name"], ["request","headers","host"]. */
export type JsonPath = readonly (string | number)[];

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
    if (!Array.isArray(paths)) throw new TypeError('FieldPlan: paths must be an array of paths');
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
        if (typeof step === 'string') {
          const key = keyOf(step);
          next = n.keys.get(key);
          if (next === undefined) n.keys.set(key, (next = mk()));
        } else if (typeof step === 'number' && Number.isInteger(step) && step >= 0 && step <= 0x7fffffff) {
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
        const h =
          k.length === 0
            ? 0
            : keyHash(k.length, Math.min(k.charCodeAt(0), 0x80), Math.min(k.charCodeAt(k.length - 1), 0x80));
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
   * Serialize the trie for the wasm kernel, laid out as KERNEL_LAYOUT says (byte offsets
   * relative to the image start): the header (where the key children are), the node records,
   * then hash tables (i32: key child index + 1, 0 = empty), key children, index children, slots
   * below nodes, key bytes.
   */
  private buildImage(kidKey: readonly string[]): Int32Array | null {
    for (const k of kidKey) for (let c = 0; c < k.length; c++) if (k.charCodeAt(c) >= 0x80) return null;
    const L = KERNEL_LAYOUT;
    const N = this._slot.length;
    const K = kidKey.length;
    const hashRel = L.IMAGE_HEADER + L.NODE_SIZE * N;
    const kidsRel = hashRel + 4 * this._hashTable.length;
    const idxRel = kidsRel + L.KID_SIZE * K;
    const subRel = idxRel + L.INDEX_SIZE * this._idxVal.length;
    const bytesRel = subRel + 4 * this._subSlots.length;
    let keyBytes = 0;
    for (const k of kidKey) keyBytes += k.length;
    const img = new Int32Array((bytesRel + keyBytes + 3) >> 2);
    /** Store an i32 at a byte offset of the image. */
    const put = (at: number, value: number): void => {
      img[at >> 2] = value;
    };
    put(L.IMAGE_KIDS_AT, kidsRel);
    for (let i = 0; i < N; i++) {
      const node = L.IMAGE_HEADER + L.NODE_SIZE * i;
      put(node + L.NODE_SLOT, this._slot[i]);
      put(node + L.NODE_HASH_AT, hashRel + 4 * this._hashAt[i]);
      put(node + L.NODE_HASH_MASK, this._hashMask[i]);
      put(node + L.NODE_KEY_COUNT, this._keyCount[i]);
      put(node + L.NODE_INDEX_AT, idxRel + L.INDEX_SIZE * this._idxStart[i]);
      put(node + L.NODE_INDEX_COUNT, this._idxCount[i]);
      put(node + L.NODE_BELOW_AT, subRel + 4 * this._subStart[i]);
      put(node + L.NODE_BELOW_COUNT, this._subCount[i]);
    }
    img.set(this._hashTable, hashRel >> 2);
    const bytes = new Uint8Array(img.buffer);
    let at = bytesRel;
    for (let j = 0; j < K; j++) {
      const kid = kidsRel + L.KID_SIZE * j;
      put(kid + L.KID_LEN, kidKey[j].length);
      put(kid + L.KID_BYTES_AT, at);
      put(kid + L.KID_NODE, this._kidNode[j]);
      for (let c = 0; c < kidKey[j].length; c++) bytes[at++] = kidKey[j].charCodeAt(c);
    }
    for (let j = 0; j < this._idxVal.length; j++) {
      const child = idxRel + L.INDEX_SIZE * j;
      put(child + L.INDEX_VALUE, this._idxVal[j]);
      put(child + L.INDEX_NODE, this._idxNode[j]);
    }
    img.set(this._subSlots, subRel >> 2);
    return img;
  }

  /** A fresh spans array of the right size (2*size), all -1. */
  newSpans(): Int32Array {
    return new Int32Array(2 * this.size).fill(-1);
  }
}

/**
 * Hash of a key by its length and first/last units (non-ASCII units as 0x80, like the scan
 * bytes). The kernel computes the same (scan-kernel.wat, "look the key's bytes up").
 */
export function keyHash(len: number, first: number, last: number): number {
  return (len * 7 + first * 3 + last * 5) ^ (last >>> 2);
}

/** Copy the spans of paths listed more than once. */
export function finishSpans(plan: FieldPlan, spans: Int32Array): null {
  const al = plan._aliases;
  for (let j = 0; j < al.length; j += 2) {
    const dst = al[j] << 1;
    const src = al[j + 1] << 1;
    spans[dst] = spans[src];
    spans[dst + 1] = spans[src + 1];
  }
  return null;
}

/** The plan of a scan that only validates (node -1, nothing recorded). */
export const EMPTY_PLAN = new FieldPlan([]);
export const NO_SPANS = new Int32Array(0);
