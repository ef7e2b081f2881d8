/**
 * Credential masking on an entry's bytes. The test "is there anything to mask?" is a
 * case-insensitive search for the configured names over the few regions where they can be (the
 * header and query objects, the query part of the URIs) before anything is decoded; only on a hit
 * are the members walked, and then only the secret values' bytes are replaced (spliced at their
 * spans): every other byte stays as Kong wrote it and the result is valid JSON. Keys are compared
 * after unescaping and case-insensitively; header values may be arrays, query values `true` (no
 * value: nothing to mask, kept) or arrays; URIs are JSON strings with `\/` escapes.
 */
import { byteStringOf, textOf, type ByteString } from '../event/byte-string.ts';
import type { JsonPath } from '../event/json-scan.ts';
import { JsonSyntaxError, type KongEvent } from '../event/kong-event.ts';
import { arrayElements, objectMembers } from './json-members.ts';

/** What a destination masks (resolved: names lower-case). Plain data, so config reloads can compare it. */
export interface RedactPolicy {
  readonly headers: readonly string[];
  readonly query: readonly string[];
  readonly paths: readonly JsonPath[];
  readonly replacement: string;
}

const HEADER_OBJECTS: readonly JsonPath[] = [
  ['request', 'headers'],
  ['response', 'headers'],
];
const QUERY_OBJECT: JsonPath = ['request', 'querystring'];
const URIS: readonly JsonPath[] = [['request', 'uri'], ['request', 'url'], ['upstream_uri']];

/** The paths the decoder must locate for a policy. */
export function redactionPaths(policy: RedactPolicy): JsonPath[] {
  return [...HEADER_OBJECTS, QUERY_OBJECT, ...URIS, ...policy.paths];
}

/** What Kong itself writes for the authorization headers it masks. */
const KONG_REDACTED = '"REDACTED"';

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly bytes: string;
}

/** Masks one policy's credentials; the last entry's result is kept (destinations sharing a policy mask once). */
export class Redactor {
  readonly #headers: ReadonlySet<string>;
  readonly #query: ReadonlySet<string>;
  readonly #paths: readonly JsonPath[];
  readonly #replacement: string;
  /** The replacement as a JSON string, in bytes. */
  readonly #masked: ByteString;
  /** Values that are masked already: ours, and Kong's own (authorization headers in 3.x). */
  readonly #alreadyMasked: ReadonlySet<string>;
  readonly #headerProbe: RegExp | null;
  readonly #queryProbe: RegExp | null;
  #lastIn: KongEvent | undefined;
  #lastOut: KongEvent | undefined;

  constructor(policy: RedactPolicy) {
    this.#headers = new Set(policy.headers);
    this.#query = new Set(policy.query);
    this.#paths = policy.paths;
    this.#replacement = policy.replacement;
    this.#masked = byteStringOf(JSON.stringify(policy.replacement));
    this.#alreadyMasked = new Set([this.#masked, KONG_REDACTED]);
    this.#headerProbe = probe(policy.headers, false);
    this.#queryProbe = probe(policy.query, true);
  }

  /** The entry with its credentials masked, or `event` itself when there was nothing to mask. */
  redact(event: KongEvent): KongEvent {
    if (event === this.#lastIn) return this.#lastOut as KongEvent;
    const edits = this.#edits(event);
    let out = event;
    if (edits.length > 0) {
      const masked = event.sibling(splice(event.entry, edits));
      // Every edit puts a whole JSON value where one was: the entry stays valid. Should it not,
      // nothing of it may leave: the replacement alone goes instead.
      out = masked instanceof JsonSyntaxError ? (event.sibling(this.#masked) as KongEvent) : masked;
    }
    this.#lastIn = event;
    this.#lastOut = out;
    return out;
  }

  #edits(event: KongEvent): Edit[] {
    const raw = event.entry;
    const edits: Edit[] = [];
    if (this.#headerProbe !== null) {
      for (const p of HEADER_OBJECTS) {
        const span = event.spanAt(p);
        if (span !== undefined && hit(this.#headerProbe, raw, span))
          this.#maskMembers(raw, span[0], this.#headers, false, edits);
      }
    }
    if (this.#queryProbe !== null) {
      const span = event.spanAt(QUERY_OBJECT);
      if (span !== undefined && hit(this.#queryProbe, raw, span))
        this.#maskMembers(raw, span[0], this.#query, true, edits);
      for (const p of URIS) {
        const uri = event.spanAt(p);
        if (uri === undefined || raw.charCodeAt(uri[0]) !== 0x22) continue;
        const q = raw.indexOf('?', uri[0]);
        const from = q >= 0 && q < uri[1] ? q : raw.indexOf('\\u', uri[0]);
        if (from < 0 || from >= uri[1] || !hit(this.#queryProbe, raw, [from, uri[1]])) continue;
        const edit = this.#maskUri(raw, uri[0], uri[1]);
        if (edit !== null) edits.push(edit);
      }
    }
    for (const p of this.#paths) {
      const span = event.spanAt(p);
      if (span !== undefined) edits.push({ start: span[0], end: span[1], bytes: this.#masked });
    }
    return edits;
  }

  /** Mask the values of the members of the object at raw[at] whose names are in `names`. */
  #maskMembers(raw: ByteString, at: number, names: ReadonlySet<string>, keepTrue: boolean, edits: Edit[]): void {
    if (raw.charCodeAt(at) !== 0x7b) return;
    for (const m of objectMembers(raw, at)) {
      if (!names.has(keyText(raw, m.keyStart, m.keyEnd).toLowerCase())) continue;
      const bytes = this.#maskValue(raw, m.start, m.end, keepTrue);
      if (bytes !== null) edits.push({ start: m.start, end: m.end, bytes });
    }
  }

  /** A secret value's replacement: strings masked, arrays element by element; `true` (no value) and null kept. */
  #maskValue(raw: ByteString, start: number, end: number, keepTrue: boolean): string | null {
    const c = raw.charCodeAt(start);
    if (c === 0x6e /* null */ || (keepTrue && c === 0x74) /* true */) return null;
    if (c !== 0x5b) return this.#alreadyMasked.has(raw.slice(start, end)) ? null : this.#masked;
    const elements = arrayElements(raw, start);
    let changed = false;
    const parts = elements.map(([s, e]) => {
      const first = raw.charCodeAt(s);
      if (first === 0x6e || (keepTrue && first === 0x74) || this.#alreadyMasked.has(raw.slice(s, e)))
        return raw.slice(s, e);
      changed = true;
      return this.#masked;
    });
    return changed ? `[${parts.join(',')}]` : null;
  }

  /** The URI string at raw[start, end) with the values of secret query parameters masked; null when none. */
  #maskUri(raw: ByteString, start: number, end: number): Edit | null {
    const json = raw.slice(start, end);
    const uri = JSON.parse(textOf(json as ByteString)) as string;
    const masked = maskQuery(uri, this.#query, this.#replacement);
    if (masked === null) return null;
    let text = JSON.stringify(masked);
    // Kong (lua-cjson) writes every "/" as "\/": keep it so, so that only the secret's bytes change.
    if (json.includes('\\/')) text = text.replaceAll('/', '\\/');
    return { start, end, bytes: byteStringOf(text) };
  }
}

/** The query of a URI with the values of parameters named in `names` replaced; null when none was there. */
export function maskQuery(uri: string, names: ReadonlySet<string>, replacement: string): string | null {
  const q = uri.indexOf('?');
  if (q < 0) return null;
  const hash = uri.indexOf('#', q);
  const end = hash < 0 ? uri.length : hash;
  const params = uri.slice(q + 1, end).split('&');
  let changed = false;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    const eq = p.indexOf('=');
    if (eq < 0 || eq === p.length - 1 || p.slice(eq + 1) === replacement) continue;
    if (!names.has(queryKey(p.slice(0, eq)).toLowerCase())) continue;
    params[i] = `${p.slice(0, eq + 1)}${replacement}`;
    changed = true;
  }
  return changed ? `${uri.slice(0, q + 1)}${params.join('&')}${uri.slice(end)}` : null;
}

function queryKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded.replaceAll('+', ' '));
  } catch {
    return encoded;
  }
}

/** A key's text from its contents raw[start, end) (unescaped when it has escapes or non-ASCII bytes). */
function keyText(raw: ByteString, start: number, end: number): string {
  const contents = raw.slice(start, end);
  if (!/[\\\u0080-\u00ff]/.test(contents)) return contents;
  try {
    return JSON.parse(`"${textOf(contents as ByteString)}"`) as string;
  } catch {
    return contents;
  }
}

/** A case-insensitive search for any of the names, or for a `\u` escape (a key may spell a name with escapes). */
function probe(names: readonly string[], percent: boolean): RegExp | null {
  if (names.length === 0) return null;
  const alternatives = names.map((n) => byteStringOf(n).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  alternatives.push('\\\\u');
  // A query key may also be percent-encoded.
  if (percent) alternatives.push('%');
  return new RegExp(alternatives.join('|'), 'i');
}

function hit(re: RegExp, raw: string, span: readonly [number, number]): boolean {
  return re.test(raw.slice(span[0], span[1]));
}

/** raw with each edit's range replaced by its bytes; edits inside an earlier one are dropped. */
function splice(raw: ByteString, edits: Edit[]): ByteString {
  edits.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let at = 0;
  for (const e of edits) {
    if (e.start < at) continue;
    out += raw.slice(at, e.start) + e.bytes;
    at = e.end;
  }
  return (out + raw.slice(at)) as ByteString;
}
