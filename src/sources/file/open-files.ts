/**
 * The descriptors the file source holds, least recently read first. Thousands of matching files
 * (a Kubernetes node's /var/log/containers) cannot all stay open under `ulimit -n` (and Kong's
 * connections need descriptors too): beyond MAX_OPEN_FILES, the files read longest ago are
 * closed, those read to their end first. A closed file stays tracked and is opened again by
 * path, with a device+inode check, when it grows.
 */
import type { TrackedFile } from './tracked-file.ts';

/** The file source holds at most this many log files open at once (documented in the README). */
export const MAX_OPEN_FILES = 512;

export class OpenFiles {
  /** Files with an open descriptor, in order of last use (Set order: oldest first). */
  readonly #lru = new Set<TrackedFile>();
  readonly #max: number;

  constructor(max = MAX_OPEN_FILES) {
    this.#max = max;
  }

  get size(): number {
    return this.#lru.size;
  }

  /** `file` was opened or read: it is the most recently used. */
  touch(file: TrackedFile): void {
    this.#lru.delete(file);
    this.#lru.add(file);
  }

  /** `file`'s descriptor is closed. */
  forget(file: TrackedFile): void {
    this.#lru.delete(file);
  }

  /**
   * Files to close so that no more than the cap stay open: the least recently used among those
   * that may be closed (`closable`), those with nothing left to read first; never `keep`.
   */
  overCap(keep: TrackedFile, closable: (f: TrackedFile) => boolean): TrackedFile[] {
    let excess = this.#lru.size - this.#max;
    if (excess <= 0) return [];
    const out: TrackedFile[] = [];
    for (const pass of [true, false]) {
      for (const f of this.#lru) {
        if (excess === 0) return out;
        if (f === keep || !closable(f) || (pass && !f.drained) || out.includes(f)) continue;
        out.push(f);
        excess--;
      }
    }
    return out;
  }
}
