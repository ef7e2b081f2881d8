/**
 * A virtual clock for timing-sensitive tests: node:test's mock timers take over setTimeout,
 * setInterval and Date (the relay's batch max_wait, retry backoff, Retry-After, snooze windows and
 * rates read them), while real I/O (loopback servers, files) keeps running. Time moves only when
 * the test says so, so a slow machine cannot make a deadline pass early or late.
 * Waiting for I/O polls on setImmediate (not mocked) against a real-time limit (performance.now()).
 */
import type { TestContext } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';

type MockTimers = TestContext['mock']['timers'];

export class VirtualClock {
  readonly #timers: MockTimers;

  /** Takes over the clock for the rest of test `t` (restored when it ends); Date starts at the real now. */
  constructor(t: TestContext, start = Date.now()) {
    this.#timers = t.mock.timers;
    this.#timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: start });
  }

  /** Give the real clock back (timers still pending on the virtual one never run). */
  stop(): void {
    this.#timers.reset();
  }

  /** Move time forward by `ms`, running every timer that falls due (in order). */
  advance(ms: number): void {
    this.#timers.tick(ms);
  }

  /** Let real I/O run, time standing still, until `check` holds; fails after `realTimeoutMs` of real time. */
  async until(check: () => boolean, what: string, realTimeoutMs = 15_000): Promise<void> {
    await this.#poll(check, what, realTimeoutMs, 0);
  }

  /** Let real I/O run for a while (`turns` event-loop turns) with time standing still. */
  async settle(turns = 50): Promise<void> {
    for (let i = 0; i < turns; i++) await nextTurn();
  }

  /**
   * Move time forward `stepMs` at a time, letting real I/O run between steps, until `check` holds:
   * for retries and backoff, where how many steps it takes does not matter.
   */
  async advanceUntil(check: () => boolean, stepMs: number, what: string, realTimeoutMs = 15_000): Promise<void> {
    await this.#poll(check, what, realTimeoutMs, stepMs);
  }

  async #poll(check: () => boolean, what: string, realTimeoutMs: number, stepMs: number): Promise<void> {
    const deadline = performance.now() + realTimeoutMs;
    for (let turn = 0; !check(); turn++) {
      if (performance.now() > deadline) throw new Error(`timed out (real time) waiting for: ${what}`);
      // A step every few turns: a request to a loopback server takes several turns to come back.
      if (stepMs > 0 && turn % 10 === 9) this.#timers.tick(stepMs);
      await nextTurn();
    }
  }
}
