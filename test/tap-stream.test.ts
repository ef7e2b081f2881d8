/**
 * The tap behind `kong-log-relay tap`, in process: what a tap line holds (the entry as each
 * destination sends it, dedupe suppressions), --limit, the bounded queue with its drop notice,
 * and who may open /tap on an admin listener without a token (loopback clients only).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdminServer } from '../src/admin/server.ts';
import { isLoopback } from '../src/admin/tap-stream.ts';
import { byteStringOf } from '../src/event/byte-string.ts';
import type { Tap } from '../src/delivery/tap.ts';
import { RecordingSink } from './support/recording-sink.ts';
import { configFromYaml, quietLogger, testPipeline } from './support/pipeline.ts';

const CONFIG = `
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
rules:
  - { name: posts, when: { methods: [POST] }, to: [by_user] }
workspaces: { "*": { to: [full] } }
destinations:
  full: { type: webhook, url: "http://127.0.0.1:9/full" }
  by_user: { type: webhook, url: "http://127.0.0.1:9/by_user", fields: [request.method, consumer.username], unique: [consumer.username], snooze: 1h }
admin: false
`;

function entry(i: number, method: string, user: string): string {
  return JSON.stringify({
    request: { method, uri: `/items/${i}`, headers: { authorization: `Bearer secret-${i}`, host: 'api' } },
    response: { status: 200 },
    consumer: { username: user },
    workspace_name: 'default',
  });
}

function setUp() {
  const config = configFromYaml(CONFIG);
  const sinks = { full: new RecordingSink(), by_user: new RecordingSink() };
  const { pipeline, metrics } = testPipeline(config, sinks);
  return { pipeline, source: metrics.source('t', 'file') };
}

async function drain(tap: Tap): Promise<string[]> {
  const lines: string[] = [];
  for (let chunk = await tap.next(); chunk !== null; chunk = await tap.next())
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
  return lines;
}

const ANY = { destinations: [], rules: [], workspaces: [], sources: [] };

describe('tap', () => {
  it('shows each entry as each destination sends it, with rules, destinations and dedupe suppressions', async () => {
    const { pipeline, source } = setUp();
    const tap = pipeline.taps.open(ANY, { limit: 3, maxQueuedBytes: 1 << 20 });
    pipeline.ingest(byteStringOf(entry(1, 'POST', 'ann')), null, source);
    pipeline.ingest(byteStringOf(entry(2, 'POST', 'ann')), null, source); // same user: by_user suppresses it
    pipeline.ingest(byteStringOf(entry(3, 'GET', 'bob')), null, source);
    pipeline.ingest(byteStringOf(entry(4, 'GET', 'cid')), null, source); // past the limit
    const lines = (await drain(tap)).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 4, '3 entries and the end line');
    const [first, second, third, end] = lines;
    assert.deepEqual(first.destinations, ['full', 'by_user']);
    assert.deepEqual(first.rules, ['posts']);
    assert.equal(first.source, 't');
    assert.equal(first.workspace, 'default');
    assert.deepEqual((first.entry as { request: { headers: unknown } }).request.headers, {
      authorization: '[REDACTED]',
      host: 'api',
    });
    assert.deepEqual((first.entry_by_destination as Record<string, unknown>).by_user, {
      request: { method: 'POST' },
      consumer: { username: 'ann' },
    });
    assert.deepEqual(second.suppressed, ['by_user']);
    assert.equal(second.entry_by_destination, undefined, 'only full sent it');
    assert.deepEqual(third.destinations, ['full']);
    assert.deepEqual(third.rules, []);
    assert.deepEqual(end, { tap: 'end', reason: 'limit', entries: 3, dropped: 0 });
    assert.equal(pipeline.taps.count, 0, 'an ended tap is closed');
  });

  it('a destination filter shows that destination’s bytes; entries it suppressed are left out', async () => {
    const { pipeline, source } = setUp();
    const tap = pipeline.taps.open({ ...ANY, destinations: ['by_user'] }, { limit: 2, maxQueuedBytes: 1 << 20 });
    pipeline.ingest(byteStringOf(entry(1, 'POST', 'ann')), null, source);
    pipeline.ingest(byteStringOf(entry(2, 'POST', 'ann')), null, source);
    pipeline.ingest(byteStringOf(entry(3, 'GET', 'bob')), null, source);
    pipeline.ingest(byteStringOf(entry(4, 'POST', 'dan')), null, source);
    const lines = (await drain(tap)).map((l) => JSON.parse(l) as { entry?: unknown });
    assert.deepEqual(
      lines.slice(0, 2).map((l) => l.entry),
      [
        { request: { method: 'POST' }, consumer: { username: 'ann' } },
        { request: { method: 'POST' }, consumer: { username: 'dan' } },
      ],
    );
  });

  it('a tap that is not read drops new lines past its bound, counts them and says so', async () => {
    const { pipeline, source } = setUp();
    const tap = pipeline.taps.open(ANY, { limit: undefined, maxQueuedBytes: 2000 });
    for (let i = 0; i < 50; i++) pipeline.ingest(byteStringOf(entry(i, 'GET', `u${i}`)), null, source);
    const first = (await tap.next())?.toString('utf8').split('\n').filter(Boolean) ?? [];
    const notice = JSON.parse(first[0]) as { tap: string; dropped: number; dropped_total: number };
    assert.equal(notice.tap, 'dropped');
    const shown = first.length - 1;
    assert.ok(shown > 0 && shown < 50);
    assert.equal(notice.dropped, 50 - shown);
    assert.equal(tap.dropped, 50 - shown);
    tap.end('client');
    const rest = await drain(tap);
    assert.deepEqual(JSON.parse(rest.at(-1) as string), {
      tap: 'end',
      reason: 'client',
      entries: shown,
      dropped: 50 - shown,
    });
  });

  it('without admin.token, /tap is served to loopback clients (and unix sockets) only', async () => {
    assert.ok(isLoopback('127.0.0.1'));
    assert.ok(isLoopback('127.8.9.10'));
    assert.ok(isLoopback('::ffff:127.0.0.1'));
    assert.ok(isLoopback('::1'));
    assert.ok(!isLoopback('10.0.0.1'));
    assert.ok(!isLoopback('::ffff:10.0.0.1'));
    assert.ok(!isLoopback('fe80::1'));
    assert.ok(!isLoopback(undefined));

    const { pipeline, source } = setUp();
    const metrics = testPipeline(configFromYaml(CONFIG), {
      full: new RecordingSink(),
      by_user: new RecordingSink(),
    }).metrics;
    const admin = new AdminServer(
      { listen: '127.0.0.1:0', token: undefined, maxConnections: 8, idleTimeoutMs: 5_000 },
      {
        metrics,
        readiness: () => ({ ready: true, reasons: [] }),
        status: () => ({}),
        openTap: (r) => pipeline.taps.open(r.filter, { limit: r.limit, maxQueuedBytes: r.maxQueuedBytes }),
      },
      quietLogger(),
    );
    await admin.start();
    try {
      const response = fetch(`http://${admin.address}/tap?limit=1&source=t`);
      const until = Date.now() + 5000;
      while (pipeline.taps.count === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      pipeline.ingest(byteStringOf(entry(1, 'GET', 'eve')), null, source);
      const r = await response;
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('content-type'), 'application/x-ndjson');
      const lines = (await r.text()).split('\n').filter(Boolean);
      assert.equal(lines.length, 2);
      assert.match(lines[0], /"entry":\{"request"/);
      assert.match(lines[0], /\[REDACTED\]/);
      const bad = await fetch(`http://${admin.address}/tap?duration=forever`);
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /duration must look like 30s/);
    } finally {
      await admin.close();
    }
  });
});
