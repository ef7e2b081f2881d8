/**
 * The fields rules read, found by a full JSON.parse of the entry: the reference the relay's
 * lazy extraction (KongEvent: one scan, spans, values decoded on demand) is checked against.
 * It shares with KongEvent only what a field means once its value is known (requestPath,
 * statusCode, hostOf, headerValues, workspaceOf); finding the values is plain property access.
 */
import type { JsonPath } from '../../src/event/json-scan.ts';
import {
  WORKSPACE_SOURCES,
  headerValues,
  hostOf,
  requestPath,
  statusCode,
  workspaceOf,
  type EventFields,
  type WorkspaceLookup,
} from '../../src/event/kong-event.ts';

export class FullParseEvent implements EventFields {
  readonly #entry: unknown;
  readonly #names: WorkspaceLookup;

  constructor(text: string, workspaceNames: WorkspaceLookup = new Map()) {
    this.#entry = JSON.parse(text);
    this.#names = workspaceNames;
  }

  /** The value at a path: object keys step into plain objects only, indices into arrays only. */
  #at(path: JsonPath): unknown {
    let v: unknown = this.#entry;
    for (const step of path) {
      if (typeof step === 'number') {
        if (!Array.isArray(v) || step >= v.length) return undefined;
        v = v[step];
      } else {
        if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, step)) return undefined;
        v = (v as Record<string, unknown>)[step];
      }
    }
    return v;
  }

  #string(path: JsonPath): string | undefined {
    const v = this.#at(path);
    return typeof v === 'string' ? v : undefined;
  }

  get isHttp(): boolean {
    return this.#at(['request', 'method']) !== undefined || this.#at(['request', 'uri']) !== undefined;
  }
  get method(): string | undefined {
    return this.#string(['request', 'method']);
  }
  get path(): string | undefined {
    return requestPath(this.#string(['request', 'uri']));
  }
  get upstreamPath(): string | undefined {
    return requestPath(this.#string(['upstream_uri']));
  }
  get status(): number | undefined {
    return statusCode(this.#at(['response', 'status']));
  }
  get host(): string | undefined {
    return hostOf(this.#at(['request', 'headers', 'host']), this.#string(['request', 'url']));
  }
  header(name: string): string[] | undefined {
    return headerValues(this.#at(['request', 'headers', name.toLowerCase()]));
  }

  get workspace(): string | null {
    for (const source of WORKSPACE_SOURCES) {
      const found = workspaceOf(source.kind, this.#string(source.path), this.#names);
      if (found !== null) return found;
    }
    return null;
  }

  get routeId(): string | undefined {
    return this.#string(['route', 'id']);
  }
  get routeName(): string | undefined {
    return this.#string(['route', 'name']);
  }
  get serviceId(): string | undefined {
    return this.#string(['service', 'id']);
  }
  get serviceName(): string | undefined {
    return this.#string(['service', 'name']);
  }
  get consumerId(): string | undefined {
    return this.#string(['consumer', 'id']);
  }
  get consumerUsername(): string | undefined {
    return this.#string(['consumer', 'username']);
  }
  get consumerCustomId(): string | undefined {
    return this.#string(['consumer', 'custom_id']);
  }
  get entity(): string | undefined {
    return this.#string(['source']) === 'kong_admin' ? this.#string(['entity']) : undefined;
  }
  get operation(): string | undefined {
    return this.#string(['source']) === 'kong_admin' ? this.#string(['operation']) : undefined;
  }
}
