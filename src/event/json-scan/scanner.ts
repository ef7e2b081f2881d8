/**
 * JsonScanner: one scanner, holding all that scans use: its wasm kernel instance and scan
 * memory, the JS scanner with its stacks and last error, the backend choice and the counters.
 * Its methods are the scans of object-scan.ts and array-scan.ts; results are returned as
 * values. Scans are synchronous: each call sets up what it uses, in any order.
 */

import {
  scanArrayElements,
  scanArrayElementsUtf8,
  scanArrayOfObjectsUtf8,
  type ArrayTooLong,
  type ScannedArray,
} from './array-scan.ts';
import type { JsonSyntaxError } from './errors.ts';
import { JsScanner } from './js-scanner.ts';
import { instantiateKernel, type WasmKernel } from './kernel/instance.ts';
import { scanObject } from './object-scan.ts';
import type { FieldPlan } from './plan.ts';
import { ScanMemory } from './scan-memory.ts';
import type { ScanParts, ScanStats } from './scan-parts.ts';

/**
 * "auto": the WebAssembly SIMD kernel when the runtime supports it (the default);
 * "js": pure JS, no WebAssembly kernel (same results, much slower; what runtimes without wasm get).
 */
export type ScanBackend = 'auto' | 'js';

export class JsonScanner {
  /** The kernel instance (null without WebAssembly SIMD), used or not as the backend says. */
  readonly #kernel: WasmKernel | null;
  readonly #memory: ScanMemory;
  readonly #js = new JsScanner();
  readonly #stats: ScanStats = { kernelScans: 0, kernelBailouts: 0, jsScans: 0, kernelMismatches: 0 };
  #backend: ScanBackend;
  #parts: ScanParts;

  constructor(options: { readonly backend?: ScanBackend } = {}) {
    this.#kernel = instantiateKernel();
    this.#memory = new ScanMemory(this.#kernel);
    this.#backend = options.backend ?? 'auto';
    this.#parts = this.#makeParts();
  }

  #makeParts(): ScanParts {
    const kernel = this.#backend === 'js' ? null : this.#kernel;
    return { memory: this.#memory, js: this.#js, stats: this.#stats, kernel };
  }

  /** Whether scans use the WebAssembly SIMD kernel. */
  get usesWasm(): boolean {
    return this.#parts.kernel !== null;
  }

  /** Select the backend (for tests and benchmarks); returns the previous one. */
  setBackend(backend: ScanBackend): ScanBackend {
    const previous = this.#backend;
    this.#backend = backend;
    this.#parts = this.#makeParts();
    return previous;
  }

  /** A copy of the counters. */
  stats(): ScanStats {
    return { ...this.#stats };
  }

  /** See object-scan.ts. */
  scanObject(text: string, plan: FieldPlan, spans: Int32Array, start?: number, end?: number): JsonSyntaxError | null {
    return scanObject(this.#parts, text, plan, spans, start, end);
  }

  /** See array-scan.ts. */
  scanArrayElements(text: string, start?: number, end?: number): Int32Array | JsonSyntaxError {
    return scanArrayElements(this.#parts, text, start, end);
  }

  /** See array-scan.ts. */
  scanArrayElementsUtf8(bytes: Uint8Array): Int32Array | null {
    return scanArrayElementsUtf8(this.#parts, bytes);
  }

  /** See array-scan.ts. */
  scanArrayOfObjectsUtf8(bytes: Uint8Array, plan: FieldPlan, maxElements: number): ScannedArray | ArrayTooLong | null {
    return scanArrayOfObjectsUtf8(this.#parts, bytes, plan, maxElements);
  }
}
