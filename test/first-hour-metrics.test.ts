/**
 * What a Prometheus user expects from the first scrape, before any traffic: the process and
 * runtime metrics, a series at 0 for every configured source and destination and every reason
 * they can count, no file-source series for an http source, and last_success_timestamp_seconds
 * per destination (0, then the time of the first delivery).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { Daemon, sumMetric, waitFor } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';
import { SnsEmulator } from '../tools/sns-emulator.ts';

let hook: WebhookReceiver | null = null;
let sns: SnsEmulator | null = null;
let daemon: Daemon | null = null;
after(async () => {
  daemon?.proc.kill('SIGKILL');
  await hook?.close();
  await sns?.close();
});

/** Every sample line as "name{labels}" → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

it('a relay with three destinations: every series an alert needs exists at 0 before any traffic', async () => {
  const dir = tempDir();
  hook = await WebhookReceiver.start();
  sns = await SnsEmulator.start();
  const { topicArn } = await sns.topicWithQueue('first-hour');
  mkdirSync(path.join(dir, 'logs'));
  const log = path.join(dir, 'logs', 'kong.log');
  writeFileSync(log, '');
  daemon = Daemon.launch(
    dir,
    `
sources:
  kong_file: { type: file, paths: ["${dir}/logs/*.log"], poll_interval: 50ms }
  kong_http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { none: true } }
workspaces: { "*": { to: [audit, team, topic] } }
destinations:
  audit: { type: webhook, url: "${hook.url}/audit", batch: { max_wait: 50ms } }
  team: { type: webhook, url: "${hook.url}/team", buffer: { when_full: drop_oldest }, batch: { max_wait: 50ms } }
  topic: { type: sns, topic_arn: "${topicArn}", endpoint: "${sns.endpoint}", batch: { max_wait: 50ms } }
state_dir: "${dir}/state"
admin: { listen: "127.0.0.1:0" }
log: { format: json }
`,
  );
  await daemon.waitReady(60_000);
  const text = await daemon.metrics();
  const s = samples(text);
  const at0 = (key: string): void => assert.equal(s.get(key), 0, `${key} should exist at 0`);

  // Process and runtime metrics under prom-client's standard names.
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'process_start_time_seconds',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_eventloop_lag_p99_seconds',
  ])
    assert.ok(s.has(name), `${name} is scraped`);
  assert.match(text, /^# TYPE nodejs_gc_duration_seconds histogram$/m);

  for (const destination of ['audit', 'team', 'topic']) {
    for (const counter of ['events_routed_total', 'events_delivered_total', 'delivery_retries_total'])
      at0(`kong_log_relay_${counter}{destination="${destination}"}`);
    at0(`kong_log_relay_events_dropped_total{destination="${destination}",reason="dead_letter_unwritable"}`);
    for (const reason of ['rejected', 'retries_exhausted', 'shutdown'])
      at0(`kong_log_relay_events_dead_lettered_total{destination="${destination}",reason="${reason}"}`);
    at0(`kong_log_relay_last_success_timestamp_seconds{destination="${destination}"}`);
    at0(`kong_log_relay_buffer_events{destination="${destination}"}`);
  }
  // The drop reason of a drop_* buffer, only where the policy can drop.
  at0('kong_log_relay_events_dropped_total{destination="team",reason="buffer_full_drop_oldest"}');
  assert.ok(
    !text.includes('reason="buffer_full_drop_oldest",destination="audit"') &&
      !text.includes('destination="audit",reason="buffer_full'),
  );

  for (const source of ['kong_file', 'kong_http']) {
    at0(`kong_log_relay_events_received_total{source="${source}"}`);
    at0(`kong_log_relay_events_unrouted_total{source="${source}"}`);
    at0(`kong_log_relay_events_invalid_total{source="${source}",reason="invalid_json"}`);
  }
  at0('kong_log_relay_events_invalid_total{source="kong_file",reason="line_too_long"}');
  at0('kong_log_relay_events_invalid_total{source="kong_http",reason="entry_too_large"}');
  at0('kong_log_relay_http_requests_refused_total{source="kong_http",reason="max_inflight_body_bytes"}');
  for (const fileOnly of [
    'file_bytes_read_total',
    'file_bytes_abandoned_total',
    'files_not_found_total',
    'checkpoint_write_errors_total',
    'source_paused_seconds_total',
  ]) {
    at0(`kong_log_relay_${fileOnly}{source="kong_file"}`);
    assert.ok(!s.has(`kong_log_relay_${fileOnly}{source="kong_http"}`), `no ${fileOnly} for the http source`);
  }

  // Prometheus's own linter, when Debian's prometheus package (promtool) is installed: it parses
  // the text and finds nothing to say about ours. (prom-client names three of its default gauges
  // nodejs_active_*_total, which the linter dislikes; they keep their standard names.)
  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error === undefined) {
    const problems = `${promtool.stdout}${promtool.stderr}`
      .split('\n')
      .filter((l) => l !== '' && !/^nodejs_active_(handles|requests|resources)_total non-counter metrics/.test(l));
    assert.deepEqual(problems, []);
    assert.ok(promtool.status === 0 || promtool.status === 3, `promtool exit ${promtool.status}`);
  }

  // After one entry: the time of the last success, per destination.
  const before = Date.now() / 1000;
  appendFileSync(log, '{"request":{"method":"GET","uri":"\\/x"},"response":{"status":200}}\n');
  await waitFor(
    async () => {
      const now = await daemon?.metrics();
      return ['audit', 'team', 'topic'].every(
        (destination) => sumMetric(now ?? '', 'kong_log_relay_events_delivered_total', { destination }) === 1,
      );
    },
    30_000,
    'one delivery to each destination',
  );
  const after1 = await daemon.metrics();
  for (const destination of ['audit', 'team', 'topic']) {
    const t = sumMetric(after1, 'kong_log_relay_last_success_timestamp_seconds', { destination });
    assert.ok(t >= Math.floor(before) && t <= Date.now() / 1000 + 1, `${destination}: ${t}`);
  }
  assert.equal((await daemon.stop()).code, 0);
  // A normal start prints no warning (the AWS SDK warns on Node versions it will drop: not on 22+).
  assert.deepEqual(daemon.stderr, []);
});
