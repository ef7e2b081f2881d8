import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { RecordingSink } from './support/recording-sink.ts';
import {
  append,
  jsonLines,
  pause,
  range,
  readCheckpoint,
  runUntilRecorded,
  seqs,
  startTail,
  tailDirs,
  waitFor,
} from './support/file-tail-harness.ts';

test('a restart goes on from the checkpoint: nothing lost, nothing finished read again', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, '');
  const first = await startTail(dirs, { startAt: 'end' });
  append(file, jsonLines(0, 100));
  await waitFor('first 100 lines', () => first.recorded.length >= 100);
  await first.stop();
  assert.equal(readCheckpoint(dirs.stateDir)?.files[0].offset, jsonLines(0, 100).length);

  // While the relay is stopped: more lines, and a new file.
  append(file, jsonLines(100, 200));
  writeFileSync(path.join(dirs.logDir, 'new.log'), jsonLines(200, 210));
  const second = await startTail(dirs, { startAt: 'end' });
  try {
    await waitFor('lines written while stopped', () => second.recorded.length >= 110);
    await pause(100);
    assert.deepEqual(
      seqs(second.recorded).sort((a, b) => a - b),
      range(100, 210),
    );
    assert.deepEqual(seqs(first.recorded), range(0, 100));
  } finally {
    await second.stop();
  }
});

test('the checkpoint does not pass lines the destination has not delivered', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const a = jsonLines(0, 50);
  const b = jsonLines(50, 100);
  writeFileSync(file, a);
  const run = await startTail(dirs);
  const sink = run.sink as RecordingSink;
  try {
    await waitFor(
      'checkpoint after the first lines',
      () => readCheckpoint(dirs.stateDir)?.files[0]?.offset === a.length,
    );
    sink.stall();
    append(file, b);
    await waitFor('second lines read', () => run.stats.bytesRead === a.length + b.length);
    // Checkpoints are written every second while they change: give it a few chances to go wrong.
    for (let i = 0; i < 15; i++) {
      await pause(100);
      assert.equal(readCheckpoint(dirs.stateDir)?.files[0].offset, a.length);
      assert.equal(run.files()[0].ackedOffset, a.length);
    }
    sink.resume();
    await waitFor(
      'checkpoint after delivery',
      () => readCheckpoint(dirs.stateDir)?.files[0]?.offset === a.length + b.length,
    );
    assert.deepEqual(seqs(run.recorded), range(0, 100));
  } finally {
    await run.stop();
  }
});

test('lines not delivered at shutdown are read again after the restart', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const a = jsonLines(0, 50);
  writeFileSync(file, a);
  const first = await startTail(dirs);
  const sink = first.sink as RecordingSink;
  await waitFor('first lines delivered', () => first.recorded.length >= 50);
  sink.stall();
  append(file, jsonLines(50, 100));
  await waitFor('second lines read', () => first.stats.received === 100);
  // The destination stays down through the shutdown deadline.
  sink.failWith = RecordingSink.retryable();
  sink.resume();
  await first.stop(300);
  assert.equal(readCheckpoint(dirs.stateDir)?.files[0].offset, a.length);

  const second = await startTail(dirs);
  try {
    await waitFor('the undelivered lines', () => second.recorded.length >= 50);
    await pause(100);
    assert.deepEqual(seqs(second.recorded), range(50, 100));
    assert.deepEqual(seqs(first.recorded), range(0, 50));
  } finally {
    await second.stop();
  }
});

test('a rotation while the relay was stopped: the rotated file is finished from its checkpoint, the new one read from its start', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 50));
  await runUntilRecorded(dirs, 50);
  append(file, jsonLines(50, 60));
  renameSync(file, `${file}.1`);
  writeFileSync(file, jsonLines(60, 70));
  const second = await startTail(dirs);
  try {
    await waitFor('both files', () => second.recorded.length >= 20);
    await pause(100);
    assert.deepEqual(seqs(second.recorded), range(50, 70));
    await waitFor('rotated file closed', () => second.files().length === 1);
    assert.equal(second.stats.bytesAbandoned, 0);
  } finally {
    await second.stop();
  }
});

test('a checkpoint whose file now has other first bytes (inode reuse, file replaced) is not reused', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 100));
  const inode = statSync(file).ino;
  const _first = await runUntilRecorded(dirs, 100);
  // Same device and inode, other content, longer than the old offset.
  writeFileSync(file, jsonLines(1000, 1200, 'replaced'));
  assert.equal(statSync(file).ino, inode);
  const second = await startTail(dirs);
  try {
    await waitFor('every line of the new content', () => second.recorded.length >= 200);
    assert.deepEqual(seqs(second.recorded), range(1000, 1200));
    assert.equal(second.logged('does not match its checkpoint').length, 1);
  } finally {
    await second.stop();
  }
});

test('a checkpoint past the end of its file (truncated while stopped) is not reused', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 100));
  const _first = await runUntilRecorded(dirs, 100);
  writeFileSync(file, jsonLines(0, 10)); // same first bytes, shorter than the checkpoint
  const second = await startTail(dirs);
  try {
    await waitFor('the file from its start', () => second.recorded.length >= 10);
    await pause(100);
    assert.deepEqual(seqs(second.recorded), range(0, 10));
    assert.equal(second.logged('is shorter').length, 1);
  } finally {
    await second.stop();
  }
});

test('an unwritable state directory: checkpoint errors are counted, tailing goes on, the write is retried', async () => {
  const dirs = tailDirs();
  mkdirSync(dirs.stateDir);
  // A file where the checkpoint directory must be: refused even for root.
  const blocker = path.join(dirs.stateDir, 'checkpoints');
  writeFileSync(blocker, 'not a directory');
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 20));
  const run = await startTail(dirs);
  try {
    await waitFor('lines delivered', () => run.recorded.length >= 20);
    await waitFor('checkpoint errors counted', () => run.stats.checkpointErrors >= 2);
    const status = run.source.status() as { checkpoint: { lastError: string | null } };
    assert.match(status.checkpoint.lastError ?? '', /ENOTDIR|EEXIST/);
    assert.ok(run.logged('cannot write the checkpoint file').length >= 1);
    assert.equal(run.files()[0].ackedOffset, jsonLines(0, 20).length);
    assert.equal(run.files()[0].checkpointOffset, null);
    rmSync(blocker);
    await waitFor(
      'checkpoint written after the directory is usable',
      () => readCheckpoint(dirs.stateDir)?.files[0]?.offset === jsonLines(0, 20).length,
    );
  } finally {
    await run.stop();
  }
});

test('a checkpoint file that cannot be used is reported, and every file is read from its start (no loss)', async () => {
  const dirs = tailDirs();
  mkdirSync(path.join(dirs.stateDir, 'checkpoints'), { recursive: true });
  writeFileSync(path.join(dirs.stateDir, 'checkpoints', 'logs.json'), '{"files": [ truncated');
  writeFileSync(path.join(dirs.logDir, 'access.log'), jsonLines(0, 10));
  const run = await startTail(dirs, { startAt: 'end' });
  try {
    await waitFor('the file from its start', () => run.recorded.length >= 10);
    assert.deepEqual(seqs(run.recorded), range(0, 10));
    assert.equal(run.logged('cannot use the checkpoint file').length, 1);
    await waitFor(
      'a good checkpoint written',
      () => readCheckpoint(dirs.stateDir)?.files[0]?.offset === jsonLines(0, 10).length,
    );
  } finally {
    await run.stop();
  }
});
