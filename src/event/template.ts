/** Templates such as "{request.method}" or "ws-{workspace}", rendered from an event's fields. */
import type { JsonPath } from './json-scan.ts';
import type { KongEvent } from './kong-event.ts';

/** Names that are derived from the entry rather than read at a JSON path. */
export const DERIVED_FIELDS = ['workspace', 'path', 'upstream_path', 'host', 'method', 'status'] as const;
export type DerivedField = (typeof DERIVED_FIELDS)[number];

type Part = string | { readonly derived: DerivedField } | { readonly path: JsonPath };

const FIELD = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export class TemplateSyntaxError extends Error {}

/** A parsed template; `paths` are the JSON paths the decoder must extract for it. */
export class Template {
  readonly source: string;
  readonly paths: readonly JsonPath[];
  readonly #parts: Part[];

  private constructor(source: string, parts: Part[]) {
    this.source = source;
    this.#parts = parts;
    this.paths = parts.flatMap((p) => (typeof p === 'object' && 'path' in p ? [p.path] : []));
  }

  /** Parse "{a.b}" placeholders; "{{" and "}}" are literal braces. Throws TemplateSyntaxError. */
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
      const field = source.slice(i + 1, close).trim();
      if (!FIELD.test(field))
        throw new TemplateSyntaxError(
          `"{${field}}" is not a field: expected a name like {workspace} or a path like {request.method}`,
        );
      if (literal !== '') {
        parts.push(literal);
        literal = '';
      }
      if ((DERIVED_FIELDS as readonly string[]).includes(field)) parts.push({ derived: field as DerivedField });
      else parts.push({ path: field.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s)) });
      i = close;
    }
    if (literal !== '') parts.push(literal);
    return new Template(source, parts);
  }

  /** Render for one event; a missing field renders as "". */
  render(event: KongEvent): string {
    let out = '';
    for (const part of this.#parts) {
      if (typeof part === 'string') out += part;
      else if ('derived' in part) out += stringify(derivedValue(event, part.derived));
      else out += stringify(event.valueAt(part.path));
    }
    return out;
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

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
