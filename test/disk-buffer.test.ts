/**
 * The durable disk buffer (`buffer: { type: disk }`): entries answered 200 with `ack: accepted`
 * survive kill -9 and a graceful stop and are delivered after the next start; a torn or damaged
 * segment is detected by checksum, counted and logged, and the rest is still delivered;
 * max_bytes holds with each when_full. Every owed entry is counted at the receiver.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { waitFor } from './support/daemon.ts';
import { generate, tally } from './support/kong.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';
import { deadLetters, Fleet, kill9, readCheckpoint } from './support/reliability-harness.ts';
import { configFromYaml } from './support/pipeline.ts';
import { freePort } from './support/tcp-gate.ts';

const fleet = new Fleet();
const TOKEN = 'disk-buffer-token';

interface Setup {
  readonly dir: string;
  readonly port: number;
  readonly config: string;
}

async function setup(hookUrl: string, buffer: string, extraSource = ''): Promise<Setup> {
  const dir = fleet.dir('klr-disk-buffer-');
  const port = await freePort();
  const config = `
sources:
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { bearer: "${TOKEN}" }, ack: accepted }
${extraSource}
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "${hookUrl}/in", encoding: ndjson, batch: { max_events: 50, max_wait: 50ms }, retry: { initial_delay: 50ms, max_delay: 300ms }, buffer: ${buffer} }
state_dir: ${dir}/state
shutdown_timeout: 2s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
  return { dir, port, config };
}

async function post(
  s: Setup,
  entries: readonly { id: string; text: string }[],
  batchSize = 5,
): Promise<KongHttpLogClient> {
  const client = new KongHttpLogClient(entries, {
    url: `http://127.0.0.1:${s.port}/kong`,
    authorization: `Bearer ${TOKEN}`,
    batchSize,
    concurrency: 2,
    maxRetryDelayMs: 200,
  });
  fleet.onCleanup(() => client.close());
  await client.run();
  return client;
}

function segments(s: Setup): string[] {
  const dir = path.join(s.dir, 'state', 'buffer', 'hook');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.seg'))
    .sort()
    .map((f) => path.join(dir, f));
}

describe('disk buffer', () => {
  it('kill -9 while the destination is down, again and again: every entry answered 200 arrives once it is back', async () => {
    const hook = await fleet.receiver();
    let down = true;
    hook.fault = () => (down ? { status: 503 } : null);
    const s = await setup(hook.url, '{ type: disk }');
    const entries = generate(600, { seed: 41 });
    let daemon = await fleet.daemon(s.dir, s.config);
    const rounds = 6;
    const per = entries.length / rounds;
    for (let round = 0; round < rounds; round++) {
      const slice = entries.slice(round * per, (round + 1) * per);
      const client = await post(s, slice);
      assert.equal(client.acked, client.batches.length, 'every POST answered 2xx');
      // Every other round the destination is up for a moment: part of the buffer is delivered.
      down = round % 2 === 0;
      await new Promise((r) => setTimeout(r, 150));
      await kill9(daemon);
      down = true;
      daemon = await fleet.daemon(s.dir, s.config);
    }
    down = false;
    const owed = entries.map((e) => e.id);
    await waitFor(() => owed.every((id) => tally(hook.entries('/in')).has(id)), 90_000, 'every entry delivered');
    const copies = tally(hook.entries('/in'));
    assert.equal(copies.size, entries.length, 'nothing foreign');
    // Copies beyond the first: entries re-read after a kill (the acknowledged position moves in
    // order, so a batch still retrying holds back those after it). Wait until nothing is owed.
    await waitFor(
      async () =>
        (await daemon.metric('kong_log_relay_buffer_bytes', { destination: 'hook' })) === 0 &&
        (await daemon.metric('kong_log_relay_in_flight_batches', { destination: 'hook' })) === 0,
      30_000,
      'buffer empty',
    );
    await daemon.stop();
    // Graceful stop after everything was delivered: a restart sends nothing again.
    const before = hook.count('/in');
    const again = await fleet.daemon(s.dir, s.config);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(hook.count('/in'), before, 'acknowledged entries are not sent again');
    await again.stop();
  });

  it('a graceful stop keeps http entries on disk (not dead-lettered); the next start sends them', async () => {
    const hook = await fleet.receiver();
    hook.fault = () => ({ status: 503 });
    const s = await setup(hook.url, '{ type: disk, fsync: always }');
    const entries = generate(100, { seed: 42 });
    const d = await fleet.daemon(s.dir, s.config);
    await post(s, entries);
    assert.equal((await d.stop()).code, 0);
    assert.deepEqual(deadLetters(path.join(s.dir, 'state')), [], 'nothing dead-lettered');
    assert.equal(hook.count('/in'), 0);
    hook.fault = null;
    const next = await fleet.daemon(s.dir, s.config);
    await waitFor(() => hook.count('/in') === 100, 20_000, 'the 100 entries after the restart');
    assert.equal(tally(hook.entries('/in')).size, 100);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(hook.count('/in'), 100, 'each once');
    await next.stop();
  });

  it('a torn tail and a damaged record are detected by checksum, counted, logged; the rest is delivered', async () => {
    const hook = await fleet.receiver();
    hook.fault = () => ({ status: 503 });
    const s = await setup(hook.url, '{ type: disk }');
    const entries = generate(60, { seed: 43 });
    const d = await fleet.daemon(s.dir, s.config);
    await post(s, entries, 1);
    await d.stop();
    const [segment] = segments(s).filter((f) => statSync(f).size > 0);
    const bytes = readFileSync(segment);
    // Damage one record's payload in the middle (a flipped byte) ...
    const middle = bytes.indexOf(entries[30].id);
    assert.ok(middle > 0);
    bytes[middle] ^= 0xff;
    writeFileSync(segment, bytes);
    // ... and tear the last one (a crash mid-write).
    truncateSync(segment, bytes.length - 10);
    hook.fault = null;
    const next = await fleet.daemon(s.dir, s.config);
    await waitFor(() => hook.count('/in') === 58, 20_000, '58 intact entries delivered');
    const got = tally(hook.entries('/in'));
    const lost = entries.filter((e) => !got.has(e.id)).map((e) => e.id);
    assert.deepEqual(lost, [entries[30].id, entries[59].id], 'only the damaged and the torn record are missing');
    await waitFor(
      async () =>
        (await next.metric('kong_log_relay_events_dropped_total', {
          destination: 'hook',
          reason: 'disk_buffer_corrupt',
        })) === 2,
      5_000,
      'both counted',
    );
    assert.ok(next.hasLog(/checksum mismatch/), 'the damaged record is logged');
    assert.ok(next.hasLog(/torn tail/), 'the torn tail is logged');
    await next.stop();
  });

  it('a damaged record header: the reader finds the next intact record', async () => {
    const hook = await fleet.receiver();
    hook.fault = () => ({ status: 503 });
    const s = await setup(hook.url, '{ type: disk }');
    const entries = generate(20, { seed: 44 });
    const d = await fleet.daemon(s.dir, s.config);
    await post(s, entries, 1);
    await d.stop();
    const [segment] = segments(s).filter((f) => statSync(f).size > 0);
    const bytes = readFileSync(segment);
    // Records are u32 length | u32 crc | u32 header crc | payload: find the one holding entry 10
    // and break its length.
    const target = bytes.indexOf(entries[10].id);
    let at = 0;
    while (at + 12 + bytes.readUInt32LE(at) < target) at += 12 + bytes.readUInt32LE(at);
    bytes[at + 1] ^= 0x40;
    writeFileSync(segment, bytes);
    hook.fault = null;
    const next = await fleet.daemon(s.dir, s.config);
    await waitFor(() => hook.count('/in') === 19, 20_000, '19 entries delivered');
    assert.equal(tally(hook.entries('/in')).has(entries[10].id), false);
    assert.ok(next.hasLog(/damaged record header/));
    await next.stop();
  });

  for (const whenFull of ['drop_newest', 'block'] as const)
    it(`max_bytes is honoured: when_full ${whenFull}`, async () => {
      const hook = await fleet.receiver();
      hook.fault = () => ({ status: 503 });
      const s = await setup(hook.url, `{ type: disk, max_bytes: 64KiB, when_full: ${whenFull} }`);
      const entries = generate(200, { seed: 45 });
      const d = await fleet.daemon(s.dir, s.config);
      const client = new KongHttpLogClient(entries, {
        url: `http://127.0.0.1:${s.port}/kong`,
        authorization: `Bearer ${TOKEN}`,
        batchSize: 5,
        concurrency: 1,
        maxRetryDelayMs: 100,
      });
      fleet.onCleanup(() => client.close());
      const running = client.run();
      await waitFor(
        async () => (await d.metric('kong_log_relay_buffer_bytes', { destination: 'hook' })) >= 64 * 1024,
        20_000,
        'buffer full',
      );
      const onDisk = segments(s).reduce((n, f) => n + statSync(f).size, 0);
      assert.ok(
        onDisk < 64 * 1024 + 20 * 1024,
        `on disk ${onDisk} bytes: max_bytes plus at most one request's entries`,
      );
      if (whenFull === 'drop_newest') {
        await running;
        const dropped = await d.metric('kong_log_relay_events_dropped_total', {
          destination: 'hook',
          reason: 'buffer_full_drop_newest',
        });
        assert.ok(dropped > 0, 'drops counted');
        hook.fault = null;
        await waitFor(() => hook.count('/in') + dropped === entries.length, 20_000, 'delivered + dropped = sent');
      } else {
        await waitFor(() => (client.answers['429'] ?? 0) > 0, 10_000, 'HTTP 429 while full');
        hook.fault = null;
        await running;
        await waitFor(() => tally(hook.entries('/in')).size === entries.length, 30_000, 'everything delivered');
        assert.equal(await d.metric('kong_log_relay_events_dropped_total', { destination: 'hook' }), 0);
      }
      await d.stop();
    });

  it('file source: the checkpoint advances once entries are in the disk buffer; they survive kill -9', async () => {
    const hook = await fleet.receiver();
    hook.fault = () => ({ status: 503 });
    const { dir, logFile } = fleet.kongLogDir('klr-disk-buffer-file-');
    const s = await setup(
      hook.url,
      '{ type: disk }',
      `  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }`,
    );
    const config = s.config.replace(`${s.dir}/state`, `${dir}/state`);
    const entries = generate(150, { seed: 46 });
    const d = await fleet.daemon(dir, config);
    appendFileSync(logFile, `${entries.map((e) => e.text).join('\n')}\n`);
    const size = statSync(logFile).size;
    await waitFor(
      () => readCheckpoint(path.join(dir, 'state'), 'tail').some((f) => f.offset === size),
      15_000,
      'checkpoint at the end while the destination is down',
    );
    await kill9(d);
    hook.fault = null;
    const next = await fleet.daemon(dir, config);
    await waitFor(() => tally(hook.entries('/in')).size === 150, 20_000, 'all 150 delivered after the restart');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(hook.count('/in'), 150, 'each once (the checkpoint was past them: no re-read)');
    await next.stop();
  });
  it('a destination renamed away from its disk buffer: the entries stay, are logged and counted, and are delivered once the name is back', async () => {
    const hook = await fleet.receiver();
    hook.fault = () => ({ status: 503 });
    const s = await setup(hook.url, '{ type: disk }');
    const entries = generate(30, { seed: 47 });
    const d = await fleet.daemon(s.dir, s.config);
    await post(s, entries);
    await d.stop();
    hook.fault = null;
    const renamed = s.config.replace('"*": { to: [hook] }', '"*": { to: [hook2] }').replace('  hook: {', '  hook2: {');
    const other = await fleet.daemon(s.dir, renamed);
    assert.ok(other.hasLog(/disk buffer holds entries of a destination that is not configured/), 'logged');
    assert.ok(
      (await other.metric('kong_log_relay_disk_buffer_orphaned_bytes', { destination: 'hook' })) > 0,
      'counted',
    );
    await other.stop();
    assert.equal(hook.count('/in'), 0);
    const back = await fleet.daemon(s.dir, s.config);
    await waitFor(() => tally(hook.entries('/in')).size === 30, 20_000, 'delivered once the name is back');
    assert.equal(await back.metric('kong_log_relay_disk_buffer_orphaned_bytes'), 0);
    await back.stop();
  });
  it('config: disk settings resolve with their defaults; when_full drop_oldest is refused with its path and line', () => {
    const base = (buffer: string): string => `
sources: { t: { type: file, paths: ["/tmp/x.log"] } }
workspaces: { "*": { to: [a] } }
destinations:
  a: { type: webhook, url: "http://127.0.0.1:1/x", buffer: ${buffer} }
state_dir: /tmp/klr-state
`;
    const ok = configFromYaml(base('{ type: disk }')).destinations[0].delivery.buffer;
    assert.deepEqual(ok, {
      type: 'disk',
      dir: '/tmp/klr-state/buffer/a',
      maxBytes: 1024 ** 3,
      whenFull: 'block',
      fsync: 'interval',
      fsyncIntervalMs: 500,
    });
    assert.throws(
      () => configFromYaml(base('{ type: disk, when_full: drop_oldest }')),
      /5:\d+: .*destinations\.a\.buffer\.when_full: a disk buffer supports when_full: block or drop_newest/,
    );
  });
});
