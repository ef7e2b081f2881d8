/**
 * `kong-log-relay tap`: a running relay's routed entries as NDJSON, each as its destination got it
 * (redacted by default, cut to `fields` where configured), with its rules and destinations;
 * filtered by destination, rule, workspace and source; ended by --limit or --duration; a reader
 * that does not keep up gets drop notices and never slows delivery; the admin token guards it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { KongEntry } from '../tools/kong-traffic.ts';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { Daemon, MAIN, sumMetric, waitFor } from './support/daemon.ts';
import { generate, idOf } from './support/kong.ts';
import { tempDir } from './support/pipeline.ts';

const ADMIN_TOKEN = 'tap-admin-token-0123456789';
const INGEST_TOKEN = 'tap-ingest-token-0123456789';
const SECRET = 'Bearer sk-live-tap-secret-98765';

interface TapLine {
  readonly time: string;
  readonly source: string;
  readonly workspace: string | null;
  readonly rules: readonly string[];
  readonly destinations: readonly string[];
  readonly entry: Record<string, unknown>;
  readonly entry_by_destination?: Record<string, Record<string, unknown>>;
  readonly text: string;
}

interface TapRun {
  readonly code: number | null;
  readonly lines: TapLine[];
  readonly stderr: string;
}

describe('kong-log-relay tap', () => {
  let daemon: Daemon;
  let hook: WebhookReceiver;
  let logFile = '';
  let httpUrl = '';
  let entries: KongEntry[] = [];

  before(async () => {
    const dir = tempDir();
    logFile = path.join(dir, 'kong.log');
    writeFileSync(logFile, '');
    hook = await WebhookReceiver.start();
    daemon = await Daemon.start(
      dir,
      `
sources:
  kong_file: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
  kong_http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { bearer: "${INGEST_TOKEN}" } }
rules:
  - { name: orders, when: { path: '^/api/v1/orders' }, to: [orders_hook] }
  - { name: writes, when: { methods: [POST, PUT, PATCH, DELETE] }, to: [orders_hook] }
workspaces: { "*": { to: [all_hook] }, payments: { to: [slim_hook] } }
destinations:
  all_hook: { type: webhook, url: "${hook.url}/all", batch: { max_wait: 50ms } }
  orders_hook: { type: webhook, url: "${hook.url}/orders", batch: { max_wait: 50ms } }
  slim_hook: { type: webhook, url: "${hook.url}/slim", batch: { max_wait: 50ms }, fields: [request.method, request.uri, request.headers.authorization, workspace_name] }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0", token: "${ADMIN_TOKEN}" }
log: { level: info, format: json }
`,
      {},
    );
    const status = (await (
      await fetch(`${daemon.adminUrl}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).json()) as { sources: Record<string, { listen?: string }> };
    httpUrl = `http://${status.sources.kong_http.listen}/kong`;
    // A credential in every HTTP entry: redaction (on by default) must mask it in tap as in delivery.
    entries = generate(400, { seed: 21, workspaces: ['default', 'payments'] }).map((e) => {
      const entry = JSON.parse(e.text) as { request?: { headers: Record<string, unknown> } };
      if (entry.request !== undefined) entry.request.headers.authorization = SECRET;
      return { ...e, text: JSON.stringify(entry) };
    });
  });
  after(async () => {
    await daemon?.stop();
    await hook?.close();
  });

  /** Start `tap` against the daemon; `token`: what KLR_ADMIN_TOKEN holds. */
  function spawnTap(args: readonly string[], token = ADMIN_TOKEN) {
    const child = spawn(process.execPath, [MAIN, 'tap', '--admin', daemon.adminUrl, ...args], {
      env: { ...process.env, KLR_ADMIN_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      output.stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      output.stderr += s;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, output, exited };
  }

  /** Run `tap` with these arguments; `traffic` runs once the relay reports the tap open. */
  async function tap(args: string[], traffic: () => Promise<void> | void): Promise<TapRun> {
    const before = await openTaps();
    const { child, output, exited } = spawnTap(args);
    await waitFor(async () => (await openTaps()) > before || child.exitCode !== null, 15_000, 'the tap is open');
    await traffic();
    const code = await Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 60_000))]);
    if (code === null) child.kill();
    const lines = output.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((text) => ({ ...(JSON.parse(text) as Omit<TapLine, 'text'>), text }));
    return { code, lines, stderr: output.stderr };
  }

  async function openTaps(): Promise<number> {
    const r = await fetch(`${daemon.adminUrl}/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    return ((await r.json()) as { taps: number }).taps;
  }

  function writeToFile(batch: readonly KongEntry[]): void {
    appendFileSync(logFile, batch.map((e) => `${e.text}\n`).join(''));
  }

  async function postToHttp(batch: readonly KongEntry[]): Promise<void> {
    const r = await fetch(httpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${INGEST_TOKEN}`, 'content-type': 'application/json' },
      body: `[${batch.map((e) => e.text).join(',')}]`,
    });
    assert.equal(r.status, 200);
  }

  const isOrder = (e: KongEntry): boolean => e.path?.startsWith('/api/v1/orders') === true;
  const isWrite = (e: KongEntry): boolean => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(e.method ?? '');

  it('--destination prints, byte for byte, the redacted entries that destination received', async () => {
    const batch = entries.slice(0, 100);
    const expected = batch.filter((e) => isOrder(e) || isWrite(e));
    assert.ok(expected.length >= 10, 'the sample has order and write requests');
    const startAt = hook.count('/orders');
    const run = await tap(['--destination', 'orders_hook', '--limit', String(expected.length)], () =>
      writeToFile(batch),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`${expected.length} entries shown, 0 dropped; ended by limit`));
    assert.deepEqual(
      run.lines.map((l) => idOf(l.text)),
      expected.map((e) => e.id),
      'every routed entry, in order, and no other',
    );
    await waitFor(() => hook.count('/orders') >= startAt + expected.length, 15_000, 'delivery');
    const received = new Map(hook.entries('/orders').map((text) => [idOf(text), text]));
    for (const line of run.lines) {
      const delivered = received.get(idOf(line.text)) as string;
      assert.ok(line.text.includes(`"entry":${delivered}`), 'the entry bytes are the delivered bytes');
      assert.ok(!line.text.includes('sk-live-tap-secret'), 'the credential is masked');
      assert.ok(line.destinations.includes('orders_hook') && line.destinations.includes('all_hook'));
      assert.equal(line.source, 'kong_file');
      const e = batch.find((x) => x.id === idOf(line.text)) as KongEntry;
      assert.deepEqual(
        [...line.rules].sort(),
        [...(isOrder(e) ? ['orders'] : []), ...(isWrite(e) ? ['writes'] : [])].sort(),
      );
    }
  });

  it('--rule, --workspace and --source filter; a destination with fields shows its own cut', async () => {
    const batch = entries.slice(100, 200);
    const payments = batch.filter((e) => e.workspace === 'payments');
    assert.ok(payments.length > 0);
    const byWorkspace = await tap(['--workspace', 'payments', '--source', 'kong_http', '--duration', '4s'], () =>
      postToHttp(batch),
    );
    assert.equal(byWorkspace.code, 0, byWorkspace.stderr);
    assert.match(byWorkspace.stderr, /ended by duration/);
    assert.deepEqual(
      byWorkspace.lines.map((l) => idOf(l.text)),
      payments.map((e) => e.id),
    );
    for (const line of byWorkspace.lines) {
      assert.equal(line.workspace, 'payments');
      assert.equal(line.source, 'kong_http');
      const slim = line.entry_by_destination?.slim_hook as Record<string, unknown>;
      assert.deepEqual(Object.keys(slim).sort(), ['request', 'workspace_name'], 'slim_hook gets its fields only');
      assert.ok(!JSON.stringify(slim).includes('sk-live-tap-secret'));
    }

    const more = entries.slice(200, 300);
    const writes = more.filter(isWrite);
    const byRule = await tap(['--rule', 'writes', '--source', 'kong_file', '--limit', String(writes.length)], () => {
      void postToHttp(more.slice(0, 50)); // another source: not shown
      writeToFile(more);
    });
    assert.equal(byRule.code, 0, byRule.stderr);
    assert.deepEqual(
      byRule.lines.map((l) => idOf(l.text)),
      writes.map((e) => e.id),
    );
    for (const line of byRule.lines) assert.ok(line.rules.includes('writes'));
  });

  it('a reader that does not keep up gets drop notices; delivery goes on at full speed', async () => {
    // Read nothing from the stream while ~20 MB of entries flow: the relay must still deliver all.
    const socket = connect(Number(new URL(daemon.adminUrl).port), '127.0.0.1');
    socket.write(`GET /tap?destination=all_hook HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\n\r\n`);
    socket.pause();
    await waitFor(async () => (await openTaps()) >= 1, 10_000, 'the slow tap is open');
    const big = generate(6000, { seed: 33, targetBytes: 3500 });
    const startAt = hook.count('/all');
    for (let i = 0; i < big.length; i += 500) writeToFile(big.slice(i, i + 500));
    await waitFor(() => hook.count('/all') >= startAt + big.length, 60_000, 'every entry delivered');
    // Now read: entries shown plus entries dropped account for every one.
    let text = '';
    socket.setEncoding('utf8').on('data', (s: string) => {
      text += s;
    });
    socket.resume();
    const accounted = (): { shown: number; dropped: number } => {
      const shown = (text.match(/"entry":/g) ?? []).length;
      const notices = [...text.matchAll(/\{"tap":"dropped","dropped":(\d+)/g)].map((m) => Number(m[1]));
      return { shown, dropped: notices.reduce((a, b) => a + b, 0) };
    };
    await waitFor(
      () => {
        const { shown, dropped } = accounted();
        return shown + dropped >= big.length;
      },
      30_000,
      'every entry shown or counted as dropped',
    );
    const { shown, dropped } = accounted();
    assert.equal(shown + dropped, big.length);
    assert.ok(dropped > 0, 'the unread tap dropped entries');
    const metrics = await (
      await fetch(`${daemon.adminUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
    assert.equal(sumMetric(metrics, 'kong_log_relay_tap_entries_dropped_total'), dropped, 'counted in metrics too');
    assert.equal(sumMetric(metrics, 'kong_log_relay_taps_open'), 1);
    socket.destroy();
    await waitFor(async () => (await openTaps()) === 0, 10_000, 'the tap closes with its client');
  });

  it('needs the admin token; unknown names and bad limits are clear errors', async () => {
    const open = await fetch(`${daemon.adminUrl}/tap?limit=1`);
    assert.equal(open.status, 401);
    await open.body?.cancel();
    const run = async (args: string[], token = ADMIN_TOKEN) => {
      const { output, exited } = spawnTap(args, token);
      return { code: await exited, stderr: output.stderr };
    };
    const unknown = await run(['--destination', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown destination "nope": this relay has all_hook, orders_hook, slim_hook/);
    const badLimit = await run(['--limit', '0']);
    assert.equal(badLimit.code, 2);
    assert.match(badLimit.stderr, /limit must be a whole number above 0/);
    const noToken = await run([], '');
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /HTTP 401/);
  });
});
