/**
 * A `**` glob over a directory with self-referencing symlinks. Before, chokidar followed
 * directory links without a cycle check: start-up took 16–94 s and 0.5–4 GB of memory. Now
 * directory symlinks are not followed unless `follow_symlinks: true`, and then each real
 * directory is walked once (device + inode); the walk is bounded in any case.
 */
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { FileSource } from '../src/sources/file/file-source.ts';
import {
  append,
  jsonLines,
  seqs,
  startTail,
  type TailDirs,
  tailDirs,
  type TailRun,
  waitFor,
} from './support/file-tail-harness.ts';

/** logs/{a.log, sub/b.log} plus five links that lead back into the tree. */
function loopyTree(): TailDirs {
  const dirs = tailDirs();
  const sub = path.join(dirs.logDir, 'sub');
  mkdirSync(sub);
  writeFileSync(path.join(dirs.logDir, 'a.log'), jsonLines(0, 1));
  writeFileSync(path.join(sub, 'b.log'), jsonLines(1, 2));
  symlinkSync('.', path.join(dirs.logDir, 'self'));
  symlinkSync(dirs.logDir, path.join(dirs.logDir, 'again'));
  symlinkSync('..', path.join(sub, 'up'));
  symlinkSync('.', path.join(sub, 'here'));
  symlinkSync(dirs.root, path.join(sub, 'root'));
  return dirs;
}

/** Start, failing (instead of hanging) if the walk does not end. */
async function startBounded(dirs: TailDirs, followSymlinks: boolean): Promise<TailRun> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the source did not start within 30 s')), 30_000);
  });
  try {
    return await Promise.race([startTail(dirs, { patterns: ['**/*.log'], followSymlinks }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

for (const followSymlinks of [false, true]) {
  test(`a ** glob over self-referencing symlinks (follow_symlinks: ${followSymlinks}): starts, each file tailed once, memory bounded`, async () => {
    const dirs = loopyTree();
    const rssBefore = process.memoryUsage().rss;
    const run = await startBounded(dirs, followSymlinks);
    try {
      assert.ok(run.source instanceof FileSource);
      await waitFor('both files', () => run.recorded.length >= 2);
      const paths = run
        .files()
        .map((f) => path.relative(dirs.logDir, f.path))
        .sort();
      assert.deepEqual(paths, ['a.log', path.join('sub', 'b.log')], 'each real file once, under its own name');
      // Written after the start: still one delivery each, however many link paths lead to the file.
      append(path.join(dirs.logDir, 'sub', 'b.log'), jsonLines(2, 3));
      await waitFor('the new line', () => run.recorded.length >= 3);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(seqs(run.recorded).sort(), [0, 1, 2]);
      const grownMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
      assert.ok(grownMiB < 200, `memory grew by ${grownMiB.toFixed(0)} MiB`);
    } finally {
      await run.stop();
    }
  });
}

test('symlinks to files, as in /var/log/containers: writes in the targets are seen by their directory watch, without a poll', async () => {
  const dirs = tailDirs();
  const containers = path.join(dirs.logDir, 'containers');
  mkdirSync(containers);
  const targets = [0, 1, 2].map((i) => path.join(dirs.logDir, 'pods', `ns_pod-${i}_uid`, 'app', '0.log'));
  targets.forEach((t, i) => {
    mkdirSync(path.dirname(t), { recursive: true });
    writeFileSync(t, '');
    symlinkSync(t, path.join(containers, `pod-${i}_ns_app-${i}.log`));
  });
  // No poll in the test's lifetime: only the directory watches say that a file grew.
  const run = await startTail(dirs, { patterns: ['containers/*.log'], pollInterval: '1h' });
  try {
    targets.forEach((t, i) => append(t, jsonLines(i, i + 1)));
    await waitFor('a line from each target', () => run.recorded.length >= 3);
    assert.deepEqual(seqs(run.recorded).sort(), [0, 1, 2]);
  } finally {
    await run.stop();
  }
});
