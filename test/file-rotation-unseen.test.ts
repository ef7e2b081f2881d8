/**
 * Rotations the relay did not see happen: copytruncate followed by more writes than the relay
 * had read before any poll noticed the truncation, and files rotated out of the globs while
 * the relay was stopped.
 */
import assert from 'node:assert/strict';
import { mkdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { FileSource as FileSourceConfig } from '../src/config/resolve.ts';
import { FileRegistry } from '../src/sources/file/file-registry.ts';
import { FINGERPRINT_BYTES } from '../src/sources/file/tracked-file.ts';
import { createLogger, RateLimitedLog } from '../src/telemetry/log.ts';
import { SourceStats } from '../src/telemetry/metrics.ts';
import { configFromYaml } from './support/pipeline.ts';
import { RecordingSink } from './support/recording-sink.ts';
import {
  append,
  deadLetterRecords,
  jsonLines,
  range,
  readCheckpoint,
  runUntilRecorded,
  seqs,
  startTail,
  tailDirs,
  type LogLine,
  type TailRun,
  waitFor,
} from './support/file-tail-harness.ts';

/** A full buffer pauses reading after the first read (64 KiB) while the destination is stalled. */
const SMALL_BLOCKING_BUFFER =
  '    concurrency: 1\n    buffer: { max_events: 20, when_full: block }\n    batch: { max_events: 10, max_wait: 10ms }';

/**
 * Kong writes the service and route objects first: entries of one route can share their first
 * few hundred bytes, more than the fingerprint (256 bytes) covers.
 */
function sameStartLines(from: number, to: number, tag: string): string {
  const service = `"service":{"id":"6e2a1c4e-0000-4000-8000-000000000001","name":"orders","host":"orders.internal","port":8080,"protocol":"http","path":"/v1/orders","retries":5,"connect_timeout":60000,"read_timeout":60000,"write_timeout":60000,"created_at":1700000000,"updated_at":1700000000}`;
  let out = '';
  for (let i = from; i < to; i++) out += `{${service},"seq":${i},"tag":"${tag}","response":{"status":200}}\n`;
  return out;
}

function invalidJson(run: TailRun): unknown[] {
  return deadLetterRecords(run.config.deadLetter.dir).filter((r) => r.reason === 'invalid_json');
}

test('copytruncate refilled past the read offset while the relay is behind: the new lines are read from their start, none torn', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const old = jsonLines(0, 2000, 'old');
  writeFileSync(file, old);
  const sink = new RecordingSink();
  sink.stall();
  // No poll in the test's lifetime: only reads look at the file, so nothing notices the truncation by size.
  const run = await startTail(dirs, { pollInterval: '1h', delivery: SMALL_BLOCKING_BUFFER }, sink);
  try {
    await waitFor('reading paused by the full buffer', () => (run.source.status() as { paused: boolean }).paused);
    const offset = run.files()[0].readOffset;
    assert.ok(offset > 0 && offset < old.length, 'the relay is behind');
    // copytruncate, then Kong writes more than the relay had read.
    truncateSync(file, 0);
    const fresh = jsonLines(5000, 6000, 'new');
    writeFileSync(file, fresh);
    assert.ok(
      fresh.length > offset && fresh[offset - 1] !== '\n',
      'the old offset falls inside a line of the new content',
    );
    sink.resume();
    const readBefore = seqs(
      old
        .slice(0, offset)
        .split('\n')
        .filter((l) => l !== ''),
    ).length;
    await waitFor('every new line', () => run.recorded.length >= readBefore + 1000);
    await waitFor('read to the end', () => run.files()[0].readOffset === fresh.length);
    assert.deepEqual(
      seqs(run.recorded),
      [...range(0, readBefore), ...range(5000, 6000)],
      'each new line once, in order, after the old lines read before',
    );
    assert.deepEqual(invalidJson(run), []);
    assert.deepEqual(run.stats.invalid, {});
    const warnings = run.logged('truncated or rewritten in place');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, 40);
    assert.equal(warnings[0].file, file);
    assert.match(warnings[0].msg, /no longer a newline/);
    assert.equal(run.stats.bytesAbandoned, old.length - offset, 'the old lines it had not read are counted');
  } finally {
    await run.stop();
  }
});

test('copytruncate refilled past the checkpoint while the relay was stopped, same first bytes: read from the start, none torn', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const old = sameStartLines(0, 100, 'old');
  writeFileSync(file, old);
  const _first = await runUntilRecorded(dirs, 100);
  assert.equal(readCheckpoint(dirs.stateDir)?.files[0].offset, old.length);
  truncateSync(file, 0);
  const fresh = sameStartLines(100, 300, 'new');
  writeFileSync(file, fresh);
  assert.equal(
    fresh.slice(0, FINGERPRINT_BYTES),
    old.slice(0, FINGERPRINT_BYTES),
    'the fingerprint cannot tell the contents apart',
  );
  assert.ok(
    fresh.length > old.length && fresh[old.length - 1] !== '\n',
    'the checkpoint falls inside a line of the new content',
  );
  const second = await startTail(dirs);
  try {
    await waitFor('every new line', () => second.recorded.length >= 200);
    await waitFor('read to the end', () => second.files()[0].readOffset === fresh.length);
    assert.deepEqual(seqs(second.recorded), range(100, 300));
    assert.deepEqual(invalidJson(second), []);
    const warnings = second.logged('no line boundary at its checkpoint offset');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, 40);
    assert.equal(warnings[0].file, file);
    assert.equal(second.stats.bytesAbandoned, 0, 'the old content had been read to its end');
  } finally {
    await second.stop();
  }
});

test('growth only a read has seen still gets the first bytes checked at the next poll', async () => {
  // A refill that happens to keep a line boundary at the old offset (lines of one length) passes
  // the read's check; the fingerprint then notices it, and the file is read again from its start.
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const line = (tag: string, i: number): string =>
    `{"tag":"${tag}","seq":${String(i).padStart(4, '0')},"pad":"${'x'.repeat(200)}"}\n`;
  writeFileSync(
    file,
    range(0, 10)
      .map((i) => line('old', i))
      .join(''),
  );
  const config = configFromYaml(
    `
state_dir: ${JSON.stringify(dirs.stateDir)}
admin: false
sources: { logs: { type: file, paths: [${JSON.stringify(file)}] } }
destinations: { hook: { type: webhook, url: "http://127.0.0.1:9/unused" } }
workspaces: { "*": { to: [hook] } }
`,
    dirs.root,
  );
  const logs: LogLine[] = [];
  const log = createLogger(
    { level: 'debug', format: 'json' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l !== '') logs.push(JSON.parse(l) as LogLine);
        done();
      },
    }),
  );
  const registry = new FileRegistry(
    config.sources[0] as FileSourceConfig,
    log,
    new RateLimitedLog(log),
    new SourceStats('kong_file', 'file'),
    () => undefined,
  );
  try {
    await registry.checkPath(file, 'new');
    const tracked = [...registry.files.values()][0];
    tracked.readOffset = tracked.scanEnd = tracked.size;
    truncateSync(file, 0);
    const fresh = range(0, 20)
      .map((i) => line('new', i))
      .join('');
    writeFileSync(file, fresh);
    // What a read of the new content from the old offset records: the new size.
    tracked.observeSize(fresh.length, Date.now());
    await registry.refresh(tracked, Date.now());
    assert.equal(tracked.readOffset, 0, 'read again from the start');
    assert.equal(logs.filter((l) => l.level === 40 && /first bytes changed/.test(l.msg)).length, 1);
  } finally {
    await registry.closeAll();
  }
});

test('a file renamed out of the globs while the relay was stopped is finished from its checkpoint', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 50));
  await runUntilRecorded(dirs, 50);
  append(file, jsonLines(50, 80));
  // logrotate without `create`, twice: access.log → access.log.1 → access.log.2 (the glob is *.log).
  renameSync(file, `${file}.1`);
  renameSync(`${file}.1`, `${file}.2`);
  const second = await startTail(dirs);
  try {
    await waitFor('the lines written while stopped', () => second.recorded.length >= 30);
    await waitFor('the rotated file closed once drained', () => second.files().length === 0);
    assert.deepEqual(seqs(second.recorded), range(50, 80));
    const renamed = second.logged('renamed while the relay was stopped');
    assert.equal(renamed.length, 1);
    assert.equal(renamed[0].file, file);
    assert.equal(renamed[0].renamedTo, `${file}.2`);
    assert.equal(second.stats.filesNotFound, 0);
    assert.equal(second.stats.bytesAbandoned, 0);
  } finally {
    await second.stop();
  }
});

test('files moved out of their directory or deleted while the relay was stopped: a warning each, with what is known to be unread, counted in /metrics', async () => {
  const dirs = tailDirs();
  const access = path.join(dirs.logDir, 'access.log');
  const other = path.join(dirs.logDir, 'other.log');
  writeFileSync(access, jsonLines(0, 50));
  writeFileSync(other, jsonLines(100, 110));
  const first = await startTail(dirs);
  const sink = first.sink as RecordingSink;
  await waitFor('the first lines', () => first.recorded.length >= 60);
  await waitFor(
    'both files checkpointed',
    () =>
      readCheckpoint(dirs.stateDir)?.files.length === 2 &&
      readCheckpoint(dirs.stateDir)?.files.every((f) => f.offset === f.size) === true,
  );
  // Lines read but not delivered at the shutdown: the checkpoint of access.log stays before them.
  sink.stall();
  const undelivered = jsonLines(50, 70);
  append(access, undelivered);
  await waitFor('the new lines read', () => first.stats.received === 80);
  sink.failWith = RecordingSink.retryable();
  sink.resume();
  await first.stop(300);
  const checkpoint = readCheckpoint(dirs.stateDir)?.files.find((f) => f.path === access);
  assert.ok(checkpoint !== undefined);
  assert.equal(checkpoint.size - checkpoint.offset, undelivered.length, 'read but not delivered: after the checkpoint');
  // While stopped: Kong writes on, logrotate moves access.log to olddir and compresses other.log.
  append(access, jsonLines(70, 80));
  append(other, jsonLines(110, 120));
  mkdirSync(path.join(dirs.logDir, 'old'));
  renameSync(access, path.join(dirs.logDir, 'old', 'access.log.1'));
  writeFileSync(`${other}.1.gz`, 'compressed');
  rmSync(other);
  const second = await startTail(dirs);
  try {
    const warnings = second.logged('was not found again');
    assert.equal(warnings.length, 2);
    for (const w of warnings) assert.equal(w.level, 40);
    const accessWarning = warnings.find((w) => w.file === access);
    const otherWarning = warnings.find((w) => w.file === other);
    assert.equal(accessWarning?.unreadBytes, undelivered.length);
    assert.match(accessWarning?.msg ?? '', new RegExp(`at least ${undelivered.length} bytes`));
    assert.equal(otherWarning?.unreadBytes, 0);
    assert.match(otherWarning?.msg ?? '', /an unknown amount/);
    assert.match(otherWarning?.msg ?? '', /delaycompress/);
    assert.equal(second.stats.filesNotFound, 2);
    assert.equal(second.stats.bytesAbandoned, undelivered.length);
    const metrics = await second.test.metrics.text();
    assert.match(metrics, /^kong_log_relay_files_not_found_total\{source="logs"\} 2$/m);
    assert.match(
      metrics,
      new RegExp(`^kong_log_relay_file_bytes_abandoned_total\\{source="logs"\\} ${undelivered.length}$`, 'm'),
    );
    assert.equal(
      (second.source.status() as { checkpoint: { unmatchedEntries: number } }).checkpoint.unmatchedEntries,
      0,
      'forgotten, not reported again',
    );
  } finally {
    await second.stop();
  }
});

test('a rotated file read to its end and deleted while the relay was stopped is forgotten without a warning', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 20));
  const first = await startTail(dirs, { rotateWait: '1h' });
  await waitFor('the first lines', () => first.recorded.length >= 20);
  renameSync(file, `${file}.1`);
  writeFileSync(file, '');
  await waitFor(
    'a rotated file, read to its end, in the checkpoint',
    () => readCheckpoint(dirs.stateDir)?.files.some((f) => f.rotated && f.offset === f.size) === true,
  );
  await first.stop();
  rmSync(`${file}.1`); // logrotate's `rotate N`
  const second = await startTail(dirs);
  try {
    assert.equal(second.logged('is gone; it had been read to its end').length, 1);
    assert.equal(second.logs.filter((l) => l.level >= 40).length, 0);
    assert.equal(second.stats.filesNotFound, 0);
    assert.equal(second.stats.bytesAbandoned, 0);
  } finally {
    await second.stop();
  }
});
