/** The one-line live summary `run` prints on a TTY every few seconds. */
import type { RelayMetrics } from './metrics.ts';

export const SUMMARY_INTERVAL_MS = 5_000;

export class LiveSummary {
  readonly #timer: NodeJS.Timeout;
  #last = { at: Date.now(), received: 0, delivered: 0 };

  constructor(metrics: RelayMetrics, out: NodeJS.WritableStream, intervalMs = SUMMARY_INTERVAL_MS) {
    this.#timer = setInterval(() => out.write(`${this.line(metrics)}\n`), intervalMs);
    this.#timer.unref();
  }

  /** "in 1200/s  out 1190/s  buffered 35  dead-lettered 0  dropped 0" */
  line(metrics: RelayMetrics): string {
    const sum = (c: Record<string, number>): number => Object.values(c).reduce((a, b) => a + b, 0);
    let received = 0;
    for (const s of metrics.sources.values()) received += s.received;
    let delivered = 0,
      deadLettered = 0,
      dropped = 0;
    for (const d of metrics.destinations.values()) {
      delivered += d.delivered;
      deadLettered += sum(d.deadLettered);
      dropped += sum(d.dropped);
    }
    let buffered = 0;
    for (const g of metrics.gauges.values()) buffered += g().bufferedEvents;
    const now = Date.now();
    const secs = Math.max(0.001, (now - this.#last.at) / 1000);
    const line = `in ${Math.round((received - this.#last.received) / secs)}/s  out ${Math.round((delivered - this.#last.delivered) / secs)}/s  buffered ${buffered}  dead-lettered ${deadLettered}  dropped ${dropped}`;
    this.#last = { at: now, received, delivered };
    return line;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
