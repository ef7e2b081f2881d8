import assert from 'node:assert/strict';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { append, jsonLines, pause, range, seqs, startTail, tailDirs, waitFor } from './support/file-tail-harness.ts';

test('start_at: end skips what a file held at the first start and reads what is written after', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 10));
  const run = await startTail(dirs, { startAt: 'end' });
  try {
    append(file, jsonLines(10, 15));
    await waitFor('5 new lines', () => run.recorded.length >= 5);
    await pause(100);
    assert.deepEqual(seqs(run.recorded), range(10, 15));
  } finally {
    await run.stop();
  }
});

test('start_at: end does not start in the middle of a line that is still being written', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const half = jsonLines(2, 3);
  writeFileSync(file, jsonLines(0, 2) + half.slice(0, 20));
  const run = await startTail(dirs, { startAt: 'end' });
  try {
    append(file, half.slice(20) + jsonLines(3, 5));
    await waitFor('3 lines', () => run.recorded.length >= 3);
    assert.deepEqual(seqs(run.recorded), [2, 3, 4]);
    assert.deepEqual(run.stats.invalid, {});
  } finally {
    await run.stop();
  }
});

test('start_at: end inside a last line longer than one read starts at that line; one longer than max_line_bytes is skipped', async () => {
  const dirs = tailDirs();
  const long = path.join(dirs.logDir, 'long.log');
  const tooLong = path.join(dirs.logDir, 'too-long.log');
  const longLine = `{"seq":2,"pad":"${'x'.repeat(100_000)}"}\n`;
  const tooLongLine = `{"seq":12,"pad":"${'y'.repeat(200_000)}"}\n`;
  writeFileSync(long, jsonLines(0, 2) + longLine.slice(0, 90_000));
  writeFileSync(tooLong, jsonLines(10, 12) + tooLongLine.slice(0, 150_000));
  const run = await startTail(dirs, { startAt: 'end', maxLineBytes: '128KiB' });
  try {
    append(long, longLine.slice(90_000) + jsonLines(3, 4));
    append(tooLong, tooLongLine.slice(150_000) + jsonLines(13, 14));
    await waitFor('the lines completed after the start', () => run.recorded.length >= 3);
    await waitFor('the over-long line dead-lettered', () => run.stats.invalid.line_too_long === 1);
    assert.deepEqual(
      seqs(run.recorded).sort((a, b) => a - b),
      [2, 3, 13],
    );
    assert.deepEqual(run.stats.invalid, { line_too_long: 1 });
    assert.equal(run.logged('truncated').length, 0);
  } finally {
    await run.stop();
  }
});

test('start_at: beginning reads what a file held at the first start, then what is written after', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 10));
  const run = await startTail(dirs, { startAt: 'beginning' });
  try {
    await waitFor('10 lines', () => run.recorded.length >= 10);
    append(file, jsonLines(10, 15));
    await waitFor('15 lines', () => run.recorded.length >= 15);
    assert.deepEqual(seqs(run.recorded), range(0, 15));
    assert.equal(run.stats.received, 15);
  } finally {
    await run.stop();
  }
});

test('a file that appears after the start is read from its start, even with start_at: end', async () => {
  const dirs = tailDirs();
  const run = await startTail(dirs, { startAt: 'end' });
  try {
    writeFileSync(path.join(dirs.logDir, 'later.log'), jsonLines(0, 20));
    await waitFor('20 lines of the new file', () => run.recorded.length >= 20);
    assert.deepEqual(seqs(run.recorded), range(0, 20));
  } finally {
    await run.stop();
  }
});

test('the glob picks up new matching files while running and ignores the others', async () => {
  const dirs = tailDirs();
  writeFileSync(path.join(dirs.logDir, 'kong-1.log'), jsonLines(0, 3, 'one'));
  const run = await startTail(dirs, { patterns: ['kong-*.log'] });
  try {
    await waitFor('first file', () => run.recorded.length >= 3);
    writeFileSync(path.join(dirs.logDir, 'other.log'), jsonLines(100, 103, 'other'));
    writeFileSync(path.join(dirs.logDir, 'kong-2.log'), jsonLines(3, 6, 'two'));
    await waitFor('second file', () => run.recorded.length >= 6);
    append(path.join(dirs.logDir, 'kong-2.log'), jsonLines(6, 8, 'two'));
    append(path.join(dirs.logDir, 'kong-1.log'), jsonLines(8, 10, 'one'));
    await waitFor('appended lines of both files', () => run.recorded.length >= 10);
    await pause(200);
    assert.deepEqual(
      seqs(run.recorded).sort((a, b) => a - b),
      range(0, 10),
    );
    assert.deepEqual(
      run
        .files()
        .map((f) => path.basename(f.path))
        .sort(),
      ['kong-1.log', 'kong-2.log'],
    );
    assert.equal(run.source.ready, true);
  } finally {
    await run.stop();
  }
});

test('a plain path without glob characters is tailed, and found again when it is recreated', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'kong.log');
  writeFileSync(file, jsonLines(0, 3));
  writeFileSync(path.join(dirs.logDir, 'kong.log.1'), jsonLines(100, 103));
  const run = await startTail(dirs, { patterns: ['kong.log'] });
  try {
    await waitFor('lines of the file', () => run.recorded.length >= 3);
    unlinkSync(file);
    writeFileSync(file, jsonLines(3, 6));
    await waitFor('lines of the recreated file', () => run.recorded.length >= 6);
    await pause(100);
    assert.deepEqual(seqs(run.recorded), range(0, 6));
  } finally {
    await run.stop();
  }
});

test('a partial last line waits for its newline', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const second = jsonLines(1, 2);
  writeFileSync(file, jsonLines(0, 1) + second.slice(0, 25));
  const run = await startTail(dirs);
  try {
    await waitFor('first line', () => run.recorded.length >= 1);
    await waitFor('the partial line was looked at', () => run.stats.bytesRead === jsonLines(0, 1).length + 25);
    await pause(200);
    assert.equal(run.recorded.length, 1);
    append(file, second.slice(25, 40));
    await pause(100);
    assert.equal(run.recorded.length, 1);
    append(file, second.slice(40));
    await waitFor('second line once complete', () => run.recorded.length >= 2);
    assert.equal(run.recorded[1], second.trimEnd());
    assert.deepEqual(run.stats.invalid, {});
  } finally {
    await run.stop();
  }
});

test('a directory that does not exist makes the source not ready until it appears', async () => {
  const dirs = tailDirs();
  const run = await startTail(dirs, { patterns: ['later/*.log'] });
  try {
    assert.equal(run.source.ready, false);
    const status = run.source.status() as { patterns: { error: string | null }[] };
    assert.match(status.patterns[0].error ?? '', /ENOENT/);
    mkdirSync(path.join(dirs.logDir, 'later'));
    writeFileSync(path.join(dirs.logDir, 'later', 'a.log'), jsonLines(0, 3));
    await waitFor('ready', () => run.source.ready);
    await waitFor('lines of the file in the new directory', () => run.recorded.length >= 3);
    assert.deepEqual(seqs(run.recorded), range(0, 3));
  } finally {
    await run.stop();
  }
});
