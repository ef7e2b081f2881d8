/** The default buffer: a ring queue in memory, bounded by max_events and max_bytes. */
import type { MemoryBufferSettings } from '../../config/buffer-settings.ts';
import type { Ticket } from '../../core/ack.ts';
import { RingQueue } from '../../core/queue.ts';
import type { EntryBuffer } from './entry-buffer.ts';

export class MemoryBuffer implements EntryBuffer {
  readonly durable = false;
  readonly #settings: MemoryBufferSettings;
  readonly #queue = new RingQueue<Ticket>();
  #bytes = 0;

  constructor(settings: MemoryBufferSettings) {
    this.#settings = settings;
  }

  get length(): number {
    return this.#queue.length;
  }
  get bytes(): number {
    return this.#bytes;
  }
  get heldEvents(): number {
    return this.#queue.length;
  }
  get heldBytes(): number {
    return this.#bytes;
  }
  get full(): boolean {
    return this.#queue.length >= this.#settings.maxEvents || this.#bytes >= this.#settings.maxBytes;
  }

  push(ticket: Ticket): void {
    this.#queue.push(ticket);
    this.#bytes += ticket.event.raw.length;
  }

  adopt(ticket: Ticket): void {
    this.push(ticket);
  }

  peek(): Ticket | undefined {
    return this.#queue.peek();
  }

  shift(): Ticket | undefined {
    const t = this.#queue.shift();
    if (t !== undefined) this.#bytes -= t.event.raw.length;
    return t;
  }

  drain(): Ticket[] {
    this.#bytes = 0;
    return this.#queue.drain();
  }

  close(): void {}
}
