/**
 * What every sink implements: send one batch of entries, say which failed and whether
 * trying again can help. Batching, retries, backoff, dead letters and acknowledgements
 * are shared (src/delivery/); a sink only knows its wire protocol.
 */
import type { KongEvent } from '../event/kong-event.ts';

/** One entry of a batch that was not delivered. */
export interface EntryFailure {
  /** Index into the batch passed to send(). */
  readonly index: number;
  readonly retryable: boolean;
  /** Short, secret-free reason (goes to logs and dead-letter files). */
  readonly reason: string;
  readonly retryAfterMs?: number;
}

/** Entries not listed in `failures` were delivered. */
export interface SendResult {
  readonly failures: readonly EntryFailure[];
}

export const DELIVERED: SendResult = Object.freeze({ failures: Object.freeze([]) as readonly EntryFailure[] });

/** The whole batch failed (HTTP status, network error, service error). */
export class SinkError extends Error {
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly code: string;

  constructor(message: string, options: { retryable: boolean; code: string; retryAfterMs?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'SinkError';
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.code = options.code;
  }
}

export interface Sink {
  /** Send one batch; resolve with per-entry failures, or throw (SinkError, or anything: retryable). */
  send(events: readonly KongEvent[], signal: AbortSignal): Promise<SendResult>;
  /** Release connections. */
  close(): Promise<void>;
}
