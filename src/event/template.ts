/**
 * Templates such as "{request.method}", "ws-{workspace}" or "{match.id}", rendered from an
 * event's fields. A placeholder is a JSON path into the entry, a derived field, or a named group
 * of the routing rule's path regex, optionally typed (`{response.status:number}`). Values from
 * the entry are data: they are inserted as they are and never parsed as templates again.
 */
import type { JsonPath } from './json-scan.ts';
import type { KongEvent } from './kong-event.ts';

/** Names that are derived from the entry rather than read at a JSON path. */
export const DERIVED_FIELDS = ['workspace', 'path', 'upstream_path', 'host', 'method', 'status'] as const;
export type DerivedField = (typeof DERIVED_FIELDS)[number];

/** How a placeholder's value is typed: as text (default), a number, a boolean, or any JSON value. */
export type PlaceholderType = 'string' | 'number' | 'boolean' | 'json';
const TYPES: readonly PlaceholderType[] = ['string', 'number', 'boolean', 'json'];

/** One placeholder, as written and as resolved. */
export type Placeholder = { readonly field: string; readonly type: PlaceholderType } & (
  | { readonly derived: DerivedField }
  | { readonly path: JsonPath }
  | { readonly match: string }
);

type Part = string | Placeholder;

const FIELD = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

export class TemplateSyntaxError extends Error {}

/** A parsed template; `paths` are the JSON paths the decoder must extract for it. */
export class Template {
  readonly source: string;
  readonly paths: readonly JsonPath[];
  readonly placeholders: readonly Placeholder[];
  readonly #parts: Part[];

  private constructor(source: string, parts: Part[]) {
    this.source = source;
    this.#parts = parts;
    this.placeholders = parts.filter((p): p is Placeholder => typeof p === 'object');
    this.paths = this.placeholders.flatMap((p) => ('path' in p ? [p.path] : []));
  }

  /** Parse "{a.b}" / "{a.b:number}" placeholders; "{{" and "}}" are literal braces. Throws TemplateSyntaxError. */
  static parse(source: string): Template {
    const parts: Part[] = [];
    let literal = '';
    for (let i = 0; i < source.length; i++) {
      const c = source[i];
      if (c === '{' && source[i + 1] === '{') {
        literal += '{';
        i++;
        continue;
      }
      if (c === '}' && source[i + 1] === '}') {
        literal += '}';
        i++;
        continue;
      }
      if (c === '}') throw new TemplateSyntaxError(`unmatched "}" at offset ${i} (write "}}" for a literal brace)`);
      if (c !== '{') {
        literal += c;
        continue;
      }
      const close = source.indexOf('}', i + 1);
      if (close < 0) throw new TemplateSyntaxError(`unclosed "{" at offset ${i}`);
      if (literal !== '') {
        parts.push(literal);
        literal = '';
      }
      parts.push(placeholder(source.slice(i + 1, close).trim()));
      i = close;
    }
    if (literal !== '') parts.push(literal);
    return new Template(source, parts);
  }

  /** The template is one placeholder and nothing else: it can give a typed value (see value). */
  get single(): Placeholder | undefined {
    return this.#parts.length === 1 && typeof this.#parts[0] === 'object' ? this.#parts[0] : undefined;
  }

  /** Render for one event as text; a missing field renders as "". */
  render(event: KongEvent): string {
    let out = '';
    for (const part of this.#parts) out += typeof part === 'string' ? part : stringify(placeholderValue(event, part));
    return out;
  }

  /**
   * A single-placeholder template's typed value (undefined when missing, or not of its type); any
   * other template's rendered text.
   */
  value(event: KongEvent): unknown {
    const single = this.single;
    return single === undefined ? this.render(event) : placeholderValue(event, single);
  }
}

function placeholder(inner: string): Placeholder {
  const colon = inner.lastIndexOf(':');
  const field = colon < 0 ? inner : inner.slice(0, colon).trim();
  const typeName = colon < 0 ? 'string' : inner.slice(colon + 1).trim();
  if (!(TYPES as readonly string[]).includes(typeName))
    throw new TemplateSyntaxError(`"{${inner}}": unknown type "${typeName}"; expected one of: ${TYPES.join(', ')}`);
  const type = typeName as PlaceholderType;
  if (!FIELD.test(field))
    throw new TemplateSyntaxError(
      `"{${inner}}" is not a field: expected a name like {workspace}, a path like {request.method} or {match.NAME}`,
    );
  if (field.startsWith('match.')) {
    const name = field.slice('match.'.length);
    if (name.includes('.')) throw new TemplateSyntaxError(`"{${inner}}": expected {match.NAME}, a named group`);
    return { field, type, match: name };
  }
  if ((DERIVED_FIELDS as readonly string[]).includes(field)) return { field, type, derived: field as DerivedField };
  return { field, type, path: field.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)) };
}

function placeholderValue(event: KongEvent, p: Placeholder): unknown {
  let v: unknown;
  if ('match' in p) v = event.captures === null ? undefined : ownValue(event.captures, p.match);
  else if ('derived' in p) v = derivedValue(event, p.derived);
  else v = event.valueAt(p.path);
  return typed(v, p.type);
}

function ownValue(record: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function typed(v: unknown, type: PlaceholderType): unknown {
  if (v === undefined || v === null) return undefined;
  switch (type) {
    case 'string':
    case 'json':
      return v;
    case 'number':
      if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
      return typeof v === 'string' && NUMBER.test(v.trim()) ? Number(v.trim()) : undefined;
    case 'boolean':
      if (typeof v === 'boolean') return v;
      return v === 'true' ? true : v === 'false' ? false : undefined;
  }
}

function derivedValue(event: KongEvent, field: DerivedField): unknown {
  switch (field) {
    case 'workspace':
      return event.workspace;
    case 'path':
      return event.path;
    case 'upstream_path':
      return event.upstreamPath;
    case 'host':
      return event.host;
    case 'method':
      return event.method;
    case 'status':
      return event.status;
  }
}

/** A value as template text: strings as they are, other JSON values as JSON, missing as "". */
export function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
