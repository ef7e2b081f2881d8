/**
 * Globs → files, and which of them changed. Each pattern is split into its directory (the part
 * without glob characters) and a picomatch matcher. `list()` walks those directories (bounded:
 * depth, directories, entries; directory symlinks only with follow_symlinks, then with a
 * device+inode cycle check) and keeps one `fs.watch` per directory walked: inotify on a
 * directory reports every write to a file in it by name, so one watch per directory (not one per
 * file, as chokidar keeps) says which of thousands of files grew. A matching symlink to a file
 * (Kubernetes' /var/log/containers/*.log → /var/log/pods/…) is written in its target's
 * directory, so that directory is watched too. Events can be missed or
 * coalesced: the source also rescans and polls as a slow safety net. A base directory that cannot
 * be read makes the source not ready; it is retried on every rescan.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { Logger } from '../../telemetry/log.ts';
import { errorText } from '../../util/errors.ts';

/** How deep `**` is followed (a log directory is not a deep tree; this bounds a rescan). */
const GLOBSTAR_DEPTH = 8;
/** One walk (all patterns) looks at no more directories than this (each also gets a watch). */
export const MAX_WALK_DIRECTORIES = 10_000;
/** One walk looks at no more directory entries than this. */
export const MAX_WALK_ENTRIES = 200_000;

export interface PatternStatus {
  readonly pattern: string;
  readonly dir: string;
  readonly watching: boolean;
  readonly error: string | null;
}

export interface GlobWatcherOptions {
  /** Descend into symlinked directories (with a device+inode cycle check). */
  readonly followSymlinks: boolean;
  /** A name in a watched directory changed; `matches`: it matches a pattern; `created`: created, renamed or deleted. */
  readonly onPath: (file: string, matches: boolean, created: boolean) => void;
  /** Something changed that needs a walk (an event without a name, a watch lost). */
  readonly onRescanNeeded: () => void;
}

class WatchedPattern {
  readonly pattern: string;
  readonly dir: string;
  /** Directory levels below `dir` that can hold matches (0: only `dir` itself). */
  readonly depth: number;
  readonly isMatch: (file: string) => boolean;
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

/** What one walk has looked at so far (shared by the patterns of one `list()`). */
interface WalkBudget {
  directories: number;
  entries: number;
  /** The walk stopped early at a cap. */
  capped: boolean;
  /** Real directories visited (device:inode), when following symlinks. */
  readonly visited: Set<string>;
  /** Directories walked, to watch. */
  readonly dirs: Set<string>;
  /** Matching symlinks (to files) found. */
  readonly links: string[];
}

export class GlobWatcher {
  readonly #patterns: WatchedPattern[];
  readonly #log: Logger;
  readonly #options: GlobWatcherOptions;
  readonly #watchers = new Map<string, FSWatcher>();
  /** Matching symlink → the real path of its target (resolved once per link). */
  readonly #linkTargets = new Map<string, string>();
  /** Real path of a link target → the matching links that lead to it. */
  #linksByTarget = new Map<string, string[]>();
  #capLogged = false;
  #watchFailureLogged = false;
  #closed = false;

  constructor(patterns: readonly string[], log: Logger, options: GlobWatcherOptions) {
    this.#patterns = patterns.map((p) => new WatchedPattern(p));
    this.#log = log;
    this.#options = options;
  }

  /** Every pattern's directory can be read. */
  get ready(): boolean {
    return this.#patterns.every((p) => p.error === null);
  }

  get watchedDirectories(): number {
    return this.#watchers.size;
  }

  /** The path matches one of the patterns. */
  matches(file: string): boolean {
    return this.#patterns.some((p) => p.isMatch(file));
  }

  status(): PatternStatus[] {
    return this.#patterns.map((p) => ({
      pattern: p.pattern,
      dir: p.dir,
      watching: this.#watchers.has(p.dir),
      error: p.error,
    }));
  }

  /**
   * Walk every pattern's directory: the matching files now, and whether every directory could
   * be read (else files there are unknown, not gone). Watches the directories walked, stops
   * watching those no longer there.
   */
  async list(): Promise<{ files: string[]; complete: boolean }> {
    const files = new Set<string>();
    let complete = true;
    const budget: WalkBudget = {
      directories: 0,
      entries: 0,
      capped: false,
      visited: new Set(),
      dirs: new Set(),
      links: [],
    };
    for (const p of this.#patterns) {
      try {
        await this.#walk(p.dir, p.depth, p.isMatch, files, budget);
        if (p.error !== null) this.#log.info({ pattern: p.pattern, dir: p.dir }, 'log directory is readable again');
        p.error = null;
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
      }
    }
    if (budget.capped) {
      complete = false;
      if (!this.#capLogged)
        this.#log.error(
          {
            patterns: this.#patterns.map((p) => p.pattern),
            directories: budget.directories,
            entries: budget.entries,
            maxDirectories: MAX_WALK_DIRECTORIES,
            maxEntries: MAX_WALK_ENTRIES,
          },
          `stopped walking the log directories at ${MAX_WALK_DIRECTORIES} directories or ${MAX_WALK_ENTRIES} entries: files beyond are not tailed; narrow paths (a ** glob over a large tree?)`,
        );
      this.#capLogged = true;
    } else this.#capLogged = false;
    await this.#resolveLinks(budget, complete);
    if (!this.#closed) this.#syncWatchers(budget.dirs, complete);
    return { files: [...files], complete };
  }

  /** Map link targets to their links, and add the targets' directories to those watched (within the cap). */
  async #resolveLinks(budget: WalkBudget, complete: boolean): Promise<void> {
    if (complete) {
      const listed = new Set(budget.links);
      for (const link of this.#linkTargets.keys()) if (!listed.has(link)) this.#linkTargets.delete(link);
    }
    const byTarget = new Map<string, string[]>();
    for (const link of budget.links) {
      let target = this.#linkTargets.get(link);
      if (target === undefined) {
        const real = await realpath(link).catch(() => null);
        if (real === null) continue; // dangling now: looked at again at the next walk
        target = real;
        this.#linkTargets.set(link, target);
      }
      const links = byTarget.get(target);
      if (links === undefined) byTarget.set(target, [link]);
      else links.push(link);
      const dir = path.dirname(target);
      if (!budget.dirs.has(dir) && budget.dirs.size < MAX_WALK_DIRECTORIES) budget.dirs.add(dir);
    }
    this.#linksByTarget = byTarget;
  }

  async #walk(
    dir: string,
    depth: number,
    isMatch: (file: string) => boolean,
    out: Set<string>,
    budget: WalkBudget,
  ): Promise<void> {
    if (budget.directories >= MAX_WALK_DIRECTORIES) {
      budget.capped = true;
      return;
    }
    if (this.#options.followSymlinks) {
      // Through symlinks a tree can reach itself: each real directory is walked once.
      const st = await stat(dir);
      const key = `${st.dev}:${st.ino}`;
      if (budget.visited.has(key)) return;
      budget.visited.add(key);
    }
    const entries = await readdir(dir, { withFileTypes: true });
    budget.directories++;
    budget.dirs.add(dir);
    for (const e of entries) {
      if (++budget.entries > MAX_WALK_ENTRIES) {
        budget.capped = true;
        return;
      }
      const full = path.join(dir, e.name);
      let isDir = e.isDirectory();
      if (e.isSymbolicLink()) {
        // A link to a file is a file (Kubernetes' /var/log/containers); a link to a directory is followed only when asked.
        isDir =
          this.#options.followSymlinks && depth > 0 && (await stat(full).catch(() => null))?.isDirectory() === true;
        if (!isDir && isMatch(full)) {
          out.add(full);
          budget.links.push(full);
        }
      } else if (e.isFile()) {
        if (isMatch(full)) out.add(full);
      }
      // A subdirectory we cannot read holds no file we could tail; it does not make the pattern unreadable.
      if (isDir && depth > 0) await this.#walk(full, depth - 1, isMatch, out, budget).catch(() => undefined);
      if (budget.capped) return;
    }
  }

  /** Watch the directories walked; after a complete walk, stop watching the others. */
  #syncWatchers(dirs: Set<string>, complete: boolean): void {
    for (const dir of dirs) if (!this.#watchers.has(dir)) this.#watch(dir);
    if (!complete) return;
    for (const [dir, w] of this.#watchers) {
      if (dirs.has(dir)) continue;
      w.close();
      this.#watchers.delete(dir);
    }
  }

  #watch(dir: string): void {
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: false }, (event, name) => {
        if (name === null || name === undefined) {
          this.#options.onRescanNeeded();
          return;
        }
        const full = path.join(dir, name.toString());
        const created = event === 'rename';
        this.#options.onPath(full, this.matches(full), created);
        const links = this.#linksByTarget.get(full);
        if (links !== undefined) for (const link of links) this.#options.onPath(link, true, created);
      });
    } catch (e) {
      // ENOSPC (inotify watches exhausted) and the like: the rescan and the poll still find everything, later.
      if (!this.#watchFailureLogged)
        this.#log.warn(
          { dir, err: errorText(e) },
          'cannot watch a log directory for changes: relying on polling for it (raise fs.inotify.max_user_watches?)',
        );
      this.#watchFailureLogged = true;
      return;
    }
    watcher.on('error', (e) => {
      this.#log.warn({ dir, err: errorText(e) }, 'file watcher error: relying on polling until the next rescan');
      watcher.close();
      if (this.#watchers.get(dir) === watcher) this.#watchers.delete(dir);
      this.#options.onRescanNeeded();
    });
    this.#watchers.set(dir, watcher);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }
}
