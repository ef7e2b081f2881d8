/**
 * One destination at run time: a bounded buffer → a batcher (max_events / max_bytes /
 * max_wait, `concurrency` batches in flight) → its sink, with retries (backoff + jitter,
 * Retry-After), dead letters, and exactly one settle per ticket.
 */
import type { DeliverySettings, ResolvedDestination } from '../config/resolve.ts';
import type { Sink, EntryFailure } from '../sinks/sink.ts';
import { SinkError } from '../sinks/sink.ts';
import type { Logger } from '../telemetry/log.ts';
import { RateLimitedLog } from '../telemetry/log.ts';
import { bump, type DestinationGauges, type RelayMetrics, type DestinationStats } from '../telemetry/metrics.ts';
import type { Ticket } from '../core/ack.ts';
import { DEAD_LETTERS_DISCARDED, DeadLetterWriter, type DeadLetterRecord } from '../core/dead-letter.ts';
import { RingQueue } from '../core/queue.ts';
import { RetryPolicy } from './retry.ts';
import { errorText } from '../util/errors.ts';
import { sleep } from '../util/sleep.ts';

export interface DestinationStatus extends DestinationGauges {
  readonly name: string;
  readonly type: ResolvedDestination['type'];
  readonly routed: number;
  readonly delivered: number;
  readonly deadLettered: number;
  readonly dropped: number;
  readonly retries: number;
  readonly lastError: { readonly time: string; readonly message: string } | null;
  readonly lastSuccess: string | null;
  readonly deadLetterFile: string | null;
}

export interface DestinationHooks {
  /** Called when `blocking` changes (a block buffer filled up or has room again). */
  readonly onBlockingChange: (destination: Destination) => void;
}

/** How long to wait before writing to an unwritable dead-letter directory again. */
const DEAD_LETTER_RETRY_MS = 1_000;

export class Destination {
  readonly name: string;
  readonly config: ResolvedDestination;
  readonly #settings: DeliverySettings;
  readonly #sink: Sink;
  readonly #retry: RetryPolicy;
  readonly #deadLetters: DeadLetterWriter;
  readonly #stats: DestinationStats;
  readonly #metrics: RelayMetrics;
  readonly #log: Logger;
  readonly #limited: RateLimitedLog;
  readonly #hooks: DestinationHooks;
  readonly #maxInFlight: number;

  readonly #queue = new RingQueue<Ticket>();
  #queuedBytes = 0;
  #inFlight = 0;
  #blocking = false;
  #timer: NodeJS.Timeout | undefined;
  #flushAll = false;
  #pumpQueued = false;
  readonly #pumpNow = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };
  readonly #abort = new AbortController();
  #idleWaiters: (() => void)[] = [];
  #lastError: { time: string; message: string } | null = null;
  #lastSuccess: string | null = null;

  constructor(config: ResolvedDestination, sink: Sink, metrics: RelayMetrics, log: Logger, hooks: DestinationHooks) {
    this.name = config.name;
    this.config = config;
    this.#settings = config.delivery;
    this.#sink = sink;
    this.#retry = new RetryPolicy(config.delivery.retry);
    this.#metrics = metrics;
    this.#stats = metrics.destination(config.name);
    this.#log = log.child({ destination: config.name });
    this.#limited = new RateLimitedLog(this.#log);
    this.#hooks = hooks;
    // FIFO topics keep order per group only with one batch at a time.
    this.#maxInFlight = config.type === 'sns' && config.fifo ? 1 : config.delivery.concurrency;
    this.#deadLetters = new DeadLetterWriter(config.delivery.deadLetter, (discard) => {
      this.#stats.discarded += discard.records;
      this.#log.error(discard, DEAD_LETTERS_DISCARDED);
    });
    metrics.gauges.set(this.name, () => this.gauges());
  }

  gauges(): DestinationGauges {
    return {
      bufferedEvents: this.#queue.length,
      bufferedBytes: this.#queuedBytes,
      inFlight: this.#inFlight,
      blocking: this.#blocking,
    };
  }

  /** A full `block` buffer: the sources that feed it must wait. */
  get blocking(): boolean {
    return this.#blocking;
  }

  get #full(): boolean {
    const b = this.#settings.buffer;
    return this.#queue.length >= b.maxEvents || this.#queuedBytes >= b.maxBytes;
  }

  /** Take one routed event. Never refuses: `block` signals backpressure, `drop_*` drops and counts. */
  enqueue(ticket: Ticket): void {
    this.#stats.routed++;
    if (this.#abort.signal.aborted) {
      this.#abandonOrDeadLetter([ticket], 'destination closed before delivery');
      return;
    }
    const policy = this.#settings.buffer.whenFull;
    if (this.#full) {
      if (policy === 'drop_newest') {
        this.#drop(ticket, 'buffer_full_drop_newest');
        return;
      }
      if (policy === 'drop_oldest') {
        while (this.#full && this.#queue.length > 0) {
          const old = this.#queue.shift() as Ticket;
          this.#queuedBytes -= old.event.raw.length;
          this.#drop(old, 'buffer_full_drop_oldest');
        }
      }
    }
    this.#queue.push(ticket);
    this.#queuedBytes += ticket.event.raw.length;
    if (policy === 'block' && !this.#blocking && this.#full) this.#setBlocking(true);
    // A full batch leaves at once. Anything else waits until the source's synchronous hand-over
    // (a read chunk, a request body) is done: entries that arrive together leave together, even
    // when max_wait has already passed (a busy event loop, a slow body).
    const batch = this.#settings.batch;
    if (this.#queue.length >= batch.maxEvents || this.#queuedBytes >= batch.maxBytes) this.#pump(false);
    if (!this.#pumpQueued) {
      this.#pumpQueued = true;
      queueMicrotask(this.#pumpNow);
    }
  }

  #drop(ticket: Ticket, reason: string): void {
    bump(this.#stats.dropped, reason);
    this.#limited.warn(
      reason,
      { reason },
      'buffer full: dropping an entry (when_full policy); see kong_log_relay_events_dropped_total',
    );
    ticket.settle();
  }

  #setBlocking(blocking: boolean): void {
    this.#blocking = blocking;
    // Under sustained overload this flips with every batch sent (tens of times a second):
    // rate-limited, or the log would be flooded (and cost CPU) exactly when the relay is busiest.
    if (blocking)
      this.#limited.warn(
        'buffer-full',
        { buffered: this.#queue.length, bytes: this.#queuedBytes },
        'buffer full: holding sources back until this destination catches up',
      );
    else this.#log.debug({ buffered: this.#queue.length }, 'buffer has room again: sources resume');
    this.#hooks.onBlockingChange(this);
  }

  /**
   * Start as many batches as are ready and allowed; otherwise arm the max_wait timer.
   * `byAge` false: only full batches are ready (during a source's hand-over).
   */
  #pump(byAge = true): void {
    const { maxEvents, maxBytes, maxWaitMs } = this.#settings.batch;
    while (this.#inFlight < this.#maxInFlight && this.#queue.length > 0) {
      const ready =
        this.#flushAll ||
        this.#queue.length >= maxEvents ||
        this.#queuedBytes >= maxBytes ||
        (byAge && Date.now() - (this.#queue.peek() as Ticket).receivedAt >= maxWaitMs);
      if (!ready) {
        this.#armTimer();
        return;
      }
      const batch = this.#take(maxEvents, maxBytes);
      this.#inFlight++;
      void this.#deliver(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
        this.#notifyIdle();
      });
    }
    if (this.#blocking && !this.#full) this.#setBlocking(false);
  }

  #armTimer(): void {
    if (this.#timer !== undefined) return;
    const oldest = this.#queue.peek() as Ticket;
    const wait = Math.max(0, oldest.receivedAt + this.#settings.batch.maxWaitMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, wait);
    this.#timer.unref();
  }

  #take(maxEvents: number, maxBytes: number): Ticket[] {
    const batch: Ticket[] = [];
    let bytes = 0;
    while (batch.length < maxEvents && this.#queue.length > 0) {
      const next = this.#queue.peek() as Ticket;
      const size = next.event.raw.length;
      if (batch.length > 0 && bytes + size > maxBytes) break;
      this.#queue.shift();
      this.#queuedBytes -= size;
      bytes += size;
      batch.push(next);
    }
    return batch;
  }

  async #deliver(batch: Ticket[]): Promise<void> {
    const firstAttempt = Date.now();
    const signal = this.#abort.signal;
    let pending = batch;
    this.#metrics.batchSize.observe({ destination: this.name }, batch.length);
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      let failures: readonly EntryFailure[];
      try {
        failures = (
          await this.#sink.send(
            pending.map((t) => t.event),
            signal,
          )
        ).failures;
      } catch (e) {
        const err =
          e instanceof SinkError
            ? e
            : new SinkError(errorText(e), { retryable: true, code: 'KLR_SINK_ERROR', cause: e });
        failures = pending.map((_, index) => ({
          index,
          retryable: err.retryable,
          reason: err.message,
          retryAfterMs: err.retryAfterMs,
        }));
      }
      const now = Date.now();
      this.#metrics.deliveryLatency.observe({ destination: this.name }, (now - started) / 1000);

      const failed = new Set<number>();
      const retry: Ticket[] = [];
      const dead: DeadLetterRecord[] = [];
      const deadTickets: Ticket[] = [];
      let retryAfterMs: number | undefined;
      let lastReason = '';
      for (const f of failures) {
        const t = pending[f.index];
        if (t === undefined || failed.has(f.index)) continue;
        failed.add(f.index);
        lastReason = f.reason;
        if (f.retryable) {
          retry.push(t);
          if (f.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, f.retryAfterMs);
        } else {
          deadTickets.push(t);
          dead.push(this.#record(t, f.reason, attempt, firstAttempt, now));
        }
      }
      const delivered = pending.length - failed.size;
      if (delivered > 0) {
        this.#stats.delivered += delivered;
        this.#lastSuccess = new Date(now).toISOString();
        this.#metrics.eventAge.observe({ destination: this.name }, (now - pending[0].receivedAt) / 1000);
        for (let i = 0; i < pending.length; i++) if (!failed.has(i)) pending[i].settle();
      }
      if (failed.size > 0) this.#lastError = { time: new Date(now).toISOString(), message: lastReason };
      if (deadTickets.length > 0) {
        this.#log.warn(
          { entries: deadTickets.length, reason: dead[0].reason },
          'not retryable: writing entries to the dead-letter file',
        );
        await this.#deadLetter(deadTickets, dead, 'rejected');
      }
      if (retry.length === 0) return;

      const delay = this.#retry.delayMs(attempt, retryAfterMs);
      if (signal.aborted) {
        await this.#abandonOrDeadLetter(
          retry,
          `shutdown before delivery (after ${attempt} attempts: ${lastReason})`,
          attempt,
          firstAttempt,
        );
        return;
      }
      if (!this.#retry.mayRetry(firstAttempt, delay, now)) {
        const reason = `retries exhausted after ${attempt} attempts over ${Math.round((now - firstAttempt) / 1000)}s: ${lastReason}`;
        this.#log.error(
          { entries: retry.length, attempts: attempt },
          `${reason}; writing entries to the dead-letter file`,
        );
        await this.#deadLetter(
          retry,
          retry.map((t) => this.#record(t, reason, attempt, firstAttempt, now)),
          'retries_exhausted',
        );
        return;
      }
      this.#limited.warn(
        'retry',
        { entries: retry.length, attempt, delayMs: delay, reason: lastReason },
        'delivery failed, will retry',
      );
      this.#stats.retries += retry.length;
      if (!(await sleep(delay, signal))) {
        await this.#abandonOrDeadLetter(
          retry,
          `shutdown before delivery (after ${attempt} attempts: ${lastReason})`,
          attempt,
          firstAttempt,
        );
        return;
      }
      pending = retry;
    }
  }

  #record(t: Ticket, reason: string, attempts: number, firstAttempt: number, lastAttempt: number): DeadLetterRecord {
    return { destination: this.name, reason, attempts, firstAttempt, lastAttempt, event: t.event.text };
  }

  /** Write dead letters, retrying while the disk refuses; settle only what was written. */
  async #deadLetter(tickets: Ticket[], records: DeadLetterRecord[], reasonKey: string): Promise<void> {
    for (;;) {
      try {
        await this.#deadLetters.write(records);
        bump(this.#stats.deadLettered, reasonKey, tickets.length);
        for (const t of tickets) t.settle();
        return;
      } catch (e) {
        this.#lastError = { time: new Date().toISOString(), message: `dead-letter write failed: ${errorText(e)}` };
        this.#limited.error(
          'dead-letter-write',
          { dir: this.#deadLetters.dir, err: errorText(e), entries: tickets.length },
          'cannot write the dead-letter file; the entries stay unacknowledged (file checkpoints do not advance) and the write is retried',
        );
        if (!(await sleep(DEAD_LETTER_RETRY_MS, this.#abort.signal))) {
          this.#abandon(tickets, 'dead-letter directory not writable at shutdown');
          return;
        }
      }
    }
  }

  /**
   * At shutdown: entries that can be read again (file behind a checkpoint) are left for that
   * re-read; the others are dead-lettered. Nothing is dropped silently.
   */
  async #abandonOrDeadLetter(tickets: Ticket[], reason: string, attempts = 0, firstAttempt?: number): Promise<void> {
    const replayable = tickets.filter((t) => t.group?.replayable === true);
    const others = tickets.filter((t) => t.group?.replayable !== true);
    if (replayable.length > 0)
      this.#log.info(
        { entries: replayable.length },
        'shutdown: leaving undelivered file entries for the checkpoint to re-read',
      );
    if (others.length === 0) return;
    const now = Date.now();
    try {
      await this.#deadLetters.write(others.map((t) => this.#record(t, reason, attempts, firstAttempt ?? now, now)));
      bump(this.#stats.deadLettered, 'shutdown', others.length);
      for (const t of others) t.settle();
    } catch (e) {
      this.#abandon(others, `dead-letter write failed: ${errorText(e)}`);
    }
  }

  #abandon(tickets: Ticket[], reason: string): void {
    const lost = tickets.filter((t) => t.group?.replayable !== true).length;
    if (lost > 0) {
      bump(this.#stats.dropped, 'dead_letter_unwritable', lost);
      this.#log.error(
        { entries: lost, reason },
        'entries could not be delivered nor dead-lettered before exit and are lost',
      );
    }
  }

  /**
   * Send everything buffered now (ignore max_wait) and wait until nothing is in flight, or
   * until `deadline` (ms since epoch): then cancel sends and retries; what is left goes to
   * the dead-letter file (or, for file entries, back to the checkpoint).
   */
  async drain(deadline: number): Promise<void> {
    this.#flushAll = true;
    this.#pump();
    const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    this.#notifyIdle();
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      idle.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), Math.max(0, remaining));
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.#log.warn(
        { buffered: this.#queue.length, inFlight: this.#inFlight },
        'shutdown timeout: cancelling deliveries',
      );
      this.#abort.abort();
      const left = this.#queue.drain();
      this.#queuedBytes = 0;
      await this.#abandonOrDeadLetter(left, 'shutdown before delivery (still buffered)');
      await new Promise<void>((resolve) => {
        this.#idleWaiters.push(resolve);
        this.#notifyIdle();
      });
    }
  }

  #notifyIdle(): void {
    if (this.#inFlight > 0 || this.#queue.length > 0 || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** After drain(): release the sink and the dead-letter file. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#abort.abort();
    this.#metrics.gauges.delete(this.name);
    await Promise.allSettled([this.#sink.close(), this.#deadLetters.close()]);
  }

  status(): DestinationStatus {
    const s = this.#stats;
    const sum = (c: Record<string, number>): number => Object.values(c).reduce((a, b) => a + b, 0);
    return {
      name: this.name,
      type: this.config.type,
      ...this.gauges(),
      routed: s.routed,
      delivered: s.delivered,
      deadLettered: sum(s.deadLettered),
      dropped: sum(s.dropped),
      retries: s.retries,
      lastError: this.#lastError,
      lastSuccess: this.#lastSuccess,
      deadLetterFile: this.#deadLetters.currentFile === '' ? null : this.#deadLetters.currentFile,
    };
  }
}
