/**
 * A state directory that cannot be written (disk full, or a path that is not a directory):
 * the relay says so clearly, keeps delivering what needs no disk, and keeps its guarantees:
 * checkpoints and `ack: delivered` answers do not move past entries that still need a
 * dead-letter write, invalid HTTP entries get 503 (Kong retries) instead of a 2xx, and nothing
 * is lost across a kill -9 while the disk is broken. Once it is writable again, everything
 * finishes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { smallTmpfs, stateUnderAFile, type BrokenDisk } from './support/broken-disk.ts';
import { Daemon, MAIN, waitFor } from './support/daemon.ts';
import { generate } from './support/kong.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';
import {
  account,
  deadLetters,
  Fleet,
  idsIn,
  kill9,
  LogWriter,
  readCheckpoint,
  TORN_TAIL,
  UNPARSABLE,
  waitForAll,
} from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';
import { freePort } from './support/tcp-gate.ts';

const fleet = new Fleet();
const report = reliabilityReport('reliability-disk');
/** Routed to the destination that rejects everything, so they need a dead-letter write. */
const REJECTED = new Set(['PUT', 'PATCH']);
const GARBAGE = ['this is not json', '{"truncated":', '\u0001\u0002 binary'];

interface StatusView {
  sources: {
    tail: { files: { path: string; ackedOffset: number }[]; checkpoint: { lastError: string | null } };
    kong: { requests: Record<string, number> };
  };
  destinations: Record<string, { lastError: { message: string } | null }>;
}

/** Run `kong-log-relay replay`; resolves with its exit code and stderr. */
function replay(config: string, file: string, to: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'replay', '-c', config, file, '--to', to], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

async function scenario(disk: BrokenDisk, base: string): Promise<void> {
  const row = report.row(`unwritable state dir: ${disk.kind}`);
  mkdirSync(path.join(base, 'logs'));
  const logFile = path.join(base, 'logs', 'kong.log');
  writeFileSync(logFile, '');
  const hook = await fleet.receiver();
  hook.fault = (req) => (req.url === '/reject' ? { status: 400 } : null);
  const port = await freePort();
  const yaml = `
sources:
  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { none: true }, ack: delivered, ack_timeout: 2s }
workspaces: { "*": { to: [hook] } }
rules:
  - { name: rejected, when: { methods: [PUT, PATCH] }, to: [reject] }
destinations:
  hook: { type: webhook, url: "${hook.url}/all", encoding: ndjson, batch: { max_events: 100, max_wait: 50ms } }
  reject: { type: webhook, url: "${hook.url}/reject", batch: { max_events: 100, max_wait: 50ms } }
defaults:
  # Few files, so that a writer starting a new file per failed write would soon rotate real dead letters away.
  dead_letter: { max_files: 3 }
state_dir: ${disk.dir}
shutdown_timeout: 2s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
  const writer = new LogWriter(logFile);
  const entries = generate(900, { seed: 601 });
  const [healthy, broken, afterKill] = [entries.slice(0, 300), entries.slice(300, 600), entries.slice(600)];
  const needsDeadLetter = (e: { method?: string; id: string }): boolean =>
    e.method !== undefined && REJECTED.has(e.method);
  const garbage = (n: number): { id: string; text: string; method?: string }[] =>
    GARBAGE.map((text, i) => ({ id: `garbage-${n}-${i}`, text }));

  let daemon: Daemon;
  if (disk.writableAtFirst) {
    daemon = await fleet.daemon(base, yaml);
    writer.append([...healthy.slice(0, 150), ...garbage(1), ...healthy.slice(150)]);
    await waitFor(
      () => readCheckpoint(disk.dir, 'tail')[0]?.offset === writer.size,
      30_000,
      'everything settled while the disk is fine',
    );
    disk.break();
  } else {
    disk.break();
    // A relay that cannot write its state does not start (issue 17): exit 3, the reason on stderr.
    const refused = Daemon.launch(base, yaml);
    assert.equal((await refused.exited).code, 3, refused.stderr.join('\n'));
    assert.match(refused.stderr.join('\n'), disk.error);
    // It starts once the disk is back; the disk breaks under it at once, before any entry.
    disk.repair();
    daemon = await fleet.daemon(base, yaml);
    disk.break();
    writer.append([...healthy.slice(0, 150), ...garbage(1), ...healthy.slice(150)]);
  }
  const checkpointBefore = readCheckpoint(disk.dir, 'tail')[0]?.offset ?? 0;

  // While broken: file entries, and Kong batches of three kinds.
  writer.append(broken.slice(0, 50));
  writer.append(garbage(2));
  writer.append(broken.slice(50));
  const written = [...healthy, ...garbage(1), ...garbage(2), ...broken];
  const http = generate(60, { seed: 602 });
  const plain = http.filter((e) => !needsDeadLetter(e)).slice(0, 20);
  const rejected = http.filter(needsDeadLetter).slice(0, 2);
  const batches: { id: string; text: string; method?: string }[] = [
    ...plain.slice(0, 10), // delivered, no disk needed: 200 at once
    ...plain.slice(10, 18),
    ...rejected, // one entry needs a dead letter: 503 after ack_timeout, Kong retries
    ...plain.slice(18, 20),
    { id: 'not-an-object', text: '42' }, // an invalid entry: 503 at once (cannot dead-letter it)
  ];
  const client = new KongHttpLogClient(batches, {
    url: `http://127.0.0.1:${port}/kong`,
    batchSize: 10,
    concurrency: 3,
    maxRetryDelayMs: 500,
  });
  fleet.onCleanup(() => client.close());
  const sending = client.run();

  await waitFor(
    async () => {
      const s = (await daemon.status()) as unknown as StatusView;
      return (
        disk.error.test(s.destinations.reject.lastError?.message ?? '') &&
        client.batches[1].attempts >= 2 &&
        client.batches[2].attempts >= 2
      );
    },
    30_000,
    'dead-letter writes failing, Kong told to retry',
  );
  const status = (await daemon.status()) as unknown as StatusView;
  const acked = status.sources.tail.files.find((f) => f.path === logFile)?.ackedOffset ?? 0;
  // The invariant: the acknowledged offset passes only entries that are delivered everywhere they
  // go, or durably dead-lettered (a full tmpfs still has room in the last page of an open file).
  const delivered = new Set(idsIn(hook.entries('/all')).counts.keys());
  const deadLettered = new Set(idsIn(deadLetters(disk.dir, 'reject').map((d) => d.text)).counts.keys());
  const invalidKept = new Set(deadLetters(disk.dir, 'source-tail').map((d) => d.raw));
  const passedUnfinished = written
    .filter((e) => (writer.offsets.get(e.id) ?? Infinity) < acked)
    .filter((e) =>
      e.id.startsWith('garbage-')
        ? !invalidKept.has(e.text)
        : !delivered.has(e.id) || (needsDeadLetter(e) && !deadLettered.has(e.id)),
    );
  if (process.env.KLR_DEBUG === '1') {
    for (const e of passedUnfinished)
      process.stderr.write(
        `${JSON.stringify({ id: e.id, off: writer.offsets.get(e.id), method: e.method, delivered: delivered.has(e.id), dl: deadLettered.has(e.id), acked, before: checkpointBefore })}\n`,
      );
    for (const d of deadLetters(disk.dir))
      process.stderr.write(`DL ${d.file} ${d.reason} ${d.text.length} ${d.text.slice(0, 80)}\n`);
  }
  assert.deepEqual(
    passedUnfinished.map((e) => e.id),
    [],
    'the acknowledged offset passed an entry that was neither delivered nor dead-lettered',
  );
  assert.ok(acked < writer.size, `the acknowledged offset stopped (${acked} of ${writer.size} bytes)`);
  assert.equal(
    readCheckpoint(disk.dir, 'tail')[0]?.offset ?? 0,
    checkpointBefore,
    'the checkpoint on disk did not move',
  );
  assert.ok(
    daemon.logs.some((l) => l.level >= 50 && /cannot write the dead-letter file/.test(l.msg)),
    'a clear error is logged',
  );
  assert.ok(
    client.batches[0].acked && client.batches[0].attempts === 1,
    'entries that need no disk are still delivered and acknowledged',
  );
  assert.ok(!client.batches[1].acked && !client.batches[2].acked, 'no 2xx for what could not be dead-lettered');
  assert.ok((status.sources.kong.requests['503'] ?? 0) >= 2);
  assert.equal((await fetch(`${daemon.adminUrl}/healthz`)).status, 200);

  // kill -9 while broken. A restart while still broken is refused (issue 17): exit 3 with the
  // reason, the checkpoint on disk still where it was; once the disk is repaired it starts.
  await kill9(daemon);
  const refusedRestart = Daemon.launch(base, yaml);
  assert.equal((await refusedRestart.exited).code, 3, refusedRestart.stderr.join('\n'));
  assert.match(refusedRestart.stderr.join('\n'), disk.error);
  writer.append(afterKill);
  assert.equal(
    readCheckpoint(disk.dir, 'tail')[0]?.offset ?? 0,
    checkpointBefore,
    'the checkpoint on disk still did not move',
  );
  disk.repair();
  daemon = await fleet.daemon(base, yaml);

  await sending;
  const fileEntries = [...healthy, ...broken, ...afterKill];
  const httpGood = batches.filter((e) => e.id !== 'not-an-object');
  const all = [...fileEntries, ...httpGood];
  const state = disk.dir;
  const tallies = (): { name: string; owed: string[]; arrived: string[] }[] => [
    { name: 'hook', owed: all.map((e) => e.id), arrived: hook.entries('/all') },
    {
      name: 'reject (dead letters)',
      owed: all.filter(needsDeadLetter).map((e) => e.id),
      arrived: deadLetters(state, 'reject')
        .filter((d) => d.reason !== TORN_TAIL)
        .map((d) => d.text),
    },
  ];
  await waitForAll(tallies, 60_000, 'everything delivered or dead-lettered once the disk is writable');
  await waitFor(
    () => readCheckpoint(state, 'tail')[0]?.offset === statSync(logFile).size,
    30_000,
    'the checkpoint at the end of the file',
  );
  const torn = deadLetters(state).filter((d) => d.reason === TORN_TAIL).length;
  const sourceDead = deadLetters(state, 'source-tail').map((d) => d.raw);
  const httpDead = deadLetters(state, 'source-kong').map((d) => d.raw);
  await daemon.stop();
  const result = account(all.length, tallies());
  row
    .describe(
      `${fileEntries.length} file entries + ${GARBAGE.length * 2} invalid lines, ${batches.length} entries POSTed (ack: delivered); PUT/PATCH go to a webhook that answers 400 (dead letters needed)`,
      `${disk.kind}${disk.writableAtFirst ? ' after 300 entries' : ' right after start (a start while broken is refused: exit 3)'}; kill -9 while broken (a restart is refused); then repaired`,
    )
    .set(result)
    .note(
      `while broken: checkpoint on disk stayed at ${checkpointBefore} B, acknowledged offset stopped at ${acked} of ${writer.size} B (never past an entry neither delivered nor dead-lettered), invalid and undead-letterable batches got 503 (retried until 2xx), other batches 200; ${sourceDead.length} invalid lines dead-lettered after repair`,
    );
  assert.deepEqual(result.missing, { hook: [], 'reject (dead letters)': [] }, 'nothing lost');
  assert.deepEqual(result.unexpected, { hook: [], 'reject (dead letters)': [] });
  for (const g of [...garbage(1), ...garbage(2)])
    assert.ok(sourceDead.includes(g.text), `invalid line ${JSON.stringify(g.text)} dead-lettered`);
  assert.ok(httpDead.includes('42'), 'the invalid http entry is dead-lettered once the disk is back');
  assert.ok(client.batches.every((b) => b.acked));
  const unparsable = deadLetters(state).filter((d) => d.reason === UNPARSABLE);
  assert.deepEqual(
    unparsable.map((d) => `${d.file}: ${d.text.slice(0, 60)}`),
    [],
    'no torn record inside a dead-letter file (a failed write is cut back)',
  );
  // Every dead-letter file replays cleanly; a record torn by the kill -9 at the end of one is ignored.
  const files = [...new Set(deadLetters(state, 'reject').map((d) => d.file))];
  for (const f of files) {
    const r = await replay(daemon.configFile, f, 'hook');
    assert.equal(r.code, 0, r.stderr);
  }
  row.note(
    `replay of the ${files.length} dead-letter file(s): exit 0${torn > 0 ? ` (${torn} record torn by the kill -9 ignored)` : ''}`,
  );
  row.pass();
}

describe('reliability: unwritable state directory', () => {
  it('disk full (small tmpfs): clear errors, nothing advances past what needs the disk, nothing lost', async (t) => {
    const base = fleet.dir('klr-rel-disk-full-');
    const disk = smallTmpfs(base);
    if (disk === null) {
      t.skip('cannot mount a tmpfs here; the next test covers an unwritable state dir');
      return;
    }
    fleet.onCleanup(() => disk.cleanup());
    await scenario(disk, base);
  });

  it('state_dir path leads through a regular file: the relay starts, reports, holds back, and recovers', async () => {
    const base = fleet.dir('klr-rel-disk-notdir-');
    const disk = stateUnderAFile(base);
    fleet.onCleanup(() => disk.cleanup());
    await scenario(disk, base);
  });
});
