/**
 * Which backend scans (the wasm kernel, its UTF-8-only variant, or pure JS) and the counters of
 * what the backends did. This module owns that state: others read `useWasm`, `utf16Route` and
 * bump the counters in `stats`; only setScanBackend switches.
 */

import { wasm } from './wasm-instance.ts';

/** Whether scans use the wasm kernel (see setScanBackend). */
export let useWasm = wasm !== null;
/** Whether the UTF-16 route may be used (see ScanBackend "wasm-utf8"). */
export let utf16Route = true;

/**
 * "auto": the WebAssembly SIMD kernel when the runtime supports it (the default);
 * "wasm-utf8": the kernel, but non-ASCII text always goes through UTF-8 (what non-Node runtimes do);
 * "js": pure JS, no WebAssembly at all (same results, much slower; what runtimes without wasm get).
 */
export type ScanBackend = 'auto' | 'wasm-utf8' | 'js';
let backend: ScanBackend = 'auto';

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
/** The counters; the scans bump them, getScanStats hands out copies. */
export const stats: ScanStats = { kernelScans: 0, kernelBailouts: 0, jsScans: 0, kernelMismatches: 0 };

/** A copy of the scan counters since the process started. */
export function getScanStats(): ScanStats {
  return { ...stats };
}

/** Select the scan backend (for tests and benchmarks); returns the previous setting. */
export function setScanBackend(b: ScanBackend): ScanBackend {
  const prev = backend;
  backend = b;
  useWasm = b !== 'js' && wasm !== null;
  utf16Route = b === 'auto';
  return prev;
}
