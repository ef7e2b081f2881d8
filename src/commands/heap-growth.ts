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
 * time changed the overload's peak RSS (bench/README.md, "Deno"). Nor where this runtime's V8
 * does not know the two flags: `v8.setFlagsFromString` does not throw on an unknown flag (it
 * prints an error and goes on), so the flags are looked up in `--v8-options` before any is set.
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
 * read at every collection by design. Only the `run` command tunes them (never a test runner or
 * a library user of Relay), and an operator who would rather it did not sets `heap_growth: v8`
 * in the config (V8's own growth: more memory under overload, see bench/README.md). Flags are
 * process-wide: a process starts at most one HeapGrowthBound.
 */
import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { GC_MAJOR_KIND } from '../runtime.ts';

/** About how much the old generation may grow between full collections. */
export const HEADROOM_BYTES = 40 * 2 ** 20;
/** Bounds of the growth after a full collection, in percent of what survived it. */
export const MIN_PERCENT = 50;
export const MAX_PERCENT = 300;
/** The young generation (both semi-spaces) stops growing at this size: Node 20's maximum. */
export const YOUNG_GENERATION_BYTES = 32 * 2 ** 20;
/** V8's own `--semi-space-growth-factor`. */
const V8_SEMI_SPACE_GROWTH = 2;
/** The V8 flags set while running. */
export const TUNED_FLAGS = ['--heap-growing-percent', '--semi-space-growth-factor'] as const;

/** What is in force: `bounded` (tuned here) or `v8` (V8's own growth), and why when not what was asked. */
export interface HeapGrowthState {
  readonly mode: 'bounded' | 'v8';
  readonly reason?: string;
}

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

/** The flags of TUNED_FLAGS that `v8Options` (the output of `--v8-options`) does not list. */
export function missingFlags(v8Options: string): string[] {
  return TUNED_FLAGS.filter((flag) => !v8Options.includes(`${flag} `));
}

/** The `--v8-options` listing of this runtime's executable ('' when it cannot be had). */
function listV8Options(): string {
  const run = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8', timeout: 10_000 });
  return run.status === 0 ? run.stdout : '';
}

/**
 * Adjusts V8's old-generation growth after every full collection and caps the young generation,
 * once started. The `run` command starts one per process.
 */
export class HeapGrowthBound {
  /** The growth in force (V8's flag), null before the first set. */
  #percent: number | null = null;
  /** The semi-space growth factor in force (V8's flag). */
  #semiSpaceGrowth = V8_SEMI_SPACE_GROWTH;
  #observer: PerformanceObserver | null = null;

  /**
   * Start bounding, unless `asked` is 'v8', full collections cannot be observed, or this
   * runtime's V8 lacks a flag (`v8Options`: its `--v8-options` listing). Returns what is in force.
   */
  start(asked: 'bounded' | 'v8', v8Options: () => string = listV8Options): HeapGrowthState {
    if (asked === 'v8') return { mode: 'v8' };
    if (this.#observer !== null) return { mode: 'bounded' };
    if (GC_MAJOR_KIND === undefined) return { mode: 'v8', reason: 'this runtime does not report garbage collections' };
    const missing = missingFlags(v8Options());
    if (missing.length > 0) return { mode: 'v8', reason: `this runtime's V8 lacks ${missing.join(', ')}` };
    this.#capYoungGeneration();
    // Until a full collection has been seen, the limit V8 set before is not known: start low.
    this.#apply(MIN_PERCENT);
    const major = GC_MAJOR_KIND;
    this.#observer = new PerformanceObserver((list) => {
      this.#capYoungGeneration();
      for (const entry of list.getEntries()) {
        if ((entry as { readonly detail?: { readonly kind?: number } }).detail?.kind !== major) continue;
        this.#apply(nextGrowingPercent(getHeapStatistics().used_heap_size, this.#percent ?? MIN_PERCENT));
        return;
      }
    });
    this.#observer.observe({ entryTypes: ['gc'] });
    return { mode: 'bounded' };
  }

  /** Stop following collections (the flags keep their last values). */
  stop(): void {
    this.#observer?.disconnect();
    this.#observer = null;
  }

  #apply(next: number): void {
    if (next === this.#percent) return;
    setFlagsFromString(`--heap-growing-percent=${next}`);
    this.#percent = next;
  }

  /** Stop (or resume) the young generation's growth at YOUNG_GENERATION_BYTES. */
  #capYoungGeneration(): void {
    let newSpaceBytes = 0;
    for (const space of getHeapSpaceStatistics())
      if (space.space_name === 'new_space') newSpaceBytes = space.space_size;
    const next = nextSemiSpaceGrowth(newSpaceBytes);
    if (next === this.#semiSpaceGrowth) return;
    setFlagsFromString(`--semi-space-growth-factor=${next}`);
    this.#semiSpaceGrowth = next;
  }
}
