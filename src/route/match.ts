/** A rule's `when` / `unless` block, compiled once into checks on an event's fields. */
import type { EventFields } from '../event/kong-event.ts';
import type { RuleRegex } from './rule-regex.ts';

/** Status pattern as resolved: inclusive range. */
export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

/** What a `when` or `unless` block asks for, resolved (regexes compiled, names as sets). */
export interface MatchSpec {
  readonly methods?: ReadonlySet<string>;
  readonly path?: RuleRegex;
  readonly upstreamPath?: RuleRegex;
  readonly status?: readonly StatusRange[];
  readonly workspace?: ReadonlySet<string>;
  readonly service?: ReadonlySet<string>;
  readonly route?: ReadonlySet<string>;
  readonly consumer?: ReadonlySet<string>;
  readonly host?: RuleRegex;
  readonly headers?: readonly (readonly [name: string, pattern: RuleRegex])[];
  /** Entity change events: the Admin API collection and the operation. */
  readonly entity?: ReadonlySet<string>;
  readonly operation?: ReadonlySet<string>;
}

export type FieldName = keyof MatchSpec;
type Check = (event: EventFields) => boolean;

/**
 * All checks of a block; each must hold. A field the entry lacks (the method of a TCP
 * entry, a consumer on an anonymous request) never matches. Cheap checks run first.
 */
export class CompiledMatch {
  readonly #checks: readonly Check[];
  readonly #fields: readonly FieldName[];

  constructor(spec: MatchSpec) {
    const checks: [FieldName, Check][] = [];
    const {
      methods,
      status,
      workspace,
      service,
      route,
      consumer,
      host,
      path,
      upstreamPath,
      headers,
      entity,
      operation,
    } = spec;
    if (entity) checks.push(['entity', (e) => hasAny(entity, e.entity)]);
    if (operation) checks.push(['operation', (e) => hasAny(operation, e.operation)]);
    if (methods)
      checks.push([
        'methods',
        (e) => {
          const m = e.method;
          return m !== undefined && methods.has(m.toUpperCase());
        },
      ]);
    if (status)
      checks.push([
        'status',
        (e) => {
          const s = e.status;
          return s !== undefined && status.some((r) => s >= r.min && s <= r.max);
        },
      ]);
    if (workspace)
      checks.push([
        'workspace',
        (e) => {
          const w = e.workspace;
          return w !== null && workspace.has(w);
        },
      ]);
    if (service) checks.push(['service', (e) => hasAny(service, e.serviceName, e.serviceId)]);
    if (route) checks.push(['route', (e) => hasAny(route, e.routeName, e.routeId)]);
    if (consumer)
      checks.push(['consumer', (e) => hasAny(consumer, e.consumerUsername, e.consumerCustomId, e.consumerId)]);
    if (path)
      checks.push([
        'path',
        (e) => {
          const p = e.path;
          return p !== undefined && path.test(p);
        },
      ]);
    if (upstreamPath)
      checks.push([
        'upstreamPath',
        (e) => {
          const p = e.upstreamPath;
          return p !== undefined && upstreamPath.test(p);
        },
      ]);
    if (host)
      checks.push([
        'host',
        (e) => {
          const h = e.host;
          return h !== undefined && host.test(h);
        },
      ]);
    if (headers) {
      for (const [name, pattern] of headers) {
        checks.push([
          'headers',
          (e) => {
            const values = e.header(name);
            return values?.some((v) => pattern.test(v)) === true;
          },
        ]);
      }
    }
    this.#checks = checks.map(([, c]) => c);
    this.#fields = checks.map(([f]) => f);
  }

  /** True when every check holds (an empty block matches everything). */
  matches(event: EventFields): boolean {
    const checks = this.#checks;
    for (let i = 0; i < checks.length; i++) if (!checks[i](event)) return false;
    return true;
  }

  /** The first field that does not match, for `match` explanations. */
  firstMismatch(event: EventFields): FieldName | null {
    for (let i = 0; i < this.#checks.length; i++) if (!this.#checks[i](event)) return this.#fields[i];
    return null;
  }
}

function hasAny(set: ReadonlySet<string>, ...values: (string | undefined)[]): boolean {
  for (const v of values) if (v !== undefined && set.has(v)) return true;
  return false;
}
