/**
 * Rules and workspace routing → the set of destinations of each event: the union of the
 * destinations of every matching rule, of the event's workspace and of "*", each at most
 * once, in the order the destinations are declared.
 */
import type { EventFields } from '../event/kong-event.ts';
import { captures } from './captures.ts';
import { CompiledMatch, type FieldName, type MatchSpec } from './match.ts';
import type { RuleRegex } from './rule-regex.ts';

export interface RoutingRule {
  readonly name: string;
  readonly when?: MatchSpec;
  readonly unless?: MatchSpec;
  readonly to: readonly string[];
}

export interface RoutingTable {
  /** Destination names in declaration order; routes are reported as indices into this list. */
  readonly destinations: readonly string[];
  readonly rules: readonly RoutingRule[];
  /** Workspace name → destinations. */
  readonly workspaces: ReadonlyMap<string, readonly string[]>;
  /** The "*" workspace: every event. */
  readonly everyEvent: readonly string[];
}

/** Why an event goes where it goes (the `match` command). */
export interface RouteExplanation {
  readonly destinations: readonly string[];
  readonly rules: readonly string[];
  readonly workspace: string | null;
  /** destination → reasons: "rule:NAME", "workspace:NAME", "workspace:*". */
  readonly reasons: Readonly<Record<string, readonly string[]>>;
  /** Rules that did not match, with the first field that failed ("unless" when the exclusion hit). */
  readonly misses: Readonly<Record<string, FieldName | 'unless'>>;
}

interface CompiledRule {
  readonly name: string;
  readonly when: CompiledMatch | null;
  readonly unless: CompiledMatch | null;
  readonly to: Uint16Array;
  /** The `when.path` regex, for its named groups. */
  readonly path: RuleRegex | null;
}

const NO_DESTINATIONS: readonly number[] = Object.freeze([]);

export class Router {
  readonly destinations: readonly string[];
  readonly #rules: readonly CompiledRule[];
  readonly #workspaces: ReadonlyMap<string, Uint16Array>;
  readonly #everyEvent: Uint16Array;
  /** Scratch marks, one per destination, reset after each route() (no allocation when nothing matches). */
  readonly #marks: Uint8Array;
  readonly #ruleMatches: Map<string, number> | undefined;

  /** `ruleMatches`: rule name → count, bumped on every match (metrics). */
  constructor(table: RoutingTable, ruleMatches?: Map<string, number>) {
    this.#ruleMatches = ruleMatches;
    if (ruleMatches) for (const r of table.rules) if (!ruleMatches.has(r.name)) ruleMatches.set(r.name, 0);
    this.destinations = table.destinations;
    const index = new Map(table.destinations.map((d, i) => [d, i]));
    const toIndices = (names: readonly string[]): Uint16Array => {
      const out = new Uint16Array(names.length);
      names.forEach((n, i) => {
        const idx = index.get(n);
        if (idx === undefined) throw new Error(`unknown destination "${n}"`);
        out[i] = idx;
      });
      return out;
    };
    this.#rules = table.rules.map((r) => ({
      name: r.name,
      when: r.when ? new CompiledMatch(r.when) : null,
      unless: r.unless ? new CompiledMatch(r.unless) : null,
      to: toIndices(r.to),
      path: r.when?.path ?? null,
    }));
    this.#workspaces = new Map([...table.workspaces].map(([ws, to]) => [ws, toIndices(to)]));
    this.#everyEvent = toIndices(table.everyEvent);
    this.#marks = new Uint8Array(table.destinations.length);
  }

  /** Destination indices for an event, ascending (declaration order). */
  route(event: EventFields): readonly number[] {
    const marks = this.#marks;
    let count = 0;
    const mark = (to: Uint16Array): void => {
      for (let i = 0; i < to.length; i++)
        if (marks[to[i]] === 0) {
          marks[to[i]] = 1;
          count++;
        }
    };
    mark(this.#everyEvent);
    if (this.#workspaces.size > 0) {
      const ws = event.workspace;
      if (ws !== null) {
        const to = this.#workspaces.get(ws);
        if (to !== undefined) mark(to);
      }
    }
    const rules = this.#rules;
    for (let r = 0; r < rules.length; r++) {
      const rule = rules[r];
      if ((rule.when === null || rule.when.matches(event)) && (rule.unless === null || !rule.unless.matches(event))) {
        mark(rule.to);
        const counts = this.#ruleMatches;
        if (counts !== undefined) counts.set(rule.name, (counts.get(rule.name) ?? 0) + 1);
      }
    }
    if (count === 0) return NO_DESTINATIONS;
    const out = new Array<number>(count);
    for (let i = 0, j = 0; j < count; i++)
      if (marks[i] === 1) {
        out[j++] = i;
        marks[i] = 0;
      }
    return out;
  }

  /**
   * The named groups of the path regex of the first matching rule that sends `event` to the
   * destination at `index` and has groups ({match.NAME} in templates); null when none does (the
   * entry went there through a workspace or "*" route only).
   */
  captures(event: EventFields, index: number): Readonly<Record<string, string>> | null {
    for (const rule of this.#rules) {
      if (rule.path === null || !rule.to.includes(index)) continue;
      if ((rule.when !== null && !rule.when.matches(event)) || (rule.unless?.matches(event) ?? false)) continue;
      const path = event.path;
      const found = path === undefined ? null : captures(rule.path, path);
      if (found !== null) return found;
    }
    return null;
  }

  /** The same decision with its reasons; slower, for tools. */
  explain(event: EventFields): RouteExplanation {
    // Keyed by destination and rule names: objects without a prototype ("constructor" is a name like any other).
    const reasons: Record<string, string[]> = Object.create(null);
    const add = (to: Uint16Array, why: string): void => {
      for (const i of to) (reasons[this.destinations[i]] ??= []).push(why);
    };
    const workspace = event.workspace;
    add(this.#everyEvent, 'workspace:*');
    if (workspace !== null) {
      const to = this.#workspaces.get(workspace);
      if (to) add(to, `workspace:${workspace}`);
    }
    const rules: string[] = [];
    const misses: Record<string, FieldName | 'unless'> = Object.create(null);
    for (const rule of this.#rules) {
      const miss = rule.when?.firstMismatch(event) ?? null;
      if (miss !== null) {
        misses[rule.name] = miss;
        continue;
      }
      if (rule.unless?.matches(event)) {
        misses[rule.name] = 'unless';
        continue;
      }
      rules.push(rule.name);
      add(rule.to, `rule:${rule.name}`);
    }
    const destinations = this.destinations.filter((d) => reasons[d] !== undefined);
    return { destinations, rules, workspace, reasons, misses };
  }
}
