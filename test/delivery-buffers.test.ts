/**
 * Per-destination delivery through the real webhook sink to a real local server: buffer
 * policies, batching, retries, dead letters and acknowledgements.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AckGroup } from '../src/core/ack.ts';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { createSink } from '../src/sinks/index.ts';
import { waitFor } from './support/daemon.ts';
import { VirtualClock } from './support/virtual-clock.ts';
import { generate, idOf, tally } from './support/kong.ts';
import { configFromYaml, quietLogger, readDeadLetters, tempDir, testPipeline } from './support/pipeline.ts';
import type { ResolvedConfig } from '../src/config/resolve.ts';
import { Pipeline } from '../src/delivery/pipeline.ts';
import { RelayMetrics } from '../src/telemetry/metrics.ts';
import { byteStringOf } from '../src/event/byte-string.ts';

const receivers: WebhookReceiver[] = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  receivers.push(r);
  return r;
}

function realPipeline(config: ResolvedConfig): { pipeline: Pipeline; metrics: RelayMetrics } {
  const metrics = new RelayMetrics('test', 'node');
  const log = quietLogger();
  return { pipeline: new Pipeline(config, (d) => createSink(d, log), metrics, log), metrics };
}

function config(dir: string, destinations: string, workspaces = '"*": { to: [a] }'): ResolvedConfig {
  return configFromYaml(
    `
sources: { t: { type: file, paths: ["${dir}/*.log"] } }
workspaces: { ${workspaces} }
destinations:
${destinations}
state_dir: ${dir}
# These tests check transport byte for byte (generated entries carry credentials; redaction has its own tests).
redact: false
`,
    dir,
  );
}

/** A receiver that holds every request until released. */
function gate(r: WebhookReceiver): () => void {
  r.fault = () => ({ hold: true });
  return () => {
    r.fault = null;
    r.release();
  };
}

describe('buffer policies', () => {
  it('drop_newest keeps the oldest entries and counts every drop', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", concurrency: 1, timeout: 30s, batch: { max_events: 5, max_wait: 10ms }, buffer: { max_events: 10, when_full: drop_newest } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const stats = metrics.source('t');
    hook.fault = () => ({ stallMs: 300 });
    const entries = generate(50);
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), null, stats);
    hook.fault = null;
    await pipeline.drain(Date.now() + 10_000);
    const got = hook.entries('/a').map(idOf);
    assert.deepEqual(
      got,
      entries.slice(0, 15).map((e) => e.id),
      'the first batch in flight plus a full buffer',
    );
    assert.equal(metrics.destination('a').dropped.buffer_full_drop_newest, 35);
  });

  it('drop_oldest keeps the newest entries and counts every drop', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", concurrency: 1, timeout: 30s, batch: { max_events: 5, max_wait: 10ms }, buffer: { max_events: 10, when_full: drop_oldest } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    hook.fault = () => ({ stallMs: 300 });
    const entries = generate(50);
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), null, metrics.source('t'));
    hook.fault = null;
    await pipeline.drain(Date.now() + 10_000);
    const got = hook.entries('/a').map(idOf);
    assert.deepEqual(
      got,
      [...entries.slice(0, 5), ...entries.slice(40)].map((e) => e.id),
    );
    assert.equal(metrics.destination('a').dropped.buffer_full_drop_oldest, 35);
  });

  it('block holds the sources back until there is room, and loses nothing', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const release = gate(hook);
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", concurrency: 1, timeout: 30s, batch: { max_events: 5, max_wait: 10ms }, buffer: { max_events: 10, when_full: block } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const entries = generate(100);
    let i = 0;
    const producer = (async () => {
      while (i < entries.length) {
        if (pipeline.blocked) await pipeline.whenUnblocked();
        pipeline.ingest(byteStringOf(entries[i++].text), null, metrics.source('t'));
      }
    })();
    await waitFor(() => pipeline.blocked, 5_000, 'backpressure');
    assert.ok(i <= 16, `the producer stopped early (at ${i})`);
    assert.deepEqual(pipeline.blockingDestinations(), ['a']);
    release();
    await producer;
    await pipeline.drain(Date.now() + 10_000);
    assert.deepEqual(
      hook.entries('/a').map(idOf),
      entries.map((e) => e.id),
      'all, in order, once',
    );
    // Every drop reason has a series from the start; none counted anything.
    assert.deepEqual(
      Object.entries(metrics.destination('a').dropped).filter(([, n]) => n > 0),
      [],
    );
  });

  it('a slow destination does not hold up a fast one that does not block', async () => {
    const dir = tempDir();
    const slow = await receiver();
    const fast = await receiver();
    const release = gate(slow);
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${slow.url}/a", buffer: { max_events: 5, when_full: drop_newest }, batch: { max_wait: 10ms } }
  b: { type: webhook, url: "${fast.url}/b", batch: { max_wait: 10ms } }`,
      '"*": { to: [a, b] }',
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const entries = generate(200);
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), null, metrics.source('t'));
    await waitFor(() => fast.count('/b') === 200, 5_000, 'fast destination');
    assert.equal(pipeline.blocked, false);
    release();
    await pipeline.drain(Date.now() + 10_000);
  });
});

describe('batching', () => {
  it('flushes on max_events, then on max_wait for the rest', async (t) => {
    const clock = new VirtualClock(t);
    const dir = tempDir();
    const hook = await receiver();
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", encoding: json_array, concurrency: 1, batch: { max_events: 4, max_wait: 100ms } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const entries = generate(10);
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), null, metrics.source('t'));
    await clock.until(() => hook.count('/a') === 8, 'the two full batches');
    clock.advance(99);
    await clock.settle();
    assert.equal(hook.count('/a'), 8, 'the last two wait for max_wait');
    clock.advance(1);
    await clock.until(() => hook.count('/a') === 10, 'the rest once max_wait has passed');
    assert.deepEqual(
      hook.requests.map((r) => r.entries.length),
      [4, 4, 2],
    );
    assert.deepEqual(
      hook.entries('/a'),
      entries.map((e) => e.text),
      'original texts, in order, byte for byte',
    );
    clock.stop();
    await pipeline.drain(Date.now() + 1_000);
  });

  it('entries handed over together go out as one batch, even when they are already older than max_wait', async () => {
    // A busy event loop (or a slow body read) can hand over entries whose max_wait has already passed.
    // They must still be batched together, not sent one request each until concurrency is used up.
    const dir = tempDir();
    const hook = await receiver();
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", encoding: json_array, concurrency: 4, batch: { max_events: 100, max_wait: 20ms } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const entries = generate(10);
    const receivedAt = Date.now() - 1_000;
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), null, metrics.source('t'), receivedAt);
    await waitFor(() => hook.count('/a') === 10, 5_000, 'all delivered');
    assert.deepEqual(
      hook.requests.map((r) => r.entries.length),
      [10],
    );
    assert.deepEqual(
      hook.entries('/a'),
      entries.map((e) => e.text),
    );
    await pipeline.drain(Date.now() + 1_000);
  });

  it('flushes on max_bytes', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const entries = generate(12);
    const maxBytes = entries[0].text.length * 3 + 10;
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", encoding: ndjson, concurrency: 1, batch: { max_events: 100, max_bytes: "${maxBytes}", max_wait: 10s } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), null, metrics.source('t'));
    await pipeline.drain(Date.now() + 5_000);
    assert.equal(hook.count('/a'), 12);
    for (const r of hook.requests) assert.ok(r.entries.join('\n').length <= maxBytes || r.entries.length === 1);
  });
});

describe('retries and dead letters', () => {
  it('retries 5xx until the destination recovers: each entry arrives, duplicates only from retried requests', async (t) => {
    const clock = new VirtualClock(t);
    const dir = tempDir();
    const hook = await receiver();
    hook.fault = (_req, attempt) => (attempt <= 3 ? { status: 503 } : null);
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", retry: { initial_delay: 10ms, max_delay: 50ms }, batch: { max_wait: 10ms } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const entries = generate(30);
    const group = new AckGroup(false);
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), group, metrics.source('t'));
    group.seal();
    let done = false;
    void group.whenDone().then(() => {
      done = true;
    });
    await clock.advanceUntil(() => done, 10, 'every entry delivered');
    const counts = tally(hook.entries('/a'));
    assert.equal(counts.size, 30);
    for (const n of counts.values()) assert.equal(n, 1, 'a 503 means not taken: no duplicate');
    assert.ok(metrics.destination('a').retries > 0);
    clock.stop();
    await pipeline.drain(Date.now() + 1_000);
  });

  it('honors Retry-After', async (t) => {
    const clock = new VirtualClock(t);
    const dir = tempDir();
    const hook = await receiver();
    const seen: number[] = [];
    hook.fault = (_req, attempt) => {
      seen.push(Date.now());
      return attempt === 1 ? { status: 429, retryAfter: '1' } : null;
    };
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", retry: { initial_delay: 1ms, max_delay: 5s }, batch: { max_events: 1 } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    pipeline.ingest(byteStringOf(generate(1)[0].text), null, metrics.source('t'));
    await clock.until(() => metrics.destination('a').retries === 1, 'the 429 answered and a retry planned');
    // Without Retry-After the backoff here is at most 1 ms; the server asked for 1 s.
    clock.advance(999);
    await clock.settle();
    assert.equal(seen.length, 1, 'no second attempt before the second Retry-After asked for');
    clock.advance(1);
    await clock.until(() => hook.count('/a') === 1, 'delivery after Retry-After');
    assert.equal(seen[1] - seen[0], 1_000);
    clock.stop();
    await pipeline.drain(Date.now() + 1_000);
  });

  it('a 400 dead-letters the batch at once with the reason; another destination still gets everything', async () => {
    const dir = tempDir();
    const bad = await receiver();
    const good = await receiver();
    bad.fault = () => ({ status: 400, body: 'schema mismatch' });
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${bad.url}/a", batch: { max_wait: 10ms } }
  b: { type: webhook, url: "${good.url}/b", batch: { max_wait: 10ms } }`,
      '"*": { to: [a, b] }',
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const entries = generate(20);
    const group = new AckGroup(false);
    for (const e of entries) pipeline.ingest(byteStringOf(e.text), group, metrics.source('t'));
    group.seal();
    await group.whenDone();
    assert.equal(good.count('/b'), 20);
    const dead = readDeadLetters(dir, 'a');
    assert.deepEqual(dead.map((d) => idOf(JSON.stringify(d.event))).sort(), entries.map((e) => e.id).sort());
    assert.equal(dead[0].destination, 'a');
    assert.match(String(dead[0].reason), /400/);
    assert.equal(dead[0].attempts, 1);
    assert.equal(metrics.destination('a').retries, 0);
    await pipeline.drain(Date.now() + 1_000);
  });

  it('gives up after max_elapsed and dead-letters with the number of attempts', async (t) => {
    const clock = new VirtualClock(t);
    const dir = tempDir();
    const hook = await receiver();
    hook.fault = () => ({ status: 500 });
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", retry: { initial_delay: 10ms, max_delay: 40ms, max_elapsed: 300ms }, batch: { max_wait: 10ms } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const group = new AckGroup(false);
    const started = Date.now();
    for (const e of generate(5)) pipeline.ingest(byteStringOf(e.text), group, metrics.source('t'));
    group.seal();
    let done = false;
    void group.whenDone().then(() => {
      done = true;
    });
    await clock.advanceUntil(() => done, 10, 'the entries dead-lettered');
    const dead = readDeadLetters(dir, 'a');
    assert.equal(dead.length, 5);
    assert.match(String(dead[0].reason), /retries exhausted after \d+ attempts/);
    assert.ok(Number(dead[0].attempts) > 1);
    assert.ok(typeof dead[0].first_attempt === 'string' && typeof dead[0].last_attempt === 'string');
    assert.ok(Date.now() - started >= 260, 'not given up before the next wait would pass max_elapsed');
    assert.equal(metrics.destination('a').deadLettered.retries_exhausted, 5);
    clock.stop();
    await pipeline.drain(Date.now() + 1_000);
  });
});

describe('acknowledgements', () => {
  it('a group completes only when every destination of every entry has finished', async (t) => {
    const clock = new VirtualClock(t);
    const dir = tempDir();
    const a = await receiver();
    const b = await receiver();
    const releaseB = gate(b);
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${a.url}/a", batch: { max_wait: 10ms } }
  b: { type: webhook, url: "${b.url}/b", batch: { max_wait: 10ms }, timeout: 30s }`,
      '"*": { to: [a, b] }',
    );
    const { pipeline, metrics } = realPipeline(cfg);
    let done = false;
    const group = new AckGroup(true, () => {
      done = true;
    });
    for (const e of generate(10)) pipeline.ingest(byteStringOf(e.text), group, metrics.source('t'));
    group.seal();
    await clock.advanceUntil(() => a.count('/a') === 10 && b.heldCount >= 1, 10, 'a delivered, b holding its request');
    await clock.settle();
    assert.equal(done, false, 'b has not delivered yet');
    releaseB();
    await clock.until(() => done, 'group done');
    clock.stop();
    await pipeline.drain(Date.now() + 1_000);
  });

  it('an entry no rule routes finishes at once; an invalid one is handed back to the source', () => {
    const dir = tempDir();
    const cfg = configFromYaml(
      `
sources: { t: { type: file, paths: ["${dir}/*.log"] } }
rules: [{ name: none, when: { methods: [TRACE] }, to: [a] }]
destinations: { a: { type: webhook, url: "http://127.0.0.1:9/a" } }
state_dir: ${dir}
`,
      dir,
    );
    const { pipeline, metrics } = testPipeline(cfg, { a: createSink(cfg.destinations[0], quietLogger()) });
    const group = new AckGroup(true);
    const stats = metrics.source('t');
    pipeline.ingest(byteStringOf(generate(1)[0].text), group, stats);
    assert.ok(pipeline.ingest(byteStringOf('{"broken":'), group, stats) instanceof Error);
    group.seal();
    assert.equal(group.done, true);
    assert.equal(stats.unrouted, 1);
    assert.equal(stats.received, 2);
  });

  it('shutdown dead-letters what cannot be re-read and leaves file entries to the checkpoint', async () => {
    const dir = tempDir();
    const hook = await receiver();
    hook.fault = () => ({ status: 503 });
    const cfg = config(
      dir,
      `  a: { type: webhook, url: "${hook.url}/a", retry: { initial_delay: 10ms, max_delay: 20ms }, batch: { max_wait: 10ms } }`,
    );
    const { pipeline, metrics } = realPipeline(cfg);
    const fromHttp = new AckGroup(false);
    const fromFile = new AckGroup(true);
    const entries = generate(20);
    entries.slice(0, 10).forEach((e) => pipeline.ingest(byteStringOf(e.text), fromHttp, metrics.source('t')));
    entries.slice(10).forEach((e) => pipeline.ingest(byteStringOf(e.text), fromFile, metrics.source('t')));
    fromHttp.seal();
    fromFile.seal();
    await new Promise((r) => setTimeout(r, 100));
    await pipeline.drain(Date.now() + 200);
    const dead = readDeadLetters(dir, 'a');
    assert.deepEqual(
      new Set(dead.map((d) => idOf(JSON.stringify(d.event)))),
      new Set(entries.slice(0, 10).map((e) => e.id)),
    );
    assert.equal(fromHttp.done, true, 'dead-lettered entries are finished');
    assert.equal(fromFile.done, false, 'file entries stay unacknowledged, so the checkpoint does not pass them');
  });
});
