/**
 * Which files the source follows and in what state: discovery of matching paths, resuming
 * from checkpoint entries (only when device, inode and fingerprint agree and the offset fits),
 * and every kind of rotation: rename-and-recreate, deletion, the same path reused for another
 * file, copytruncate, inode reuse. A file is known by its identity, not its path: a rotated
 * file is followed through its open descriptor until it is drained and idle for rotate_wait.
 * All methods run on the source's single read loop, so no descriptor is closed under a read.
 */
import type { Stats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { FileSource as FileSourceConfig } from '../../config/resolve.ts';
import type { Logger, RateLimitedLog } from '../../telemetry/log.ts';
import type { SourceStats } from '../../telemetry/metrics.ts';
import type { CheckpointEntry } from './checkpoint-store.ts';
import { errorText } from '../../util/errors.ts';
import { CHUNK_BYTES } from './chunk-reader.ts';
import { FINGERPRINT_BYTES, fingerprintOf, identityKey, TrackedFile } from './tracked-file.ts';

/**
 * A rotated file that still grows this long after its rotation is being written by a process
 * that kept its descriptor (Kong file-log without `reopen: true`), not by a write in flight.
 */
export const REOPEN_GRACE_MS = 1_000;
/** A rotated file's new name is looked for among at most this many directory entries. */
const RENAME_SEARCH_LIMIT = 1_000;

export type Discovery = 'initial' | 'new';

export class FileRegistry {
  readonly #config: FileSourceConfig;
  readonly #log: Logger;
  readonly #limited: RateLimitedLog;
  readonly #stats: SourceStats;
  readonly #onChange: () => void;
  /** Open files by identity (current and rotated). */
  readonly files = new Map<string, TrackedFile>();
  /** Files at a path that matches the globs, by that path. */
  readonly #byPath = new Map<string, TrackedFile>();
  /** Closed files whose last chunks are not acknowledged yet (kept in the checkpoint until then). */
  readonly retired = new Set<TrackedFile>();
  /** Checkpoint entries not matched to a file yet, by identity. */
  readonly orphans = new Map<string, CheckpointEntry>();
  /** No checkpoint existed: files present now start at start_at. */
  firstStart = false;
  #rotatedOrder: TrackedFile[] = [];
  #attachedOrder: TrackedFile[] = [];
  #orderStale = true;
  #cursor = 0;
  #warnedReopen = false;

  /** `onChange` is called whenever the checkpoint content changes (offsets, files). */
  constructor(config: FileSourceConfig, log: Logger, limited: RateLimitedLog, stats: SourceStats, onChange: () => void) {
    this.#config = config;
    this.#log = log;
    this.#limited = limited;
    this.#stats = stats;
    this.#onChange = onChange;
  }

  get paths(): IterableIterator<string> { return this.#byPath.keys(); }

  /**
   * The next file to read a chunk of: rotated files first (their lines are older), then the
   * others in turn so that one busy file cannot starve the rest.
   */
  next(now: number): TrackedFile | null {
    if (this.#orderStale) {
      const all = [...this.files.values()];
      this.#rotatedOrder = all.filter((f) => f.rotated).sort((a, b) => (a.detachedAt ?? 0) - (b.detachedAt ?? 0));
      this.#attachedOrder = all.filter((f) => !f.rotated);
      this.#orderStale = false;
    }
    for (const f of this.#rotatedOrder) if (f.hasWork && f.retryAt <= now) return f;
    const list = this.#attachedOrder;
    for (let i = 0; i < list.length; i++) {
      const f = list[(this.#cursor + i) % list.length];
      if (f.hasWork && f.retryAt <= now) { this.#cursor = (this.#cursor + i + 1) % list.length; return f; }
    }
    return null;
  }

  /** Look at one path matching the globs: a new file, the same one, or another file now. */
  async checkPath(file: string, how: Discovery): Promise<void> {
    let st: Stats;
    try {
      st = await stat(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const known = this.#byPath.get(file);
      if (code === 'ENOENT' || code === 'ENOTDIR') { if (known !== undefined) await this.#detach(known, 'was deleted or renamed'); }
      else this.#limited.warn('stat', { file, err: errorText(e) }, 'cannot stat a log file; trying again at the next poll');
      return;
    }
    if (!st.isFile()) return;
    const known = this.#byPath.get(file);
    if (known !== undefined) {
      if (known.dev === st.dev && known.ino === st.ino) return;
      await this.#detach(known, 'was replaced by a new file at the same path');
    }
    const renamed = this.files.get(identityKey(st.dev, st.ino));
    if (renamed !== undefined) {
      // Still attached at its other path: a hard link, or its rename is not seen yet (the next check detaches it).
      if (!renamed.rotated) return;
      // Rotated to a name the globs match: a matching file again, followed like any other.
      if (this.#byPath.get(renamed.path) === renamed) this.#byPath.delete(renamed.path);
      renamed.path = file;
      renamed.detachedAt = null;
      renamed.following = false;
      this.#byPath.set(file, renamed);
      this.#orderStale = true;
      this.#onChange();
      return;
    }
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (e) {
      this.#limited.warn('open', { file, err: errorText(e) }, 'cannot open a log file; trying again at the next rescan');
      return;
    }
    try {
      await this.#adopt(file, handle, await handle.stat(), how, false);
    } catch (e) {
      await handle.close().catch(() => undefined);
      this.#limited.warn('open', { file, err: errorText(e) }, 'cannot start tailing a log file; trying again at the next rescan');
    }
  }

  async #adopt(file: string, handle: FileHandle, st: Stats, how: Discovery, rotated: boolean): Promise<void> {
    const key = identityKey(st.dev, st.ino);
    if (!st.isFile() || this.files.has(key)) { await handle.close(); return; }
    const entry = this.orphans.get(key);
    let offset = 0;
    let why = how === 'new' ? 'a new file: read from its start' : 'not in the checkpoint (it appeared while the relay was stopped): read from its start';
    if (entry !== undefined) {
      this.orphans.delete(key);
      offset = await this.#resumeOffset(entry, handle, st.size, file);
      why = offset === 0 ? 'checkpoint not usable: read from its start' : 'resumed from the checkpoint';
    } else if (how === 'initial' && this.firstStart) {
      offset = this.#config.startAt === 'end' ? await lastLineEnd(handle, st.size) : 0;
      why = `first start, start_at: ${this.#config.startAt}`;
    }
    const fingerprint = (await fingerprintOf(handle, Math.min(st.size, FINGERPRINT_BYTES))) ?? { hash: '', bytes: 0 };
    const tracked = new TrackedFile({ path: file, dev: st.dev, ino: st.ino, handle, size: st.size, fingerprint, offset, readSize: CHUNK_BYTES, onAdvance: this.#onChange });
    if (rotated) tracked.detachedAt = Date.now();
    else this.#byPath.set(file, tracked);
    this.files.set(key, tracked);
    this.#orderStale = true;
    this.#onChange();
    this.#log.info({ file, offset, size: st.size, rotated }, `tailing log file from byte ${offset} (${why})`);
  }

  /** Where to go on in a file that has a checkpoint entry; 0 when the entry does not fit the file. */
  async #resumeOffset(entry: CheckpointEntry, handle: FileHandle, size: number, file: string): Promise<number> {
    const fp = entry.fingerprint_bytes === 0 ? { hash: '' } : await fingerprintOf(handle, entry.fingerprint_bytes);
    if (fp === null || fp.hash !== entry.fingerprint) {
      this.#abandon(entry, `does not match its checkpoint any more (its first ${entry.fingerprint_bytes} bytes differ: inode reused or file replaced), so the new file is read from its start`, file, true);
      return 0;
    }
    if (entry.offset > size) {
      this.#abandon(entry, `is shorter (${size} bytes) than its checkpoint (${entry.offset}): truncated while the relay was stopped (copytruncate?), so it is read from its start`, file, true);
      return 0;
    }
    return entry.offset;
  }

  /** A checkpoint entry whose file is not the one it was: what it still held after the offset is lost. */
  #abandon(entry: CheckpointEntry, what: string, file: string, notable: boolean): void {
    const unread = Math.max(0, entry.size - entry.offset);
    this.#stats.bytesAbandoned += unread;
    const fields = { file, offset: entry.offset, size: entry.size, unreadBytes: unread };
    if (unread > 0) this.#log.warn(fields, `log file ${what}; at least ${unread} bytes after its checkpoint were never read (counted in file_bytes_abandoned_total)`);
    else if (notable) this.#log.warn(fields, `log file ${what}`);
    else this.#log.info(fields, `log file ${what}; it had been read to its end`);
  }

  /** The path no longer leads to this file: keep reading it through the descriptor until drained and idle. */
  async #detach(file: TrackedFile, why: string): Promise<void> {
    if (this.#byPath.get(file.path) === file) this.#byPath.delete(file.path);
    const now = Date.now();
    file.detachedAt = now;
    file.lastGrowthAt = now;
    this.#orderStale = true;
    // Lines written just before the rotation are read before the new file's: learn them now.
    const st = await file.handle?.stat().catch(() => null);
    if (st != null) file.observeSize(st.size, now);
    const from = file.path;
    const to = await findByIdentity(path.dirname(from), file.dev, file.ino);
    if (to !== null) file.path = to;
    this.#onChange();
    this.#log.info({ file: from, rotatedTo: to, unreadBytes: file.size - file.readOffset },
      `log file ${why}: reading the rest through its open descriptor, closing it once drained and idle for rotate_wait`);
  }

  /** Poll one open file: growth, truncation (copytruncate), rotated files that are done or still written. */
  async refresh(file: TrackedFile, now: number): Promise<void> {
    const handle = file.handle;
    if (handle === null) return;
    let st: Stats;
    try {
      st = await handle.stat();
    } catch (e) {
      this.#limited.warn('fstat', { file: file.path, err: errorText(e) }, 'cannot stat an open log file; trying again at the next poll');
      return;
    }
    if (st.size < file.size || (st.size !== file.size && !(await file.sameStart()))) {
      // sameStart() read the file again: a truncation racing it makes `st` stale (a size the new
      // content does not have yet would be taken for truncated again at the next poll).
      const current = await handle.stat().catch(() => st);
      await this.#truncated(file, current.size, now);
    } else file.observeSize(st.size, now);
    if (file.fingerprint.bytes < FINGERPRINT_BYTES && file.size > file.fingerprint.bytes) await file.extendFingerprint();
    if (file.detachedAt === null) return;
    if (!file.following && file.lastGrowthAt - file.detachedAt >= REOPEN_GRACE_MS) this.#stillWritten(file);
    if (file.drained && now - file.lastGrowthAt >= this.#config.rotateWaitMs) await this.#giveUp(file);
  }

  async #truncated(file: TrackedFile, size: number, now: number): Promise<void> {
    const lost = Math.max(0, file.size - file.readOffset);
    this.#stats.bytesAbandoned += lost;
    // Only the bytes seen before the truncation are known: what was written after the last look is gone unseen, so the count is a lower bound.
    this.#log.warn({ file: file.path, previousSize: file.size, size, offset: file.readOffset, lostBytes: lost },
      `log file was truncated or rewritten in place (copytruncate rotation?): reading it again from its start; lines not read before the truncation are lost (at least ${lost} bytes, counted in file_bytes_abandoned_total; more if it grew since the last poll): prefer rename rotation`);
    file.size = size;
    file.lastGrowthAt = now;
    file.restartAtZero(CHUNK_BYTES);
    const handle = file.handle;
    file.fingerprint = (handle === null ? null : await fingerprintOf(handle, Math.min(size, FINGERPRINT_BYTES))) ?? { hash: '', bytes: 0 };
  }

  #stillWritten(file: TrackedFile): void {
    file.following = true;
    if (this.#warnedReopen) {
      this.#log.info({ file: file.path }, 'rotated log file is still being written: following it while it grows');
      return;
    }
    this.#warnedReopen = true;
    this.#log.warn({ file: file.path },
      'a rotated log file is still being written to: Kong\'s file-log plugin keeps its file open unless `reopen: true` is set, so after a rename rotation Kong goes on writing into the renamed file. The relay follows it while it grows, but set `reopen: true` on the file-log plugin so new entries go to the new file');
  }

  /** Close a rotated file; what it still holds unread (a last line without newline) is counted. */
  async #giveUp(file: TrackedFile): Promise<void> {
    const unread = Math.max(0, file.size - file.readOffset);
    if (unread > 0) {
      this.#stats.bytesAbandoned += unread;
      this.#log.warn({ file: file.path, unreadBytes: unread }, `closing a rotated log file that ends in ${unread} bytes without a newline: they are never read (counted in file_bytes_abandoned_total)`);
    } else {
      this.#log.info({ file: file.path, size: file.size }, 'rotated log file drained and idle for rotate_wait: closing it');
    }
    await file.closeHandle();
    file.retired = true;
    this.files.delete(file.key);
    if (!file.settled) this.retired.add(file);
    this.#orderStale = true;
    this.#onChange();
  }

  /** A read failed: try this file again later. */
  backOff(file: TrackedFile, until: number): void { file.retryAt = until; }

  /**
   * Checkpoint entries no glob match found: a file rotated before the restart (still at its
   * recorded name, or renamed within that directory) is followed again from its checkpoint; a
   * file that is gone or replaced is forgotten, counting what it held. Entries whose path
   * cannot be looked at now (unreadable directory) are kept for the next rescan.
   */
  async resolveOrphans(): Promise<void> {
    for (const [key, entry] of [...this.orphans]) {
      const st = await stat(entry.path).catch((e: NodeJS.ErrnoException) => e);
      if (st instanceof Error && st.code !== 'ENOENT' && st.code !== 'ENOTDIR') continue;
      const found = !(st instanceof Error) && identityKey(st.dev, st.ino) === key
        ? entry.path
        : await findByIdentity(path.dirname(entry.path), entry.dev, entry.ino);
      const handle = found === null ? null : await open(found, 'r').catch(() => null);
      const fst = await handle?.stat().catch(() => null);
      if (found === null || handle == null || fst == null || identityKey(fst.dev, fst.ino) !== key) {
        await handle?.close().catch(() => undefined);
        this.orphans.delete(key);
        this.#abandon(entry, 'in the checkpoint is gone', entry.path, false);
        this.#onChange();
        continue;
      }
      await this.#adopt(found, handle, fst, 'initial', true).catch(async (e: unknown) => {
        await handle.close().catch(() => undefined);
        this.#limited.warn('open', { file: found, err: errorText(e) }, 'cannot resume a rotated log file from the checkpoint; trying again at the next rescan');
      });
    }
  }

  /** Retired files whose last chunks are acknowledged are forgotten (pruned from the checkpoint). */
  pruneRetired(): void {
    for (const f of this.retired) if (f.settled) this.retired.delete(f);
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.files.values()].map((f) => f.closeHandle()));
  }
}

/** Start of the last line that may still be incomplete (start_at: end must not start mid-line). */
async function lastLineEnd(handle: FileHandle, size: number): Promise<number> {
  if (size === 0) return 0;
  const length = Math.min(size, CHUNK_BYTES);
  const buffer = Buffer.allocUnsafe(length);
  const { bytesRead } = await handle.read(buffer, 0, length, size - length);
  const nl = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
  if (nl >= 0) return size - length + nl + 1;
  return length === size ? 0 : size;
}

/** A rotated file's new name, when it is still in the same directory. */
async function findByIdentity(dir: string, dev: number, ino: number): Promise<string | null> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.slice(0, RENAME_SEARCH_LIMIT)) {
    const full = path.join(dir, name);
    const st = await stat(full).catch(() => null);
    if (st !== null && st.dev === dev && st.ino === ino) return full;
  }
  return null;
}
