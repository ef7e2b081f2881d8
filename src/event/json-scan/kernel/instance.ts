/**
 * Instances of the WebAssembly kernel (scan-kernel.wat, built into scan-kernel.wasm.ts): each
 * scanner makes its own, with its own memory. None when the runtime has no WebAssembly SIMD
 * (then the JS scanner does all the work).
 */

import { Buffer } from 'node:buffer';
import { SCAN_KERNEL_WASM_BASE64 } from './scan-kernel.wasm.ts';

/** The kernel's exports (see scan-kernel.wat for what each does). */
export interface WasmKernel {
  readonly memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  mask(src: number, words: number, dst: number): void;
  scan(n: number, delta: number, plan: number, spans: number, text: number, node: number, baseDepth: number): number;
}

/** The part of the WebAssembly JS API used here (not in the es2023 lib typings). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}

/** A new instance of the kernel, or null without WebAssembly SIMD (or on a big-endian machine). */
export function instantiateKernel(): WasmKernel | null {
  try {
    // Bitmap words are read through an Int32Array in platform byte order; wasm stores little-endian.
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) return null;
    const api = (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly;
    if (api === undefined) return null;
    const module = new api.Module(Buffer.from(SCAN_KERNEL_WASM_BASE64, 'base64'));
    return new api.Instance(module, {}).exports as WasmKernel;
  } catch {
    return null; // no WebAssembly or no SIMD: the JS scanner gives the same results, slower
  }
}
