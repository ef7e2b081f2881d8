/**
 * A state directory the test can make unwritable and writable again. Tests run as root, so
 * chmod does not stop anything: a small tmpfs is filled up (ENOSPC) when mounting works here;
 * otherwise the directory's path is made to lead through a regular file (ENOTDIR), which
 * works anywhere.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface BrokenDisk {
  readonly kind: string;
  /** The state directory to configure. */
  readonly dir: string;
  /** What the relay's errors should mention. */
  readonly error: RegExp;
  /** Whether the directory can be written before break() (a full tmpfs can; a path under a file cannot). */
  readonly writableAtFirst: boolean;
  break(): void;
  repair(): void;
  cleanup(): void;
}

/** A 2 MiB tmpfs at `<base>/state`, or null when this machine does not let us mount one. */
export function smallTmpfs(base: string, size = '2m'): BrokenDisk | null {
  const dir = path.join(base, 'state');
  mkdirSync(dir, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], {
    stdio: 'ignore',
  });
  if (mounted.status !== 0) return null;
  const filler = path.join(dir, 'filler');
  return {
    kind: `tmpfs of ${size} filled up (ENOSPC)`,
    dir,
    error: /ENOSPC|no space/i,
    writableAtFirst: true,
    break() {
      const fd = openSync(filler, 'w');
      const block = Buffer.alloc(64 * 1024);
      try {
        for (;;) writeSync(fd, block);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
      // The last partial block may have left a few bytes; take them too.
      const tail = openSync(path.join(dir, 'filler-tail'), 'w');
      try {
        for (;;) writeSync(tail, Buffer.alloc(512));
      } catch {
        /* full */
      } finally {
        closeSync(tail);
      }
    },
    repair() {
      rmSync(filler, { force: true });
      rmSync(path.join(dir, 'filler-tail'), { force: true });
    },
    cleanup() {
      spawnSync('umount', ['-l', dir], { stdio: 'ignore' });
    },
  };
}

/** `<base>/state` is a regular file, so nothing can be created under it until repair(). */
export function stateUnderAFile(base: string): BrokenDisk {
  const dir = path.join(base, 'state');
  return {
    kind: 'state_dir path is a regular file (ENOTDIR)',
    dir,
    error: /ENOTDIR|EEXIST|not a directory|file already exists/i,
    writableAtFirst: false,
    break() {
      rmSync(dir, { recursive: true, force: true });
      writeFileSync(dir, 'not a directory\n');
    },
    repair() {
      rmSync(dir, { force: true });
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
