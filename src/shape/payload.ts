/**
 * `payload:`: a template that builds the message body instead of the entry, written as YAML
 * that becomes JSON. Keys are the config's; string values may hold placeholders. A string that
 * is one typed placeholder ({response.status:number}, {x:boolean}, {request.headers:json})
 * becomes a JSON value of that type (null when missing); any other string renders as text.
 * Values from the entry are data: escaped by JSON.stringify, never read as templates.
 */
import { byteStringOf, type ByteString } from '../event/byte-string.ts';
import type { JsonPath } from '../event/json-scan.ts';
import type { KongEvent } from '../event/kong-event.ts';
import { Template, TemplateSyntaxError } from '../event/template.ts';
/** Where in the config a payload node is (a YAML path). */
type ConfigPath = readonly (string | number)[];

type PayloadNode =
  | { readonly json: string }
  | { readonly template: Template }
  | { readonly object: readonly (readonly [keyJson: string, value: PayloadNode])[] }
  | { readonly array: readonly PayloadNode[] };

/** A template found in the payload, and where (for validation). */
export interface PayloadPlaceholders {
  readonly template: Template;
  readonly at: ConfigPath;
}

export class PayloadTemplate {
  /** The payload as written (config reloads compare it). */
  readonly source: unknown;
  readonly paths: readonly JsonPath[];
  readonly templates: readonly PayloadPlaceholders[];
  readonly #root: PayloadNode;

  private constructor(source: unknown, root: PayloadNode, templates: PayloadPlaceholders[]) {
    this.source = source;
    this.#root = root;
    this.templates = templates;
    this.paths = templates.flatMap((t) => t.template.paths);
  }

  /** Compile a payload; each bad template is reported with its place (relative to the payload). */
  static compile(source: unknown, onError: (at: ConfigPath, message: string) => void): PayloadTemplate {
    const templates: PayloadPlaceholders[] = [];
    const compile = (value: unknown, at: ConfigPath): PayloadNode => {
      if (typeof value === 'string') {
        try {
          const template = Template.parse(value);
          if (template.placeholders.length === 0) return { json: JSON.stringify(value) };
          templates.push({ template, at });
          return { template };
        } catch (e) {
          if (!(e instanceof TemplateSyntaxError)) throw e;
          onError(at, `invalid template: ${e.message}`);
          return { json: 'null' };
        }
      }
      if (Array.isArray(value)) return { array: value.map((v, i) => compile(v, [...at, i])) };
      if (value !== null && typeof value === 'object')
        return {
          object: Object.entries(value).map(([k, v]) => [JSON.stringify(k), compile(v, [...at, k])] as const),
        };
      return { json: JSON.stringify(value ?? null) };
    };
    return new PayloadTemplate(source, compile(source, []), templates);
  }

  /** The body for one event, as JSON bytes. */
  render(event: KongEvent): ByteString {
    return byteStringOf(renderNode(this.#root, event));
  }
}

function renderNode(node: PayloadNode, event: KongEvent): string {
  if ('json' in node) return node.json;
  if ('template' in node) {
    const t = node.template;
    const single = t.single;
    if (single === undefined || single.type === 'string') return JSON.stringify(t.render(event));
    return JSON.stringify(t.value(event) ?? null);
  }
  if ('array' in node) return `[${node.array.map((n) => renderNode(n, event)).join(',')}]`;
  return `{${node.object.map(([k, v]) => `${k}:${renderNode(v, event)}`).join(',')}}`;
}
