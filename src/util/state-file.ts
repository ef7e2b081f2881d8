/**
 * JSON state files in `state_dir` (file checkpoints, Kong Admin snapshots): read with one recovery
 * rule (a missing file is a first start; an unreadable, non-JSON or malformed one is reported with
 * its reason, so the caller starts over and says why, never crashes) and written atomically with
 * the same envelope (`version`, `source`, `updated_at`, then the state's own keys).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic-write.ts';
import { errorText } from './errors.ts';

export type StateFileLoad<T> =
  | { readonly kind: 'missing' }
  | { readonly kind: 'loaded'; readonly state: T }
  | { readonly kind: 'unreadable'; readonly reason: string };

/** What a state file's parsed JSON turned out to be: the state, or why it is not one. */
export type StateDecoding<T> = { readonly state: T } | { readonly malformed: string };

export async function readStateFile<T>(
  file: string,
  decode: (parsed: unknown) => StateDecoding<T>,
): Promise<StateFileLoad<T>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: errorText(e) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { kind: 'unreadable', reason: `not JSON: ${errorText(e)}` };
  }
  const decoded = parsed !== null && typeof parsed === 'object' ? decode(parsed) : { malformed: 'not an object' };
  return 'state' in decoded
    ? { kind: 'loaded', state: decoded.state }
    : { kind: 'unreadable', reason: decoded.malformed };
}

export interface StateFileHeader {
  readonly version: number;
  readonly source: string;
}

/** Replace the state file atomically; rejects when the disk refuses (the old file is then intact). */
export async function writeStateFile(
  file: string,
  header: StateFileHeader,
  state: object,
  indent?: number,
): Promise<void> {
  const text = JSON.stringify({ ...header, updated_at: new Date().toISOString(), ...state }, null, indent);
  await writeFileAtomic(file, text);
}
