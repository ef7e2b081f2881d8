/**
 * Taps: live copies of the entries the pipeline routes, for `kong-log-relay tap` (GET /tap on the
 * admin listener). An entry is shown as its destinations get it (after the shape stage: redacted,
 * cut to fields or templated), with the rules and destinations that took it.
 *
 * A tap never holds the pipeline back: each keeps a bounded queue of lines. When its client reads
 * slower than the relay routes, new lines are dropped and counted, and the client is told how
 * many before the next line it gets. With no tap open the pipeline pays one property read per
 * routed entry.
 *
 * Every line is one JSON object. Entry lines:
 *   {"time":ISO,"source":NAME,"workspace":NAME|null,"rules":[...],"destinations":[...],
 *    "entry":ENTRY[,"entry_by_destination":{NAME:ENTRY}][,"suppressed":[...]]}
 * `entry` is the entry as the first shown destination sends it; `entry_by_destination` appears
 * when another shown destination sends different bytes (fields, payload templates);
 * `suppressed` names shown destinations whose dedupe (unique/snooze) kept it back.
 * Notice lines start with {"tap": "dropped" (how many since the last line) or "end" (why the
 * stream ends: limit, duration, shutdown).
 */
import { Buffer } from 'node:buffer';
import type { ByteString } from '../event/byte-string.ts';
import type { KongEvent } from '../event/kong-event.ts';
import type { Router } from '../route/router.ts';

/** Which entries a tap shows: each list empty = any; an entry must pass every non-empty list. */
export interface TapFilter {
  readonly destinations: readonly string[];
  readonly rules: readonly string[];
  readonly workspaces: readonly string[];
  readonly sources: readonly string[];
}

export interface TapLimits {
  /** Entries to show before the stream ends; undefined: no limit. */
  readonly limit: number | undefined;
  /** Bytes of lines a tap holds for a slow client before it drops new ones. */
  readonly maxQueuedBytes: number;
}

export type TapEndReason = 'limit' | 'duration' | 'shutdown' | 'client';

/** One routed entry, as the pipeline hands it to the taps. */
export class TappedEntry {
  readonly event: KongEvent;
  /** The name of the source that read it. */
  readonly source: string;
  readonly receivedAt: number;
  /** Destination indices (the router's). */
  readonly routes: readonly number[];
  /** The entry as destination `routes[i]` sends it; null when its dedupe suppressed it. */
  readonly sent: readonly (KongEvent | null)[];
  readonly #router: Router;
  #destinations: readonly string[] | null = null;
  #rules: readonly string[] | null = null;

  constructor(
    event: KongEvent,
    source: string,
    receivedAt: number,
    router: Router,
    routes: readonly number[],
    sent: readonly (KongEvent | null)[],
  ) {
    this.event = event;
    this.source = source;
    this.receivedAt = receivedAt;
    this.#router = router;
    this.routes = routes;
    this.sent = sent;
  }

  /** The names of the destinations it was routed to (worked out once, and only when a tap asks). */
  get destinations(): readonly string[] {
    this.#destinations ??= this.routes.map((i) => this.#router.destinations[i]);
    return this.#destinations;
  }

  /** The rules that matched (worked out once, and only when a tap asks). */
  get rules(): readonly string[] {
    this.#rules ??= this.#router.explain(this.event).rules;
    return this.#rules;
  }
}

/** What the taps of a pipeline count (metrics). */
export interface TapCounts {
  open: number;
  dropped: number;
}

export class Tap {
  readonly filter: TapFilter;
  readonly #limits: TapLimits;
  readonly #counts: TapCounts;
  readonly #onClose: (tap: Tap) => void;
  #lines: Buffer[] = [];
  #queuedBytes = 0;
  #shown = 0;
  #droppedSinceLine = 0;
  #droppedTotal = 0;
  #end: TapEndReason | null = null;
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(filter: TapFilter, limits: TapLimits, counts: TapCounts, onClose: (tap: Tap) => void) {
    this.filter = filter;
    this.#limits = limits;
    this.#counts = counts;
    this.#onClose = onClose;
  }

  /** Entries dropped because the client read too slowly. */
  get dropped(): number {
    return this.#droppedTotal;
  }

  /** Queue the entry's line if the filter takes it; never waits. */
  offer(entry: TappedEntry): void {
    if (this.#end !== null) return;
    const shown = shownDestinations(entry, this.filter);
    if (shown === null) return;
    if (this.#queuedBytes >= this.#limits.maxQueuedBytes) {
      this.#droppedSinceLine++;
      this.#droppedTotal++;
      this.#counts.dropped++;
      return;
    }
    const line = tapLine(entry, shown);
    this.#lines.push(line);
    this.#queuedBytes += line.length;
    this.#shown++;
    if (this.#limits.limit !== undefined && this.#shown >= this.#limits.limit) this.end('limit');
    this.#notify();
  }

  /** Stop taking entries; what is queued still goes out, then the end line. */
  end(reason: TapEndReason): void {
    if (this.#end !== null) return;
    this.#end = reason;
    this.#onClose(this);
    this.#notify();
  }

  /**
   * The next lines to write (drop notices in place), waiting for some; null once the end line
   * has been handed out.
   */
  async next(): Promise<Buffer | null> {
    while (this.#lines.length === 0 && this.#droppedSinceLine === 0 && this.#end === null)
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    if (this.#ended) return null;
    const out: Buffer[] = [];
    if (this.#droppedSinceLine > 0) {
      out.push(notice({ tap: 'dropped', dropped: this.#droppedSinceLine, dropped_total: this.#droppedTotal }));
      this.#droppedSinceLine = 0;
    }
    out.push(...this.#lines);
    this.#lines = [];
    this.#queuedBytes = 0;
    if (this.#end !== null) {
      out.push(notice({ tap: 'end', reason: this.#end, entries: this.#shown, dropped: this.#droppedTotal }));
      this.#ended = true;
    }
    return Buffer.concat(out);
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

/** The open taps of one pipeline. */
export class TapHub {
  readonly #taps = new Set<Tap>();
  readonly #counts: TapCounts;

  constructor(counts: TapCounts) {
    this.#counts = counts;
  }

  /** True while some tap is open: only then does the pipeline collect what it shapes. */
  get active(): boolean {
    return this.#taps.size > 0;
  }

  /** Taps open now (/status). */
  get count(): number {
    return this.#taps.size;
  }

  open(filter: TapFilter, limits: TapLimits): Tap {
    const tap = new Tap(filter, limits, this.#counts, (t) => {
      this.#taps.delete(t);
      this.#counts.open = this.#taps.size;
    });
    this.#taps.add(tap);
    this.#counts.open = this.#taps.size;
    return tap;
  }

  publish(entry: TappedEntry): void {
    for (const tap of this.#taps) tap.offer(entry);
  }

  /** End every open tap (shutdown). */
  endAll(reason: TapEndReason): void {
    for (const tap of [...this.#taps]) tap.end(reason);
  }
}

/**
 * The indices (into entry.routes) of the destinations a tap with this filter shows the entry
 * for, or null when the filter does not take it (nor when no shown destination sends it).
 */
function shownDestinations(entry: TappedEntry, filter: TapFilter): number[] | null {
  if (filter.sources.length > 0 && !filter.sources.includes(entry.source)) return null;
  const workspace = entry.event.workspace;
  if (filter.workspaces.length > 0 && (workspace === null || !filter.workspaces.includes(workspace))) return null;
  const destinations = entry.destinations;
  const shown: number[] = [];
  for (let i = 0; i < destinations.length; i++)
    if (filter.destinations.length === 0 || filter.destinations.includes(destinations[i])) shown.push(i);
  if (!shown.some((i) => entry.sent[i] !== null)) return null;
  if (filter.rules.length > 0 && !entry.rules.some((r) => filter.rules.includes(r))) return null;
  return shown;
}

/** The entry's line, for the shown destinations (see shownDestinations). */
function tapLine(entry: TappedEntry, shown: readonly number[]): Buffer {
  const destinations = entry.destinations;
  const sentTo = shown.filter((i) => entry.sent[i] !== null);
  const first = (entry.sent[sentTo[0]] as KongEvent).raw;
  const head = JSON.stringify({
    time: new Date(entry.receivedAt).toISOString(),
    source: entry.source,
    workspace: entry.event.workspace,
    rules: entry.rules,
    destinations,
  });
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)},"entry":`), bytes(first)];
  if (sentTo.some((i) => (entry.sent[i] as KongEvent).raw !== first)) {
    parts.push(Buffer.from(',"entry_by_destination":{'));
    sentTo.forEach((i, n) => {
      parts.push(Buffer.from(`${n === 0 ? '' : ','}${JSON.stringify(destinations[i])}:`));
      parts.push(bytes((entry.sent[i] as KongEvent).raw));
    });
    parts.push(Buffer.from('}'));
  }
  const suppressed = shown.filter((i) => entry.sent[i] === null).map((i) => destinations[i]);
  if (suppressed.length > 0) parts.push(Buffer.from(`,"suppressed":${JSON.stringify(suppressed)}`));
  parts.push(Buffer.from('}\n'));
  return Buffer.concat(parts);
}

function bytes(raw: ByteString): Buffer {
  return Buffer.from(raw, 'latin1');
}

function notice(fields: Record<string, string | number>): Buffer {
  return Buffer.from(`${JSON.stringify(fields)}\n`);
}
