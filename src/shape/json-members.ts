/**
 * Walking the members of one object or the elements of one array inside an entry the scanner has
 * already validated: only token boundaries are found (no validation, no decoding), so redaction
 * can locate a value and splice its bytes without parsing the entry.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

/** One member of an object: [keyStart, keyEnd) are the key's contents (without quotes), [start, end) its value. */
export interface MemberSpan {
  readonly keyStart: number;
  readonly keyEnd: number;
  readonly start: number;
  readonly end: number;
}

/** The members of the object whose `{` is at raw[at] (valid JSON). */
export function objectMembers(raw: string, at: number): MemberSpan[] {
  const out: MemberSpan[] = [];
  let i = skipSpace(raw, at + 1);
  while (raw.charCodeAt(i) === QUOTE) {
    const keyStart = i + 1;
    const keyEnd = stringEnd(raw, i);
    i = skipSpace(raw, keyEnd + 1);
    if (raw.charCodeAt(i) !== COLON) break;
    const start = skipSpace(raw, i + 1);
    const end = valueEnd(raw, start);
    out.push({ keyStart, keyEnd, start, end });
    i = skipSpace(raw, end);
    if (raw.charCodeAt(i) !== COMMA) break;
    i = skipSpace(raw, i + 1);
  }
  return out;
}

/** [start, end) of each element of the array whose `[` is at raw[at] (valid JSON). */
export function arrayElements(raw: string, at: number): [start: number, end: number][] {
  const out: [number, number][] = [];
  let i = skipSpace(raw, at + 1);
  if (raw.charCodeAt(i) === 0x5d) return out;
  for (;;) {
    const end = valueEnd(raw, i);
    out.push([i, end]);
    i = skipSpace(raw, end);
    if (raw.charCodeAt(i) !== COMMA) return out;
    i = skipSpace(raw, i + 1);
  }
}

/** The index of the closing quote of the string whose opening quote is at raw[at]. */
export function stringEnd(raw: string, at: number): number {
  for (let i = at + 1; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return raw.length;
}

/** Where the value starting at raw[at] ends (exclusive). */
export function valueEnd(raw: string, at: number): number {
  const c = raw.charCodeAt(at);
  if (c === QUOTE) return stringEnd(raw, at) + 1;
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let i = at; i < raw.length; i++) {
      const d = raw.charCodeAt(i);
      if (d === QUOTE) i = stringEnd(raw, i);
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        if (--depth === 0) return i + 1;
      }
    }
    return raw.length;
  }
  let i = at;
  while (i < raw.length) {
    const d = raw.charCodeAt(i);
    if (d === COMMA || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x09 || d === 0x0a || d === 0x0d) break;
    i++;
  }
  return i;
}

function skipSpace(raw: string, at: number): number {
  let i = at;
  for (;;) {
    const c = raw.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return i;
    i++;
  }
}
