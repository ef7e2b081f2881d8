/**
 * `fields:`: the delivered entry holds only the listed paths (Kong Event Hooks' `fields`). Built
 * from the values' own bytes (never re-serialized): a number or string leaves exactly as Kong
 * wrote it. Keys come from the config; absent fields are left out.
 */
import type { ByteString } from '../event/byte-string.ts';
import type { JsonPath } from '../event/json-scan.ts';
import type { KongEvent } from '../event/kong-event.ts';

interface Node {
  /** The path whose whole value this node is, when listed. */
  path: JsonPath | null;
  readonly children: Map<string, Node>;
}

export class FieldSelection {
  /** The listed paths (as written, dotted): the config's own words, for comparison on reload. */
  readonly source: readonly string[];
  readonly paths: readonly JsonPath[];
  readonly #root: Node;

  constructor(fields: readonly string[]) {
    this.source = fields;
    this.paths = fields.map(fieldPath);
    this.#root = { path: null, children: new Map() };
    for (const path of this.paths) {
      let node = this.#root;
      for (const step of path) {
        const key = String(step);
        let child = node.children.get(key);
        if (child === undefined) {
          child = { path: null, children: new Map() };
          node.children.set(key, child);
        }
        node = child;
      }
      node.path = path;
    }
  }

  /** The selected fields of the event's entry, as JSON bytes. */
  render(event: KongEvent): ByteString {
    return (render(this.#root, event) ?? '{}') as ByteString;
  }
}

function render(node: Node, event: KongEvent): string | undefined {
  if (node.path !== null) {
    const span = event.spanAt(node.path);
    return span === undefined ? undefined : event.entry.slice(span[0], span[1]);
  }
  let out = '';
  for (const [key, child] of node.children) {
    const value = render(child, event);
    if (value === undefined) continue;
    out += `${out === '' ? '{' : ','}${JSON.stringify(key)}:${value}`;
  }
  return out === '' ? undefined : `${out}}`;
}

/** "a.b.0" → ["a", "b", 0] (the template placeholder convention). */
export function fieldPath(field: string): JsonPath {
  return field.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}
