/** A sink for source-level tests: records what it was given; can be told to fail. */
import type { KongEvent } from '../../src/event/kong-event.ts';
import { DELIVERED, SinkError, type SendResult, type Sink } from '../../src/sinks/sink.ts';

export class RecordingSink implements Sink {
  readonly texts: string[] = [];
  /** Throw this (whole batch fails) while set. */
  failWith: SinkError | null = null;
  /** Hold every send until released (simulates a stalled destination). */
  #gate: Promise<void> | null = null;
  #open: (() => void) | null = null;

  async send(events: readonly KongEvent[]): Promise<SendResult> {
    if (this.#gate !== null) await this.#gate;
    if (this.failWith !== null) throw this.failWith;
    for (const e of events) this.texts.push(e.text);
    return DELIVERED;
  }

  stall(): void {
    if (this.#gate === null)
      this.#gate = new Promise((r) => {
        this.#open = r;
      });
  }
  resume(): void {
    this.#open?.();
    this.#gate = null;
    this.#open = null;
  }
  static retryable(message = 'test outage'): SinkError {
    return new SinkError(message, { retryable: true, code: 'TEST' });
  }
  async close(): Promise<void> {
    this.resume();
  }
}
