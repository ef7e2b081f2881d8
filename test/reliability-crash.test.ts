/**
 * kill -9 of the daemon at seeded moments, restarted each time: during a file tail (the
 * checkpoint must never pass an entry that was not delivered) and during http-log ingestion
 * with `ack: delivered` (an entry whose POST got a 2xx must arrive). Duplicates are allowed,
 * but only for what was in flight at a kill.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type Daemon, waitFor } from './support/daemon.ts';
import { generate, idOf } from './support/kong.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';
import {
  account,
  Fleet,
  idsIn,
  kill9,
  LogWriter,
  readCheckpoint,
  settled,
  waitForAll,
  type DestinationTally,
} from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';
import { SeededRandom } from './support/seeded-random.ts';
import { freePort } from './support/tcp-gate.ts';

const fleet = new Fleet();
const report = reliabilityReport('reliability-crash');
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const TOKEN = 'crash-test-token';

/** Every entry to the webhook; write methods also to the SNS topic. */
function routing(hookUrl: string, topicArn: string, endpoint: string): string {
  return `
workspaces: { "*": { to: [hook] } }
rules:
  - { name: writes, when: { methods: [POST, PUT, PATCH, DELETE] }, to: [topic] }
destinations:
  hook: { type: webhook, url: "${hookUrl}/all", encoding: ndjson, batch: { max_events: 100, max_wait: 50ms }, retry: { initial_delay: 20ms, max_delay: 200ms } }
  topic: { type: sns, topic_arn: "${topicArn}", endpoint: "${endpoint}", batch: { max_wait: 50ms }, concurrency: 8, retry: { initial_delay: 20ms, max_delay: 200ms } }
shutdown_timeout: 2s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
}

describe('reliability: kill -9 and restart', () => {
  it('during a file tail: every entry arrives at each of its destinations; duplicates only of what was past the on-disk checkpoint', async () => {
    const row = report.row('kill -9 during a file tail', '', '');
    const random = new SeededRandom(0xc0ffee);
    const { dir, logFile } = fleet.kongLogDir('klr-rel-crash-file-');
    const hook = await fleet.receiver();
    const sns = await fleet.sns();
    const { topicArn, queue } = await sns.topicWithQueue('crash-file');
    const config = `
sources:
  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
state_dir: ${dir}/state
${routing(hook.url, topicArn, sns.endpoint)}`;

    const entries = generate(4000, { seed: 101 });
    const writes = entries.filter((e) => e.method !== undefined && WRITES.has(e.method));
    // Seeded moments: a delay after each (re)start; the writer runs for about 6 s.
    const delays = [random.int(700, 1900), random.int(700, 1900), random.int(700, 1900)];
    row.describe(
      `${entries.length} entries (~${Math.round(textBytes(entries) / 1e6)} MB) appended in slices of 40 every 60 ms; webhook + SNS`,
      `kill -9 at ${delays.length} seeded moments (${delays.join(', ')} ms after each start), restart each time`,
    );

    let daemon = await fleet.daemon(dir, config);
    const writer = new LogWriter(logFile);
    const writing = writer.appendSteadily(entries, 40, 60);
    // Per kill: what each destination had received by then, and the checkpoint on disk.
    const atKill: { hook: Set<string>; topic: Set<string>; checkpoint: number }[] = [];
    for (const delay of delays) {
      await new Promise((r) => setTimeout(r, delay));
      await kill9(daemon);
      await settled(() => hook.entries('/all').length, 'receiver quiet after the kill');
      await queue.drain();
      const checkpoint =
        readCheckpoint(path.join(dir, 'state'), 'tail').find((f) => f.ino === statSync(logFile).ino)?.offset ?? 0;
      atKill.push({
        hook: new Set(idsIn(hook.entries('/all')).counts.keys()),
        topic: new Set(idsIn(queue.bodies).counts.keys()),
        checkpoint,
      });
      daemon = await fleet.daemon(dir, config);
    }
    await writing;
    const tallies = async (): Promise<DestinationTally[]> => [
      { name: 'hook', owed: entries.map((e) => e.id), arrived: hook.entries('/all') },
      { name: 'topic', owed: writes.map((e) => e.id), arrived: await queue.drain() },
    ];
    await waitForAll(tallies, 90_000, 'every entry at every destination after the restarts');
    await daemon.stop();
    const result = account(entries.length, await tallies());

    // A copy beyond the first is explained only by a kill after which the entry was read again:
    // it had arrived before that kill and lay at or past the checkpoint then on disk.
    let inFlight = 0;
    const unexplained: string[] = [];
    for (const [name, key] of [
      ['hook', 'hook'],
      ['topic', 'topic'],
    ] as const) {
      for (const k of atKill) for (const id of k[key]) if ((writer.offsets.get(id) ?? -1) >= k.checkpoint) inFlight++;
      for (const [id, copies] of result.duplicates[name]) {
        const offset = writer.offsets.get(id) ?? -1;
        const rereads = atKill.filter((k) => k[key].has(id) && offset >= k.checkpoint).length;
        if (copies - 1 > rereads) unexplained.push(`${name} ${id}: ${copies} copies, ${rereads} re-reads`);
      }
    }
    row
      .set(result)
      .note(
        `${writes.length} entries routed to SNS too; on-disk checkpoint at the kills: ${atKill.map((k) => `${(k.checkpoint / 1e6).toFixed(1)} MB`).join(', ')}; duplicates ≤ delivered past it (${inFlight})`,
      );
    assert.deepEqual(result.missing, { hook: [], topic: [] }, 'nothing lost');
    assert.deepEqual(result.unexpected, { hook: [], topic: [] }, 'nothing foreign or misrouted');
    assert.deepEqual(unexplained, [], 'every duplicate was in flight at a kill');
    assert.ok(result.duplicated <= inFlight);
    row.pass();
  });

  it('during http-log ingestion with ack: delivered: every entry whose POST got a 2xx arrives; duplicates only from batches sent again', async () => {
    const row = report.row('kill -9 during http-log ingestion (ack: delivered)', '', '');
    const random = new SeededRandom(0xbadcafe);
    const dir = fleet.dir('klr-rel-crash-http-');
    const hook = await fleet.receiver();
    const sns = await fleet.sns();
    const { topicArn, queue } = await sns.topicWithQueue('crash-http');
    const port = await freePort();
    const config = `
sources:
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { bearer: "${TOKEN}" }, ack: delivered, ack_timeout: 10s }
state_dir: ${dir}/state
${routing(hook.url, topicArn, sns.endpoint)}`;

    const entries = generate(3000, { seed: 202 });
    const writes = entries.filter((e) => e.method !== undefined && WRITES.has(e.method));
    const client = new KongHttpLogClient(entries, {
      url: `http://127.0.0.1:${port}/kong`,
      authorization: `Bearer ${TOKEN}`,
      batchSize: 20,
      concurrency: 4,
    });
    fleet.onCleanup(() => client.close());
    const kills = random.points(3, 15, client.batches.length - 15);
    row.describe(
      `${entries.length} entries in ${client.batches.length} POSTs of 20, 4 at a time (Kong-like retries); webhook + SNS`,
      `kill -9 at ${kills.length} seeded points (after ${kills.join(', ')} batches acknowledged), restart each time`,
    );

    let daemon: Daemon = await fleet.daemon(dir, config);
    const sending = client.run();
    for (const threshold of kills) {
      await waitFor(() => client.acked >= threshold, 60_000, `${threshold} batches acknowledged`);
      await kill9(daemon);
      daemon = await fleet.daemon(dir, config);
    }
    await sending;
    assert.equal(client.acked, client.batches.length, 'every batch was answered 2xx in the end');
    const tallies = async (): Promise<DestinationTally[]> => [
      { name: 'hook', owed: entries.map((e) => e.id), arrived: hook.entries('/all') },
      { name: 'topic', owed: writes.map((e) => e.id), arrived: await queue.drain() },
    ];
    // ack: delivered: a 2xx means delivered to both; only the emulator's fan-out to SQS may lag.
    await waitForAll(tallies, 30_000, 'every acknowledged entry at every destination');
    const result = account(entries.length, await tallies());
    await daemon.stop();

    const unexplained: string[] = [];
    let resent = 0;
    for (const b of client.batches) if (b.attempts > 1) resent += b.ids.length;
    for (const [name, dups] of Object.entries(result.duplicates)) {
      for (const [id, copies] of dups) {
        const batch = client.batchOf(id);
        if (batch === undefined || copies > batch.attempts)
          unexplained.push(`${name} ${id}: ${copies} copies, ${batch?.attempts ?? 0} attempts`);
      }
    }
    const errors =
      (client.answers.error ?? 0) +
      Object.entries(client.answers)
        .filter(([s]) => s !== 'error' && Number(s) >= 300)
        .reduce((n, [, c]) => n + c, 0);
    row
      .set(result)
      .note(
        `${writes.length} entries routed to SNS too; ${errors} POSTs failed and were sent again (${resent} entries in resent batches)`,
      );
    assert.deepEqual(result.missing, { hook: [], topic: [] }, 'every acknowledged entry arrived');
    assert.deepEqual(result.unexpected, { hook: [], topic: [] });
    assert.deepEqual(unexplained, [], 'no entry arrived more often than its batch was sent');
    assert.ok(hook.entries('/all').every((t) => idOf(t).length === 32));
    row.pass();
  });
});

function textBytes(entries: readonly { text: string }[]): number {
  return entries.reduce((n, e) => n + e.text.length + 1, 0);
}
