/**
 * Entity change events from the Kong Admin API, end to end: the daemon polls a stand-in of a Kong
 * Enterprise node (two workspaces, RBAC token), and what arrives at a real webhook is counted:
 * exactly one event per change made while the relay runs and while it is stopped, none repeated
 * after a restart, no secret in any; workspace routing by name without `id:`, for entity changes
 * and for log entries that carry only the workspace id.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { Daemon, waitFor } from './support/daemon.ts';
import { KongAdminStub } from './support/kong-admin-stub.ts';
import { tempDir } from './support/pipeline.ts';

const TOKEN = 'rbac-token-s3cr3t-value';
const SECRETS = ['key-auth-s3cr3t', 'basic-pa55word', 'jwt-s3cr3t', 'oauth-client-s3cr3t', 'redis-pa55', TOKEN];

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

interface Change {
  source: string;
  entity: string;
  operation: 'create' | 'update' | 'delete';
  workspace: string | null;
  workspace_name: string;
  id: string;
  entity_name: string | null;
  old: Record<string, unknown> | null;
  new: Record<string, unknown> | null;
  at: string;
}

function config(dir: string, stub: KongAdminStub, hook: WebhookReceiver): string {
  return `
kong_admin:
  url: ${stub.url}
  token: \${KONG_ADMIN_TOKEN}
  poll_interval: 200ms
  timeout: 2s
sources:
  kong_entities:
    type: kong_admin
    entities: [routes, consumers, plugins, key-auths, basic-auths, jwts, oauth2, workspaces]
  tail: { type: file, paths: ["${dir}/logs/*.log"], start_at: beginning, poll_interval: 50ms }
workspaces:
  payments: { to: [payments_hook] }
rules:
  - name: entity-changes
    when: { entity: [routes, consumers, plugins, key-auths, basic-auths, jwts, oauth2, workspaces] }
    to: [changes]
  - name: deletions
    when: { entity: [routes, consumers], operation: [delete] }
    to: [deletions]
  - name: log-entries
    when: { methods: [GET] }
    to: [logs]
destinations:
  changes: { type: webhook, url: "${hook.url}/changes", encoding: ndjson, batch: { max_wait: 20ms } }
  deletions: { type: webhook, url: "${hook.url}/deletions", encoding: ndjson, batch: { max_wait: 20ms } }
  payments_hook: { type: webhook, url: "${hook.url}/payments", encoding: ndjson, batch: { max_wait: 20ms } }
  logs: { type: webhook, url: "${hook.url}/logs", encoding: ndjson, batch: { max_wait: 20ms } }
state_dir: ${dir}/state
shutdown_timeout: 5s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`;
}

interface Scene {
  readonly dir: string;
  readonly stub: KongAdminStub;
  readonly hook: WebhookReceiver;
}

/** A Kong Admin API stand-in, a webhook receiver, and an empty Kong log file for the daemon to tail. */
async function scene(prefix: string, stubOptions: Parameters<typeof KongAdminStub.start>[0]): Promise<Scene> {
  const dir = tempDir(prefix);
  const stub = await KongAdminStub.start(stubOptions);
  cleanups.push(() => stub.close());
  const hook = await WebhookReceiver.start();
  cleanups.push(() => hook.close());
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  writeFileSync(path.join(dir, 'logs', 'k.log'), '');
  return { dir, stub, hook };
}

/** A daemon killed at the end if the test did not stop it. */
function killedAtEnd(d: Daemon): Daemon {
  cleanups.push(async () => {
    if (d.proc.exitCode === null) d.proc.kill('SIGKILL');
  });
  return d;
}

async function startDaemon({ dir, stub, hook }: Scene): Promise<Daemon> {
  return killedAtEnd(await Daemon.start(dir, config(dir, stub, hook), { KONG_ADMIN_TOKEN: TOKEN }));
}

/** Stop cleanly, make the changes, start again on the same state. */
async function restart(d: Daemon, whileStopped?: () => unknown): Promise<Daemon> {
  return killedAtEnd(await d.restart(whileStopped));
}

function changes(hook: WebhookReceiver, where = '/changes'): Change[] {
  return hook.entries(where).map((e) => JSON.parse(e) as Change);
}

/** Wait until `n` entries arrived at a path, then a few more polls to see that nothing else comes. */
async function settle(d: Daemon, hook: WebhookReceiver, where: string, n: number): Promise<void> {
  await waitFor(() => hook.entries(where).length >= n, 20_000, `${n} entries at ${where}`).catch((e: Error) => {
    throw new Error(
      `${e.message}; got ${hook.entries(where).length}; daemon log:\n${d.logs.map((l) => JSON.stringify(l)).join('\n')}`,
    );
  });
  const polls = await sourcePolls(d);
  await waitFor(async () => (await sourcePolls(d)) >= polls + 2, 20_000, 'two more polls');
}

/** Polls the kong_admin source has finished. */
async function sourcePolls(d: Daemon): Promise<number> {
  const sources = (await d.status()).sources as Record<string, { polls?: number }>;
  return sources.kong_entities.polls ?? 0;
}

describe('kong_admin source: entity changes from the Admin API', () => {
  it('emits exactly one event per change, running and while stopped, never repeats, leaks no secret', async () => {
    const s = await scene('klr-kong-admin-', { edition: 'enterprise', token: TOKEN });
    const { dir, stub, hook } = s;
    stub.addWorkspace('payments');
    stub.addWorkspace('billing');
    // Existing before the first start: recorded, not emitted.
    const oldRoute = stub.create('payments', 'routes', { name: 'charge', paths: ['/charge'] });
    const oldConsumer = stub.create('billing', 'consumers', { username: 'ledger' });
    for (let i = 0; i < 120; i++) stub.create('billing', 'routes', { name: `r${i}`, paths: [`/r${i}`] });

    let d = await startDaemon(s);
    await waitFor(async () => (await d.metric('kong_log_relay_kong_admin_up')) === 1, 20_000, 'kong_admin_up 1');
    await settle(d, hook, '/changes', 0);
    assert.equal(hook.entries('/changes').length, 0, 'nothing emitted for what existed before the first start');
    assert.ok(stub.tokensSeen.has(TOKEN), 'the token is sent as Kong-Admin-Token');

    // While running: in two workspaces.
    const expected: string[] = [];
    stub.tick();
    const route = stub.create('payments', 'routes', { name: 'refund', paths: ['/refund'] });
    expected.push(`create routes ${route.id}`);
    const consumer = stub.create('billing', 'consumers', { username: 'app' });
    expected.push(`create consumers ${consumer.id}`);
    const key = stub.create('billing', 'key-auths', { consumer: { id: consumer.id }, key: 'key-auth-s3cr3t' });
    expected.push(`create key-auths ${key.id}`);
    const basic = stub.create('payments', 'basic-auths', {
      consumer: { id: consumer.id },
      username: 'u',
      password: 'basic-pa55word',
    });
    expected.push(`create basic-auths ${basic.id}`);
    const jwt = stub.create('payments', 'jwts', { consumer: { id: consumer.id }, key: 'iss', secret: 'jwt-s3cr3t' });
    expected.push(`create jwts ${jwt.id}`);
    const oauth = stub.create('billing', 'oauth2', {
      name: 'app',
      client_id: 'cid',
      client_secret: 'oauth-client-s3cr3t',
    });
    expected.push(`create oauth2 ${oauth.id}`);
    const plugin = stub.create('payments', 'plugins', {
      name: 'rate-limiting',
      config: { minute: 5, policy: 'redis', redis: { host: 'r', password: 'redis-pa55' } },
    });
    expected.push(`create plugins ${plugin.id}`);
    await settle(d, hook, '/changes', expected.length);
    stub.tick();
    stub.update('payments', 'routes', oldRoute.id, { paths: ['/charge', '/charges'] });
    expected.push(`update routes ${oldRoute.id}`);
    stub.update('billing', 'key-auths', key.id, { key: 'key-auth-s3cr3t-rotated' });
    expected.push(`update key-auths ${key.id}`);
    stub.remove('billing', 'consumers', oldConsumer.id);
    expected.push(`delete consumers ${oldConsumer.id}`);
    await settle(d, hook, '/changes', expected.length);

    // Stopped: changes made meanwhile are emitted after the restart, once.
    d = await restart(d, () => {
      stub.tick();
      stub.remove('payments', 'routes', route.id);
      expected.push(`delete routes ${route.id}`);
      const later = stub.create('billing', 'routes', { name: 'later', paths: ['/later'] });
      expected.push(`create routes ${later.id}`);
      stub.update('billing', 'consumers', consumer.id, { custom_id: 'c-1' });
      expected.push(`update consumers ${consumer.id}`);
    });
    await settle(d, hook, '/changes', expected.length);
    // And a restart with nothing changed emits nothing.
    d = await restart(d);
    await settle(d, hook, '/changes', expected.length);

    const got = changes(hook);
    assert.deepEqual(got.map((c) => `${c.operation} ${c.entity} ${c.id}`).sort(), expected.sort());
    for (const text of hook.entries()) for (const s of SECRETS) assert.ok(!text.includes(s), `secret ${s} in ${text}`);
    const keyCreate = got.find((c) => c.id === key.id && c.operation === 'create');
    assert.equal(keyCreate?.new?.key, '[REDACTED]');
    const pluginCreate = got.find((c) => c.id === plugin.id);
    const pluginConfig = pluginCreate?.new?.config as { redis?: unknown } | undefined;
    assert.deepEqual(pluginConfig?.redis, { host: 'r', password: '[REDACTED]' });

    // The event shape.
    const created = got.find((c) => c.id === route.id && c.operation === 'create');
    assert.equal(created?.source, 'kong_admin');
    assert.equal(created?.workspace, stub.workspaceId('payments'));
    assert.equal(created?.workspace_name, 'payments');
    assert.equal(created?.entity_name, 'refund');
    assert.equal(created?.old, null);
    assert.equal(created?.new?.created_at, route.created_at);
    const updated = got.find((c) => c.id === oldRoute.id);
    assert.deepEqual(updated?.old?.paths, ['/charge']);
    assert.deepEqual(updated?.new?.paths, ['/charge', '/charges']);

    // Rules on entity and operation; workspace routing by name, with no id in the config.
    assert.deepEqual(
      changes(hook, '/deletions')
        .map((c) => `${c.operation} ${c.entity} ${c.id}`)
        .sort(),
      [`delete consumers ${oldConsumer.id}`, `delete routes ${route.id}`].sort(),
    );
    assert.deepEqual(
      changes(hook, '/payments').map((c) => c.workspace_name),
      got.filter((c) => c.workspace_name === 'payments').map(() => 'payments'),
    );

    // Log entries that carry only the workspace id (Kong < 3.7 Enterprise) reach payments by name.
    const entry = (ws: string, n: number): string =>
      `${JSON.stringify({ request: { method: 'GET', uri: `/x/${n}` }, response: { status: 200 }, workspace: ws })}\n`;
    appendFileSync(
      path.join(dir, 'logs', 'k.log'),
      entry(stub.workspaceId('payments'), 1) + entry(stub.workspaceId('billing'), 2),
    );
    await waitFor(() => hook.entries('/logs').length === 2, 20_000, 'log entries delivered');
    assert.deepEqual(hook.entries('/payments').filter((e) => e.includes('/x/')).length, 1);

    // /status and /metrics.
    const status = (await d.status()).kong_admin as Record<string, unknown>;
    assert.equal(status.up, true);
    assert.equal(typeof status.last_success, 'string');
    assert.ok(Number(await d.metric('kong_log_relay_kong_admin_entities', { entity: 'routes' })) >= 122);
    assert.ok((await d.metric('kong_log_relay_kong_admin_last_success_timestamp_seconds')) > 0);
    assert.equal((await d.stop()).code, 0);
  });

  it('keeps shipping log entries with the Admin API down or refusing the token, says so, never logs the token', async () => {
    const s = await scene('klr-kong-admin-down-', { edition: 'enterprise', token: 'another-token' });
    const { dir, stub, hook } = s;
    const d = await startDaemon(s);
    await waitFor(() => d.hasLog(/refused .* with 401/), 20_000, 'a 401 log line');
    assert.equal(await d.metric('kong_log_relay_kong_admin_up'), 0);
    assert.ok(d.hasLog(/Invalid credentials\. Token or User credentials required/));
    appendFileSync(
      path.join(dir, 'logs', 'k.log'),
      `${JSON.stringify({ request: { method: 'GET', uri: '/a' }, response: { status: 200 }, workspace_name: 'default' })}\n`,
    );
    await waitFor(() => hook.entries('/logs').length === 1, 20_000, 'log entry delivered while the Admin API refuses');
    await stub.close();
    await waitFor(() => d.hasLog(/unreachable/), 20_000, 'an unreachable log line');
    assert.equal(await d.metric('kong_log_relay_kong_admin_up'), 0);
    assert.ok((await d.metric('kong_log_relay_kong_admin_errors_total', { reason: 'unreachable' })) >= 1);
    const all = JSON.stringify(d.logs) + d.stderr.join('\n');
    assert.ok(!all.includes(TOKEN), 'no token in the logs');
    assert.equal((await d.stop()).code, 0);
  });

  it('works against Kong OSS: no /workspaces, unprefixed paths, everything in "default", no errors', async () => {
    const s = await scene('klr-kong-admin-oss-', { edition: 'oss' });
    const { stub, hook } = s;
    const d = await startDaemon(s);
    await settle(d, hook, '/changes', 0);
    const route = stub.create('default', 'routes', { name: 'a' });
    await settle(d, hook, '/changes', 1);
    const got = changes(hook);
    assert.deepEqual(
      got.map((c) => [c.operation, c.entity, c.id, c.workspace, c.workspace_name]),
      [['create', 'routes', route.id, null, 'default']],
    );
    assert.equal(await d.metric('kong_log_relay_kong_admin_up'), 1);
    assert.equal(await d.metric('kong_log_relay_kong_admin_errors_total'), 0);
    // The start-up check warns about the config's workspace "payments" (OSS has only default); nothing else.
    const warnings = d.logs.filter((l) => l.level >= 40);
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(
      warnings[0].msg,
      /config\.yaml:\d+:\d+: warning KLR_CONFIG_KONG_ADMIN: workspaces\.payments: .*Kong OSS/,
    );
    assert.ok(
      stub.requests.every((r) => !r.startsWith('/default/')),
      'no workspace prefix on OSS',
    );
    assert.equal((await d.stop()).code, 0);
  });

  it('advances the snapshot only after delivery: an undelivered change is emitted again after a restart', async () => {
    const s = await scene('klr-kong-admin-ack-', { edition: 'enterprise', token: TOKEN });
    const { stub, hook } = s;
    stub.addWorkspace('payments');
    let d = await startDaemon(s);
    await settle(d, hook, '/changes', 0);
    let refused = 0;
    hook.fault = (req) => {
      if (req.url !== '/changes') return null;
      refused++;
      return { status: 503 };
    };
    const route = stub.create('payments', 'routes', { name: 'late' });
    await waitFor(() => refused >= 1, 20_000, 'a refused delivery');
    // Stopped before the change could be delivered: the snapshot must not have moved past it.
    d = await restart(d, () => {
      hook.fault = null;
    });
    await settle(d, hook, '/changes', 1);
    assert.deepEqual(
      changes(hook).map((c) => `${c.operation} ${c.id}`),
      [`create ${route.id}`],
    );
    // Delivered now: another restart does not repeat it.
    d = await restart(d);
    await settle(d, hook, '/changes', 1);
    assert.equal(changes(hook).length, 1);
    assert.equal((await d.stop()).code, 0);
  });

  it('skips a collection the token may not read (403), logged once, without flapping kong_admin_up', async () => {
    const s = await scene('klr-kong-admin-403-', { edition: 'enterprise', token: TOKEN });
    const { stub, hook } = s;
    stub.forbidden.add('jwts');
    const d = await startDaemon(s);
    await settle(d, hook, '/changes', 0);
    const route = stub.create('default', 'routes', { name: 'still-seen' });
    await settle(d, hook, '/changes', 1);
    assert.deepEqual(
      changes(hook).map((c) => c.id),
      [route.id],
    );
    assert.equal(await d.metric('kong_log_relay_kong_admin_up'), 1);
    assert.ok((await d.metric('kong_log_relay_kong_admin_errors_total', { reason: 'unauthorized' })) >= 2);
    assert.equal(d.logs.filter((l) => /\/jwts/.test(l.msg)).length, 1, 'one log line for a lasting failure');
    assert.equal((await d.stop()).code, 0);
  });
});
