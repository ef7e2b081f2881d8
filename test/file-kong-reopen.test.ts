/**
 * Kong's file-log without `reopen: true` caches its descriptor: after a rename rotation it keeps
 * writing into the renamed file, with pauses of any length. Before, the relay closed the renamed
 * file after rotate_wait of idleness and everything Kong wrote there afterwards was lost,
 * uncounted, also across restarts.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  jsonLines,
  range,
  readCheckpoint,
  seqs,
  startTail,
  tailDirs,
  type TailRun,
  waitFor,
} from './support/file-tail-harness.ts';

const ROTATE_WAIT = '300ms';

function idleRotated(run: TailRun): string[] {
  return (run.source.status() as { idleRotated: string[] }).idleRotated;
}

test('Kong without reopen: a renamed file written again after idle gaps longer than rotate_wait, and after a restart, loses nothing', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const rotated = `${file}.1`;
  const fd = openSync(file, 'a');
  let next = 0;
  const kongWrites = (n: number): void => {
    writeSync(fd, jsonLines(next, next + n));
    next += n;
  };
  try {
    const first = await startTail(dirs, { rotateWait: ROTATE_WAIT });
    try {
      kongWrites(20);
      await waitFor('lines before the rotation', () => first.recorded.length >= 20);
      renameSync(file, rotated);
      writeFileSync(file, ''); // logrotate's `create`; Kong never reopens
      for (let gap = 0; gap < 2; gap++) {
        await waitFor('the renamed file idle for rotate_wait', () => idleRotated(first).includes(rotated));
        kongWrites(10);
        await waitFor('lines written after the idle gap', () => first.recorded.length >= next);
      }
      await waitFor('idle again before the stop', () => idleRotated(first).includes(rotated));
      await waitFor(
        'the renamed file in the checkpoint',
        () => readCheckpoint(dirs.stateDir)?.files.some((f) => f.path === rotated && f.offset === f.size) === true,
      );
    } finally {
      await first.stop();
    }
    // Written while the relay is stopped, then after the restart, after another idle gap.
    kongWrites(15);
    const second = await startTail(dirs, { rotateWait: ROTATE_WAIT });
    try {
      await waitFor('lines written while stopped', () => second.recorded.length >= 15);
      await waitFor('idle after the restart', () => idleRotated(second).includes(rotated));
      kongWrites(5);
      await waitFor('lines written after the restart and a gap', () => second.recorded.length >= 20);
      assert.deepEqual(seqs([...first.recorded, ...second.recorded]), range(0, next), 'every line once, in order');
      assert.equal(second.stats.bytesAbandoned, 0);
      assert.equal(first.stats.bytesAbandoned, 0);
    } finally {
      await second.stop();
    }
  } finally {
    closeSync(fd);
  }
});

test('Kong without reopen: a renamed file deleted with a line it never finished is counted with an error naming it', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const rotated = `${file}.1`;
  writeFileSync(file, jsonLines(0, 10));
  const run = await startTail(dirs, { rotateWait: ROTATE_WAIT });
  try {
    await waitFor('the lines', () => run.recorded.length >= 10);
    renameSync(file, rotated);
    writeFileSync(file, '');
    await waitFor('the renamed file idle', () => idleRotated(run).includes(rotated));
    const partial = '{"seq":10,"tag":"cut';
    writeFileSync(rotated, jsonLines(0, 10) + partial); // same inode: Kong's write through its descriptor
    await waitFor('the growth seen', () => run.files().some((f) => f.path === rotated && f.size > f.readOffset));
    rmSync(rotated);
    await waitFor('given up', () => run.stats.bytesAbandoned > 0);
    assert.equal(run.stats.bytesAbandoned, partial.length);
    const errors = run.logs.filter((l) => l.level === 50 && l.file === rotated);
    assert.equal(errors.length, 1);
    assert.match(errors[0].msg, /never read/);
    assert.deepEqual(seqs(run.recorded), range(0, 10));
  } finally {
    await run.stop();
  }
});
