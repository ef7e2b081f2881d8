/**
 * Which files the source follows and in what state: discovery of matching paths, resuming
 * from checkpoint entries (only when device, inode and fingerprint agree and the offset fits),
 * and every kind of rotation: rename-and-recreate, deletion, the same path reused for another
 * file, copytruncate, inode reuse. A file is known by its identity, not its path: a rotated
 * file is followed through its open descriptor; once drained and idle for rotate_wait its
 * descriptor is closed, but it is still looked at (a cheap stat by its last known name) for as
 * long as it exists, because Kong's file-log without `reopen: true` goes on writing into it.
 * Which files have something to read is kept in a queue (fed by the watcher's events and the
 * slow safety-net poll), so idle files cost nothing per read; descriptors are capped (open-files.ts).
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
import { OpenFiles } from './open-files.ts';
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
  /** Attached files that may have something to read, in turn (Set order; moved to the back when read). */
  readonly #ready = new Set<TrackedFile>();
  readonly #open: OpenFiles;
  /** Files a call is working on (calls on different paths may overlap): never closed under the cap meanwhile. */
  readonly #busy = new Set<TrackedFile>();
  #rotatedOrder: TrackedFile[] = [];
  /** Every rotated file, open or not (few). */
  #rotatedAll: TrackedFile[] = [];
  #orderStale = true;
  /** Position of the safety-net poll in `#sweepOrder`. */
  #sweepCursor = 0;
  #sweepOrder: TrackedFile[] = [];
  #warnedReopen = false;

  /** `onChange` is called whenever the checkpoint content changes (offsets, files). */
  constructor(
    config: FileSourceConfig,
    log: Logger,
    limited: RateLimitedLog,
    stats: SourceStats,
    onChange: () => void,
    open: OpenFiles = new OpenFiles(),
  ) {
    this.#open = open;
    this.#config = config;
    this.#log = log;
    this.#limited = limited;
    this.#stats = stats;
    this.#onChange = onChange;
  }

  get paths(): IterableIterator<string> {
    return this.#byPath.keys();
  }

  /** A file at this path is tracked. */
  tracks(file: string): boolean {
    return this.#byPath.has(file);
  }

  /**
   * The next file to read a chunk of: rotated files first (their lines are older), then the
   * others in turn so that one busy file cannot starve the rest.
   */
  next(now: number): TrackedFile | null {
    this.#order();
    for (const f of this.#rotatedOrder) if (f.hasWork && f.retryAt <= now) return f;
    for (const f of this.#ready) {
      if (f.rotated || !f.hasWork || this.files.get(f.key) !== f) {
        this.#ready.delete(f);
        continue;
      }
      if (f.retryAt > now) continue;
      this.#ready.delete(f);
      this.#ready.add(f);
      return f;
    }
    return null;
  }

  #order(): void {
    if (!this.#orderStale) return;
    const all = [...this.files.values()];
    this.#rotatedAll = all.filter((f) => f.rotated);
    this.#rotatedOrder = this.#rotatedAll
      .filter((f) => f.handle !== null)
      .sort((a, b) => (a.detachedAt ?? 0) - (b.detachedAt ?? 0));
    this.#sweepOrder = all;
    this.#orderStale = false;
  }

  /** A file's size or offsets changed: queue it when it has something to read. */
  #noteWork(file: TrackedFile): void {
    if (file.hasWork && !file.rotated) this.#ready.add(file);
  }

  /** Rotated files with an open descriptor (few): the source looks at them on every poll. */
  get activeRotated(): readonly TrackedFile[] {
    this.#order();
    return this.#rotatedOrder;
  }

  /**
   * The safety-net poll: the next `count` files in turn (every file is looked at once per
   * files/count polls), besides the events that say which files changed.
   */
  sweep(count: number): TrackedFile[] {
    this.#order();
    const all = this.#sweepOrder;
    const n = Math.min(count, all.length);
    const out: TrackedFile[] = [];
    for (let i = 0; i < n; i++) out.push(all[(this.#sweepCursor + i) % all.length]);
    this.#sweepCursor = all.length === 0 ? 0 : (this.#sweepCursor + n) % all.length;
    return out;
  }

  /** A rotated file known by this (last known) name, if any. */
  rotatedAt(file: string): TrackedFile | undefined {
    this.#order();
    for (const f of this.#rotatedAll) if (f.rotated && f.path === file && this.files.get(f.key) === f) return f;
    return undefined;
  }

  /** Look at one tracked file: attached ones by their path (rotation, growth), rotated ones by descriptor or name. */
  async poll(file: TrackedFile, now: number): Promise<void> {
    if (this.files.get(file.key) !== file) return;
    if (!file.rotated) await this.checkPath(file.path, 'new');
    else if (file.handle !== null) await this.refresh(file, now);
    else await this.#pollParked(file, now);
  }

  /** A rotated file whose descriptor was closed while idle: a stat by name says whether Kong wrote into it again. */
  async #pollParked(file: TrackedFile, now: number): Promise<void> {
    const st = await stat(file.path).catch(() => null);
    if (st === null || identityKey(st.dev, st.ino) !== file.key) {
      await this.#relocate(file, 'is no longer at its last known name');
      return;
    }
    if (st.size === file.size && !file.hasWork) return;
    if (await this.reopen(file)) await this.refresh(file, now);
  }

  /** Open a closed (parked) file again by its path, if it is still the same file; false when it cannot be read now. */
  async reopen(file: TrackedFile): Promise<boolean> {
    if (file.handle !== null) return true;
    let handle: FileHandle;
    try {
      handle = await open(file.path, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (file.rotated) await this.#relocate(file, 'is no longer at its last known name');
        else await this.checkPath(file.path, 'new');
      } else {
        this.backOff(file, Date.now() + this.#config.pollIntervalMs);
        this.#limited.warn('open', { file: file.path, err: errorText(e) }, 'cannot open a log file again; retrying');
      }
      return false;
    }
    const st = await handle.stat().catch(() => null);
    if (st === null || identityKey(st.dev, st.ino) !== file.key) {
      await handle.close().catch(() => undefined);
      if (file.rotated) await this.#relocate(file, 'is no longer at its last known name');
      else await this.checkPath(file.path, 'new');
      return false;
    }
    file.handle = handle;
    this.#opened(file);
    return true;
  }

  /** A file was read: the last to close under the descriptor cap. */
  touched(file: TrackedFile): void {
    if (file.handle !== null) this.#open.touch(file);
  }

  #opened(file: TrackedFile): void {
    this.#open.touch(file);
    if (file.rotated) this.#orderStale = true; // #rotatedOrder holds the open ones
    // Rotated files keep their descriptor while active: it may be the only way to them (deleted).
    for (const f of this.#open.overCap(file, (o) => !o.rotated && !this.#busy.has(o))) {
      this.#open.forget(f);
      void f.closeHandle();
    }
  }

  async #closeHandle(file: TrackedFile): Promise<void> {
    this.#open.forget(file);
    if (file.rotated) this.#orderStale = true;
    await file.closeHandle();
  }

  /** A parked rotated file is not at its name: found under another in its directory, or gone. */
  async #relocate(file: TrackedFile, why: string): Promise<void> {
    const to = await findByIdentity(path.dirname(file.path), file.dev, file.ino);
    if (to !== null) {
      this.#log.info({ file: file.path, renamedTo: to }, `rotated log file ${why}: found again under another name`);
      file.path = to;
      this.#onChange();
      return;
    }
    await this.#vanished(file, 'was deleted, compressed or moved out of its directory');
  }

  /** A rotated file that cannot be reached any more: what it held beyond the read offset is lost, counted. */
  async #vanished(file: TrackedFile, why: string): Promise<void> {
    const unread = Math.max(0, file.size - file.readOffset);
    if (unread > 0) {
      this.#stats.bytesAbandoned += unread;
      const partial = file.size <= file.scanEnd ? ' (a last line without a newline)' : '';
      this.#log.error(
        { file: file.path, size: file.size, offset: file.readOffset, unreadBytes: unread },
        `rotated log file ${why} with ${unread} bytes never read${partial}: counted in file_bytes_abandoned_total`,
      );
    } else {
      this.#log.info({ file: file.path, size: file.size }, `rotated log file ${why}; it had been read to its end`);
    }
    await this.#closeHandle(file);
    file.retired = true;
    this.files.delete(file.key);
    this.#ready.delete(file);
    if (!file.settled) this.retired.add(file);
    this.#orderStale = true;
    this.#onChange();
  }

  /** Look at one path matching the globs: a new file, the same one, or another file now. */
  async checkPath(file: string, how: Discovery): Promise<void> {
    let st: Stats;
    try {
      st = await stat(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const known = this.#byPath.get(file);
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        if (known !== undefined) await this.#detach(known, 'was deleted or renamed');
      } else
        this.#limited.warn(
          'stat',
          { file, err: errorText(e) },
          'cannot stat a log file; trying again at the next poll',
        );
      return;
    }
    if (!st.isFile()) return;
    const known = this.#byPath.get(file);
    if (known !== undefined) {
      if (known.dev === st.dev && known.ino === st.ino) {
        await this.refresh(known, Date.now(), st);
        return;
      }
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
      await this.refresh(renamed, Date.now(), st);
      return;
    }
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (e) {
      this.#limited.warn(
        'open',
        { file, err: errorText(e) },
        'cannot open a log file; trying again at the next rescan',
      );
      return;
    }
    try {
      await this.#adopt(file, handle, await handle.stat(), how, false);
    } catch (e) {
      await handle.close().catch(() => undefined);
      this.#limited.warn(
        'open',
        { file, err: errorText(e) },
        'cannot start tailing a log file; trying again at the next rescan',
      );
    }
  }

  async #adopt(file: string, handle: FileHandle, st: Stats, how: Discovery, rotated: boolean): Promise<void> {
    const key = identityKey(st.dev, st.ino);
    if (!st.isFile() || this.files.has(key)) {
      await handle.close();
      return;
    }
    const entry = this.orphans.get(key);
    let offset = 0;
    let overlongLast = false;
    let why =
      how === 'new'
        ? 'a new file: read from its start'
        : 'not in the checkpoint (it appeared while the relay was stopped): read from its start';
    if (entry !== undefined) {
      this.orphans.delete(key);
      offset = await this.#resumeOffset(entry, handle, st.size, file);
      why = offset === 0 ? 'checkpoint not usable: read from its start' : 'resumed from the checkpoint';
    } else if (how === 'initial' && this.firstStart) {
      if (this.#config.startAt === 'end') {
        const start = await lastLineStart(handle, st.size, this.#config.maxLineBytes);
        overlongLast = start === null;
        offset = start ?? st.size;
      }
      why = `first start, start_at: ${this.#config.startAt}`;
    }
    const fingerprint = (await fingerprintOf(handle, Math.min(st.size, FINGERPRINT_BYTES))) ?? { hash: '', bytes: 0 };
    if (this.files.has(key)) {
      // Adopted meanwhile under another of its names (a rename seen from both sides at once).
      await handle.close();
      return;
    }
    const tracked = new TrackedFile({
      path: file,
      dev: st.dev,
      ino: st.ino,
      handle,
      size: st.size,
      fingerprint,
      offset,
      readSize: CHUNK_BYTES,
      onAdvance: this.#onChange,
    });
    // start_at: end inside a last line longer than max_line_bytes: skip to its end like any over-long line.
    if (overlongLast) tracked.skip = { start: offset, prefix: Buffer.alloc(0) };
    if (rotated) tracked.detachedAt = Date.now();
    else this.#byPath.set(file, tracked);
    this.files.set(key, tracked);
    this.#orderStale = true;
    this.#opened(tracked);
    this.#noteWork(tracked);
    this.#onChange();
    this.#log.info({ file, offset, size: st.size, rotated }, `tailing log file from byte ${offset} (${why})`);
  }

  /** Where to go on in a file that has a checkpoint entry; 0 when the entry does not fit the file. */
  async #resumeOffset(entry: CheckpointEntry, handle: FileHandle, size: number, file: string): Promise<number> {
    const fp = entry.fingerprint_bytes === 0 ? { hash: '' } : await fingerprintOf(handle, entry.fingerprint_bytes);
    if (fp === null || fp.hash !== entry.fingerprint) {
      this.#abandon(
        entry,
        `does not match its checkpoint any more (its first ${entry.fingerprint_bytes} bytes differ: inode reused or file replaced), so the new file is read from its start`,
        file,
        true,
      );
      return 0;
    }
    if (entry.offset > size) {
      this.#abandon(
        entry,
        `is shorter (${size} bytes) than its checkpoint (${entry.offset}): truncated while the relay was stopped (copytruncate?), so it is read from its start`,
        file,
        true,
      );
      return 0;
    }
    // Same first bytes (entries of one route can share hundreds) and long enough: only a line boundary at the offset shows it is the same content.
    if (entry.offset > 0 && !(await newlineBefore(handle, entry.offset))) {
      this.#abandon(
        entry,
        `has no line boundary at its checkpoint offset (${entry.offset}) any more: truncated and refilled past it while the relay was stopped (copytruncate?), so it is read from its start`,
        file,
        true,
      );
      return 0;
    }
    return entry.offset;
  }

  /** A checkpoint entry whose file is not the one it was: what it still held after the offset is lost. */
  #abandon(entry: CheckpointEntry, what: string, file: string, notable: boolean): void {
    const unread = Math.max(0, entry.size - entry.offset);
    this.#stats.bytesAbandoned += unread;
    const fields = { file, offset: entry.offset, size: entry.size, unreadBytes: unread };
    if (unread > 0)
      this.#log.warn(
        fields,
        `log file ${what}; at least ${unread} bytes after its checkpoint were never read (counted in file_bytes_abandoned_total)`,
      );
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
    if (file.handle === null) {
      // Closed under the descriptor cap: open it again under its new name, or, gone, nothing can read it now.
      if (to === null) await this.#vanished(file, why);
      else await this.reopen(file);
      return;
    }
    this.#log.info(
      { file: from, rotatedTo: to, unreadBytes: file.size - file.readOffset },
      `log file ${why}: reading the rest through its open descriptor, closing it once drained and idle for rotate_wait`,
    );
  }

  /**
   * Look at one file: growth, truncation (copytruncate), rotated files that are done or still
   * written. `known`: a stat of it just taken (by path); else its descriptor is stat'ed.
   */
  async refresh(file: TrackedFile, now: number, known?: Stats): Promise<void> {
    if (this.#busy.has(file)) return; // another call is looking at it right now
    this.#busy.add(file);
    try {
      await this.#refresh(file, now, known);
    } finally {
      this.#busy.delete(file);
    }
  }

  async #refresh(file: TrackedFile, now: number, known?: Stats): Promise<void> {
    if (file.handle === null) {
      // Closed under the descriptor cap: grown, it is queued and opened again when its turn to be read comes (its
      // first bytes are checked at the first poll after that: startCheckedSize stays); shorter, it is looked at now.
      if (known === undefined || known.size === file.size) return;
      if (known.size > file.size) {
        file.observeSize(known.size, now);
        this.#noteWork(file);
        return;
      }
      if (!(await this.reopen(file))) return;
    }
    const handle = file.handle;
    if (handle === null) return;
    let st: Stats;
    try {
      st = known ?? (await handle.stat());
    } catch (e) {
      this.#limited.warn(
        'fstat',
        { file: file.path, err: errorText(e) },
        'cannot stat an open log file; trying again at the next poll',
      );
      return;
    }
    // Growth since the first bytes were last checked, whether this poll or a read saw it first:
    // a file truncated and refilled past its old size has other first bytes.
    const shorter = st.size < file.size;
    if (shorter || (st.size !== file.startCheckedSize && !(await file.sameStart()))) {
      // sameStart() read the file again: a truncation racing it makes `st` stale (a size the new
      // content does not have yet would be taken for truncated again at the next poll).
      const current = await handle.stat().catch(() => st);
      await this.#truncated(file, current.size, now, shorter ? 'it is shorter than before' : 'its first bytes changed');
    } else {
      file.observeSize(st.size, now);
      file.startCheckedSize = st.size;
    }
    if (file.fingerprint.bytes < FINGERPRINT_BYTES && file.size > file.fingerprint.bytes)
      await file.extendFingerprint();
    this.#noteWork(file);
    if (file.detachedAt === null) return;
    if (!file.following && file.lastGrowthAt - file.detachedAt >= REOPEN_GRACE_MS) this.#stillWritten(file);
    if (file.drained && now - file.lastGrowthAt >= this.#config.rotateWaitMs) await this.#idle(file);
  }

  /**
   * A read found that the byte before its offset is no longer the newline it was: the file was
   * truncated and refilled past the offset between two polls (copytruncate while the relay was
   * behind, or while it was stopped with the same first bytes).
   */
  async notAtLineStart(file: TrackedFile, now: number): Promise<void> {
    const st = await file.handle?.stat().catch(() => null);
    await this.#truncated(file, st?.size ?? 0, now, 'the byte before the read offset is no longer a newline');
  }

  async #truncated(file: TrackedFile, size: number, now: number, detectedBy: string): Promise<void> {
    const lost = Math.max(0, file.size - file.readOffset);
    this.#stats.bytesAbandoned += lost;
    // Only the bytes seen before the truncation are known: what was written after the last look is gone unseen, so the count is a lower bound.
    this.#log.warn(
      { file: file.path, previousSize: file.size, size, offset: file.readOffset, lostBytes: lost, detectedBy },
      `log file was truncated or rewritten in place (copytruncate rotation?; ${detectedBy}): reading it again from its start; lines not read before the truncation are lost (at least ${lost} bytes, counted in file_bytes_abandoned_total; more if it grew since the last poll): prefer rename rotation`,
    );
    file.size = size;
    file.startCheckedSize = size;
    file.lastGrowthAt = now;
    file.restartAtZero(CHUNK_BYTES);
    const handle = file.handle;
    file.fingerprint = (handle === null ? null : await fingerprintOf(handle, Math.min(size, FINGERPRINT_BYTES))) ?? {
      hash: '',
      bytes: 0,
    };
    this.#noteWork(file);
  }

  #stillWritten(file: TrackedFile): void {
    file.following = true;
    if (this.#warnedReopen) {
      this.#log.info({ file: file.path }, 'rotated log file is still being written: following it while it grows');
      return;
    }
    this.#warnedReopen = true;
    this.#log.warn(
      { file: file.path },
      "a rotated log file is still being written to: Kong's file-log plugin keeps its file open unless `reopen: true` is set, so after a rename rotation Kong goes on writing into the renamed file. The relay follows it while it grows, but set `reopen: true` on the file-log plugin so new entries go to the new file",
    );
  }

  /**
   * A rotated file drained and idle for rotate_wait: its descriptor is closed, but while it
   * still exists (under its name or another in its directory) it is looked at by name, since
   * Kong without `reopen: true` may write into it again after any pause. A deleted one is
   * given up, what it still holds unread (a last line without newline) counted.
   */
  async #idle(file: TrackedFile): Promise<void> {
    const st = await stat(file.path).catch(() => null);
    const at =
      st !== null && identityKey(st.dev, st.ino) === file.key
        ? file.path
        : await findByIdentity(path.dirname(file.path), file.dev, file.ino);
    if (at === null) {
      await this.#vanished(file, 'was deleted');
      return;
    }
    if (at !== file.path) {
      file.path = at;
      this.#onChange();
    }
    this.#log.info(
      { file: file.path, size: file.size, unreadBytes: file.size - file.readOffset },
      'rotated log file drained and idle for rotate_wait: closing its descriptor; it is still looked at (by name) while it exists, in case Kong writes into it again',
    );
    await this.#closeHandle(file);
  }

  /** A read failed: try this file again later. */
  backOff(file: TrackedFile, until: number): void {
    file.retryAt = until;
  }

  /**
   * Checkpoint entries no glob match found: a file rotated before the restart (still at its
   * recorded name, or renamed within that directory) is followed again from its checkpoint; a
   * file found nowhere (moved elsewhere, compressed, deleted) is forgotten, with a warning and
   * counted in files_not_found_total unless it was a rotated file read to its end. Entries whose path
   * cannot be looked at now (unreadable directory) are kept for the next rescan.
   */
  async resolveOrphans(): Promise<void> {
    for (const [key, entry] of [...this.orphans]) {
      const st = await stat(entry.path).catch((e: NodeJS.ErrnoException) => e);
      if (st instanceof Error && st.code !== 'ENOENT' && st.code !== 'ENOTDIR') continue;
      const found =
        !(st instanceof Error) && identityKey(st.dev, st.ino) === key
          ? entry.path
          : await findByIdentity(path.dirname(entry.path), entry.dev, entry.ino);
      const handle = found === null ? null : await open(found, 'r').catch(() => null);
      const fst = await handle?.stat().catch(() => null);
      if (found === null || handle == null || fst == null || identityKey(fst.dev, fst.ino) !== key) {
        await handle?.close().catch(() => undefined);
        this.orphans.delete(key);
        this.#notFound(entry);
        this.#onChange();
        continue;
      }
      if (found !== entry.path) {
        this.#log.info(
          { file: entry.path, renamedTo: found, offset: entry.offset },
          'log file in the checkpoint was renamed while the relay was stopped (to a name paths does not match): found again by its identity in the same directory',
        );
      }
      await this.#adopt(found, handle, fst, 'initial', true).catch(async (e: unknown) => {
        await handle.close().catch(() => undefined);
        this.#limited.warn(
          'open',
          { file: found, err: errorText(e) },
          'cannot resume a rotated log file from the checkpoint; trying again at the next rescan',
        );
      });
    }
  }

  /**
   * A checkpoint entry whose file is neither at its path nor under another name in its
   * directory: whatever it held after the checkpoint offset is lost, and may be more than known.
   */
  #notFound(entry: CheckpointEntry): void {
    const unread = Math.max(0, entry.size - entry.offset);
    const fields = { file: entry.path, offset: entry.offset, size: entry.size, unreadBytes: unread };
    if (entry.rotated && unread === 0) {
      // Rotated, read to its end, then deleted (logrotate's `rotate N`): nothing is missing unless Kong still wrote into it.
      this.#log.info(fields, 'rotated log file in the checkpoint is gone; it had been read to its end');
      return;
    }
    this.#stats.bytesAbandoned += unread;
    this.#stats.filesNotFound++;
    const known =
      unread > 0
        ? `at least ${unread} bytes (size at the checkpoint − offset, counted in file_bytes_abandoned_total)`
        : 'an unknown amount';
    this.#log.warn(
      fields,
      `log file in the checkpoint was not found again, neither at its path nor under another name in its directory (moved to another directory, compressed or deleted while the relay was stopped?): what it held after byte ${entry.offset} was never read: ${known}, plus whatever was written to it after the checkpoint (counted in files_not_found_total). ` +
        'Rotated files are found again under any name in their own directory: keep them there uncompressed until the relay has read them (logrotate: delaycompress, no olddir), or add the names they are moved to to paths (uncompressed ones only, e.g. "access.log.1" next to "access.log")',
    );
  }

  /** Retired files whose last chunks are acknowledged are forgotten (pruned from the checkpoint). */
  pruneRetired(): void {
    for (const f of this.retired) if (f.settled) this.retired.delete(f);
  }

  async closeAll(): Promise<void> {
    await Promise.allSettled([...this.files.values()].map((f) => this.#closeHandle(f)));
  }
}

/**
 * Start of the last line, which may be incomplete (start_at: end must not start mid-line, and
 * every read checks that the byte before its offset is a newline). Looked for up to
 * max_line_bytes back; null when the last line is longer than that (the caller skips it).
 */
async function lastLineStart(handle: FileHandle, size: number, maxLineBytes: number): Promise<number | null> {
  const limit = Math.max(0, size - maxLineBytes - 1);
  const buffer = Buffer.allocUnsafe(Math.min(size, CHUNK_BYTES));
  for (let end = size; end > limit; ) {
    const from = Math.max(limit, end - buffer.length);
    const { bytesRead } = await handle.read(buffer, 0, end - from, from);
    const nl = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) return from + nl + 1;
    end = from;
  }
  return limit === 0 ? 0 : null;
}

/** The byte before `offset` is a newline: `offset` starts a line. */
async function newlineBefore(handle: FileHandle, offset: number): Promise<boolean> {
  const byte = Buffer.allocUnsafe(1);
  const { bytesRead } = await handle.read(byte, 0, 1, offset - 1);
  return bytesRead === 1 && byte[0] === 0x0a;
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
