/**
 * `unique:` + `snooze:` (Kong Event Hooks' dedupe): the first entry of each combination of the
 * unique fields is sent, repeats are suppressed until its window has passed. Memory is bounded by
 * max_keys: the oldest combinations go first (they are also the first to expire).
 */
import { createHash } from 'node:crypto';
import type { KongEvent } from '../event/kong-event.ts';
import type { Template } from '../event/template.ts';

export const DEFAULT_SNOOZE = '60s';
export const DEFAULT_MAX_KEYS = 100_000;

export interface DedupeSettings {
  /** One single-placeholder template per unique field. */
  readonly unique: readonly Template[];
  readonly snoozeMs: number;
  readonly maxKeys: number;
}

/** The combination of unique values of an entry, as text (a Map key: entry data never becomes an object key). */
export function uniqueKey(event: KongEvent, unique: readonly Template[]): string {
  return JSON.stringify(unique.map((t) => t.value(event) ?? null));
}

/** SHA-256 (hex) of the unique values: the same on every relay, so SNS FIFO deduplication spans relays. */
export function uniqueHash(event: KongEvent, unique: readonly Template[]): string {
  return createHash('sha256').update(uniqueKey(event, unique), 'utf8').digest('hex');
}

export class Deduper {
  readonly #settings: DedupeSettings;
  /** Combination → end of its window (ms); insertion order is window order. */
  readonly #windows = new Map<string, number>();

  constructor(settings: DedupeSettings) {
    this.#settings = settings;
  }

  /** True when the entry is the first of its combination in the window (send it); false: suppress it. */
  admit(event: KongEvent, now = Date.now()): boolean {
    const windows = this.#windows;
    // Windows all have the same length: the oldest ones expire first.
    for (const [key, until] of windows) {
      if (until > now) break;
      windows.delete(key);
    }
    const key = uniqueKey(event, this.#settings.unique);
    if (windows.has(key)) return false;
    windows.set(key, now + this.#settings.snoozeMs);
    if (windows.size > this.#settings.maxKeys) windows.delete(windows.keys().next().value as string);
    return true;
  }

  /** Combinations remembered now. */
  get size(): number {
    return this.#windows.size;
  }
}
