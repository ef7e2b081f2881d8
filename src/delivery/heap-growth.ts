/**
 * Keep the JS heap near what is live, so that the relay's memory follows its buffers.
 *
 * Why: buffered entries are JS strings. Under backpressure each lives seconds, long enough to be
 * promoted to V8's old generation, and dies there once delivered. After each full collection V8
 * lets the old generation grow to up to 4× what survived before the next one when collections
 * look cheap, which they do exactly then (reading is paused, the process mostly waits). Measured
 * with one slow webhook and default buffers (bench/overload.ts): ~60 MB live, the old generation
 * grew to ~190 MB, and peak RSS to ~290 MB, for 32 MiB of buffered entries.
 *
 * How: V8's `--heap-growing-percent` replaces its own choice: after a full collection, the next
 * one comes when the heap has grown by that percentage of what survived. The flag is read at
 * every full collection, so it can be changed while running. A fixed 50% bounded the overload
 * but cost the HTTP pipeline 10–15% more CPU (~20 MB live: a full collection every ~150 ms). So
 * after each full collection the percentage is set for the next one: about HEADROOM_BYTES of
 * growth over the limit just set, within [MIN_PERCENT, MAX_PERCENT]. Measured on the limit
 * rather than on what survived, because the next collection's survivors are not known yet, but
 * are at most about that limit (the heap reaches it first), even while buffers fill up fast.
 * A heap of ~20 MB may then double between collections; one full of entries grows by about half.
 * It starts at MIN_PERCENT: the limit V8 set before the first observed collection is unknown.
 * It only changes how much garbage may pile up between collections, never what is collected.
 * Measured: the overload's old generation stays under ~95 MB (peak RSS ~180–190 MB), and the
 * HTTP pipeline spends ~4% more CPU than with V8's own choice; the file pipeline no more.
 *
 * Where full collections cannot be observed (Deno's node:perf_hooks has no gc entries), the
 * growth stays at MIN_PERCENT: memory stays bounded, at some CPU cost.
 *
 * Node documents that V8 flags changed after start-up may behave unpredictably; this one is
 * read at every full collection by design, but an operator who would rather not change it sets
 * KLR_HEAP_GROWTH=v8 (V8's own growth: more memory under overload, see bench/README.md).
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';

/** About how much the old generation may grow between full collections. */
export const HEADROOM_BYTES = 40 * 2 ** 20;
/** Bounds of the growth after a full collection, in percent of what survived it. */
export const MIN_PERCENT = 50;
export const MAX_PERCENT = 300;

/** `entry.detail.kind` of a full collection (undefined where gc entries are not reported). */
const GC_MAJOR: number | undefined = (constants as { NODE_PERFORMANCE_GC_MAJOR?: number } | undefined)?.NODE_PERFORMANCE_GC_MAJOR;

let started = false;
/** The growth in force (V8's flag), null before the first set. */
let percent: number | null = null;

/**
 * The growth to set after a full collection that left `liveBytes`, when `currentPercent` was in
 * force: HEADROOM_BYTES over the limit that collection set, within the bounds.
 */
export function nextGrowingPercent(liveBytes: number, currentPercent: number): number {
  const limit = Math.max(1, liveBytes) * (1 + currentPercent / 100);
  const next = (100 * HEADROOM_BYTES) / limit;
  return Math.round(Math.min(MAX_PERCENT, Math.max(MIN_PERCENT, next)));
}

/** The environment variable that turns the bound off (`v8`: leave V8's own growth). */
export const HEAP_GROWTH_ENV = 'KLR_HEAP_GROWTH';

/**
 * Adjust V8's old-generation growth after every full collection (once per process), unless
 * `env` says KLR_HEAP_GROWTH=v8. Returns what is in force: 'bounded' or 'v8'.
 */
export function boundHeapGrowth(env: Readonly<Record<string, string | undefined>> = process.env): 'bounded' | 'v8' {
  if (env[HEAP_GROWTH_ENV] === 'v8') return 'v8';
  if (started) return 'bounded';
  started = true;
  if (GC_MAJOR === undefined) return apply(MIN_PERCENT) ? 'bounded' : 'v8';
  // Until a full collection has been seen, the limit V8 set before is not known: start low.
  if (!apply(MIN_PERCENT)) return 'v8'; // a runtime without V8 flags
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { readonly detail?: { readonly kind?: number } }).detail?.kind !== GC_MAJOR) continue;
      apply(nextGrowingPercent(getHeapStatistics().used_heap_size, percent ?? MIN_PERCENT));
      return;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return 'bounded';
}

function apply(next: number): boolean {
  if (next === percent) return true;
  try {
    setFlagsFromString(`--heap-growing-percent=${next}`);
    percent = next;
    return true;
  } catch {
    return false;
  }
}
