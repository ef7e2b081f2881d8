/**
 * The scan buffer of one scanner: one ArrayBuffer (its wasm kernel's memory, or a plain buffer
 * without wasm) holding the loaded plan's image, the kernel's spans and the region being
 * scanned, one byte per character. It grows itself, copies plans and texts in, and computes the
 * bitmap the JS scanner walks; the scans read its views.
 */

import { Buffer } from 'node:buffer';
import { writeByteString } from '../byte-string.ts';
import type { WasmKernel } from './kernel/instance.ts';
import { KERNEL_LAYOUT } from './kernel/layout.ts';
import type { FieldPlan } from './plan.ts';

// Memory layout:
//   [0, FIXED_END)             wasm kernel tables and stacks
//   [planAt, +planCap)         image of the loaded FieldPlan (wasm kernel)
//   [spansAt, +spansCap)       spans written by the wasm kernel
//   [textAt, +cap)             the region, one byte per character, then a 0 sentinel
//   [textAt+cap, +cap/8+8)     bitmap for the JS scanner: bit (i&31) of word (i>>5) set iff byte i is '"', '\' or < 0x20
const PLAN_AT = (KERNEL_LAYOUT.FIXED_END + 63) & ~63;
/** Bytes after a region: the sentinel, and room for the kernel's 16-byte reads past it. */
const REGION_SLACK = 64;

export class ScanMemory {
  /** The kernel whose memory this is, or null (a plain buffer). */
  readonly #kernel: WasmKernel | null;
  readonly #encoder = new TextEncoder();
  #plainBuffer: ArrayBuffer | null = null;
  #planCap = 0;
  #spansCap = 0;
  #spansAt = PLAN_AT;
  #textAt = PLAN_AT;
  #cap = 0;
  #text = new Uint8Array(0);
  #textBuffer: Buffer = Buffer.alloc(0);
  #mask = new Int32Array(0);
  #kernelSpans = new Int32Array(0);
  /** The plan whose image is in the buffer (#kernelSpans views its spans). */
  #loadedPlan: FieldPlan | null = null;

  constructor(kernel: WasmKernel | null) {
    this.#kernel = kernel;
  }

  /** Where the loaded plan's image is (for the kernel). */
  get planAt(): number {
    return PLAN_AT;
  }
  /** Where the kernel writes the spans of the loaded plan. */
  get spansAt(): number {
    return this.#spansAt;
  }
  /** Where the region is. */
  get textAt(): number {
    return this.#textAt;
  }
  /** The region's bytes (valid up to its sentinel). */
  get text(): Uint8Array {
    return this.#text;
  }
  /** The bitmap computed by computeMask. */
  get mask(): Int32Array {
    return this.#mask;
  }
  /** The spans the kernel wrote for the loaded plan (2 * plan.size entries). */
  get kernelSpans(): Int32Array {
    return this.#kernelSpans;
  }

  /**
   * Make room for a region of `length` bytes and, when `plan` is given, load its image and
   * spans for the kernel (the plan must have an image). Returns false when memory cannot grow
   * that large.
   */
  prepare(plan: FieldPlan | null, length: number): boolean {
    const image = plan === null ? null : plan._image;
    const planBytes = image === null ? 0 : image.length * 4;
    const spansBytes = plan === null ? 0 : plan.size * KERNEL_LAYOUT.SPAN_SIZE;
    const textNeed = length + REGION_SLACK;
    if (planBytes > this.#planCap || spansBytes > this.#spansCap || textNeed > this.#cap) {
      try {
        this.#grow(planBytes, spansBytes, textNeed);
      } catch {
        return false; // RangeError from memory.grow / new ArrayBuffer: the text is too large
      }
    }
    if (plan !== null && image !== null && plan !== this.#loadedPlan) {
      const buffer = this.#text.buffer as ArrayBuffer;
      new Int32Array(buffer, PLAN_AT, image.length).set(image);
      this.#kernelSpans = new Int32Array(buffer, this.#spansAt, plan.size * 2);
      this.#loadedPlan = plan;
    }
    return true;
  }

  #grow(planBytes: number, spansBytes: number, textNeed: number): void {
    if (textNeed > 1 << 30 || planBytes > 1 << 26 || spansBytes > 1 << 26) throw new RangeError('too large');
    const planCap = Math.max(this.#planCap, (planBytes + 1023) & ~1023);
    const spansCap = Math.max(this.#spansCap, (spansBytes + 255) & ~255);
    let cap = Math.max(this.#cap, 4096);
    while (cap < textNeed) cap *= 2;
    const spansAt = PLAN_AT + planCap;
    const textAt = (spansAt + spansCap + 63) & ~63;
    const total = textAt + cap + (cap >> 3) + 64;
    let buffer: ArrayBuffer;
    const kernel = this.#kernel;
    if (kernel !== null) {
      const have = kernel.memory.buffer.byteLength;
      if (have < total) kernel.memory.grow(Math.ceil((total - have) / 65536)); // throws when it cannot
      buffer = kernel.memory.buffer;
    } else {
      if (this.#plainBuffer === null || this.#plainBuffer.byteLength < total)
        this.#plainBuffer = new ArrayBuffer(total);
      buffer = this.#plainBuffer;
    }
    this.#planCap = planCap;
    this.#spansCap = spansCap;
    this.#spansAt = spansAt;
    this.#textAt = textAt;
    this.#cap = cap;
    this.#text = new Uint8Array(buffer, textAt, cap);
    this.#textBuffer = Buffer.from(buffer, textAt, cap);
    this.#mask = new Int32Array(buffer, textAt + cap, (cap >> 5) + 2);
    this.#loadedPlan = null; // the spans view must be recreated (and the plan image copied again)
  }

  /**
   * Put text[s..e) into the region (prepared for e - s bytes), one byte per character, then the
   * 0 sentinel. A byte string's characters are its bytes (on Node a memcpy). In a text, ASCII is
   * kept and any other UTF-16 unit becomes 0x80: never a JSON token byte, and inside strings as
   * fine as any non-ASCII character, so validation and offsets are unchanged.
   */
  loadText(text: string, s: number, e: number, bytes: boolean): void {
    const n = e - s;
    const str = s === 0 && e === text.length ? text : text.slice(s, e);
    const u = this.#text;
    if (bytes) {
      writeByteString(this.#textBuffer, 0, str);
    } else {
      const r = this.#encoder.encodeInto(str, u);
      if (r.read !== n || r.written !== n) {
        // not ASCII (texts are scanned only off the hot path: entries are byte strings)
        for (let i = 0; i < n; i++) u[i] = Math.min(str.charCodeAt(i), 0x80);
      }
    }
    u[n] = 0;
  }

  /** Put bytes into the region (prepared for their length), then the 0 sentinel. */
  loadBytes(bytes: Uint8Array): void {
    this.#text.set(bytes);
    this.#text[bytes.length] = 0;
  }

  /** Compute the bitmap of the region [0, n) (needed by the JS scanner only), with the kernel when given. */
  computeMask(n: number, kernel: WasmKernel | null): void {
    const words = (n >>> 5) + 1;
    if (kernel !== null) {
      kernel.mask(this.#textAt, words, this.#textAt + this.#cap);
      return;
    }
    const u = this.#text;
    const m = this.#mask;
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
}
