/**
 * What differs between the runtimes the relay runs on (Node and Deno, from the same source), in
 * one place: the rest of the code asks these questions instead of testing for `Deno` itself.
 */
import { constants } from 'node:perf_hooks';

declare const Deno: { version: { deno: string } } | undefined;

/** The runtime and its version, for build_info, logs and the demo: `node-24.1.0`, `deno-2.9.6`. */
export const RUNTIME = typeof Deno !== 'undefined' ? `deno-${Deno.version.deno}` : `node-${process.versions.node}`;

/**
 * Whether `Buffer#write(…, 'latin1')` is a copy. It is on Node; Deno's is a JavaScript loop,
 * ~20× slower (5 µs for a 2.3 KB entry) and slower than a plain `charCodeAt` loop, while its
 * `TextEncoder#encodeInto` copies an ASCII string as fast as Node.
 */
export const LATIN1_WRITE_IS_COPY = typeof Deno === 'undefined';

/**
 * `entry.detail.kind` of a full collection in `gc` performance entries, or undefined where full
 * collections cannot be observed (Deno's node:perf_hooks reports no gc entries).
 */
export const GC_MAJOR_KIND: number | undefined = (constants as { NODE_PERFORMANCE_GC_MAJOR?: number } | undefined)
  ?.NODE_PERFORMANCE_GC_MAJOR;
