/**
 * The last acknowledged state of the watched entities, `<state_dir>/kong-admin/<source>.json`,
 * written atomically. It holds each entity's hash (of the body as Kong returned it, so a rotated
 * secret is still an update) and its masked body (the `old` of the next update or delete): no
 * secret is written to disk.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { errorText } from '../../util/errors.ts';

export const SNAPSHOT_VERSION = 1;

export interface EntityRecord {
  /** SHA-256 of the entity as returned (keys sorted). */
  readonly h: string;
  /** The masked body. */
  readonly body: unknown;
}

/** id → record, for one collection in one workspace. */
export type SnapshotPart = Readonly<Record<string, EntityRecord>>;

export interface Snapshot {
  /** Workspace key (id, or "default" on Kong OSS) → name, of every workspace seen. */
  readonly workspaces: Readonly<Record<string, string>>;
  /** "<workspace key> <collection>" → its entities ("* workspaces" for the workspaces themselves). */
  readonly parts: Readonly<Record<string, SnapshotPart>>;
}

export type SnapshotLoad =
  | { readonly kind: 'missing' }
  | { readonly kind: 'loaded'; readonly snapshot: Snapshot }
  | { readonly kind: 'unreadable'; readonly reason: string };

export class SnapshotStore {
  readonly file: string;
  readonly #source: string;

  constructor(stateDir: string, sourceName: string) {
    this.file = path.join(stateDir, 'kong-admin', `${sourceName}.json`);
    this.#source = sourceName;
  }

  async load(): Promise<SnapshotLoad> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
      return { kind: 'unreadable', reason: errorText(e) };
    }
    try {
      const parsed = JSON.parse(text) as { version?: unknown; workspaces?: unknown; parts?: unknown };
      if (parsed.version !== SNAPSHOT_VERSION)
        return { kind: 'unreadable', reason: `version ${String(parsed.version)}` };
      if (!isRecord(parsed.workspaces) || !isRecord(parsed.parts))
        return { kind: 'unreadable', reason: 'no "workspaces" or "parts"' };
      for (const part of Object.values(parsed.parts)) {
        if (!isRecord(part) || !Object.values(part).every((r) => isRecord(r) && typeof r.h === 'string'))
          return { kind: 'unreadable', reason: 'malformed part' };
      }
      return {
        kind: 'loaded',
        snapshot: { workspaces: parsed.workspaces as Snapshot['workspaces'], parts: parsed.parts as Snapshot['parts'] },
      };
    } catch (e) {
      return { kind: 'unreadable', reason: `not JSON: ${errorText(e)}` };
    }
  }

  async write(snapshot: Snapshot): Promise<void> {
    const text = JSON.stringify({
      version: SNAPSHOT_VERSION,
      source: this.#source,
      updated_at: new Date().toISOString(),
      ...snapshot,
    });
    await writeFileAtomic(this.file, text);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
