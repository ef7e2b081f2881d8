/**
 * The file source: tails Kong file-log files matched by globs. One read loop per source does
 * everything that touches descriptors (reads, polls, rotation handling), one chunk at a time,
 * taking files with something to read in turn, and pauses while the pipeline is blocked;
 * checkpoints advance only over acknowledged chunks and are written atomically about once a
 * second and at close. Directory watches say which files changed; the poll is a slow safety
 * net whose cost does not grow with the number of files (SWEEP_FILES_PER_POLL per poll).
 */
import type { FileSource as FileSourceConfig } from '../../config/resolve.ts';
import { RateLimitedLog, type Logger } from '../../telemetry/log.ts';
import type { Source, SourceContext } from '../source.ts';
import { CheckpointStore, type CheckpointEntry } from './checkpoint-store.ts';
import { errorText } from '../../util/errors.ts';
import { ChunkReader, NOT_AT_LINE_START } from './chunk-reader.ts';
import { FileRegistry } from './file-registry.ts';
import { GlobWatcher } from './glob-watcher.ts';
import { identityKey, type TrackedFile } from './tracked-file.ts';

/** Checkpoints are written at most this often while they change. */
const CHECKPOINT_INTERVAL_MS = 1_000;
/** Directories are walked at least this often besides the watcher's events (events can be missed)... */
const RESCAN_INTERVAL_MS = 1_000;
/** ...and, with many files, no more often than every this many ms per 1,000 files (a walk reads every entry). */
const RESCAN_MS_PER_1000_FILES = 1_000;
/**
 * Each poll looks at this many tracked files in turn (a stat each), and at every rotated file
 * with an open descriptor: with 64 files or fewer, every file on every poll.
 */
export const SWEEP_FILES_PER_POLL = 64;
/** Tracked paths reported by events are looked at this many at a time. */
const CHECK_CONCURRENCY = 8;

/** Run `task` for every item, at most `limit` at once. */
async function eachConcurrently<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
/** After a read error, the file is tried again this much later. */
const READ_RETRY_MS = 1_000;

export class FileSource implements Source {
  readonly name: string;
  readonly #config: FileSourceConfig;
  readonly #context: SourceContext;
  readonly #log: Logger;
  readonly #limited: RateLimitedLog;
  readonly #store: CheckpointStore;
  readonly #globs: GlobWatcher;
  readonly #files: FileRegistry;
  readonly #reader: ChunkReader;
  readonly #abort = new AbortController();

  #started = false;
  #stopping = false;
  #closing: Promise<void> | null = null;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #woken = false;
  #dirtyPaths = new Set<string>();
  #pollDue = false;
  #rescanDue = false;
  #lastRescan = 0;
  #pollTimer: NodeJS.Timeout | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #checkpointDirty = false;
  #checkpointWrite: Promise<void> | null = null;
  #lastCheckpoint: { time: string | null; error: string | null } = { time: null, error: null };
  #pausedSince: number | null = null;
  #awaitingUnblock = false;

  constructor(config: FileSourceConfig, context: SourceContext) {
    this.name = config.name;
    this.#config = config;
    this.#context = context;
    this.#log = context.log;
    this.#limited = new RateLimitedLog(context.log);
    this.#store = new CheckpointStore(context.stateDir, config.name);
    this.#globs = new GlobWatcher(config.paths, context.log, {
      followSymlinks: config.followSymlinks,
      onPath: (file, matches, created) => {
        // Other names matter too: a rotated file Kong still writes into, a new directory for a ** glob.
        this.#dirtyPaths.add(file);
        if (!matches && created) this.#rescanDue = true;
        this.#wake();
      },
      onRescanNeeded: () => {
        this.#rescanDue = true;
        this.#wake();
      },
    });
    this.#files = new FileRegistry(config, context.log, this.#limited, context.stats, () => {
      this.#checkpointDirty = true;
    });
    this.#reader = new ChunkReader({
      sourceName: config.name,
      maxLineBytes: config.maxLineBytes,
      pipeline: context.pipeline,
      stats: context.stats,
      limited: this.#limited,
      deadLetters: context.deadLetters,
      signal: this.#abort.signal,
    });
  }

  get ready(): boolean {
    return this.#started && !this.#stopping && this.#globs.ready;
  }

  async start(): Promise<void> {
    const loaded = await this.#store.load();
    if (loaded.kind === 'missing') this.#files.firstStart = true;
    else if (loaded.kind === 'unreadable') {
      this.#log.error(
        { file: this.#store.file, err: loaded.reason },
        'cannot use the checkpoint file: every log file is read from its start (entries already delivered are sent again rather than lost)',
      );
    } else {
      for (const e of loaded.state) this.#files.orphans.set(identityKey(e.dev, e.ino), e);
    }
    const { files } = await this.#globs.list();
    for (const file of files) await this.#files.checkPath(file, 'initial');
    await this.#files.resolveOrphans();
    this.#lastRescan = Date.now();
    this.#started = true;
    this.#log.info(
      { patterns: this.#config.paths, files: this.#files.files.size, ready: this.ready },
      'file source started',
    );
    // Written at once, so that a restart is never taken for a first start (start_at: end would skip lines).
    this.#checkpointDirty = true;
    await this.#flushCheckpoint();
    this.#pollTimer = setInterval(() => {
      this.#pollDue = true;
      this.#wake();
    }, this.#config.pollIntervalMs);
    this.#checkpointTimer = setInterval(() => {
      if (this.#checkpointDirty && this.#checkpointWrite === null) void this.#flushCheckpoint();
    }, CHECKPOINT_INTERVAL_MS);
    // The poll timer keeps the process alive while the source runs (watchers alone may be gone); close() clears it.
    this.#checkpointTimer.unref();
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    const pipeline = this.#context.pipeline;
    while (!this.#stopping) {
      try {
        if (this.#pollDue || this.#dirtyPaths.size > 0) await this.#maintain();
        if (this.#stopping) break;
        const now = Date.now();
        const file = this.#files.next(now);
        if (file === null) {
          this.#endPause(now);
          await this.#sleep();
          continue;
        }
        if (pipeline.blocked) {
          this.#beginPause(now);
          await this.#sleep();
          continue;
        }
        this.#endPause(now);
        await this.#readChunk(file);
      } catch (e) {
        // Nothing here should throw; if it does, keep tailing rather than stop the source.
        this.#limited.error('tail-loop', { err: errorText(e) }, 'unexpected error in the file tail loop; continuing');
        await this.#sleep();
      }
    }
    this.#endPause(Date.now());
  }

  async #readChunk(file: TrackedFile): Promise<void> {
    // Closed under the descriptor cap (or idle and rotated): opened again by path + identity.
    if (file.handle === null && !(await this.#files.reopen(file))) return;
    this.#files.touched(file);
    let n: number;
    try {
      n = await this.#reader.read(file);
    } catch (e) {
      this.#files.backOff(file, Date.now() + READ_RETRY_MS);
      this.#limited.error(
        'read',
        { file: file.path, err: errorText(e) },
        'cannot read a log file; trying again shortly',
      );
      return;
    }
    if (n > 0) return;
    const now = Date.now();
    if (n === NOT_AT_LINE_START) {
      await this.#files.notAtLineStart(file, now);
      return;
    }
    // Shorter than last seen: truncated; find out now rather than re-reading nothing.
    await this.#files.refresh(file, now);
    if (file.hasWork) this.#files.backOff(file, now + this.#config.pollIntervalMs);
  }

  /**
   * Paths reported by the watcher; on each poll also every rotated file still open, the next
   * SWEEP_FILES_PER_POLL files in turn, and now and then a walk of the directories (for new
   * files only: the known ones are looked at by events and the sweep).
   */
  async #maintain(): Promise<void> {
    const now = Date.now();
    const paths = this.#dirtyPaths;
    this.#dirtyPaths = new Set();
    const poll = this.#pollDue;
    this.#pollDue = false;
    // Files already tracked at their path (the common event: one grew) are looked at a few at a time: each
    // costs a few file-system calls through the thread pool, whose latency, not CPU, bounds thousands of files.
    const known = [...paths].filter((p) => this.#files.tracks(p));
    await eachConcurrently(known, CHECK_CONCURRENCY, (p) => this.#files.checkPath(p, 'new'));
    for (const p of known) paths.delete(p);
    for (const p of paths) {
      if (this.#globs.matches(p)) await this.#files.checkPath(p, 'new');
      else {
        const rotated = this.#files.rotatedAt(p);
        if (rotated !== undefined) await this.#files.poll(rotated, now);
      }
    }
    if (!poll) return;
    for (const f of this.#files.activeRotated) await this.#files.refresh(f, now);
    for (const f of this.#files.sweep(SWEEP_FILES_PER_POLL)) await this.#files.poll(f, now);
    const interval = Math.max(RESCAN_INTERVAL_MS, (this.#files.files.size * RESCAN_MS_PER_1000_FILES) / 1000);
    if (now - this.#lastRescan >= interval || (this.#rescanDue && now - this.#lastRescan >= RESCAN_INTERVAL_MS)) {
      this.#lastRescan = now;
      this.#rescanDue = false;
      await this.#rescan();
    }
  }

  /** Walk the directories: new matching paths are looked at, and known paths no longer listed. */
  async #rescan(): Promise<void> {
    const { files, complete } = await this.#globs.list();
    const listed = new Set(files);
    for (const p of files) if (!this.#files.tracks(p)) await this.#files.checkPath(p, 'new');
    if (complete) for (const p of [...this.#files.paths]) if (!listed.has(p)) await this.#files.checkPath(p, 'new');
    if (this.#files.orphans.size > 0) await this.#files.resolveOrphans();
  }

  #beginPause(now: number): void {
    if (this.#pausedSince === null) {
      this.#pausedSince = now;
      this.#log.debug(
        { blockedBy: this.#context.pipeline.blockingDestinations() },
        'pipeline is full: pausing file reading',
      );
    }
    if (!this.#awaitingUnblock) {
      this.#awaitingUnblock = true;
      void this.#context.pipeline.whenUnblocked().then(() => {
        this.#awaitingUnblock = false;
        this.#wake();
      });
    }
  }

  #endPause(now: number): void {
    if (this.#pausedSince === null) return;
    this.#context.stats.pausedMs += now - this.#pausedSince;
    this.#pausedSince = null;
  }

  #sleep(): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#wakeUp = resolve;
    });
  }

  #wake(): void {
    const wakeUp = this.#wakeUp;
    if (wakeUp === null) {
      this.#woken = true;
      return;
    }
    this.#wakeUp = null;
    this.#woken = false;
    wakeUp();
  }

  /** Write the checkpoint if it changed; a failure is counted, logged and retried by the timer. */
  async #flushCheckpoint(): Promise<void> {
    while (this.#checkpointWrite !== null) await this.#checkpointWrite;
    if (!this.#checkpointDirty) return;
    this.#checkpointDirty = false;
    this.#files.pruneRetired();
    const written: [TrackedFile, number][] = [];
    const entries: CheckpointEntry[] = [];
    for (const f of [...this.#files.files.values(), ...this.#files.retired]) {
      const offset = f.commits.committed;
      written.push([f, offset]);
      entries.push({
        path: f.path,
        dev: f.dev,
        ino: f.ino,
        fingerprint: f.fingerprint.hash,
        fingerprint_bytes: f.fingerprint.bytes,
        offset,
        size: f.size,
        rotated: f.rotated,
      });
    }
    entries.push(...this.#files.orphans.values());
    const write = this.#store.write(this.name, entries).then(
      () => {
        for (const [f, offset] of written) f.writtenOffset = offset;
        if (this.#lastCheckpoint.error !== null) this.#log.info({ file: this.#store.file }, 'checkpoint written again');
        this.#lastCheckpoint = { time: new Date().toISOString(), error: null };
      },
      (e: unknown) => {
        this.#checkpointDirty = true;
        this.#context.stats.checkpointErrors++;
        this.#lastCheckpoint = { time: this.#lastCheckpoint.time, error: errorText(e) };
        this.#limited.error(
          'checkpoint',
          { file: this.#store.file, err: errorText(e) },
          'cannot write the checkpoint file: the one on disk stays as it was (after a restart lines since then would be read again); retrying',
        );
      },
    );
    this.#checkpointWrite = write;
    await write;
    this.#checkpointWrite = null;
  }

  async stopIntake(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#wake();
    }
    await this.#loop;
  }

  /** Wait for the read in progress, write the final checkpoint, release descriptors and watchers. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.stopIntake();
    clearInterval(this.#pollTimer);
    clearInterval(this.#checkpointTimer);
    this.#abort.abort();
    await this.#reader.settle();
    await this.#globs.close();
    if (this.#started) {
      this.#checkpointDirty = true;
      await this.#flushCheckpoint();
    }
    await this.#files.closeAll();
    this.#log.info({ checkpoint: this.#store.file }, 'file source closed');
  }

  status(): Record<string, unknown> {
    const all = [...this.#files.files.values(), ...this.#files.retired];
    const idleRotated = all.filter((f) => f.rotated && !f.retired && f.handle === null).map((f) => f.path);
    const files = all
      .filter((f) => !(f.rotated && !f.retired && f.handle === null))
      .map((f) => ({
        path: f.path,
        dev: f.dev,
        ino: f.ino,
        fingerprint: f.fingerprint.hash,
        size: f.size,
        readOffset: f.readOffset,
        ackedOffset: f.commits.committed,
        checkpointOffset: f.writtenOffset < 0 ? null : f.writtenOffset,
        pendingChunks: f.commits.pending,
        rotated: f.rotated,
        following: f.following,
        closed: f.retired,
        open: f.handle !== null,
      }));
    return {
      files,
      /** Rotated files idle for rotate_wait: descriptor closed, still looked at by name while they exist. */
      idleRotated,
      patterns: this.#globs.status(),
      paused: this.#pausedSince !== null,
      checkpoint: {
        file: this.#store.file,
        lastWrite: this.#lastCheckpoint.time,
        lastError: this.#lastCheckpoint.error,
        unmatchedEntries: this.#files.orphans.size,
      },
    };
  }
}
