import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  openSync,
  renameSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { append, jsonLines, pause, range, seqs, startTail, tailDirs, waitFor } from './support/file-tail-harness.ts';

test('rename rotation while writing: every line arrives once, the old file is finished first and then closed', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, '');
  const run = await startTail(dirs);
  try {
    // Kong with reopen: true appends by path, so after the rename its lines go to the new file.
    for (let i = 0; i < 300; i += 20) {
      append(file, jsonLines(i, i + 20));
      await pause(2);
    }
    renameSync(file, `${file}.1`);
    for (let i = 300; i < 600; i += 20) {
      append(file, jsonLines(i, i + 20));
      await pause(2);
    }
    await waitFor('600 lines', () => run.recorded.length >= 600);
    // One destination sending one batch at a time keeps the reading order: the old file's lines come first.
    assert.deepEqual(seqs(run.recorded), range(0, 600));
    await waitFor('rotated file closed once drained and idle', () => run.files().length === 1);
    assert.equal(path.basename(run.files()[0].path), 'access.log');
    assert.equal(run.stats.bytesAbandoned, 0);
    assert.equal(run.logged('idle for rotate_wait: closing it').length, 1);
    assert.equal(run.logged('reopen: true').length, 0);
  } finally {
    await run.stop();
  }
});

test('Kong without reopen keeps writing into the renamed file: its lines still arrive, with one warning', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  // Kong's file-log caches its descriptor: it writes through `fd` whatever the file is called.
  const fd = openSync(file, 'a');
  let next = 0;
  const kongWrites = (n: number): void => {
    writeSync(fd, jsonLines(next, next + n));
    next += n;
  };
  const run = await startTail(dirs, { rotateWait: '500ms' });
  try {
    kongWrites(50);
    await waitFor('lines before the rotation', () => run.recorded.length >= 50);
    renameSync(file, `${file}.1`);
    writeFileSync(file, ''); // logrotate's `create`
    await waitFor('rotation seen', () => run.files().some((f) => f.rotated));
    for (let i = 0; i < 100 && run.logged('reopen: true').length === 0; i++) {
      kongWrites(2);
      await pause(50);
    }
    kongWrites(10);
    await waitFor('every line written through the old descriptor', () => run.recorded.length >= next);
    await pause(100);
    assert.deepEqual(seqs(run.recorded), range(0, next));
    assert.equal(run.logged('reopen: true').length, 1);
    assert.ok(run.files().some((f) => f.rotated && f.following && path.basename(f.path) === 'access.log.1'));
  } finally {
    closeSync(fd);
    await run.stop();
  }
});

test('copytruncate: a file truncated below the offset is read again from its start', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 100));
  const run = await startTail(dirs);
  try {
    await waitFor('100 lines', () => run.recorded.length >= 100);
    copyFileSync(file, `${file}.1`);
    truncateSync(file, 0);
    append(file, jsonLines(100, 110));
    await waitFor('lines after the truncation', () => run.recorded.length >= 110);
    await pause(100);
    assert.deepEqual(seqs(run.recorded), range(0, 110));
    assert.equal(run.logged('truncated').length, 1);
    assert.equal(run.stats.bytesAbandoned, 0);
    await waitFor('checkpoint at the new end', () => run.files()[0].checkpointOffset === jsonLines(100, 110).length);
  } finally {
    await run.stop();
  }
});

test('copytruncate: a file truncated and refilled past the offset before the next poll is noticed by its first bytes', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 20));
  const run = await startTail(dirs);
  try {
    await waitFor('20 lines', () => run.recorded.length >= 20);
    truncateSync(file, 0);
    append(file, jsonLines(20, 100));
    await waitFor('every line of the new content', () => run.recorded.length >= 100);
    await pause(100);
    assert.deepEqual(seqs(run.recorded), range(0, 100));
    assert.equal(run.logged('truncated').length, 1);
  } finally {
    await run.stop();
  }
});

test('a deleted file is read to its end through the open descriptor; a new file at that path is read from its start', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 50));
  const run = await startTail(dirs);
  try {
    await waitFor('50 lines', () => run.recorded.length >= 50);
    append(file, jsonLines(50, 60));
    unlinkSync(file);
    await waitFor('lines written just before the deletion', () => run.recorded.length >= 60);
    await waitFor('deleted file closed', () => run.files().length === 0);
    writeFileSync(file, jsonLines(60, 70));
    await waitFor('the new file', () => run.recorded.length >= 70);
    await pause(100);
    assert.deepEqual(seqs(run.recorded), range(0, 70));
    assert.equal(run.stats.bytesAbandoned, 0);
  } finally {
    await run.stop();
  }
});

test('a rotated file that ends without a newline keeps its last line until the file is deleted, then it is counted', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 5) + '{"seq":5,"cut');
  const run = await startTail(dirs);
  try {
    await waitFor('5 lines', () => run.recorded.length >= 5);
    const rotated = path.join(dirs.logDir, 'old.1');
    renameSync(file, rotated);
    // Idle for rotate_wait: its descriptor is closed, but Kong may still finish the line, so nothing is given up yet.
    await waitFor('rotated file idle', () => run.files().length === 0);
    assert.deepEqual((run.source.status() as { idleRotated: string[] }).idleRotated, [rotated]);
    assert.equal(run.stats.bytesAbandoned, 0);
    unlinkSync(rotated);
    await waitFor('rotated file given up', () => run.stats.bytesAbandoned > 0);
    assert.equal(run.stats.bytesAbandoned, '{"seq":5,"cut'.length);
    const lost = run.logged('without a newline');
    assert.equal(lost.length, 1);
    assert.equal(lost[0].level, 50);
    assert.equal(lost[0].file, rotated);
  } finally {
    await run.stop();
  }
});
