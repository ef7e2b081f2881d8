/**
 * What a scan works with: the parts of one scanner (see ../json-scan.ts, JsonScanner), handed to
 * the scans of object-scan.ts and array-scan.ts.
 */

import type { JsScanner } from './js-scanner.ts';
import type { WasmKernel } from './kernel/instance.ts';
import type { ScanMemory } from './scan-memory.ts';

/** Counters, mostly for tests: a non-zero kernelMismatches means the wasm kernel rejected valid JSON. */
export interface ScanStats {
  /** scans handled by the wasm kernel (objects, and array elements) */
  kernelScans: number;
  /** of which the kernel bailed out (escaped key in a tracked object) */
  kernelBailouts: number;
  /** scans by the JS scanner (fallbacks, errors, JS backend) */
  jsScans: number;
  /** texts the kernel rejected but the JS scanner accepted (should stay 0) */
  kernelMismatches: number;
}

export interface ScanParts {
  readonly memory: ScanMemory;
  readonly js: JsScanner;
  /** The scanner's counters, bumped by the scans. */
  readonly stats: ScanStats;
  /** The kernel, when the scanner uses it (its memory is `memory`), else null. */
  readonly kernel: WasmKernel | null;
}
