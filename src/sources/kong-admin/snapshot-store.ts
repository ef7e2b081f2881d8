/**
 * The last acknowledged state of the watched entities, `<state_dir>/kong-admin/<source>.json`,
 * written atomically. It holds each entity's hash (of the body as Kong returned it, so a rotated
 * secret is still an update) and its masked body (the `old` of the next update or delete): no
 * secret is written to disk.
 */
import path from 'node:path';
import { readStateFile, type StateDecoding, type StateFileLoad, writeStateFile } from '../../util/state-file.ts';

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

export type SnapshotLoad = StateFileLoad<Snapshot>;

export class SnapshotStore {
  readonly file: string;
  readonly #source: string;

  constructor(stateDir: string, sourceName: string) {
    this.file = path.join(stateDir, 'kong-admin', `${sourceName}.json`);
    this.#source = sourceName;
  }

  load(): Promise<SnapshotLoad> {
    return readStateFile(this.file, decodeSnapshot);
  }

  async write(snapshot: Snapshot): Promise<void> {
    await writeStateFile(this.file, { version: SNAPSHOT_VERSION, source: this.#source }, snapshot);
  }
}

function decodeSnapshot(parsed: unknown): StateDecoding<Snapshot> {
  const { version, workspaces, parts } = parsed as { version?: unknown; workspaces?: unknown; parts?: unknown };
  if (version !== SNAPSHOT_VERSION) return { malformed: `version ${String(version)}` };
  if (!isRecord(workspaces) || !isRecord(parts)) return { malformed: 'no "workspaces" or "parts"' };
  for (const part of Object.values(parts)) {
    if (!isRecord(part) || !Object.values(part).every((r) => isRecord(r) && typeof r.h === 'string'))
      return { malformed: 'malformed part' };
  }
  return { state: { workspaces: workspaces as Snapshot['workspaces'], parts: parts as Snapshot['parts'] } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
