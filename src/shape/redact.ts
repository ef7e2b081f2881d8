/**
 * Credential masking on an entry's bytes, without parsing it. Header values are found by the
 * scanner that decodes every entry anyway: the decoder locates each configured header name (in
 * the spellings lower-case, Title-Case and UPPER-CASE, and with escapes in the key), so finding
 * them costs nothing extra. Query parameters (whose case the client chooses) are found by a
 * case-insensitive search of the small querystring object and of the query part of the URIs,
 * then by walking that object's members. Only the secret values' bytes are replaced (spliced at
 * their spans): every other byte stays as Kong wrote it and the result is valid JSON. Header
 * values may be arrays (masked element by element), query values `true` (no value: kept) or
 * arrays; URIs are JSON strings with `\/` escapes, kept.
 */
import { byteStringOf, textOf, type ByteString } from '../event/byte-string.ts';
import type { JsonPath } from '../event/json-scan.ts';
import type { EventDecoder, KongEvent } from '../event/kong-event.ts';
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

/** The header paths of a policy: every object × name × spelling. */
function headerPaths(policy: RedactPolicy): JsonPath[] {
  return HEADER_OBJECTS.flatMap((o) => policy.headers.flatMap((h) => spellings(h).map((s) => [...o, s])));
}

/** lower-case, Title-Case (each part after "-" capitalized) and UPPER-CASE. */
export function spellings(name: string): string[] {
  const title = name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase());
  return [...new Set([name, title, name.toUpperCase()])];
}

/** The paths the decoder must locate for a policy. */
export function redactionPaths(policy: RedactPolicy): JsonPath[] {
  return [...headerPaths(policy), QUERY_OBJECT, ...URIS, ...policy.paths];
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly bytes: string;
}

/** What Kong itself writes for the authorization headers it masks. */
const KONG_REDACTED = '"REDACTED"';

/** Slots of a policy's paths in one decoder. */
interface Slots {
  readonly decoder: EventDecoder;
  readonly headers: readonly number[];
  readonly query: number;
  readonly uris: readonly number[];
  readonly paths: readonly number[];
}

/** Masks one policy's credentials; the last entry's result is kept (destinations sharing a policy mask once). */
export class Redactor {
  readonly #headerPaths: readonly JsonPath[];
  readonly #query: ReadonlySet<string>;
  readonly #paths: readonly JsonPath[];
  readonly #replacement: string;
  /** The replacement as a JSON string, in bytes. */
  readonly #masked: ByteString;
  /** Values that are masked already: ours, and Kong's own (authorization headers in 3.x). */
  readonly #alreadyMasked: ReadonlySet<string>;
  readonly #queryProbe: RegExp | null;
  #slots: Slots | undefined;
  #lastIn: KongEvent | undefined;
  #lastOut: KongEvent | undefined;

  constructor(policy: RedactPolicy) {
    this.#headerPaths = headerPaths(policy);
    this.#query = new Set(policy.query);
    this.#paths = policy.paths;
    this.#replacement = policy.replacement;
    this.#masked = byteStringOf(JSON.stringify(policy.replacement));
    this.#alreadyMasked = new Set([this.#masked, KONG_REDACTED]);
    this.#queryProbe = probe(policy.query);
  }

  /** The entry with its credentials masked, or `event` itself when there was nothing to mask. */
  redact(event: KongEvent): KongEvent {
    if (event === this.#lastIn) return this.#lastOut as KongEvent;
    const edits = this.#edits(event);
    // Every edit puts a whole JSON value where one was: the entry stays valid JSON, and the
    // fields' spans move with the edits (no second scan).
    const out = edits.length === 0 ? event : event.spliced(outermost(edits));
    this.#lastIn = event;
    this.#lastOut = out;
    return out;
  }

  #slotsOf(decoder: EventDecoder): Slots {
    if (this.#slots?.decoder === decoder) return this.#slots;
    const slot = (p: JsonPath): number => decoder.slotOf(p) ?? -1;
    this.#slots = {
      decoder,
      headers: this.#headerPaths.map(slot),
      query: slot(QUERY_OBJECT),
      uris: URIS.map(slot),
      paths: this.#paths.map(slot),
    };
    return this.#slots;
  }

  #edits(event: KongEvent): Edit[] {
    const raw = event.entry;
    const slots = this.#slotsOf(event.decoder);
    const spans = event.spans;
    const edits: Edit[] = [];
    const headers = slots.headers;
    for (let i = 0; i < headers.length; i++) {
      const slot = headers[i];
      const start = slot < 0 ? -1 : spans[slot * 2];
      if (start < 0) continue;
      const end = spans[slot * 2 + 1];
      const bytes = this.#maskValue(raw, start, end, false);
      if (bytes !== null) edits.push({ start, end, bytes });
    }
    const probe = this.#queryProbe;
    if (probe !== null) {
      const q = slots.query < 0 ? -1 : spans[slots.query * 2];
      // "{}" (no query) is the usual value: nothing to look at.
      let secretQuery = false;
      if (q >= 0 && spans[slots.query * 2 + 1] - q > 2) {
        const region = raw.slice(q, spans[slots.query * 2 + 1]);
        if (probe.test(region)) secretQuery = this.#maskMembers(raw, q, edits);
      }
      for (let i = 0; i < slots.uris.length; i++) {
        const slot = slots.uris[i];
        const start = slot < 0 ? -1 : spans[slot * 2];
        if (start < 0 || raw.charCodeAt(start) !== 0x22) continue;
        // request.uri and request.url carry the query Kong decoded into request.querystring: when
        // that held no secret name, neither do they. upstream_uri may differ (plugins rewrite it).
        if (q >= 0 && !secretQuery && i < 2) continue;
        const end = spans[slot * 2 + 1];
        const uri = raw.slice(start, end);
        const query = uri.indexOf('?');
        // A "?" may also be written as an escape; then the whole string is looked at. A key may be
        // percent-encoded in the URI: Kong's querystring has it decoded, so when that held a
        // secret every URI's query is looked at.
        const from = query >= 0 ? query : uri.indexOf('\\u');
        if (from < 0 || !(secretQuery || probe.test(from === 0 ? uri : uri.slice(from)))) continue;
        const edit = this.#maskUri(uri, start, end);
        if (edit !== null) edits.push(edit);
      }
    }
    for (const slot of slots.paths) {
      const start = slot < 0 ? -1 : spans[slot * 2];
      if (start >= 0) edits.push({ start, end: spans[slot * 2 + 1], bytes: this.#masked });
    }
    return edits;
  }

  /** Mask the values of the querystring object's members (at raw[at]) whose names are configured; true when one was there. */
  #maskMembers(raw: ByteString, at: number, edits: Edit[]): boolean {
    if (raw.charCodeAt(at) !== 0x7b) return false;
    let found = false;
    for (const m of objectMembers(raw, at)) {
      if (!this.#query.has(keyText(raw, m.keyStart, m.keyEnd).toLowerCase())) continue;
      found = true;
      const bytes = this.#maskValue(raw, m.start, m.end, true);
      if (bytes !== null) edits.push({ start: m.start, end: m.end, bytes });
    }
    return found;
  }

  /** A secret value's replacement (null: keep it): strings masked, arrays element by element; `true` (query: no value) and null kept. */
  #maskValue(raw: ByteString, start: number, end: number, keepTrue: boolean): string | null {
    const c = raw.charCodeAt(start);
    if (c === 0x6e /* null */ || (keepTrue && c === 0x74) /* true */) return null;
    if (c !== 0x5b) return this.#alreadyMasked.has(raw.slice(start, end)) ? null : this.#masked;
    let changed = false;
    const parts = arrayElements(raw, start).map(([s, e]) => {
      const first = raw.charCodeAt(s);
      const value = raw.slice(s, e);
      if (first === 0x6e || (keepTrue && first === 0x74) || this.#alreadyMasked.has(value)) return value;
      changed = true;
      return this.#masked;
    });
    return changed ? `[${parts.join(',')}]` : null;
  }

  /** The URI string `json` (raw[start, end)) with the values of secret query parameters masked; null when none. */
  #maskUri(json: string, start: number, end: number): Edit | null {
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

/** A case-insensitive search for any of the query names, or for a `\u` escape (a key may spell a name with escapes). */
function probe(names: readonly string[]): RegExp | null {
  if (names.length === 0) return null;
  const alternatives = names.map((n) => byteStringOf(n).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  alternatives.push('\\\\u');
  return new RegExp(alternatives.join('|'), 'i');
}

/** The edits in order, without those inside another (a masked path holding a masked header). */
function outermost(edits: Edit[]): Edit[] {
  edits.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Edit[] = [];
  let at = 0;
  for (const e of edits) {
    if (e.start < at) continue;
    out.push(e);
    at = e.end;
  }
  return out;
}
