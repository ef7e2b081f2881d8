/**
 * The JS scanner: the same validating, plan-tracking algorithm as the wasm kernel
 * (kernel/scan-kernel.wat), on the bytes in the scan buffer plus the bitmap of string specials
 * (see ../json-scan.ts for when it runs instead of the kernel). It also finds the exact error
 * after the kernel rejected a text. Iterative, with explicit stacks: no recursion on deep input.
 */

import { byteStringOf, textOf, type ByteString } from '../byte-string.ts';
import {
  E_CONTROL,
  E_DEPTH,
  E_EOF,
  E_ESCAPE,
  E_NUMBER,
  E_UNEXPECTED,
  E_UNTERMINATED,
  MAX_DEPTH,
  type ScanFailure,
} from './errors.ts';
import { KERNEL_LAYOUT } from './kernel/layout.ts';
import { keyHash, type FieldPlan } from './plan.ts';

/** A copy of `a` with room for `length` items. */
export function grown<T extends Int32Array | Uint8Array>(a: T, length: number): T {
  const bigger = new (a.constructor as new (n: number) => T)(length);
  bigger.set(a);
  return bigger;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

// ---------------------------------------------------------------------------------------
// Plan helpers.

/** Find the key child of `node` whose key equals the unescaped key at bytes [s, e). */
function findKey(
  plan: FieldPlan,
  node: number,
  u: Uint8Array,
  s: number,
  e: number,
  text: string,
  base: number,
): number {
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

/** Find the key child of `node` for a raw key at text[ks, ke) (quotes included) that has escapes. */
function findEscapedKey(plan: FieldPlan, node: number, text: string, ks: number, ke: number): number {
  const map = plan._keyMap[node];
  if (map === null) return -1;
  let key: unknown;
  try {
    key = plan.bytes
      ? byteStringOf(JSON.parse(textOf(text.slice(ks, ke) as ByteString)) as string)
      : JSON.parse(text.slice(ks, ke));
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

/**
 * One JS scanner: its stacks and the error of its last failed scan (scans are synchronous; each
 * call resets what it uses).
 */
export class JsScanner {
  // Stacks of the open containers, grown (up to MAX_DEPTH) when a text nests deeper.
  #stkNode = new Int32Array(KERNEL_LAYOUT.MAX_DEPTH + 2);
  #stkStart = new Int32Array(KERNEL_LAYOUT.MAX_DEPTH + 2);
  #stkIdx = new Int32Array(KERNEL_LAYOUT.MAX_DEPTH + 2);
  #stkIsArr = new Uint8Array(KERNEL_LAYOUT.MAX_DEPTH + 2);
  /** Whether the last scanned string contained an escape. */
  #escaped = false;
  #errorCode = 0;
  #errorPos = 0;

  /** What the last scan that returned -1 found (the position relative to the region). */
  get failure(): ScanFailure {
    return { code: this.#errorCode, pos: this.#errorPos };
  }

  #fail(code: number, pos: number): number {
    this.#errorCode = code;
    this.#errorPos = pos;
    return -1;
  }

  #growStacks(): void {
    const size = Math.min(MAX_DEPTH + 2, this.#stkNode.length * 2);
    this.#stkNode = grown(this.#stkNode, size);
    this.#stkStart = grown(this.#stkStart, size);
    this.#stkIdx = grown(this.#stkIdx, size);
    this.#stkIsArr = grown(this.#stkIsArr, size);
  }

  /**
   * Scan the string whose opening quote is at byte i. Returns the position after the closing
   * quote, or -1 (error recorded). Sets #escaped. `end` is where the sentinel byte is.
   */
  #scanString(u: Uint8Array, m: Int32Array, i: number, end: number): number {
    let p = i + 1;
    let w = p >>> 5;
    let bits = m[w] & (-1 << (p & 31));
    let esc = false;
    for (;;) {
      while (bits === 0) bits = m[++w];
      const j = (w << 5) + 31 - Math.clz32(bits & -bits);
      const b = u[j];
      if (b === 34) {
        this.#escaped = esc;
        return j + 1;
      }
      if (b !== 92) return j >= end ? this.#fail(E_UNTERMINATED, i) : this.#fail(E_CONTROL, j);
      // escape at j; u[end] is the 0 sentinel so reads stop there
      esc = true;
      const e = u[j + 1];
      if (e === 34 || e === 92 || e === 47 || e === 110 || e === 116 || e === 114 || e === 98 || e === 102) {
        p = j + 2;
      } else if (e === 117) {
        if (!(isHex(u[j + 2]) && isHex(u[j + 3]) && isHex(u[j + 4]) && isHex(u[j + 5]))) {
          return j + 5 >= end ? this.#fail(E_UNTERMINATED, i) : this.#fail(E_ESCAPE, j);
        }
        p = j + 6;
      } else {
        return j + 1 >= end ? this.#fail(E_UNTERMINATED, i) : this.#fail(E_ESCAPE, j);
      }
      w = p >>> 5;
      bits = m[w] & (-1 << (p & 31));
    }
  }

  /**
   * Scan one JSON value starting exactly at byte `pos` (no leading whitespace) of the loaded
   * region; `end` is the region length (sentinel position). `node` is the plan node of the value
   * (-1: not tracked), `baseDepth` the nesting depth of its parent container. Spans are recorded
   * as text offsets (byte offset + base). Returns the position just after the value, or -1 with
   * the error recorded (see failure). `u` is the region's bytes, `m` their bitmap of string specials.
   */
  scanValue(
    text: string,
    base: number,
    pos: number,
    end: number,
    baseDepth: number,
    plan: FieldPlan,
    spans: Int32Array,
    node: number,
    u: Uint8Array,
    m: Int32Array,
  ): number {
    const slotOf = plan._slot;
    const keyCount = plan._keyCount;
    const idxCount = plan._idxCount;
    let sp = 0; // open containers in this call
    let needKey = false;
    let c = u[pos];

    for (;;) {
      if (needKey) {
        // An object member is expected at pos (whitespace already skipped, c = u[pos]).
        if (c !== 34) return this.#fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
        const ks = pos;
        pos = this.#scanString(u, m, pos, end);
        if (pos < 0) return -1;
        const parent = this.#stkNode[sp - 1];
        if (parent >= 0 && keyCount[parent] > 0) {
          node = this.#escaped
            ? findEscapedKey(plan, parent, text, base + ks, base + pos)
            : findKey(plan, parent, u, ks + 1, pos - 1, text, base);
          if (node >= 0) resetBelow(plan, node, spans);
        } else {
          node = -1;
        }
        c = u[pos];
        if (c !== 58) {
          while (c === 32 || c === 10 || c === 13 || c === 9) c = u[++pos];
          if (c !== 58) return this.#fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
        }
        c = u[++pos];
        while (c === 32 || c === 10 || c === 13 || c === 9) c = u[++pos];
        needKey = false;
      }

      // ---- a value starts at pos, c === u[pos] ----
      const vs = pos;
      if (c === 34) {
        pos = this.#scanString(u, m, pos, end);
        if (pos < 0) return -1;
      } else if (c === 123 || c === 91) {
        if (baseDepth + sp >= MAX_DEPTH) return this.#fail(E_DEPTH, pos);
        if (sp + 2 > this.#stkNode.length) this.#growStacks();
        const isArr = c === 91;
        this.#stkNode[sp] = node;
        this.#stkStart[sp] = vs;
        this.#stkIdx[sp] = 0;
        this.#stkIsArr[sp] = isArr ? 1 : 0;
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
        else return this.#fail(E_UNEXPECTED, literalErrorPos(u, pos, 'true'));
      } else if (c === 102) {
        if (u[pos + 1] === 97 && u[pos + 2] === 108 && u[pos + 3] === 115 && u[pos + 4] === 101) pos += 5;
        else return this.#fail(E_UNEXPECTED, literalErrorPos(u, pos, 'false'));
      } else if (c === 110) {
        if (u[pos + 1] === 117 && u[pos + 2] === 108 && u[pos + 3] === 108) pos += 4;
        else return this.#fail(E_UNEXPECTED, literalErrorPos(u, pos, 'null'));
      } else if (c === 45 || (c >= 48 && c <= 57)) {
        // -? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?
        if (c === 45) {
          c = u[++pos];
          if (c < 48 || c > 57) return this.#fail(E_NUMBER, pos);
        }
        if (c === 48) {
          c = u[++pos];
        } else {
          do c = u[++pos];
          while (c >= 48 && c <= 57);
        }
        if (c === 46) {
          c = u[++pos];
          if (c < 48 || c > 57) return this.#fail(E_NUMBER, pos);
          do c = u[++pos];
          while (c >= 48 && c <= 57);
        }
        if (c === 101 || c === 69) {
          c = u[++pos];
          if (c === 43 || c === 45) c = u[++pos];
          if (c < 48 || c > 57) return this.#fail(E_NUMBER, pos);
          do c = u[++pos];
          while (c >= 48 && c <= 57);
        }
      } else {
        return this.#fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
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
          if (this.#stkIsArr[top] === 0) {
            needKey = true;
          } else {
            const idx = ++this.#stkIdx[top];
            const parent = this.#stkNode[top];
            node = parent >= 0 && idxCount[parent] > 0 ? findIndex(plan, parent, idx) : -1;
          }
          break;
        }
        if (c === (this.#stkIsArr[top] === 0 ? 125 : 93)) {
          pos++;
          sp = top;
          const n = this.#stkNode[top];
          if (n >= 0) {
            const s = slotOf[n];
            if (s >= 0) {
              spans[s << 1] = base + this.#stkStart[top];
              spans[(s << 1) + 1] = base + pos;
            }
          }
          continue;
        }
        return this.#fail(pos >= end ? E_EOF : E_UNEXPECTED, pos);
      }
    }
  }
}

/** Position of the first byte where u[pos..] stops matching the literal. */
function literalErrorPos(u: Uint8Array, pos: number, lit: string): number {
  let k = 1;
  while (k < lit.length && u[pos + k] === lit.charCodeAt(k)) k++;
  return pos + k;
}
