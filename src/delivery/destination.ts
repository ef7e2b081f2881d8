/**
 * One destination at run time: a bounded buffer → a batcher (max_events / max_bytes /
 * max_wait, `concurrency` batches in flight) → its sink, with retries (backoff + jitter,
 * Retry-After), dead letters, and exactly one settle per ticket.
 */
import type { DeliverySettings, ResolvedDestination } from '../config/resolve.ts';
import { textOf } from '../event/byte-string.ts';
import type { Sink, EntryFailure } from '../sinks/sink.ts';
import { SinkError } from '../sinks/sink.ts';
import type { Logger } from '../telemetry/log.ts';
import { RateLimitedLog } from '../telemetry/log.ts';
import {
  bump,
  type DestinationGauges,
  type DestinationStats,
  type RelayMetrics,
  seedCounts,
} from '../telemetry/metrics.ts';
import type { Ticket } from '../core/ack.ts';
import { DEAD_LETTERS_DISCARDED, DeadLetterWriter, type DeadLetterRecord } from '../core/dead-letter.ts';
import { type DestinationBufferHooks, openBuffer } from './buffer/open-buffer.ts';
import type { EntryBuffer } from './buffer/entry-buffer.ts';
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

export interface DestinationHooks extends DestinationBufferHooks {
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

  readonly #buffer: EntryBuffer;
  /** The buffer came from the predecessor this one replaced at reload. */
  #successor: Destination | null = null;
  readonly #gaugeReader = (): DestinationGauges => this.gauges();
  #inFlight = 0;
  /** Shutdown of a durable buffer: no new batches, what is left stays for the next start. */
  #stopping = false;
  /** Set by drain(): file entries left undelivered are re-read after a restart (shutdown), or dead-lettered (removal). */
  #rereadAfterStop = true;
  #blocking = false;
  #timer: NodeJS.Timeout | undefined;
  #flushAll = false;
  #pumpQueued = false;
  readonly #pumpNow = (): void => {
    this.#pumpQueued = false;
    this.#pump();
  };
  readonly #abort = new AbortController();
  /** Cuts retry waits short: at shutdown, and at a reload hand-over (sends in progress go on). */
  readonly #wake = new AbortController();
  #idleWaiters: (() => void)[] = [];
  #lastError: { time: string; message: string } | null = null;
  #lastSuccess: string | null = null;

  constructor(
    config: ResolvedDestination,
    sink: Sink,
    metrics: RelayMetrics,
    log: Logger,
    hooks: DestinationHooks,
    predecessor?: Destination,
  ) {
    this.name = config.name;
    this.config = config;
    this.#settings = config.delivery;
    this.#sink = sink;
    this.#retry = new RetryPolicy(config.delivery.retry);
    this.#metrics = metrics;
    this.#stats = metrics.destination(config.name);
    // Every reason this destination can drop or dead-letter for has a series from the start.
    const policy = config.delivery.buffer.whenFull;
    seedCounts(this.#stats.dropped, [
      ...(policy === 'block' ? [] : [`buffer_full_${policy}`]),
      'dead_letter_unwritable',
    ]);
    seedCounts(this.#stats.deadLettered, ['rejected', 'retries_exhausted', 'shutdown']);
    this.#log = log.child({ destination: config.name });
    this.#limited = new RateLimitedLog(this.#log);
    this.#hooks = hooks;
    // FIFO topics keep order per group only with one batch at a time.
    this.#maxInFlight = config.type === 'sns' && config.fifo ? 1 : config.delivery.concurrency;
    this.#deadLetters = new DeadLetterWriter(config.delivery.deadLetter, (discard) => {
      this.#stats.discarded += discard.records;
      this.#log.error(discard, DEAD_LETTERS_DISCARDED);
    });
    this.#buffer = openBuffer(
      config,
      predecessor === undefined ? undefined : predecessor.#buffer,
      hooks,
      this.#stats,
      this.#log,
    );
    metrics.gauges.set(this.name, this.#gaugeReader);
    // A disk buffer starts with what the last run left (or a predecessor's entries): send it.
    // (After construction: the pipeline counts blocking destinations once it has them all.)
    if (this.#buffer.length > 0) queueMicrotask(() => this.#queued());
  }

  /** True when `successor` (the same destination with new settings) can take this one's buffer as it is. */
  sharesBufferWith(successor: Destination): boolean {
    return this.#buffer === successor.#buffer;
  }

  /** A reload replaces this destination by one that takes over this one's disk buffer, if it can. */
  get handsOverDiskBuffer(): boolean {
    return this.#buffer.durable;
  }

  gauges(): DestinationGauges {
    return {
      bufferedEvents: this.#buffer.heldEvents,
      bufferedBytes: this.#buffer.heldBytes,
      inFlight: this.#inFlight,
      blocking: this.#blocking,
    };
  }

  /** A full `block` buffer: the sources that feed it must wait. */
  get blocking(): boolean {
    return this.#blocking;
  }

  get #full(): boolean {
    return this.#buffer.full;
  }

  /** Take one routed event. Never refuses: `block` signals backpressure, `drop_*` drops and counts. */
  enqueue(ticket: Ticket): void {
    if (this.#successor !== null) {
      this.#successor.enqueue(ticket);
      return;
    }
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
        while (this.#full && this.#buffer.length > 0)
          this.#drop(this.#buffer.shift() as Ticket, 'buffer_full_drop_oldest');
      }
    }
    this.#buffer.push(ticket);
    this.#queued();
  }

  /** After an entry joined the buffer: block if full, send full batches now, the rest soon. */
  #queued(): void {
    if (this.#settings.buffer.whenFull === 'block' && !this.#blocking && this.#full) this.#setBlocking(true);
    // A full batch leaves at once. Anything else waits until the source's synchronous hand-over
    // (a read chunk, a request body) is done: entries that arrive together leave together, even
    // when max_wait has already passed (a busy event loop, a slow body).
    const batch = this.#settings.batch;
    if (this.#buffer.length >= batch.maxEvents || this.#buffer.bytes >= batch.maxBytes) this.#pump(false);
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
        { buffered: this.#buffer.heldEvents, bytes: this.#buffer.heldBytes },
        'buffer full: holding sources back until this destination catches up',
      );
    else this.#log.debug({ buffered: this.#buffer.heldEvents }, 'buffer has room again: sources resume');
    this.#hooks.onBlockingChange(this);
  }

  /**
   * Start as many batches as are ready and allowed; otherwise arm the max_wait timer.
   * `byAge` false: only full batches are ready (during a source's hand-over).
   */
  #pump(byAge = true): void {
    if (this.#successor !== null || this.#stopping) return;
    const { maxEvents, maxBytes, maxWaitMs } = this.#settings.batch;
    while (this.#inFlight < this.#maxInFlight && this.#buffer.peek() !== undefined) {
      const ready =
        this.#flushAll ||
        this.#buffer.length >= maxEvents ||
        this.#buffer.bytes >= maxBytes ||
        (byAge && Date.now() - (this.#buffer.peek() as Ticket).receivedAt >= maxWaitMs);
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
    const oldest = this.#buffer.peek() as Ticket;
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
    for (let next = this.#buffer.peek(); next !== undefined && batch.length < maxEvents; next = this.#buffer.peek()) {
      const size = next.event.raw.length;
      if (batch.length > 0 && bytes + size > maxBytes) break;
      this.#buffer.shift();
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
        this.#stats.lastSuccessSeconds = now / 1000;
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

      if (this.#passOn(retry)) return;
      const delay = this.#retry.delayMs(attempt, retryAfterMs);
      if (signal.aborted || this.#wake.signal.aborted) {
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
      if (!(await sleep(delay, this.#wake.signal))) {
        if (this.#passOn(retry)) return;
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
    // The entry (redacted), not the destination's body: replay shapes it again.
    return { destination: this.name, reason, attempts, firstAttempt, lastAttempt, event: textOf(t.event.entry) };
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
   * At shutdown: entries that can be read again (a file behind its checkpoint, a disk buffer) are
   * left for that re-read; the others are dead-lettered. Nothing is dropped silently.
   */
  async #abandonOrDeadLetter(tickets: Ticket[], reason: string, attempts = 0, firstAttempt?: number): Promise<void> {
    const left = tickets.filter((t) => this.#leftBehind(t));
    const others = tickets.filter((t) => !this.#leftBehind(t));
    if (left.length > 0)
      this.#log.info(
        { entries: left.length },
        this.#buffer.durable
          ? 'stopping: undelivered entries stay in the disk buffer and are sent after the next start'
          : 'shutdown: leaving undelivered file entries for the checkpoint to re-read',
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

  /**
   * Left where it can be read again: a disk buffer's entries always; a file's entries only at
   * shutdown (a destination removed by a reload dead-letters them: nothing would re-read them
   * while the process lives).
   */
  #leftBehind(t: Ticket): boolean {
    return t.replayable && (this.#buffer.durable || this.#rereadAfterStop);
  }

  #abandon(tickets: Ticket[], reason: string): void {
    const lost = tickets.filter((t) => !this.#leftBehind(t)).length;
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
   * the dead-letter file (or, for file entries at shutdown, back to the checkpoint).
   * A disk buffer starts no new batch and stops retrying at once: its entries stay on disk.
   * `shutdown` false: a reload removed this destination (see #leftBehind).
   */
  async drain(deadline: number, shutdown = true): Promise<void> {
    this.#rereadAfterStop = shutdown;
    if (this.#buffer.durable) {
      this.#stopping = true;
      this.#wake.abort();
      clearTimeout(this.#timer);
    } else this.#flushAll = true;
    this.#pump();
    if (await this.#idleBy(deadline)) return;
    this.#log.warn(
      { buffered: this.#buffer.heldEvents, inFlight: this.#inFlight },
      'shutdown timeout: cancelling deliveries',
    );
    this.#abort.abort();
    this.#wake.abort();
    await this.#abandonOrDeadLetter(this.#buffer.drain(), 'shutdown before delivery (still buffered)');
    await this.#idleBy(Number.POSITIVE_INFINITY);
  }

  /**
   * Reload: `successor` (this destination with new settings) takes over every buffered entry
   * (or this one's disk buffer itself) and every entry whose attempt in flight fails; sends in
   * progress finish here (nothing is sent twice). Resolves once nothing is in flight here.
   */
  async handOver(successor: Destination): Promise<void> {
    this.#successor = successor;
    clearTimeout(this.#timer);
    this.#wake.abort();
    if (!this.sharesBufferWith(successor)) successor.#takeOver(this.#buffer.drain());
    await this.#idleBy(Number.POSITIVE_INFINITY);
  }

  /** After a reload hand-over: entries whose attempt here failed go to the successor (true). */
  #passOn(retry: Ticket[]): boolean {
    if (this.#successor === null) return false;
    this.#successor.#takeOver(retry);
    return true;
  }

  /** Entries from a predecessor (no `routed` count: they were counted when routed there). */
  #takeOver(tickets: Ticket[]): void {
    if (this.#successor !== null) {
      this.#successor.#takeOver(tickets);
      return;
    }
    if (tickets.length === 0) return;
    for (const t of tickets) this.#buffer.adopt(t);
    this.#queued();
  }

  /** True once nothing is in flight (and, unless stopping, nothing buffered); false at `deadline`. */
  async #idleBy(deadline: number): Promise<boolean> {
    const idle = new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    this.#notifyIdle();
    if (deadline === Number.POSITIVE_INFINITY) {
      await idle;
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      idle.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      }),
    ]);
    clearTimeout(timer);
    return inTime;
  }

  #notifyIdle(): void {
    if (this.#inFlight > 0 || this.#idleWaiters.length === 0) return;
    const waitsForBuffer = this.#successor === null && !this.#stopping && !this.#abort.signal.aborted;
    if (waitsForBuffer && this.#buffer.length > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }

  /** After drain() or handOver(): release the sink and the dead-letter file (and the buffer, unless the successor took it). */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#abort.abort();
    this.#wake.abort();
    // A successor of the same name has registered its own gauges: they stay.
    if (this.#metrics.gauges.get(this.name) === this.#gaugeReader) this.#metrics.gauges.delete(this.name);
    if (this.#successor === null || !this.sharesBufferWith(this.#successor)) this.#buffer.close();
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
