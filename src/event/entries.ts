/**
 * Split a body of Kong entries into entry texts: one JSON object, a JSON array of
 * objects (http-log with max_batch_size > 1), or NDJSON (file-log, forwarders).
 * Bad entries are reported by index; they never hide the good ones.
 */
import { JsonSyntaxError, scanArrayElements } from './json-scan.ts';

export type EntryText = { readonly index: number; readonly text: string };
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
  if (body.charCodeAt(first) !== 0x5b /* [ */) return [{ index: 0, text: body }];
  const spans = scanArrayElements(body);
  if (spans instanceof JsonSyntaxError) return [{ index: 0, error: `invalid JSON array: ${spans.message}`, text: body }];
  const out: SplitEntry[] = [];
  for (let i = 0; i < spans.length; i += 2) out.push({ index: i / 2, text: body.slice(spans[i], spans[i + 1]) });
  return out;
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
    if (firstNonSpace(body, start, lineEnd) >= 0) out.push({ index: index++, text: body.slice(start, lineEnd) });
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

export function isProblem(e: SplitEntry): e is EntryProblem { return 'error' in e; }
