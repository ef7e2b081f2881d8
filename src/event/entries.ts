/**
 * Split a body of Kong entries into entries: one JSON object, a JSON array of objects
 * (http-log with max_batch_size > 1), or NDJSON (file-log, forwarders). Entries come out as
 * byte strings (see byte-string.ts). Bad entries are reported by index; they never hide the
 * good ones.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { byteStringOf, byteStringOfUtf8, type ByteString } from './byte-string.ts';
import {
  ELEMENT_SCANNED,
  JsonSyntaxError,
  scanArrayElements,
  scanArrayElementsUtf8,
  scanArrayOfObjectsUtf8,
} from './json-scan.ts';
import type { EventDecoder, KongEvent } from './kong-event.ts';

/** `raw`: the entry as a byte string. `event`: already decoded by the split (decodeArrayBytes), else decoded from `raw` on ingest. */
export type EntryText = { readonly index: number; readonly raw: ByteString; readonly event?: KongEvent };
export type EntryProblem = { readonly index: number; readonly error: string; readonly text: string };
export type SplitEntry = EntryText | EntryProblem;

export type BodyFormat = 'json' | 'ndjson';

/**
 * JSON: a top-level array gives one entry per element, anything else is one entry (decoded
 * later: a non-object is a problem then). A syntactically broken array cannot be split and
 * is one problem. NDJSON: one entry per non-blank line.
 */
export function splitEntries(body: string, format: BodyFormat): SplitEntry[] {
  if (format === 'ndjson') return splitLines(body);
  const first = firstNonSpace(body);
  if (first < 0) return [{ index: 0, error: 'empty body: expected a JSON object or array', text: body }];
  if (body.charCodeAt(first) !== 0x5b /* [ */) return [{ index: 0, raw: byteStringOf(body) }];
  const spans = scanArrayElements(body);
  if (spans instanceof JsonSyntaxError)
    return [{ index: 0, error: `invalid JSON array: ${spans.message}`, text: body }];
  const out: SplitEntry[] = [];
  for (let i = 0; i < spans.length; i += 2)
    out.push({ index: i / 2, raw: byteStringOf(body.slice(spans[i], spans[i + 1])) });
  return out;
}

const UTF8 = new TextDecoder('utf-8');
const BOM = [0xef, 0xbb, 0xbf];

function bomLength(body: Uint8Array): number {
  return BOM.every((b, i) => body[i] === b) ? BOM.length : 0;
}

/**
 * splitEntries of a UTF-8 body (invalid UTF-8 replaced by U+FFFD, a leading BOM dropped, as
 * TextDecoder does), splitting on the bytes: each entry's byte string is a copy of its bytes.
 *
 * How: a JSON array is scanned on its bytes (scanArrayElementsUtf8), so the offsets found are
 * byte offsets. The bytes are exactly as valid as the decoded text: JSON's structure is ASCII,
 * and the bytes of non-ASCII characters (all >= 0x80, in UTF-8 or not) may stand only inside
 * strings, in either form. A body that is not a valid array takes the plain path, so errors read
 * the same.
 */
export function splitEntryBytes(bytes: Uint8Array, format: BodyFormat): SplitEntry[] {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = bomLength(body);
  const valid = isUtf8(body);
  if (format === 'ndjson') return splitLineBytes(body, start, valid);
  let first = start;
  while (first < body.length && isSpaceByte(body[first])) first++;
  if (first < body.length && body[first] === 0x5b /* [ */) {
    const spans = scanArrayElementsUtf8(body.subarray(start));
    if (spans !== null) {
      const out: SplitEntry[] = [];
      for (let i = 0; i < spans.length; i += 2)
        out.push({ index: i / 2, raw: byteStringOfUtf8(body, start + spans[i], start + spans[i + 1], valid) });
      return out;
    }
  }
  return splitEntries(UTF8.decode(body), format);
}

/**
 * splitEntryBytes of a UTF-8 JSON array body that decodes the entries too, with one scan of the
 * body (scanArrayOfObjectsUtf8 with the decoder's plan) instead of one to split it and one per
 * entry to decode it (its spans are byte offsets, as the decoder's). An element the kernel could
 * not track gets no event: it is decoded from its byte string on ingest, as any entry.
 * With more than `maxEntries` entries: their number. null when the body is not a valid JSON array
 * of valid UTF-8 (or cannot be scanned this way): splitEntryBytes then gives the entries, or the
 * error.
 */
export function decodeArrayBytes(
  bytes: Uint8Array,
  decoder: EventDecoder,
  maxEntries: number,
): EntryText[] | { readonly tooMany: number } | null {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isUtf8(body)) return null;
  const start = bomLength(body);
  const plan = decoder.plan;
  const scanned = scanArrayOfObjectsUtf8(start === 0 ? body : body.subarray(start), plan, maxEntries);
  if (scanned === null || 'tooMany' in scanned) return scanned;
  const { count, bounds, kinds, spans } = scanned;
  const width = 2 * plan.size;
  const out = new Array<EntryText>(count);
  for (let k = 0; k < count; k++) {
    const from = start + bounds[2 * k];
    const to = start + bounds[2 * k + 1];
    const raw = byteStringOfUtf8(body, from, to, true);
    const event = kinds[k] === ELEMENT_SCANNED ? decoder.decodeScanned(raw, spans, k * width) : undefined;
    out[k] = { index: k, raw, event };
  }
  return out;
}

/** splitLines on bytes: the same lines (`valid`: the body is valid UTF-8). */
function splitLineBytes(body: Buffer, from: number, valid: boolean): SplitEntry[] {
  const out: SplitEntry[] = [];
  let start = from;
  let index = 0;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    let lineEnd = end;
    if (lineEnd > start && body[lineEnd - 1] === 0x0d) lineEnd--;
    let c = start;
    while (c < lineEnd && isSpaceByte(body[c])) c++;
    if (c < lineEnd) out.push({ index: index++, raw: byteStringOfUtf8(body, start, lineEnd, valid) });
    start = end + 1;
  }
  return out;
}

function isSpaceByte(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Like splitEntries for a file given to `match`: a file whose first character is "[" is one JSON array. */
export function splitLogFile(text: string): SplitEntry[] {
  const first = firstNonSpace(text);
  return first >= 0 && text.charCodeAt(first) === 0x5b ? splitEntries(text, 'json') : splitLines(text);
}

function splitLines(body: string): SplitEntry[] {
  const out: SplitEntry[] = [];
  let start = 0;
  let index = 0;
  while (start <= body.length) {
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    let lineEnd = end;
    if (lineEnd > start && body.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
    if (firstNonSpace(body, start, lineEnd) >= 0)
      out.push({ index: index++, raw: byteStringOf(body.slice(start, lineEnd)) });
    start = end + 1;
  }
  return out;
}

function firstNonSpace(s: string, from = 0, to = s.length): number {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
  }
  return -1;
}

export function isProblem(e: SplitEntry): e is EntryProblem {
  return 'error' in e;
}
