/**
 * The checkpoint file of one file source, `<state_dir>/checkpoints/<source>.json`: per file its
 * identity and the acknowledged byte offset. Written atomically (temp file, fsync, rename,
 * fsync of the directory) so a crash leaves the old or the new checkpoint, never half of one.
 */
import path from 'node:path';
import { readStateFile, type StateDecoding, type StateFileLoad, writeStateFile } from '../../util/state-file.ts';

export const CHECKPOINT_VERSION = 1;

export interface CheckpointEntry {
  /** Last known path (a rotated file's new name when it was found). */
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  /** Fingerprint of the first `fingerprint_bytes` bytes. */
  readonly fingerprint: string;
  readonly fingerprint_bytes: number;
  /** Everything before this byte offset was delivered or dead-lettered. */
  readonly offset: number;
  /** Size when written, to count what a vanished file still held. */
  readonly size: number;
  readonly rotated: boolean;
}

export type CheckpointLoad = StateFileLoad<readonly CheckpointEntry[]>;

export class CheckpointStore {
  readonly file: string;

  constructor(stateDir: string, sourceName: string) {
    this.file = path.join(stateDir, 'checkpoints', `${sourceName}.json`);
  }

  load(): Promise<CheckpointLoad> {
    return readStateFile(this.file, decodeCheckpoint);
  }

  /** Replace the checkpoint; rejects when the disk refuses (the old file is then still intact). */
  async write(sourceName: string, entries: readonly CheckpointEntry[]): Promise<void> {
    await writeStateFile(this.file, { version: CHECKPOINT_VERSION, source: sourceName }, { files: entries }, 1);
  }
}

function decodeCheckpoint(parsed: unknown): StateDecoding<readonly CheckpointEntry[]> {
  const files = (parsed as { files?: unknown }).files;
  if (!Array.isArray(files)) return { malformed: 'no "files" list' };
  const entries = files.filter(isEntry);
  if (entries.length !== files.length) return { malformed: `${files.length - entries.length} malformed file entries` };
  return { state: entries };
}

function isEntry(v: unknown): v is CheckpointEntry {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Record<string, unknown>;
  return (
    typeof e.path === 'string' &&
    isCount(e.dev) &&
    isCount(e.ino) &&
    typeof e.fingerprint === 'string' &&
    isCount(e.fingerprint_bytes) &&
    isCount(e.offset) &&
    isCount(e.size) &&
    typeof e.rotated === 'boolean'
  );
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
