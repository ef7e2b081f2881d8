/**
 * Log rotation under load: logrotate-style rename rotation every few hundred milliseconds while
 * Kong writes at full speed, copytruncate rotation, and rotations while the relay is down (after
 * a kill -9). The glob matches only the live file name, as in the shipped configs: rotated files
 * are finished through their open descriptor or found again by identity (in their directory)
 * after a restart; one moved to another directory while the relay is down is reported as lost.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Daemon } from './support/daemon.ts';
import { waitFor } from './support/daemon.ts';
import { generate } from './support/kong.ts';
import {
  account,
  deadLetters,
  Fleet,
  kill9,
  LogWriter,
  readCheckpoint,
  settled,
  waitForAll,
} from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';
import { SeededRandom } from './support/seeded-random.ts';
import type { WebhookReceiver } from '../tools/webhook-receiver.ts';

const fleet = new Fleet();
const report = reliabilityReport('reliability-rotation');
/** logrotate's `rotate N`: older files are deleted. */
const KEEP = 4;

interface FileView {
  path: string;
  size: number;
  readOffset: number;
  rotated: boolean;
}

function config(dir: string, logFile: string, hook: WebhookReceiver): string {
  return `
sources:
  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms, rotate_wait: 1s }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "${hook.url}/all", encoding: ndjson, concurrency: 4, batch: { max_events: 200, max_wait: 50ms } }
state_dir: ${dir}/state
shutdown_timeout: 2s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
}

async function setup(prefix: string): Promise<{ dir: string; logFile: string; hook: WebhookReceiver }> {
  const { dir, logFile } = fleet.kongLogDir(prefix);
  return { dir, logFile, hook: await fleet.receiver() };
}

/** logrotate's rename rotation: kong.log.N-1 → kong.log.N …, kong.log → kong.log.1, the oldest deleted. */
function renameRotate(logFile: string): void {
  rmSync(`${logFile}.${KEEP}`, { force: true });
  for (let n = KEEP - 1; n >= 1; n--)
    if (existsSync(`${logFile}.${n}`)) renameSync(`${logFile}.${n}`, `${logFile}.${n + 1}`);
  renameSync(logFile, `${logFile}.1`);
  writeFileSync(logFile, ''); // `create`
}

/** logrotate's copytruncate: the live file is copied away and emptied in place. */
function copyTruncate(logFile: string): void {
  rmSync(`${logFile}.${KEEP}`, { force: true });
  for (let n = KEEP - 1; n >= 1; n--)
    if (existsSync(`${logFile}.${n}`)) renameSync(`${logFile}.${n}`, `${logFile}.${n + 1}`);
  copyFileSync(logFile, `${logFile}.1`);
  truncateSync(logFile, 0);
}

/** The four parts of a kill-rotate-restart run (see killRotateRestart). */
interface DownParts<E> {
  readonly before: readonly E[];
  readonly whileDown: readonly E[];
  readonly afterRotation: readonly E[];
  readonly afterRestart: readonly E[];
}

/**
 * Kong keeps writing while the relay dies: `before` is appended steadily and the relay is killed
 * (-9) once half of it arrived; while it is down `whileDown` goes into the old file, `rotate`
 * moves that file away and leaves an empty live one, and `afterRotation` goes into the new file;
 * then a relay starts again and `afterRestart` follows. `whileKilled` looks at the state left by
 * the kill, before anything else is written. Returns the restarted relay.
 */
async function killRotateRestart<E extends { id: string; text: string }>(
  daemon: Daemon,
  restart: () => Promise<Daemon>,
  hook: WebhookReceiver,
  writer: LogWriter,
  parts: DownParts<E>,
  rotate: () => void,
  whileKilled: () => void = () => undefined,
): Promise<Daemon> {
  const writing = writer.appendSteadily(parts.before, 50, 10);
  await waitFor(() => hook.count('/all') >= parts.before.length / 2, 30_000, 'half of the first part delivered');
  await kill9(daemon);
  await writing;
  whileKilled();
  writer.append(parts.whileDown); // written before the rotation, never seen by the relay
  rotate();
  writer.startOver();
  writer.append(parts.afterRotation);
  const restarted = await restart();
  writer.append(parts.afterRestart);
  return restarted;
}

/**
 * Kong at full speed: 25 entries appended every 5 ms (about 5,000 entries or 11 MB a second,
 * far more than one Kong node logs), with `rotate` called at seeded intervals.
 */
async function writeWithRotations(
  writer: LogWriter,
  entries: readonly { id: string; text: string }[],
  random: SeededRandom,
  rotate: () => Promise<void> | void,
): Promise<number> {
  let rotations = 0;
  let due = Date.now() + random.int(150, 400);
  for (let i = 0; i < entries.length; i += 25) {
    writer.append(entries.slice(i, i + 25));
    await new Promise((r) => setTimeout(r, 5));
    if (Date.now() >= due) {
      await rotate();
      rotations++;
      due = Date.now() + random.int(150, 400);
    }
  }
  return rotations;
}

async function liveFile(daemon: Daemon, logFile: string): Promise<FileView | undefined> {
  const s = (await daemon.status()) as { sources: { tail: { files: FileView[] } } };
  return s.sources.tail.files.find((f) => f.path === logFile && !f.rotated);
}

describe('reliability: rotation storm', () => {
  it('rename rotation every few hundred ms while writing at full speed: every entry arrives', async () => {
    const row = report.row('rotation storm: rename (logrotate create)');
    const { dir, logFile, hook } = await setup('klr-rel-rot-rename-');
    const daemon = await fleet.daemon(dir, config(dir, logFile, hook));
    const entries = generate(8000, { seed: 501 });
    const writer = new LogWriter(logFile);
    const rotations = await writeWithRotations(writer, entries, new SeededRandom(501), () => renameRotate(logFile));
    const owed = entries.map((e) => e.id);
    await waitForAll(() => [{ name: 'hook', owed, arrived: hook.entries('/all') }], 60_000, 'every entry');
    const abandoned = await daemon.metric('kong_log_relay_file_bytes_abandoned_total');
    await daemon.stop();
    const result = account(entries.length, [{ name: 'hook', owed, arrived: hook.entries('/all') }]);
    row
      .describe(
        `${entries.length} entries (~${Math.round((entries.length * 2.3) / 1000)} MB) appended at ~5,000 entries/s, 25 per write`,
        `${rotations} rename rotations at seeded 150–400 ms intervals, ${KEEP} rotated files kept (older ones deleted)`,
      )
      .set(result)
      .note(`${abandoned} bytes abandoned`);
    assert.ok(rotations >= 3, `the writer outlasted a few rotations (${rotations})`);
    assert.deepEqual(result.missing, { hook: [] });
    assert.deepEqual(result.unexpected, { hook: [] });
    assert.equal(result.duplicated, 0, 'no restart, no failure: nothing twice');
    assert.equal(abandoned, 0);
    row.pass();
  });

  it('copytruncate every few hundred ms while writing at full speed: every entry arrives once the relay has read the file before each truncation', async () => {
    const row = report.row('rotation storm: copytruncate');
    const { dir, logFile, hook } = await setup('klr-rel-rot-copy-');
    const daemon = await fleet.daemon(dir, config(dir, logFile, hook));
    const entries = generate(6000, { seed: 502 });
    const writer = new LogWriter(logFile);
    // copytruncate loses whatever the relay has not read when the file is emptied (the same window
    // loses lines for logrotate itself): a rotation here waits until the relay is at the end.
    const rotations = await writeWithRotations(writer, entries, new SeededRandom(502), async () => {
      await waitFor(
        async () => {
          const f = await liveFile(daemon, logFile);
          return f !== undefined && f.readOffset === writer.size;
        },
        30_000,
        'the relay at the end of the file',
      );
      copyTruncate(logFile);
      writer.startOver();
    });
    const owed = entries.map((e) => e.id);
    await waitForAll(() => [{ name: 'hook', owed, arrived: hook.entries('/all') }], 60_000, 'every entry');
    const abandoned = await daemon.metric('kong_log_relay_file_bytes_abandoned_total');
    await daemon.stop();
    const result = account(entries.length, [{ name: 'hook', owed, arrived: hook.entries('/all') }]);
    row
      .describe(
        `${entries.length} entries appended at ~5,000 entries/s, 25 per write`,
        `${rotations} copytruncate rotations at seeded 150–400 ms intervals (each once the relay had read to the end)`,
      )
      .set(result)
      .note(`${abandoned} bytes abandoned`);
    assert.ok(rotations >= 3, `the writer outlasted a few rotations (${rotations})`);
    assert.deepEqual(result.missing, { hook: [] });
    assert.deepEqual(result.unexpected, { hook: [] });
    assert.equal(result.duplicated, 0);
    row.pass();
  });

  it('copytruncate without waiting for the relay: what it had not read is lost, but never silently', async () => {
    const row = report.row('rotation storm: copytruncate, relay behind');
    const { dir, logFile, hook } = await setup('klr-rel-rot-copy-fast-');
    // A slow destination keeps the relay behind the writer.
    hook.fault = () => ({ stallMs: 20 });
    const daemon = await fleet.daemon(
      dir,
      config(dir, logFile, hook).replace('concurrency: 4,', 'concurrency: 1, buffer: { max_events: 400 },'),
    );
    const entries = generate(6000, { seed: 503 });
    const writer = new LogWriter(logFile);
    const rotations = await writeWithRotations(writer, entries, new SeededRandom(503), () => {
      copyTruncate(logFile);
      writer.startOver();
    });
    hook.fault = null;
    const owed = entries.map((e) => e.id);
    // Settled: the live file read to its end and nothing buffered.
    await waitFor(
      async () => {
        const f = await liveFile(daemon, logFile);
        const s = (await daemon.status()) as { destinations: { hook: { bufferedEvents: number; inFlight: number } } };
        return (
          f !== undefined &&
          f.readOffset === writer.size &&
          s.destinations.hook.bufferedEvents === 0 &&
          s.destinations.hook.inFlight === 0
        );
      },
      60_000,
      'the relay caught up',
    );
    const abandoned = await daemon.metric('kong_log_relay_file_bytes_abandoned_total');
    const truncations = daemon.logs.filter((l) => /truncated or rewritten in place/.test(l.msg));
    const byRead = truncations.filter((l) => /no longer a newline/.test(String(l.detectedBy))).length;
    await daemon.stop();
    const result = account(entries.length, [{ name: 'hook', owed, arrived: hook.entries('/all') }]);
    // A truncation-and-refill no poll has noticed yet is noticed by the next read instead (the byte
    // before its offset is no longer a newline): no read starts mid-line, so no fragment is dead-lettered.
    const fragments = deadLetters(path.join(dir, 'state')).filter((d) => d.reason === 'invalid_json').length;
    row
      .describe(
        `${entries.length} entries appended at ~5,000 entries/s; a slow webhook keeps the relay behind`,
        `${rotations} copytruncate rotations at seeded 150–400 ms intervals, not waiting for the relay`,
      )
      .lossByDesign()
      .set(result)
      .note(
        `loss expected: copytruncate empties what the relay has not read (use rename rotation with reopen: true); every truncation logged (${truncations.length}, ${byRead} of them noticed by a read before a poll), file_bytes_abandoned_total ${abandoned} bytes (a lower bound: growth since the last poll is unknown); ${fragments} mid-line fragments dead-lettered`,
      );
    assert.ok(rotations >= 3);
    assert.deepEqual(result.unexpected, { hook: [] }, 'nothing half-read or foreign is delivered');
    assert.ok(truncations.length >= 1, 'truncations are logged');
    assert.equal(fragments, 0, 'no read starts in the middle of a line');
    row.pass();
  });

  it('rotations while the relay is down after kill -9: the rotated file is finished from its checkpoint, the new one read from its start', async () => {
    const row = report.row('rename rotation while the relay is down (kill -9)');
    const { dir, logFile, hook } = await setup('klr-rel-rot-down-');
    const yaml = config(dir, logFile, hook);
    const entries = generate(3000, { seed: 504 });
    const [before, whileDown, afterRotation, afterRestart] = [
      entries.slice(0, 1200),
      entries.slice(1200, 1800),
      entries.slice(1800, 2400),
      entries.slice(2400),
    ];
    const daemon = await killRotateRestart(
      await fleet.daemon(dir, yaml),
      () => fleet.daemon(dir, yaml),
      hook,
      new LogWriter(logFile),
      { before, whileDown, afterRotation, afterRestart },
      () => renameRotate(logFile),
    );
    const owed = entries.map((e) => e.id);
    await waitForAll(() => [{ name: 'hook', owed, arrived: hook.entries('/all') }], 60_000, 'every entry');
    const abandoned = await daemon.metric('kong_log_relay_file_bytes_abandoned_total');
    await daemon.stop();
    const result = account(entries.length, [{ name: 'hook', owed, arrived: hook.entries('/all') }]);
    row
      .describe(
        `${entries.length} entries: ${before.length} before the kill, ${whileDown.length} while down before the rotation, ${afterRotation.length} after it, ${afterRestart.length} after the restart`,
        'kill -9 mid-stream, rename rotation while down',
      )
      .set(result)
      .note(`${abandoned} bytes abandoned; duplicates = delivered but not yet checkpointed at the kill`);
    assert.deepEqual(result.missing, { hook: [] });
    assert.deepEqual(result.unexpected, { hook: [] });
    assert.ok(result.duplicated <= before.length, 'only entries of the file read before the kill arrive twice');
    for (const id of result.duplicates.hook.keys())
      assert.ok(
        before.some((e) => e.id === id),
        'duplicates come from before the kill only',
      );
    assert.equal(abandoned, 0);
    row.pass();
  });

  it('a rotation to another directory while the relay is down after kill -9: what was not read is lost, with a warning and a metric', async () => {
    const row = report.row('rotation to another directory while the relay is down (kill -9)');
    const { dir, logFile, hook } = await setup('klr-rel-rot-olddir-');
    const yaml = config(dir, logFile, hook);
    const entries = generate(2400, { seed: 505 });
    const [before, whileDown, afterRotation, afterRestart] = [
      entries.slice(0, 1200),
      entries.slice(1200, 1600),
      entries.slice(1600, 2000),
      entries.slice(2000),
    ];
    const writer = new LogWriter(logFile);
    let checkpoint: { path: string; offset: number; size: number } | undefined;
    const daemon = await killRotateRestart(
      await fleet.daemon(dir, yaml),
      () => fleet.daemon(dir, yaml),
      hook,
      writer,
      { before, whileDown, afterRotation, afterRestart },
      () => {
        // logrotate with `olddir`: the rotated file leaves the directory the relay looks in.
        mkdirSync(path.join(dir, 'old'));
        renameSync(logFile, path.join(dir, 'old', 'kong.log.1'));
        writeFileSync(logFile, '');
      },
      () => {
        checkpoint = readCheckpoint(path.join(dir, 'state'), 'tail').find((f) => f.path === logFile);
      },
    );
    assert.ok(checkpoint !== undefined, 'the live file is in the checkpoint');
    const newFile = [...afterRotation, ...afterRestart].map((e) => e.id);
    await waitForAll(
      () => [{ name: 'hook', owed: newFile, arrived: hook.entries('/all') }],
      60_000,
      'every entry of the new file',
    );
    await settled(() => hook.count('/all'), 'nothing more arriving');
    const notFound = await daemon.metric('kong_log_relay_files_not_found_total');
    const abandoned = await daemon.metric('kong_log_relay_file_bytes_abandoned_total');
    const warnings = daemon.logs.filter((l) => /was not found again/.test(l.msg));
    await daemon.stop();
    const owed = entries.map((e) => e.id);
    const result = account(entries.length, [{ name: 'hook', owed, arrived: hook.entries('/all') }]);
    const known = checkpoint.size - checkpoint.offset;
    row
      .describe(
        `${entries.length} entries: ${before.length} before the kill, ${whileDown.length} while down before the rotation, ${afterRotation.length} after it, ${afterRestart.length} after the restart`,
        'kill -9 mid-stream; while down the file is renamed into another directory (logrotate olddir) and a new one created',
      )
      .lossByDesign()
      .set(result)
      .note(
        `loss expected: the relay finds a rotated file again only in its own directory (keep rotated files there, or add their new place to paths); lost = what the old file held after its checkpoint offset, mostly written after the kill; warnings naming the file: ${warnings.length}; files_not_found_total ${notFound}; file_bytes_abandoned_total ${abandoned} (only what the checkpoint knew the file held past its offset)`,
      );
    assert.deepEqual(result.unexpected, { hook: [] });
    const lost = new Set(result.missing.hook);
    for (const e of whileDown)
      assert.ok(lost.has(e.id), 'the entries written while down into the moved file are not read');
    for (const id of lost)
      assert.ok(
        (writer.offsets.get(id) ?? -1) >= checkpoint.offset && !newFile.includes(id),
        'only what the old file held after its checkpoint is lost',
      );
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].file, logFile);
    assert.equal(warnings[0].unreadBytes, known);
    assert.equal(notFound, 1);
    assert.equal(abandoned, known);
    row.pass();
  });
});
