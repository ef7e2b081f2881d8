/**
 * deploy/grafana/kong-log-relay.json and deploy/prometheus/alerts.yaml: the alert rules pass
 * `promtool check rules`, and every metric the dashboard and the rules use exists in a real
 * /metrics scrape of a relay with three destinations, before any traffic (an alert on a series
 * that appears only later, or a dashboard panel on a renamed metric, would stay silent).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { Daemon } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';

const DEPLOY = path.join(import.meta.dirname, '..', '..', 'deploy');
const DASHBOARD = path.join(DEPLOY, 'grafana', 'kong-log-relay.json');
const ALERTS = path.join(DEPLOY, 'prometheus', 'alerts.yaml');

/** Whether promtool is installed; CI installs it (Debian's prometheus package), so there its absence fails. */
function promtool(): boolean {
  const found = spawnSync('promtool', ['--version']).status === 0;
  if (!found && process.env.CI === 'true') assert.fail('promtool is missing in CI (.ci/run installs prometheus)');
  return found;
}

/** Metric names in PromQL: the ones of our prefix and of prom-client's default metrics. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:kong_log_relay|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0]);
}

function dashboardExprs(): string[] {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { targets?: { expr: string }[] }[];
    templating: { list: { query?: unknown }[] };
  };
  const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  for (const v of dash.templating.list)
    if (typeof v.query === 'object' && v.query !== null) exprs.push((v.query as { query: string }).query);
  return exprs;
}

function alertExprs(): { alert: string; expr: string }[] {
  const doc = parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

/** Series names a scrape exposes (histograms and summaries with their _bucket/_sum/_count). */
function scrapedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1] + s);
    if (m[2] === 'summary') for (const s of ['_sum', '_count']) names.add(m[1] + s);
  }
  return names;
}

describe('Grafana dashboard and Prometheus alert rules', () => {
  let daemon: Daemon;
  let scrape = '';
  before(async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'kong.log'), '');
    daemon = await Daemon.start(
      dir,
      `
sources:
  tail: { type: file, paths: ["${dir}/*.log"] }
  kong: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { none: true } }
rules:
  - { name: puts, when: { methods: [PUT] }, to: [topic] }
workspaces: { "*": { to: [a, b] } }
destinations:
  a: { type: webhook, url: "http://127.0.0.1:9/a" }
  b: { type: webhook, url: "http://127.0.0.1:9/b" }
  topic: { type: sns, topic_arn: "arn:aws:sns:us-east-1:123456789012:t", endpoint: "http://127.0.0.1:9" }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
    );
    scrape = await daemon.metrics();
  });
  after(async () => {
    await daemon?.stop();
  });

  it('the alert rules pass promtool check rules', (t) => {
    if (!promtool()) return t.skip('promtool not installed (apt-get install prometheus)');
    const r = spawnSync('promtool', ['check', 'rules', ALERTS], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /SUCCESS: \d+ rules found/);
  });

  it('the rules cover what an operator must hear about', () => {
    const exprs = alertExprs();
    const uses = (metric: string): boolean => exprs.some((r) => r.expr.includes(metric));
    assert.ok(uses('kong_log_relay_destination_blocking'), 'a destination blocking');
    assert.ok(uses('kong_log_relay_events_dead_lettered_total'), 'dead letters increasing');
    assert.ok(uses('kong_log_relay_events_received_total'), 'no entries received');
    assert.ok(uses('kong_log_relay_delivery_retries_total'), 'delivery error ratio');
    assert.ok(uses('kong_log_relay_memory_limit_bytes') && uses('process_resident_memory_bytes'), 'memory near limit');
  });

  it('every metric the dashboard and the rules use exists in a scrape before any traffic', () => {
    const have = scrapedNames(scrape);
    const used = new Map<string, string>();
    for (const e of dashboardExprs()) for (const n of metricNames(e)) used.set(n, 'dashboard');
    for (const r of alertExprs()) for (const n of metricNames(r.expr)) used.set(n, `alert ${r.alert}`);
    assert.ok(used.size >= 20, `the dashboard and rules use ${used.size} metrics`);
    const missing = [...used].filter(([n]) => !have.has(n)).map(([n, where]) => `${n} (${where})`);
    assert.deepEqual(missing, [], 'metrics used but not exposed');
  });

  it('the series an alert needs exist at 0 for each configured destination and source', () => {
    for (const destination of ['a', 'b', 'topic'])
      assert.match(scrape, new RegExp(`kong_log_relay_destination_blocking\\{destination="${destination}"\\} 0`));
    assert.match(scrape, /kong_log_relay_events_received_total\{source="tail"\} 0/);
    assert.match(scrape, /kong_log_relay_memory_limit_bytes \d+/);
  });

  it('the dashboard has the panels the README promises', () => {
    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { title: string; type: string }[] };
    const titles = dash.panels.filter((p) => p.type !== 'row').map((p) => p.title.toLowerCase());
    for (const want of [
      'received',
      'delivered',
      'latency',
      'buffer',
      'retries',
      'dead letters',
      'drops',
      'workspace',
      'rule',
      'memory',
      'event-loop',
    ])
      assert.ok(
        titles.some((t) => t.includes(want)),
        `a panel on ${want}`,
      );
  });
});
