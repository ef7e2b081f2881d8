/**
 * The daemon as an operator runs it: a child process with real files, a real webhook receiver,
 * signals, reload and the admin endpoints.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { Daemon, sumMetric, waitFor } from './support/daemon.ts';
import { generate, idOf, tally } from './support/kong.ts';
import { tempDir } from './support/pipeline.ts';

const receivers: WebhookReceiver[] = [];
const daemons: Daemon[] = [];
after(async () => {
  for (const d of daemons) if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(): Promise<WebhookReceiver> {
  const r = await WebhookReceiver.start();
  receivers.push(r);
  return r;
}

async function daemon(dir: string, config: string): Promise<Daemon> {
  const d = await Daemon.start(dir, config);
  daemons.push(d);
  return d;
}

function fileConfig(dir: string, hook: WebhookReceiver, extra = ''): string {
  return `
sources:
  tail: { type: file, paths: ["${dir}/logs/*.log"], start_at: beginning, poll_interval: 50ms }
workspaces:
  "*": { to: [all] }
${extra}
destinations:
  all: { type: webhook, url: "${hook.url}/all", encoding: ndjson, batch: { max_events: 50, max_wait: 50ms }, retry: { initial_delay: 20ms, max_delay: 200ms } }
state_dir: ${dir}/state
shutdown_timeout: 3s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
}

/** `<dir>/logs/<name>` with `content`, for a file source that tails `<dir>/logs/*.log`. */
function logFile(dir: string, name = 'a.log', content = ''): string {
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const file = path.join(dir, 'logs', name);
  writeFileSync(file, content);
  return file;
}

function deadLetters(dir: string): string[] {
  const root = path.join(dir, 'state', 'dead-letter');
  if (!existsSync(root)) return [];
  const out: string[] = [];
  for (const d of readdirSync(root))
    for (const f of readdirSync(path.join(root, d))) {
      out.push(
        ...readFileSync(path.join(root, d, f), 'utf8')
          .split('\n')
          .filter((l) => l !== ''),
      );
    }
  return out;
}

describe('daemon lifecycle', () => {
  it('SIGTERM under load loses nothing: what was not delivered is re-read after a restart', async () => {
    const dir = tempDir();
    const hook = await receiver();
    // A slow destination, so plenty is still buffered when SIGTERM arrives: 60 batches of 50,
    // 4 at a time, 200 ms each, take ~3 s, far more than the 500 ms the shutdown may drain.
    hook.fault = () => ({ stallMs: 200 });
    const entries = generate(3000);
    const log = logFile(dir, 'kong.log');
    const config = fileConfig(dir, hook).replace('shutdown_timeout: 3s', 'shutdown_timeout: 500ms');
    const d1 = await daemon(dir, config);
    appendFileSync(log, `${entries.map((e) => e.text).join('\n')}\n`);
    await waitFor(() => hook.count('/all') > 100, 20_000, 'first deliveries');
    d1.signal('SIGTERM');
    const exit = await d1.exited;
    assert.equal(exit.code, 0, 'SIGTERM drains and exits 0');
    const firstRun = hook.count('/all');
    assert.ok(firstRun < entries.length, 'the test needs entries left over at shutdown');

    hook.fault = null;
    const d2 = await daemon(dir, config);
    await waitFor(
      () => new Set(hook.entries('/all').map(idOf)).size === entries.length,
      30_000,
      'every entry after restart',
    );
    const counts = tally(hook.entries('/all'));
    for (const e of entries) assert.ok((counts.get(e.id) ?? 0) >= 1, `entry ${e.id} arrived`);
    assert.deepEqual(deadLetters(dir), [], 'file entries are left to the checkpoint, not dead-lettered');
    await d2.stop();
  });

  it('SIGTERM with a dead destination dead-letters what http-log handed over, and exits 0', async () => {
    const dir = tempDir();
    const hook = await receiver();
    hook.fault = () => ({ status: 503 });
    const d = await daemon(
      dir,
      `
sources:
  http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { none: true }, ack: accepted }
workspaces: { "*": { to: [all] } }
destinations:
  all: { type: webhook, url: "${hook.url}/all", retry: { initial_delay: 20ms, max_delay: 100ms } }
state_dir: ${dir}/state
shutdown_timeout: 1s
admin: { listen: "127.0.0.1:0" }
log: { format: json }
`,
    );
    const listen = ((await d.status()).sources as Record<string, { listen: string }>).http.listen;
    const entries = generate(200, { seed: 9 });
    for (let i = 0; i < entries.length; i += 50) {
      const r = await fetch(`http://${listen}/kong`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `[${entries
          .slice(i, i + 50)
          .map((e) => e.text)
          .join(',')}]`,
      });
      assert.equal(r.status, 200);
    }
    d.signal('SIGTERM');
    assert.equal((await d.exited).code, 0);
    const dead = deadLetters(dir);
    const deadIds = new Set(dead.map(idOf));
    for (const e of entries) assert.ok(deadIds.has(e.id), `entry ${e.id} is in the dead-letter file`);
    assert.match(dead[0], /"reason":"shutdown/);
  });

  it('a second signal exits at once', async () => {
    const dir = tempDir();
    const hook = await receiver();
    hook.fault = () => ({ status: 500 });
    logFile(
      dir,
      'a.log',
      `${generate(20)
        .map((e) => e.text)
        .join('\n')}\n`,
    );
    const d = await daemon(dir, fileConfig(dir, hook).replace('shutdown_timeout: 3s', 'shutdown_timeout: 60s'));
    await waitFor(async () => (await d.metric('kong_log_relay_delivery_retries_total')) > 0, 10_000, 'retries');
    d.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    d.signal('SIGTERM');
    const exit = await d.exited;
    assert.notEqual(exit.code, 0, 'the second signal does not wait for the 60 s drain');
    assert.ok(existsSync(path.join(dir, 'state', 'checkpoints')), 'checkpoint state is on disk');
  });

  it('SIGHUP with a broken config keeps the old one running', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const log = logFile(dir);
    const config = fileConfig(dir, hook);
    const d = await daemon(dir, config);
    writeFileSync(d.configFile, `${config}\nrules:\n  - { name: broken, when: { path: '([' }, to: [nowhere] }\n`);
    d.signal('SIGHUP');
    await waitFor(
      async () => sumMetric(await d.metrics(), 'kong_log_relay_config_reloads_total', { result: 'failure' }) === 1,
      10_000,
      'reload failure counted',
    );
    assert.ok(
      d.logs.some((l) => /KLR_CONFIG_REGEX/.test(l.msg)),
      'every error is logged',
    );
    assert.ok(d.logs.some((l) => /still running the previous config/.test(l.msg)));
    const entries = generate(30, { seed: 3 });
    appendFileSync(log, `${entries.map((e) => e.text).join('\n')}\n`);
    await waitFor(() => hook.count('/all') === 30, 10_000, 'delivery under the old config');
    assert.equal((await fetch(`${d.adminUrl}/readyz`)).status, 200);
    await d.stop();
  });

  it('SIGHUP with a new rule routes new traffic at once, without losing or duplicating any', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const log = logFile(dir);
    const config = fileConfig(dir, hook);
    const d = await daemon(dir, config);
    const before = generate(40, { seed: 4 });
    appendFileSync(log, `${before.map((e) => e.text).join('\n')}\n`);
    await waitFor(() => hook.count('/all') === 40, 10_000, 'first batch');
    writeFileSync(
      d.configFile,
      config.replace(
        'destinations:',
        `rules:
  - { name: puts, when: { methods: [PUT, PATCH, POST, DELETE, GET] }, to: [writes] }
destinations:
  writes: { type: webhook, url: "${hook.url}/writes", batch: { max_wait: 50ms } }`,
      ),
    );
    d.signal('SIGHUP');
    await waitFor(
      async () => sumMetric(await d.metrics(), 'kong_log_relay_config_reloads_total', { result: 'success' }) === 1,
      10_000,
      'reload',
    );
    const afterReload = generate(60, { seed: 5 });
    appendFileSync(log, `${afterReload.map((e) => e.text).join('\n')}\n`);
    await waitFor(() => hook.count('/all') === 100 && hook.count('/writes') === 60, 10_000, 'new rule applied');
    const all = tally(hook.entries('/all'));
    assert.equal(all.size, 100);
    for (const n of all.values()) assert.equal(n, 1, 'no duplicates from the reload');
    assert.deepEqual(new Set(hook.entries('/writes').map(idOf)), new Set(afterReload.map((e) => e.id)));
    await d.stop();
  });

  it('/metrics is Prometheus text and its counters add up to what the receiver saw', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const lines = generate(250, { seed: 6 }).map((e) => e.text);
    lines.splice(100, 0, 'this is not json', '{"truncated":');
    logFile(dir, 'a.log', `${lines.join('\n')}\n`);
    const d = await daemon(
      dir,
      fileConfig(dir, hook, `rules:\n  - { name: gets, when: { methods: [GET] }, to: [all] }`),
    );
    await waitFor(() => hook.count('/all') === 250, 15_000, 'all delivered');
    await waitFor(
      async () => (await d.metric('kong_log_relay_events_delivered_total', { destination: 'all' })) === 250,
      5_000,
      'delivered counter',
    );
    const text = await d.metrics();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      assert.match(
        line,
        /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? -?[0-9.e+-]+|NaN|\+Inf$/,
        `not Prometheus text: ${line}`,
      );
    }
    assert.match(text, /# TYPE kong_log_relay_events_received_total counter/);
    assert.equal(sumMetric(text, 'kong_log_relay_events_received_total', { source: 'tail' }), 252);
    assert.equal(sumMetric(text, 'kong_log_relay_events_invalid_total', { source: 'tail' }), 2);
    assert.equal(sumMetric(text, 'kong_log_relay_events_routed_total', { destination: 'all' }), 250);
    assert.equal(sumMetric(text, 'kong_log_relay_events_delivered_total', { destination: 'all' }), hook.count('/all'));
    const gets = generate(250, { seed: 6 }).filter((e) => e.method === 'GET').length;
    assert.equal(sumMetric(text, 'kong_log_relay_rule_matches_total', { rule: 'gets' }), gets);
    assert.equal(sumMetric(text, 'kong_log_relay_batch_size_events_sum', { destination: 'all' }), 250);
    assert.equal(sumMetric(text, 'kong_log_relay_build_info'), 1);
    const status = (await d.status()) as {
      destinations: Record<string, { delivered: number; bufferedEvents: number }>;
      sources: Record<string, { files?: unknown }>;
    };
    assert.equal(status.destinations.all.delivered, 250);
    assert.equal(status.destinations.all.bufferedEvents, 0);
    assert.ok(status.sources.tail.files !== undefined, '/status lists the files of a file source');
    await d.stop();
  });

  it('a bad config makes run exit 2 with located errors, before starting anything', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = tempDir();
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, 'sources: {}\ndestinations: {}\nbogus: 1\n');
    const r = spawnSync(process.execPath, [path.resolve(import.meta.dirname, '../src/main.js'), 'run', '-c', file], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /c\.yaml:3:1: error KLR_CONFIG_UNKNOWN_KEY/);
  });
});
