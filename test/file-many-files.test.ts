/**
 * Thousands of matching files (a Kubernetes node's /var/log/containers). Before, every poll
 * stat'ed every open file and chokidar kept a watcher per file: with 5,000 files each written
 * once, 87–94 entries of 5,000 arrived in 60 s, and idle files cut a live file's throughput.
 * Now directory events say which file grew, files with something to read are taken in turn,
 * and descriptors are capped (MAX_OPEN_FILES), idle ones closed and opened again when they grow.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MAX_OPEN_FILES } from '../src/sources/file/open-files.ts';
import { append, jsonLines, range, seqs, startTail, tailDirs, waitFor } from './support/file-tail-harness.ts';

const FILES = 2_000;

function fileName(logDir: string, i: number): string {
  return path.join(logDir, `pod-${String(i).padStart(5, '0')}_default_app-${i}.log`);
}

test(`${FILES} files each written once while tailed: every entry arrives once, with at most ${MAX_OPEN_FILES} descriptors open`, async () => {
  assert.ok(FILES > MAX_OPEN_FILES, 'more files than the descriptor cap');
  const dirs = tailDirs();
  for (let i = 0; i < FILES; i++) writeFileSync(fileName(dirs.logDir, i), '');
  const run = await startTail(dirs, { startAt: 'end', pollInterval: '250ms' });
  try {
    // Two lines per file, written at two moments: each file grows again after it was read (and maybe closed).
    for (let i = 0; i < FILES; i++) append(fileName(dirs.logDir, i), jsonLines(i, i + 1));
    for (let i = 0; i < FILES; i++) append(fileName(dirs.logDir, i), jsonLines(FILES + i, FILES + i + 1));
    await waitFor('every entry', () => run.recorded.length >= 2 * FILES, 60_000);
    assert.deepEqual(
      seqs(run.recorded).sort((a, b) => a - b),
      range(0, 2 * FILES),
    );
    const files = run.files();
    assert.equal(files.length, FILES);
    assert.ok(files.filter((f) => (f as { open?: boolean }).open).length <= MAX_OPEN_FILES);
    assert.equal(run.stats.bytesAbandoned, 0);
  } finally {
    await run.stop();
  }
});

test('files appearing in thousands beside idle ones are all read from their start', async () => {
  const dirs = tailDirs();
  for (let i = 0; i < 1_000; i++) writeFileSync(fileName(dirs.logDir, i), jsonLines(i, i + 1));
  const run = await startTail(dirs, { startAt: 'end', pollInterval: '250ms' });
  try {
    for (let i = 1_000; i < 2_000; i++) writeFileSync(fileName(dirs.logDir, i), jsonLines(i, i + 1));
    await waitFor('every new file', () => run.recorded.length >= 1_000, 60_000);
    assert.deepEqual(
      seqs(run.recorded).sort((a, b) => a - b),
      range(1_000, 2_000),
      'the new files from their start; the ones present at the first start from their end',
    );
  } finally {
    await run.stop();
  }
});
