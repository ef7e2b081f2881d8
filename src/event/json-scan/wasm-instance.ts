/**
 * The one instance of the wasm kernel that every scan shares, with its character class table
 * filled in; null when the runtime has no WebAssembly SIMD (then the JS scanner does all the work).
 */

import { CLS_DIGIT, CLS_ESC, CLS_HEX, CLS_WS, W_CLS, buildWasm } from './wasm-kernel.ts';

/** The kernel's exports (see buildWasm for what each does). */
export interface WasmKernel {
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
      if (c === 34 || c === 92 || c === 47 || c === 98 || c === 102 || c === 110 || c === 114 || c === 116)
        v |= CLS_ESC;
      if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)) v |= CLS_HEX;
      if (c >= 48 && c <= 57) v |= CLS_DIGIT;
      cls[c] = v;
    }
    return k;
  } catch {
    return null; // no WebAssembly or no SIMD: the JS scanner gives the same results, slower
  }
}

/** The kernel all scans share, or null (no WebAssembly or no SIMD). */
export const wasm = loadWasm();
