/**
 * What a destination's buffer is to the destination: entries routed to it wait here, oldest
 * first, until a batch takes them. Two kinds: memory (memory-buffer.ts) and disk
 * (disk-buffer.ts); the destination does not branch on which one it has.
 */
import type { Ticket } from '../../core/ack.ts';

export interface EntryBuffer {
  /** Entries ready to be taken now (in memory). */
  readonly length: number;
  /** Their bytes (entry sizes). */
  readonly bytes: number;
  /** Entries held, for /metrics: in memory, plus those only on disk. */
  readonly heldEvents: number;
  /** Bytes held, for /metrics and max_bytes: a disk buffer counts every unacknowledged record on disk. */
  readonly heldBytes: number;
  /** At max_bytes (or max_events, or unable to write): the when_full policy applies. */
  readonly full: boolean;
  /** True when entries survive a restart: at shutdown they stay here instead of being dead-lettered. */
  readonly durable: boolean;
  /** Take a newly routed entry. */
  push(ticket: Ticket): void;
  /** Take an entry back from a predecessor at reload (its own, or a memory buffer's). */
  adopt(ticket: Ticket): void;
  peek(): Ticket | undefined;
  shift(): Ticket | undefined;
  /** Remove and return every entry held in memory, oldest first. */
  drain(): Ticket[];
  /** Release files and timers; a durable buffer keeps what was not acknowledged. */
  close(): void;
}
