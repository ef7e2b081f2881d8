/**
 * Destinations that go away and come back: a webhook that answers 500, then resets
 * connections, then stalls past the timeout, then recovers; an SNS endpoint that is unreachable,
 * then back. Nothing may be lost, memory stays bounded by the buffers, and `block` backpressure
 * reaches Kong (HTTP 429 with Retry-After) and pauses the file reader.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from './support/daemon.ts';
import { generate } from './support/kong.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';
import {
  account,
  deadLetters,
  Fleet,
  LogWriter,
  MiB,
  rssBytes,
  waitForAll,
  type DestinationTally,
} from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';
import { freePort, TcpGate } from './support/tcp-gate.ts';

const fleet = new Fleet();
const report = reliabilityReport('reliability-outage');
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const TOKEN = 'outage-test-token';
const BUFFER_EVENTS = 300;
const HTTP_BATCH = 25;
const HTTP_CONCURRENCY = 3;
/** Generous: the relay's own heap plus 2 × 300 buffered entries is a small fraction of this. */
const RSS_LIMIT = 300 * MiB;

interface DestinationView {
  bufferedEvents: number;
  inFlight: number;
  blocking: boolean;
}
interface StatusView {
  blocked_by: string[];
  sources: { tail: { paused: boolean; files: { size: number; readOffset: number }[] } };
  destinations: Record<string, DestinationView>;
}

describe('reliability: destination outage', () => {
  it('webhook 500 → resets → stalls past the timeout, SNS unreachable: nothing lost, buffers bounded, Kong gets 429, the file reader pauses', async () => {
    const row = report.row('destination outage, then recovery');
    const { dir, logFile } = fleet.kongLogDir('klr-rel-outage-');
    const hook = await fleet.receiver();
    const sns = await fleet.sns();
    const { topicArn, queue } = await sns.topicWithQueue('outage');
    const gate = await TcpGate.create(sns.port);
    fleet.onCleanup(() => gate.close());
    const port = await freePort();
    const destinationDefaults = `buffer: { max_events: ${BUFFER_EVENTS}, when_full: block }, retry: { initial_delay: 50ms, max_delay: 300ms, max_elapsed: 10m }`;
    const daemon = await fleet.daemon(
      dir,
      `
sources:
  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { bearer: "${TOKEN}" }, ack: accepted }
workspaces: { "*": { to: [hook] } }
rules:
  - { name: writes, when: { methods: [POST, PUT, PATCH, DELETE] }, to: [topic] }
destinations:
  hook: { type: webhook, url: "${hook.url}/all", timeout: 400ms, concurrency: 2, batch: { max_events: 50, max_wait: 50ms }, ${destinationDefaults} }
  topic: { type: sns, topic_arn: "${topicArn}", endpoint: "${gate.url}", timeout: 1s, batch: { max_wait: 50ms }, ${destinationDefaults} }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
    );

    // The webhook's behaviour by phase; attempts are counted per phase.
    type Phase = 'status 500' | 'connection reset' | 'stall past timeout' | 'healthy';
    let phase: Phase = 'status 500';
    const attempts: Record<Phase, number> = {
      'status 500': 0,
      'connection reset': 0,
      'stall past timeout': 0,
      healthy: 0,
    };
    hook.fault = () => {
      attempts[phase]++;
      if (phase === 'status 500') return { status: 500 };
      if (phase === 'connection reset') return { reset: true };
      if (phase === 'stall past timeout') return { stallMs: 1_500 };
      return null;
    };

    // Watch the relay the whole time: buffers, pauses, memory.
    const seen = { maxBuffered: { hook: 0, topic: 0 }, pausedBehind: 0, maxRss: 0, samples: 0 };
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        const s = (await daemon.status().catch(() => null)) as StatusView | null;
        if (s !== null) {
          seen.samples++;
          for (const d of ['hook', 'topic'] as const)
            seen.maxBuffered[d] = Math.max(seen.maxBuffered[d], s.destinations[d].bufferedEvents);
          const f = s.sources.tail.files[0];
          if (s.sources.tail.paused && f !== undefined && f.readOffset < f.size) seen.pausedBehind++;
        }
        seen.maxRss = Math.max(seen.maxRss, rssBytes(daemon.proc.pid) ?? 0);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const fileEntries = generate(2500, { seed: 303 });
    const httpEntries = generate(1000, { seed: 304 });
    const all = [...fileEntries, ...httpEntries];
    const writer = new LogWriter(logFile);
    const writing = writer.appendSteadily(fileEntries, 100, 20);
    const client = new KongHttpLogClient(httpEntries, {
      url: `http://127.0.0.1:${port}/kong`,
      authorization: `Bearer ${TOKEN}`,
      batchSize: HTTP_BATCH,
      concurrency: HTTP_CONCURRENCY,
    });
    fleet.onCleanup(() => client.close());
    const sending = client.run();

    // Each phase lasts until its fault was hit a few times (and, first, until backpressure is visible).
    await waitFor(
      () => attempts['status 500'] >= 10 && (client.answers[429] ?? 0) > 0 && seen.pausedBehind > 0,
      60_000,
      'retries, 429s and a paused file reader',
    );
    phase = 'connection reset';
    await waitFor(() => attempts['connection reset'] >= 10, 60_000, 'connection resets');
    phase = 'stall past timeout';
    await waitFor(() => attempts['stall past timeout'] >= 3, 60_000, 'stalled requests');
    phase = 'healthy';
    // The webhook drains; SNS, still unreachable, alone holds the sources back now.
    await waitFor(
      async () => {
        const s = (await daemon.status()) as unknown as StatusView;
        return (
          s.destinations.hook.bufferedEvents === 0 &&
          s.destinations.hook.inFlight === 0 &&
          s.blocked_by.join() === 'topic'
        );
      },
      60_000,
      'the webhook drained while SNS still blocks',
    );
    const probe = await fetch(`http://127.0.0.1:${port}/kong`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '[]',
    });
    assert.equal(probe.status, 429, 'backpressure reaches Kong');
    assert.match(probe.headers.get('retry-after') ?? '', /^\d+$/, '429 says when to retry');
    await gate.open();

    await Promise.all([writing, sending]);
    const tallies = async (): Promise<DestinationTally[]> => [
      { name: 'hook', owed: all.map((e) => e.id), arrived: hook.entries('/all') },
      {
        name: 'topic',
        owed: all.filter((e) => e.method !== undefined && WRITES.has(e.method)).map((e) => e.id),
        arrived: await queue.drain(),
      },
    ];
    await waitForAll(tallies, 90_000, 'every entry after the recovery');
    watching = false;
    await watcher;
    const snsRetries = await daemon.metric('kong_log_relay_delivery_retries_total', { destination: 'topic' });
    await daemon.stop();
    const result = account(all.length, await tallies());

    const maxEntryBytes = Math.max(...all.map((e) => Buffer.byteLength(e.text)));
    const minEntryBytes = Math.min(...all.map((e) => Buffer.byteLength(e.text)));
    // A full buffer still takes what is already on its way: requests past the 429 check and the
    // file read being handed over (up to 256 KiB when the reader works through a backlog).
    const bufferBound = BUFFER_EVENTS + HTTP_CONCURRENCY * HTTP_BATCH + Math.ceil((256 * 1024) / minEntryBytes);
    row
      .describe(
        `${fileEntries.length} entries appended to a file + ${httpEntries.length} POSTed in batches of ${HTTP_BATCH}; block buffers of ${BUFFER_EVENTS}`,
        `webhook: ${attempts['status 500']}× HTTP 500, ${attempts['connection reset']}× reset, ${attempts['stall past timeout']}× stall 1.5 s > timeout 400 ms; SNS endpoint unreachable until the webhook recovered`,
      )
      .set(result)
      .note(
        `Kong saw ${client.answers[429] ?? 0}× 429; file reader seen paused ${seen.pausedBehind}×; max buffered ${seen.maxBuffered.hook} (webhook) / ${seen.maxBuffered.topic} (SNS), bound ${bufferBound}; max RSS ${Math.round(seen.maxRss / MiB)} MiB; ${snsRetries} SNS retries`,
      );
    assert.deepEqual(result.missing, { hook: [], topic: [] }, 'nothing lost');
    assert.deepEqual(result.unexpected, { hook: [], topic: [] });
    assert.ok(snsRetries > 0, 'SNS deliveries were retried while it was unreachable');
    assert.deepEqual(
      deadLetters(path.join(dir, 'state')).length,
      0,
      'nothing dead-lettered: max_elapsed was not reached',
    );
    assert.ok(
      seen.maxBuffered.hook <= bufferBound && seen.maxBuffered.topic <= bufferBound,
      `buffers bounded: ${JSON.stringify(seen.maxBuffered)} ≤ ${bufferBound} (entries ≤ ${maxEntryBytes} bytes)`,
    );
    if (seen.maxRss > 0) assert.ok(seen.maxRss < RSS_LIMIT, `memory bounded: ${Math.round(seen.maxRss / MiB)} MiB`);
    row.pass();
  });
});
