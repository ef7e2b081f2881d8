/**
 * The workspaces of the Kong node as last read from `GET /workspaces`: owned by the relay,
 * replaced on each successful poll, read by the event decoder (id → name) and the kong_admin
 * source. Kong OSS has one workspace, `default`, and no /workspaces endpoint.
 */
import type { WorkspaceLookup } from '../event/kong-event.ts';

export interface KongWorkspace {
  readonly id: string;
  readonly name: string;
}

export class WorkspaceDirectory implements WorkspaceLookup {
  #byId = new Map<string, string>();
  #list: readonly KongWorkspace[] = [];
  /** Kong OSS (no /workspaces): only `default`, whose id the Admin API does not tell. */
  #oss = false;

  /** Id → name, from the last successful poll. */
  get(id: string): string | undefined {
    return this.#byId.get(id);
  }

  get workspaces(): readonly KongWorkspace[] {
    return this.#list;
  }

  get oss(): boolean {
    return this.#oss;
  }

  /** Replace everything with what the Admin API listed (Enterprise). */
  replace(workspaces: readonly KongWorkspace[]): void {
    this.#list = workspaces;
    this.#byId = new Map(workspaces.map((w) => [w.id, w.name]));
    this.#oss = false;
  }

  /** The node is Kong OSS: one workspace, `default`. */
  setOss(): void {
    this.#list = [];
    this.#byId = new Map();
    this.#oss = true;
  }
}

/** Ids the config maps by hand (`workspaces: {NAME: {id}}`) win over the Admin API's names. */
export function layeredLookup(first: WorkspaceLookup, then: WorkspaceLookup | undefined): WorkspaceLookup {
  if (then === undefined) return first;
  return { get: (id) => first.get(id) ?? then.get(id) };
}
