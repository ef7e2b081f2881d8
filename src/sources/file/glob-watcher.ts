/**
 * Globs → files. chokidar 5 watches directories only (no globs), so each pattern is split
 * into its directory (the part without glob characters) and a picomatch matcher; chokidar
 * reports changes there, and `list()` walks the directory for a full rescan (events can be
 * missed or coalesced). A directory that cannot be read makes the source not ready; it is
 * retried on every rescan.
 */
import { watch, type FSWatcher } from 'chokidar';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { Logger } from '../../telemetry/log.ts';
import { errorText } from '../../util/errors.ts';

/** How deep `**` is followed (a log directory is not a deep tree; this bounds a rescan). */
const GLOBSTAR_DEPTH = 8;

export interface PatternStatus {
  readonly pattern: string;
  readonly dir: string;
  readonly watching: boolean;
  readonly error: string | null;
}

class WatchedPattern {
  readonly pattern: string;
  readonly dir: string;
  /** Directory levels below `dir` that can hold matches (0: only `dir` itself). */
  readonly depth: number;
  readonly isMatch: (file: string) => boolean;
  watcher: FSWatcher | null = null;
  error: string | null = null;

  constructor(pattern: string) {
    this.pattern = pattern;
    const scan = picomatch.scan(pattern);
    if (!scan.isGlob) {
      this.dir = path.dirname(pattern);
      this.depth = 0;
      this.isMatch = (file) => file === pattern;
    } else {
      this.dir = scan.base === '' ? '.' : scan.base;
      this.depth = scan.glob.includes('**') ? GLOBSTAR_DEPTH : scan.glob.split('/').length - 1;
      this.isMatch = picomatch(pattern);
    }
  }
}

export class GlobWatcher {
  readonly #patterns: WatchedPattern[];
  readonly #log: Logger;
  readonly #onPath: (file: string) => void;
  #closed = false;

  /** `onPath` is called for every event on a matching path (add, change, unlink). */
  constructor(patterns: readonly string[], log: Logger, onPath: (file: string) => void) {
    this.#patterns = patterns.map((p) => new WatchedPattern(p));
    this.#log = log;
    this.#onPath = onPath;
  }

  /** Every pattern's directory can be read and is watched. */
  get ready(): boolean {
    return this.#patterns.every((p) => p.error === null && p.watcher !== null);
  }

  status(): PatternStatus[] {
    return this.#patterns.map((p) => ({
      pattern: p.pattern,
      dir: p.dir,
      watching: p.watcher !== null,
      error: p.error,
    }));
  }

  /**
   * Walk every pattern's directory: the matching files now, and whether every directory
   * could be read (else files there are unknown, not gone). Starts watching directories that
   * became readable, stops watching those that did not stay so.
   */
  async list(): Promise<{ files: string[]; complete: boolean }> {
    const files = new Set<string>();
    let complete = true;
    for (const p of this.#patterns) {
      try {
        await walk(p.dir, p.depth, p.isMatch, files);
        if (p.error !== null) this.#log.info({ pattern: p.pattern, dir: p.dir }, 'log directory is readable again');
        p.error = null;
        if (p.watcher === null && !this.#closed) await this.#watch(p);
      } catch (e) {
        complete = false;
        const reason = errorText(e);
        if (p.error !== reason) {
          this.#log.error(
            { pattern: p.pattern, dir: p.dir, err: reason },
            'cannot read the log directory of a path pattern: its files are not tailed until it can be read (source not ready)',
          );
        }
        p.error = reason;
        await p.watcher?.close().catch(() => undefined);
        p.watcher = null;
      }
    }
    return { files: [...files], complete };
  }

  async #watch(p: WatchedPattern): Promise<void> {
    const watcher = watch(p.dir, {
      ignoreInitial: true,
      depth: p.depth,
      // Only matching files get a watcher of their own; directories are always walked.
      ignored: (file, stats) => stats?.isFile() === true && !p.isMatch(file),
    });
    const report = (file: string): void => {
      if (p.isMatch(file)) this.#onPath(file);
    };
    watcher.on('add', report).on('change', report).on('unlink', report);
    watcher.on('error', (e) =>
      this.#log.warn(
        { pattern: p.pattern, dir: p.dir, err: errorText(e) },
        'file watcher error: relying on polling for this directory',
      ),
    );
    p.watcher = watcher;
    // Wait for the initial scan so that later files are reported as they appear; bounded,
    // because the periodic rescan finds them anyway.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5_000);
      watcher.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled(
      this.#patterns.map(async (p) => {
        const w = p.watcher;
        p.watcher = null;
        await w?.close();
      }),
    );
  }
}

async function walk(dir: string, depth: number, isMatch: (file: string) => boolean, out: Set<string>): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isFile() || e.isSymbolicLink()) {
      if (isMatch(full)) out.add(full);
    } else if (e.isDirectory() && depth > 0) {
      // A subdirectory we cannot read holds no file we could tail; it does not make the pattern unreadable.
      await walk(full, depth - 1, isMatch, out).catch(() => undefined);
    }
  }
}
