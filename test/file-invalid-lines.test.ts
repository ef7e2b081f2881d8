import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  append,
  deadLetterRecords,
  jsonLines,
  range,
  readCheckpoint,
  seqs,
  startTail,
  tailDirs,
  waitFor,
} from './support/file-tail-harness.ts';

test('over-long lines and lines that are not JSON objects are counted and dead-lettered; the tail goes on', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const huge = `{"token":"SECRET-TOKEN-1","pad":"${'x'.repeat(200 * 1024)}"}`; // spans several reads
  const long = `{"token":"SECRET-TOKEN-2","pad":"${'y'.repeat(6 * 1024)}"}`; // fits in one read
  const parts = [
    jsonLines(0, 1),
    'not json at all password=hunter2\n',
    jsonLines(1, 2),
    '[1,2,3]\n',
    '\n',
    '   \t \n',
    jsonLines(2, 3).replace('\n', '\r\n'),
    `${huge}\n`,
    jsonLines(3, 4),
    `${long}\n`,
    jsonLines(4, 5),
    '{"broken":\n',
    jsonLines(5, 6),
  ];
  const offsets: number[] = [];
  let at = 0;
  for (const p of parts) {
    offsets.push(at);
    at += Buffer.byteLength(p);
  }
  writeFileSync(file, parts.join(''));
  const run = await startTail(dirs, { maxLineBytes: '4KiB' });
  try {
    await waitFor('valid lines', () => run.recorded.length >= 6);
    assert.deepEqual(seqs(run.recorded), range(0, 6));
    assert.equal(run.recorded[2], jsonLines(2, 3).trimEnd(), 'the CR of a CRLF line is stripped');
    assert.deepEqual(run.stats.invalid, { invalid_json: 3, line_too_long: 2 });

    await waitFor(
      'checkpoint past the dead-lettered lines',
      () => readCheckpoint(dirs.stateDir)?.files[0]?.offset === at,
    );
    const records = deadLetterRecords(run.config.deadLetter.dir);
    assert.deepEqual(
      records.map((r) => [r.reason, (r.context as { offset: number }).offset]),
      [
        ['invalid_json', offsets[1]],
        ['invalid_json', offsets[3]],
        ['line_too_long', offsets[7]],
        ['line_too_long', offsets[9]],
        ['invalid_json', offsets[11]],
      ],
    );
    for (const r of records) {
      assert.equal(r.source, 'logs');
      assert.equal((r.context as { file: string }).file, file);
    }
    assert.equal(records[0].raw, 'not json at all password=hunter2');
    assert.equal(records[1].raw, '[1,2,3]');
    // (compared as booleans: a failed comparison of 64 KiB strings floods the output)
    assert.ok(records[2].raw === huge.slice(0, 64 * 1024), 'an over-long line keeps a 64 KiB prefix');
    assert.equal((records[2].context as { bytes: number }).bytes, Buffer.byteLength(huge));
    assert.ok(records[3].raw === long, 'an over-long line within one read is kept whole up to 64 KiB');

    // Logged at a limited rate, with where and why, never with the line's content.
    const logText = JSON.stringify(run.logs);
    assert.ok(run.logged('not a JSON object').length >= 1);
    assert.ok(run.logged('longer than max_line_bytes').length >= 1);
    for (const secret of ['hunter2', 'SECRET-TOKEN', 'xxxxxxxx'])
      assert.ok(!logText.includes(secret), `log must not contain ${secret}`);

    append(file, jsonLines(6, 10));
    await waitFor('lines after the bad ones', () => run.recorded.length >= 10);
    assert.deepEqual(seqs(run.recorded), range(0, 10));
  } finally {
    await run.stop();
  }
});

test('an over-long line still being written is skipped without being buffered whole', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 1) + '{"pad":"' + 'z'.repeat(300 * 1024));
  const run = await startTail(dirs, { maxLineBytes: '16KiB' });
  try {
    await waitFor('first line and the long one looked at', () => run.stats.bytesRead >= 300 * 1024);
    append(file, 'z'.repeat(300 * 1024) + '"}\n' + jsonLines(1, 3));
    await waitFor('lines after the long one', () => run.recorded.length >= 3);
    assert.deepEqual(seqs(run.recorded), range(0, 3));
    assert.deepEqual(run.stats.invalid, { line_too_long: 1 });
  } finally {
    await run.stop();
  }
});

test('a dead-letter write that fails holds the checkpoint before the bad line until it succeeds', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const run = await startTail(dirs);
  // A file where the source's dead-letter directory must be.
  mkdirSync(path.dirname(run.config.deadLetter.dir), { recursive: true });
  writeFileSync(run.config.deadLetter.dir, 'in the way');
  try {
    append(file, jsonLines(0, 2) + 'garbage\n' + jsonLines(2, 4));
    await waitFor('valid lines', () => run.recorded.length >= 4);
    await waitFor('write failure logged', () => run.logged('cannot write the source dead-letter file').length >= 1);
    const goodPart = jsonLines(0, 2).length;
    assert.ok(run.files()[0].ackedOffset <= goodPart);
    rmSync(run.config.deadLetter.dir);
    const end = Buffer.byteLength(jsonLines(0, 2) + 'garbage\n' + jsonLines(2, 4));
    await waitFor('checkpoint past the line once it is written', () => run.files()[0].ackedOffset === end);
    assert.equal(deadLetterRecords(run.config.deadLetter.dir).length, 1);
  } finally {
    await run.stop();
  }
});
