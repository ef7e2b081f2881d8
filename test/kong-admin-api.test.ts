/**
 * Talking to Kong's Admin API (against the stand-in): pagination followed to the end in a
 * workspace (Kong's `next` drops the workspace prefix, so pages are asked for by offset), Kong OSS
 * without /workspaces, the RBAC 401; workspace ids in entries resolved to the names the Admin API
 * lists, refreshed, with an explicit `id:` winning; secrets in entities masked.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { resolveKongAdmin } from '../src/config/kong-admin-resolve.ts';
import { byteStringOf } from '../src/event/byte-string.ts';
import type { KongEvent } from '../src/event/kong-event.ts';
import { KongAdminClient, KongAdminError } from '../src/kong-admin/client.ts';
import { WorkspaceDirectory } from '../src/kong-admin/workspace-directory.ts';
import { buildRouting } from '../src/delivery/routing.ts';
import { KONG_ENTITY_SECRETS, maskSecrets } from '../src/sources/kong-admin/secret-mask.ts';
import { KongAdminStub, type KongAdminStubOptions, RBAC_MESSAGE } from './support/kong-admin-stub.ts';
import { configFromYaml } from './support/pipeline.ts';

const closers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of closers) await c().catch(() => undefined);
});

function client(url: string, token?: string): KongAdminClient {
  const settings = resolveKongAdmin(
    { url, token, insecure_skip_verify: false, timeout: '5s', poll_interval: '10s' },
    '/',
  );
  assert.ok(settings);
  const c = new KongAdminClient(settings);
  closers.push(() => c.close());
  return c;
}

async function stub(options: KongAdminStubOptions = {}): Promise<KongAdminStub> {
  const s = await KongAdminStub.start(options);
  closers.push(() => s.close());
  return s;
}

describe('Kong Admin API client', () => {
  it('follows pagination to the last page inside a workspace, by offset on the prefixed path', async () => {
    const s = await stub({ token: 't' });
    s.addWorkspace('payments');
    const made = new Set<string>();
    for (let i = 0; i < 2500; i++) made.add(s.create('payments', 'routes', { name: `r${i}` }).id);
    s.create('default', 'routes', { name: 'elsewhere' });

    // What Kong answers by default: 100 a page, `next` without the workspace prefix.
    const raw = (await (await fetch(`${s.url}/payments/routes`, { headers: { 'kong-admin-token': 't' } })).json()) as {
      data: unknown[];
      next: string;
      offset: string;
    };
    assert.equal(raw.data.length, 100);
    assert.ok(raw.next.startsWith('/routes?offset='), raw.next);

    const listed = await client(s.url, 't').list('/payments/routes');
    assert.ok(listed);
    assert.equal(listed.length, 2500);
    assert.deepEqual(new Set(listed.map((e) => e.id)), made);
    const pages = s.requests.filter((r) => r.startsWith('/payments/routes?'));
    assert.equal(pages.length, 3);
    assert.ok(pages.slice(1).every((p) => p.includes('&offset=')));
  });

  it('Kong OSS: /workspaces and rbac/roles are 404s, which mean "not here", not errors', async () => {
    const s = await stub({ edition: 'oss' });
    s.create('default', 'routes', { name: 'a' });
    const c = client(s.url);
    assert.equal(await c.workspaces(), 'oss');
    assert.equal(await c.list('/rbac/roles'), null);
    assert.equal((await c.list('/routes'))?.length, 1);
  });

  it("a refused token is a KongAdminError with Kong's message and without the token", async () => {
    const s = await stub({ token: 'right' });
    await assert.rejects(client(s.url, 'wrong-token').workspaces(), (e: unknown) => {
      assert.ok(e instanceof KongAdminError);
      assert.equal(e.code, 'KLR_KONG_ADMIN_UNAUTHORIZED');
      assert.equal(e.status, 401);
      assert.ok(e.message.includes(RBAC_MESSAGE), e.message);
      assert.ok(!e.message.includes('wrong-token'));
      return true;
    });
    await s.close();
    await assert.rejects(client(s.url, 'right').workspaces(), (e: unknown) => {
      assert.ok(e instanceof KongAdminError);
      assert.equal(e.code, 'KLR_KONG_ADMIN_UNREACHABLE');
      return true;
    });
  });
});

describe('workspace names from the Admin API', () => {
  const yaml = `
sources:
  tail: { type: file, paths: ["/var/log/kong/*.log"] }
workspaces:
  payments: { to: [pay] }
  billing: { id: 11111111-1111-4111-8111-111111111111, to: [bill] }
destinations:
  pay: { type: webhook, url: "http://127.0.0.1:9/p" }
  bill: { type: webhook, url: "http://127.0.0.1:9/b" }
`;
  const entry = (ws: string): string =>
    JSON.stringify({ request: { method: 'GET', uri: '/' }, response: { status: 200 }, workspace: ws });

  it('resolve ids to names without id: in the config, refreshed, and an explicit id wins', () => {
    const config = configFromYaml(yaml);
    const directory = new WorkspaceDirectory();
    const routing = buildRouting(config, undefined, directory);
    const route = (ws: string): string[] => {
      const event = routing.decoder.decode(byteStringOf(entry(ws))) as KongEvent;
      return routing.router.route(event).map((i) => routing.router.destinations[i]);
    };
    const payId = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
    assert.deepEqual(route(payId), [], 'unknown id before the Admin API was read');
    directory.replace([
      { id: payId, name: 'payments' },
      { id: '11111111-1111-4111-8111-111111111111', name: 'renamed-in-kong' },
    ]);
    assert.deepEqual(route(payId), ['pay']);
    assert.deepEqual(route('11111111-1111-4111-8111-111111111111'), ['bill'], 'explicit id: wins');
    const newId = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
    directory.replace([{ id: newId, name: 'payments' }]);
    assert.deepEqual(route(newId), ['pay'], 'a refresh applies to the next entries');
  });
});

describe('secrets in entities', () => {
  it('are masked at any depth, only where they hold strings', () => {
    const masked = maskSecrets({
      id: 'c1',
      cert: '-----BEGIN CERTIFICATE-----',
      key: '-----BEGIN PRIVATE KEY-----',
      key_alt: '-----BEGIN EC PRIVATE KEY-----',
      client_secret: 'oauth',
      config: {
        minute: 5,
        token_expiration: 7200,
        hide_credentials: true,
        redis: { password: 'p', host: 'h' },
        session_secret: 's',
        upstream_api_keys: ['k1', 'k2'],
      },
    });
    assert.deepEqual(JSON.parse(JSON.stringify(masked)), {
      id: 'c1',
      cert: '-----BEGIN CERTIFICATE-----',
      key: '[REDACTED]',
      key_alt: '[REDACTED]',
      client_secret: '[REDACTED]',
      config: {
        minute: 5,
        token_expiration: 7200,
        hide_credentials: true,
        redis: { password: '[REDACTED]', host: 'h' },
        session_secret: '[REDACTED]',
        upstream_api_keys: ['[REDACTED]', '[REDACTED]'],
      },
    });
    assert.ok(KONG_ENTITY_SECRETS.fields.includes('password'));
  });
});
