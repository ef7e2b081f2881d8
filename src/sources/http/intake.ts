/**
 * From a decoded request body to entries handed over: split it, sort good entries from bad
 * ones, dead-letter the bad ones (or reject the body), ingest the good ones, and build the
 * report Kong gets back.
 *
 * Kong's http-log fails a whole batch on any status >= 300 and retries it, so a single
 * poison entry must not cost the good ones of its batch: by default the bad entries go to
 * the source's dead-letter file and the answer is 200 with a per-index report.
 *
 * Order, so that nothing is ingested twice: every bad entry is known *before* any entry is
 * handed over, the dead letters are written (and fsynced) first, and only then are the good
 * entries ingested. If the dead-letter write fails (disk full) the answer is 503 with nothing
 * ingested, and Kong's retry of the same body starts from scratch.
 * Knowing every bad entry up front costs nothing extra on the hot path: a JSON array is fully
 * validated while it is split (only "is it an object" is left, one character), and a body
 * with a single entry needs no pre-check because nothing else of it can have been handed
 * over when ingest finds it invalid. Only NDJSON bodies of several lines are scanned once
 * more (validation only) before ingest.
 *
 * A body with more entries than maxEntriesPerBody is refused whole (413) before any entry is
 * kept: that is garbage, and taking it entry by entry would cost memory and disk out of
 * proportion. A JSON array's elements are counted by the scan that splits it (past the maximum
 * only counted); other bodies are counted before they are split.
 *
 * The hot path, a Kong http-log batch (a JSON array as UTF-8 bytes), is scanned once: the scan
 * that validates and splits the array also extracts each entry's fields (decodeArrayBytes), so
 * entries are not scanned again on ingest.
 */
import type { HttpSource as HttpSourceConfig } from '../../config/resolve.ts';
import { AckGroup } from '../../core/ack.ts';
import type { DeadLetterRecord } from '../../core/dead-letter.ts';
import { Buffer } from 'node:buffer';
import {
  decodeArrayBytes,
  isProblem,
  splitEntryBytes,
  type BodyFormat,
  type EntryText,
  type SplitEntry,
} from '../../event/entries.ts';
import { textOf } from '../../event/byte-string.ts';
import { FieldPlan, JsonSyntaxError, scanArrayElements, scanObject } from '../../event/json-scan.ts';
import type { EventDecoder } from '../../event/kong-event.ts';
import type { SourceContext } from '../source.ts';
import { RateLimitedLog } from '../../telemetry/log.ts';
import { bump } from '../../telemetry/metrics.ts';

/** Label values of `events_invalid_total{reason}` for this source. */
/** Every reason an entry of a request is counted invalid (their series exist from the start). */
export const INVALID_REASONS = [
  'invalid_json',
  'not_an_object',
  'entry_too_large',
  'empty_body',
  'invalid_gzip',
] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

export interface BadEntry {
  readonly index: number;
  readonly reason: InvalidReason;
  readonly error: string;
  /** The entry text (or the whole body when it could not be split). */
  readonly text: string;
}

export interface SortedEntries {
  readonly good: EntryText[];
  readonly bad: BadEntry[];
}

export interface EntryError {
  readonly index: number;
  readonly error: string;
}

export interface IntakeReport {
  readonly accepted: number;
  readonly deadLettered: number;
  readonly errors: readonly EntryError[];
}

export type IntakeResult =
  /** Entries handed over in `group` (sealed); bad ones, if any, are in the dead-letter file. */
  | { readonly kind: 'accepted'; readonly report: IntakeReport; readonly group: AckGroup }
  /** invalid: reject and the body had bad entries: nothing was ingested (400). */
  | { readonly kind: 'rejected'; readonly report: IntakeReport }
  /** The dead-letter file could not be written: nothing was ingested (503, Kong retries). */
  | { readonly kind: 'dead_letter_failed' }
  /** More entries than maxEntriesPerBody: nothing was ingested (413). */
  | { readonly kind: 'too_many_entries'; readonly entries: number; readonly max: number };

/** At most this many per-index errors are listed in an answer (the rest are counted). */
export const MAX_REPORTED_ERRORS = 100;
/** Dead letters are written in slices of this many records (a body can hold millions of tiny bad entries). */
const DEAD_LETTER_SLICE = 1000;
const VALIDATE_ONLY = new FieldPlan([], { bytes: true });
const NO_SPANS = new Int32Array(0);

/**
 * The most entries one body may hold. Kong entries are over 500 bytes, so only garbage (a
 * body of millions of "1\n") comes near it; splitting and dead-lettering such a body entry by
 * entry would cost memory and disk out of all proportion to its size.
 */
export function maxEntriesPerBody(maxBodyBytes: number): number {
  return Math.max(10_000, Math.floor(maxBodyBytes / 256));
}

/**
 * 0 when `body` (its UTF-8 bytes) holds at most `max` entries, else (at least) how many it
 * holds; checked before any split.
 */
export function countOverMax(body: Uint8Array, format: BodyFormat, max: number): number {
  // Each entry takes at least two bytes (itself and a separator): short bodies cannot be over.
  if (body.length <= 2 * max) return 0;
  // indexOf of a byte value is a memchr (a Kong batch of 100 entries has some 6000 commas to count).
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const separator = format === 'ndjson' ? 0x0a /* \n */ : 0x2c /* , */;
  let separators = 0;
  for (let i = bytes.indexOf(separator); i >= 0 && separators < max; i = bytes.indexOf(separator, i + 1)) separators++;
  if (separators < max) return 0;
  if (format === 'ndjson') return separators + 1;
  // Commas inside entries count too: only an exact count of the array's elements tells. (The
  // Latin-1 view of the bytes, one character per byte, has the same elements as the decoded text.)
  const whole = bytes.toString('latin1');
  if (whole.trimStart().charCodeAt(0) !== 0x5b /* [ */) return 0;
  const spans = scanArrayElements(whole);
  if (spans instanceof JsonSyntaxError) return 0; // one problem entry for the split
  return spans.length / 2 > max ? spans.length / 2 : 0;
}

/**
 * Split a body (its UTF-8 bytes) into entries, or say how many it holds when that is more than
 * `maxEntries`. A JSON array is decoded by the same scan when it can be (`decoder`): its entries
 * come with their events.
 */
export function splitBody(
  body: Uint8Array,
  format: BodyFormat,
  maxEntries: number,
  decoder?: EventDecoder,
): SplitEntry[] | { readonly tooMany: number } {
  if (format === 'json' && decoder !== undefined) {
    const decoded = decodeArrayBytes(body, decoder, maxEntries);
    if (decoded !== null) return decoded;
  }
  const over = countOverMax(body, format, maxEntries);
  if (over > 0) return { tooMany: over };
  return splitEntryBytes(body, format);
}

/** Sort split entries into good and bad ones; see the module comment for what is checked when. */
export function sortEntries(entries: readonly SplitEntry[], format: BodyFormat, maxEntryBytes: number): SortedEntries {
  const good: EntryText[] = [];
  const bad: BadEntry[] = [];
  const several = entries.length > 1;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (isProblem(e)) {
      bad.push({
        index: e.index,
        reason: e.error.startsWith('empty body') ? 'empty_body' : 'invalid_json',
        error: e.error,
        text: e.text,
      });
      continue;
    }
    const bytes = e.raw.length;
    if (bytes > maxEntryBytes) {
      bad.push({
        index: e.index,
        reason: 'entry_too_large',
        error: `entry is ${bytes} bytes, more than max_entry_bytes (${maxEntryBytes})`,
        text: textOf(e.raw),
      });
      continue;
    }
    if (several && e.event === undefined) {
      if (format === 'json') {
        // Array elements were validated by the split; Kong entries are objects.
        if (e.raw.charCodeAt(0) !== 0x7b /* { */) {
          bad.push({ index: e.index, reason: 'not_an_object', error: 'not a JSON object', text: textOf(e.raw) });
          continue;
        }
      } else {
        const error = scanObject(e.raw, VALIDATE_ONLY, NO_SPANS);
        if (error !== null) {
          bad.push(badJson(e.index, error, textOf(e.raw)));
          continue;
        }
      }
    }
    good.push(e);
  }
  return { good, bad };
}

function badJson(index: number, error: JsonSyntaxError, text: string): BadEntry {
  const notObject = error.message.endsWith('is not an object');
  return {
    index,
    reason: notObject ? 'not_an_object' : 'invalid_json',
    error: notObject ? 'not a JSON object' : `invalid JSON: ${error.message}`,
    text,
  };
}

export class Intake {
  readonly #config: HttpSourceConfig;
  readonly #context: SourceContext;
  readonly #limited: RateLimitedLog;

  readonly #maxEntries: number;

  constructor(config: HttpSourceConfig, context: SourceContext) {
    this.#config = config;
    this.#context = context;
    this.#limited = new RateLimitedLog(context.log);
    this.#maxEntries = maxEntriesPerBody(config.maxBodyBytes);
  }

  /**
   * Take a body (its UTF-8 bytes, as received or gunzipped). Synchronous (no promise) when it
   * holds no bad entry: the hot path.
   */
  take(body: Uint8Array, format: BodyFormat, remote: string): IntakeResult | Promise<IntakeResult> {
    const entries = splitBody(body, format, this.#maxEntries, this.#context.pipeline.decoder);
    if ('tooMany' in entries) {
      const over = entries.tooMany;
      this.#limited.warn(
        'too_many_entries',
        { remote, entries: over, max: this.#maxEntries },
        'http source: body with too many entries refused (413)',
      );
      return { kind: 'too_many_entries', entries: over, max: this.#maxEntries };
    }
    const { good, bad } = sortEntries(entries, format, this.#config.maxEntryBytes);
    if (bad.length > 0) return this.#takeWithBad(good, bad, remote);
    const group = new AckGroup(false);
    const late = this.#ingest(good, group);
    if (late === null)
      return { kind: 'accepted', report: { accepted: good.length, deadLettered: 0, errors: [] }, group };
    // Only a body's single entry is validated by ingest itself (see module comment).
    return this.#settleLate(late, good.length - late.length, group, remote);
  }

  /** A body that could not even be decoded (broken gzip): one bad entry, kept as base64. */
  takeUndecodable(compressedHead: Buffer, error: string, remote: string): Promise<IntakeResult> {
    const bad: BadEntry = {
      index: 0,
      reason: 'invalid_gzip',
      error: `invalid gzip body: ${error}`,
      text: compressedHead.toString('base64'),
    };
    return this.#takeWithBad([], [bad], remote, 'base64');
  }

  async #takeWithBad(
    good: EntryText[],
    bad: BadEntry[],
    remote: string,
    rawEncoding?: 'base64',
  ): Promise<IntakeResult> {
    if (this.#config.invalid === 'reject') {
      this.#countInvalid(bad, remote, 'rejected the request (invalid: reject, answered 400)');
      return { kind: 'rejected', report: { accepted: 0, deadLettered: 0, errors: bad.map(toError) } };
    }
    if (!(await this.#deadLetter(bad, remote, rawEncoding))) return { kind: 'dead_letter_failed' };
    this.#countInvalid(bad, remote, 'dead-lettered');
    const group = new AckGroup(false);
    const late = this.#ingest(good, group);
    if (late !== null) return this.#settleLate(late, good.length - late.length, group, remote, bad);
    group.seal();
    return {
      kind: 'accepted',
      report: { accepted: good.length, deadLettered: bad.length, errors: bad.map(toError) },
      group,
    };
  }

  /**
   * Hand the entries over; returns those ingest found invalid (null when none: the hot path).
   * Seals the group when all were taken.
   */
  #ingest(good: readonly EntryText[], group: AckGroup): BadEntry[] | null {
    const { pipeline, stats } = this.#context;
    let late: BadEntry[] | null = null;
    const receivedAt = Date.now();
    for (let i = 0; i < good.length; i++) {
      const { raw, event } = good[i];
      const result =
        event === undefined
          ? pipeline.ingest(raw, group, stats, receivedAt)
          : pipeline.ingestDecoded(event, group, stats, receivedAt);
      if (result instanceof JsonSyntaxError) (late ??= []).push(badJson(good[i].index, result, textOf(raw)));
    }
    if (late === null) group.seal();
    return late;
  }

  async #settleLate(
    late: BadEntry[],
    accepted: number,
    group: AckGroup,
    remote: string,
    earlier: readonly BadEntry[] = [],
  ): Promise<IntakeResult> {
    group.seal();
    const bad = [...earlier, ...late].sort((a, b) => a.index - b.index);
    if (this.#config.invalid === 'reject') {
      this.#countInvalid(late, remote, 'rejected the request (invalid: reject, answered 400)', true);
      return { kind: 'rejected', report: { accepted: 0, deadLettered: 0, errors: bad.map(toError) } };
    }
    if (!(await this.#deadLetter(late, remote))) {
      // Cannot happen with accepted > 0 (see module comment); if it ever did, Kong's retry
      // would duplicate the accepted entries, which at-least-once allows.
      if (accepted > 0)
        this.#context.log.error(
          { accepted },
          'dead-letter write failed after entries of the same request were ingested: they will be received twice',
        );
      return { kind: 'dead_letter_failed' };
    }
    this.#countInvalid(late, remote, 'dead-lettered', true);
    return { kind: 'accepted', report: { accepted, deadLettered: bad.length, errors: bad.map(toError) }, group };
  }

  /** Write the dead letters (fsynced); false when the disk refused. */
  async #deadLetter(bad: readonly BadEntry[], remote: string, rawEncoding?: 'base64'): Promise<boolean> {
    const { deadLetters } = this.#context;
    const source = this.#config.name;
    const cap = this.#config.maxEntryBytes;
    const record = (b: BadEntry): DeadLetterRecord => {
      const context: Record<string, string | number> = { index: b.index, remote, error: b.error };
      if (rawEncoding !== undefined) context.raw_encoding = rawEncoding;
      let raw = b.text;
      if (raw.length > cap) {
        context.truncated_from_chars = raw.length;
        raw = raw.slice(0, cap);
      }
      return { source, reason: b.reason, attempts: 0, raw, context };
    };
    try {
      // Should a later slice fail, Kong's retry writes the earlier ones again: a duplicate dead letter, never a lost one.
      for (let i = 0; i < bad.length; i += DEAD_LETTER_SLICE) {
        await deadLetters.write(bad.slice(i, i + DEAD_LETTER_SLICE).map(record));
      }
      return true;
    } catch (e) {
      this.#limited.error(
        'dead_letter_write',
        { entries: bad.length, err: (e as Error).message, file: deadLetters.currentFile },
        'cannot write invalid entries to the dead-letter file: answering 503 so that Kong retries; nothing of the request was taken',
      );
      return false;
    }
  }

  /** Count entries that never reached ingest as received, and every bad one as invalid. */
  #countInvalid(bad: readonly BadEntry[], remote: string, what: string, ingested = false): void {
    const { stats } = this.#context;
    if (!ingested) stats.received += bad.length;
    const invalid = stats.invalid;
    for (const b of bad) bump(invalid, b.reason);
    const first = bad[0];
    this.#limited.warn(
      `invalid:${first.reason}`,
      { remote, entries: bad.length, reason: first.reason, index: first.index, error: first.error },
      `invalid entries in an HTTP request: ${what}`,
    );
  }
}

function toError(b: BadEntry): EntryError {
  return { index: b.index, error: b.error };
}

/** The answer body: {"accepted":N,"dead_lettered":M,"errors":[{"index":i,"error":"…"}]}. */
export function reportJson(report: IntakeReport): string {
  if (report.errors.length === 0)
    return `{"accepted":${report.accepted},"dead_lettered":${report.deadLettered},"errors":[]}`;
  const listed =
    report.errors.length > MAX_REPORTED_ERRORS ? report.errors.slice(0, MAX_REPORTED_ERRORS) : report.errors;
  const body: Record<string, unknown> = {
    accepted: report.accepted,
    dead_lettered: report.deadLettered,
    errors: listed,
  };
  if (listed.length < report.errors.length) body.errors_not_listed = report.errors.length - listed.length;
  return JSON.stringify(body);
}
