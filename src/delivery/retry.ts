/** Exponential backoff with full jitter, capped, honoring Retry-After, bounded in total time. */
import type { RetrySettings } from '../config/resolve.ts';

export class RetryPolicy {
  readonly #settings: RetrySettings;
  readonly #random: () => number;

  constructor(settings: RetrySettings, random: () => number = Math.random) {
    this.#settings = settings;
    this.#random = random;
  }

  /**
   * Delay before attempt `attempt + 1` (attempt counts from 1): uniform in
   * [0, min(max_delay, initial_delay * 2^(attempt-1))], or what the server asked with
   * Retry-After when that is longer (still capped by max_delay).
   */
  delayMs(attempt: number, retryAfterMs?: number): number {
    const { initialDelayMs, maxDelayMs } = this.#settings;
    const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(attempt - 1, 30));
    const jittered = Math.floor(this.#random() * ceiling);
    if (retryAfterMs !== undefined && retryAfterMs > jittered) return Math.min(retryAfterMs, maxDelayMs);
    return jittered;
  }

  /** Whether another attempt may start after waiting `delayMs`, given when the first one started. */
  mayRetry(firstAttemptAt: number, delayMs: number, now = Date.now()): boolean {
    return now + delayMs - firstAttemptAt <= this.#settings.maxElapsedMs;
  }
}
