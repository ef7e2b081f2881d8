/**
 * SIGHUP that fixes a failing destination's URL: the destination with the old settings hands
 * its buffered and in-flight entries (with their acknowledgement tickets) to its successor.
 * Regression: before, the old instance gave up on file entries after the drain timeout ("left
 * for the checkpoint to re-read", which nothing did while the process lived), dead-lettered the
 * http entries, and a restart sent the file entries again; with the file rotated and deleted
 * meanwhile they were gone. Also: a reload no longer deletes the buffer gauges of a destination
 * that keeps running.
 */
import assert from 'node:assert/strict';
import { appendFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { type Daemon, sumMetric, waitFor } from './support/daemon.ts';
import { generate, idOf, tally } from './support/kong.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';
import { deadLetters, Fleet, readCheckpoint } from './support/reliability-harness.ts';
import { freePort } from './support/tcp-gate.ts';

const fleet = new Fleet();
const TOKEN = 'reload-test-token';

async function reloaded(d: Daemon, count: number): Promise<void> {
  await waitFor(
    async () => sumMetric(await d.metrics(), 'kong_log_relay_config_reloads_total', { result: 'success' }) === count,
    15_000,
    'reload',
  );
}

async function scenario(rotateAndDelete: boolean, buffer: string): Promise<void> {
  const { dir, logFile } = fleet.kongLogDir('klr-reload-handover-');
  const hook = await fleet.receiver();
  let refused = 0;
  hook.fault = (req) => (req.url === '/broken' && ++refused > 0 ? { status: 503 } : null);
  const port = await freePort();
  const config = (hookPath: string): string => `
sources:
  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { bearer: "${TOKEN}" } }
workspaces: { "*": { to: [hook, steady] } }
destinations:
  hook: { type: webhook, url: "${hook.url}${hookPath}", encoding: ndjson, batch: { max_events: 40, max_wait: 50ms }, retry: { initial_delay: 50ms, max_delay: 300ms }${buffer} }
  steady: { type: webhook, url: "${hook.url}/steady", encoding: ndjson, batch: { max_wait: 50ms } }
state_dir: ${dir}/state
shutdown_timeout: 2s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
  const d = await fleet.daemon(dir, config('/broken'));
  const fileEntries = generate(200, { seed: 31 });
  const httpEntries = generate(50, { seed: 32 });
  appendFileSync(logFile, `${fileEntries.map((e) => e.text).join('\n')}\n`);
  const client = new KongHttpLogClient(httpEntries, {
    url: `http://127.0.0.1:${port}/kong`,
    batchSize: 10,
    concurrency: 2,
    authorization: `Bearer ${TOKEN}`,
  });
  fleet.onCleanup(() => client.close());
  await client.run();
  assert.equal(client.acked, 5, 'every http batch answered 2xx (ack: accepted)');
  await waitFor(() => hook.count('/steady') === 250, 15_000, 'the steady destination has everything');
  // The broken destination holds all 250 (buffered or between retries).
  await waitFor(() => refused >= 10, 15_000, 'retries against 503');
  assert.equal(hook.count('/fixed'), 0);
  if (rotateAndDelete) {
    renameSync(logFile, `${logFile}.1`);
    writeFileSync(logFile, '');
    await new Promise((r) => setTimeout(r, 300));
    rmSync(`${logFile}.1`);
  }

  writeFileSync(d.configFile, config('/fixed'));
  d.signal('SIGHUP');
  await reloaded(d, 1);
  const owed = [...fileEntries, ...httpEntries].map((e) => e.id);
  await waitFor(() => hook.count('/fixed') >= 250, 20_000, 'all 250 at the fixed URL');
  await new Promise((r) => setTimeout(r, 1_000)); // anything sent twice would arrive by now
  const arrived = tally(hook.entries('/fixed'));
  assert.equal(arrived.size, 250, 'exactly the 250 owed entries');
  for (const id of owed) assert.equal(arrived.get(id), 1, `entry ${id} arrived once`);
  assert.equal(hook.count('/steady'), 250, 'the unchanged destination sent nothing twice');
  assert.deepEqual(deadLetters(path.join(dir, 'state')), [], 'nothing dead-lettered');
  // The file checkpoint settles once the successor has delivered (nothing left to re-read).
  if (!rotateAndDelete)
    await waitFor(
      () => readCheckpoint(path.join(dir, 'state'), 'tail').some((f) => f.offset === statSync(logFile).size),
      10_000,
      'checkpoint at the end of the file',
    );

  // Gauges of both destinations survive the reload (the changed one's successor, the steady one).
  const text = await d.metrics();
  for (const destination of ['hook', 'steady'])
    for (const gauge of ['buffer_events', 'buffer_bytes', 'in_flight_batches', 'destination_blocking'])
      assert.match(
        text,
        new RegExp(`^kong_log_relay_${gauge}\\{destination="${destination}"\\} `, 'm'),
        `${gauge} of ${destination}`,
      );

  // A restart sends nothing again: everything was acknowledged.
  await d.stop();
  const again = await fleet.daemon(dir, config('/fixed'));
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(hook.count('/fixed'), 250, 'no duplicates after a restart');
  assert.equal(new Set(hook.entries('/fixed').map(idOf)).size, 250);
  await again.stop();
}

describe('reload hands a changed destination over to its successor', () => {
  it('webhook failing with 503, 200 file + 50 http entries buffered, URL fixed, SIGHUP: exactly 250 arrive, none twice', async () => {
    await scenario(false, '');
  });

  it('the same with the file rotated and deleted before the SIGHUP', async () => {
    await scenario(true, '');
  });

  it('the same with a disk buffer', async () => {
    await scenario(false, ', buffer: { type: disk }');
  });

  it('a reload keeps the gauges of a destination that keeps running, and reports them', async () => {
    const dir = fleet.dir('klr-reload-gauges-');
    const hook = await fleet.receiver();
    hook.fault = () => ({ status: 503 });
    const port = await freePort();
    const config = (extra: string): string => `
sources:
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { bearer: "${TOKEN}" } }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "${hook.url}/h", batch: { max_events: 10, max_wait: 50ms }, concurrency: 1, retry: { initial_delay: 200ms, max_delay: 1s } }
${extra}
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
    const d = await fleet.daemon(dir, config(''));
    const client = new KongHttpLogClient(generate(30, { seed: 33 }), {
      url: `http://127.0.0.1:${port}/kong`,
      batchSize: 10,
      concurrency: 1,
      authorization: `Bearer ${TOKEN}`,
    });
    fleet.onCleanup(() => client.close());
    await client.run();
    const gauges = async (): Promise<[number, number, number]> => {
      const text = await d.metrics();
      const at = { destination: 'hook' };
      return [
        sumMetric(text, 'kong_log_relay_buffer_events', at),
        sumMetric(text, 'kong_log_relay_buffer_bytes', at),
        sumMetric(text, 'kong_log_relay_in_flight_batches', at),
      ];
    };
    await waitFor(
      async () => (await gauges())[0] === 20 && (await gauges())[2] === 1,
      10_000,
      '20 buffered, 1 batch in flight',
    );
    const before = await gauges();
    writeFileSync(d.configFile, config(`  other: { type: webhook, url: "${hook.url}/o" }`));
    d.signal('SIGHUP');
    await reloaded(d, 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await gauges(), before, 'the unchanged destination reports the same gauges after the reload');
    assert.match(await d.metrics(), /^kong_log_relay_destination_blocking\{destination="hook"\} 0/m);
    hook.fault = null;
    await waitFor(async () => (await gauges())[0] === 0, 10_000, 'drained');
    await d.stop();
  });
});
