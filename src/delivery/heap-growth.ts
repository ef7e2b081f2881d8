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
 * Where full collections cannot be observed (Deno's node:perf_hooks has no gc entries), V8's
 * own growth is left ('v8'): there is nothing to follow, and on Deno 2.9 neither flag set at run
 * time changed the overload's peak RSS (bench/README.md, "Deno").
 *
 * The young generation is capped the same way. V8 sizes it from the machine's memory: 32 MB
 * (two 16 MB semi-spaces) in Node 20, but up to 128 MB in Node 24 on this 24 GiB machine, where
 * the overload's peak RSS was ~300 MB instead of ~190 MB. Its maximum is fixed at start-up
 * (`--max-semi-space-size` only works on the command line), but it starts small and doubles
 * after a scavenge by `--semi-space-growth-factor`, which is read at every growth: after each
 * collection the factor is set to 1 (no growth) once the new space has reached
 * YOUNG_GENERATION_BYTES, and back to 2 (V8's default) while it is below.
 *
 * Node documents that V8 flags changed after start-up may behave unpredictably; these two are
 * read at every collection by design, but an operator who would rather not change them sets
 * KLR_HEAP_GROWTH=v8 (V8's own growth: more memory under overload, see bench/README.md).
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';

/** About how much the old generation may grow between full collections. */
export const HEADROOM_BYTES = 40 * 2 ** 20;
/** Bounds of the growth after a full collection, in percent of what survived it. */
export const MIN_PERCENT = 50;
export const MAX_PERCENT = 300;
/** The young generation (both semi-spaces) stops growing at this size: Node 20's maximum. */
export const YOUNG_GENERATION_BYTES = 32 * 2 ** 20;
/** V8's own `--semi-space-growth-factor`. */
const V8_SEMI_SPACE_GROWTH = 2;

/** `entry.detail.kind` of a full collection (undefined where gc entries are not reported). */
const GC_MAJOR: number | undefined = (constants as { NODE_PERFORMANCE_GC_MAJOR?: number } | undefined)
  ?.NODE_PERFORMANCE_GC_MAJOR;

/** What boundHeapGrowth started (once per process), null before. */
let mode: 'bounded' | 'v8' | null = null;
/** The growth in force (V8's flag), null before the first set. */
let percent: number | null = null;
/** The semi-space growth factor in force (V8's flag). */
let semiSpaceGrowth = V8_SEMI_SPACE_GROWTH;

/** The semi-space growth factor to set when the new space (both semi-spaces) is `newSpaceBytes`. */
export function nextSemiSpaceGrowth(newSpaceBytes: number): number {
  return newSpaceBytes >= YOUNG_GENERATION_BYTES ? 1 : V8_SEMI_SPACE_GROWTH;
}

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
 * Adjust V8's old-generation growth after every full collection and cap the young generation
 * (started once per process), unless `env` says KLR_HEAP_GROWTH=v8 or collections cannot be
 * observed. Returns what is in force: 'bounded' or 'v8'.
 */
export function boundHeapGrowth(env: Readonly<Record<string, string | undefined>> = process.env): 'bounded' | 'v8' {
  if (env[HEAP_GROWTH_ENV] === 'v8') return 'v8';
  mode ??= startBounding();
  return mode;
}

function startBounding(): 'bounded' | 'v8' {
  if (GC_MAJOR === undefined) return 'v8';
  capYoungGeneration();
  // Until a full collection has been seen, the limit V8 set before is not known: start low.
  if (!apply(MIN_PERCENT)) return 'v8'; // a runtime without V8 flags
  const observer = new PerformanceObserver((list) => {
    capYoungGeneration();
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

/** Stop (or resume) the young generation's growth at YOUNG_GENERATION_BYTES. */
function capYoungGeneration(): void {
  try {
    let newSpaceBytes = 0;
    for (const space of getHeapSpaceStatistics())
      if (space.space_name === 'new_space') newSpaceBytes = space.space_size;
    const next = nextSemiSpaceGrowth(newSpaceBytes);
    if (next === semiSpaceGrowth) return;
    setFlagsFromString(`--semi-space-growth-factor=${next}`);
    semiSpaceGrowth = next;
  } catch {
    // A runtime without heap space statistics or V8 flags: V8's own growth.
  }
}
