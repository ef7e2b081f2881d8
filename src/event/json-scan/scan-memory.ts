/**
 * The scan buffer: one ArrayBuffer (the wasm kernel's memory, or a plain buffer without wasm)
 * holding the current plan's image, the kernel's spans and the text being scanned, one byte per
 * UTF-16 unit. This module owns it: it grows it, copies plans and texts in (choosing the fastest
 * route per runtime), and computes the bitmap the JS scanner walks; the scanners read the views
 * it exports. Scans are synchronous; every call resets what it uses.
 */

import { writeByteString } from '../byte-string.ts';
import { useWasm, utf16Route } from './backend.ts';
import type { FieldPlan } from './plan.ts';
import { wasm, type WasmKernel } from './wasm-instance.ts';
import { W_FIXED_END } from './wasm-kernel.ts';

// Memory layout (one ArrayBuffer: the wasm memory, or a plain buffer without wasm):
//   [0, W_FIXED_END)           wasm kernel tables and stacks
//   [planOff, +planCap)        image of the current FieldPlan (wasm kernel)
//   [spansOff, +spansCap)      spans written by the wasm kernel
//   [textOff, +cap)            the region's text, one byte per UTF-16 unit, then a 0 sentinel
//   [textOff+cap, +cap/8+8)    bitmap for the JS scanner: bit (i&31) of word (i>>5) set iff byte i is '"', '\' or < 0x20
const encoder = new TextEncoder();
export const planOff = (W_FIXED_END + 63) & ~63;
let planCap = 0;
export let spansOff = planOff;
let spansCap = 0;
export let textOff = planOff;
let cap = 0;
export let gU8 = new Uint8Array(0);
export let gMask = new Int32Array(0);
export let gSpans = new Int32Array(0); // view of the wasm spans area for loadedPlan

/** Node's Buffer (absent in Deno, whose polyfilled utf16le write is ~100x slower than encodeInto). */
interface Utf16Writer extends Uint8Array {
  write(s: string, offset: number, length: number, encoding: 'utf16le'): number;
}
const NodeBuffer: { from(ab: ArrayBuffer, offset: number, length: number): Utf16Writer } | null =
  (globalThis as { Deno?: unknown }).Deno === undefined
    ? ((globalThis as { Buffer?: { from(ab: ArrayBuffer, offset: number, length: number): Utf16Writer } }).Buffer ??
      null)
    : null;
/** Buffer view of the text area (Node only), for writing UTF-16 code units or byte strings directly. */
let gUtf16: Utf16Writer | null = null;
/** The last text was not ASCII: try the UTF-16 route first (encodeInto is slow for two-byte strings). */
let preferUtf16 = false;
/** The plan whose image is in the buffer (the kernel's plan; gSpans views its spans). */
export let loadedPlan: FieldPlan | null = null;
let jsBuffer: ArrayBuffer | null = null;

/** Make room for a plan image, its spans and a text region. Returns false when memory cannot grow. */
export function ensureMemory(planBytes: number, spansBytes: number, textNeed: number): boolean {
  if (planBytes <= planCap && spansBytes <= spansCap && textNeed <= cap) return true;
  try {
    growMemory(planBytes, spansBytes, textNeed);
    return true;
  } catch {
    return false; // RangeError from memory.grow / new ArrayBuffer: the text is too large
  }
}

function growMemory(planBytes: number, spansBytes: number, textNeed: number): void {
  if (textNeed > 1 << 30 || planBytes > 1 << 26 || spansBytes > 1 << 26) throw new RangeError('too large');
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
export function usePlan(plan: FieldPlan, image: Int32Array): boolean {
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
export function load(text: string, s: number, e: number, bytes: boolean): boolean {
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
    u[i] = Math.min(c, 0x80);
  }
  u[n] = 0;
  return true;
}

/** A byte string's characters are its bytes: copied as they are (on Node a memcpy). */
function loadByteString(str: string, n: number): void {
  writeByteString(gUtf16 ?? gU8, 0, str);
  gU8[n] = 0;
}

function loadUtf16(k: WasmKernel, str: string, n: number): boolean {
  if (NodeBuffer === null || !utf16Route || wasm === null || !ensureMemory(0, 0, 2 * n + 64) || gUtf16 === null)
    return false;
  if (gUtf16.write(str, 0, 2 * n, 'utf16le') !== 2 * n) return false;
  preferUtf16 = k.narrow(textOff, n, textOff) !== 0;
  gU8[n] = 0;
  return true;
}

/** Compute the bitmap of the loaded region (needed by the JS scanner only). */
export function computeMask(n: number): void {
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
