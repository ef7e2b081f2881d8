/** Rule semantics: every `when` field, `unless`, status classes, workspaces by id and name, "*". */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildRouting } from '../src/delivery/routing.ts';
import { configFromYaml } from './support/pipeline.ts';
import { byteStringOf } from '../src/event/byte-string.ts';

/** A Kong 3.x entry, encoded the way lua-cjson writes it (every "/" escaped). */
function entry(overrides: Record<string, unknown> = {}): string {
  const base: Record<string, unknown> = {
    request: {
      method: 'PUT',
      uri: '/profile/42?x=1',
      url: 'https://api.example.com:8443/profile/42?x=1',
      size: 120,
      headers: { host: 'api.example.com:8443', 'x-tenant': ['acme', 'other'], 'user-agent': 'curl/8' },
      querystring: { x: '1' },
    },
    upstream_uri: '/v1/users/42?x=1',
    response: { status: 200, size: 10, headers: {} },
    route: { id: 'r-1', name: 'profile-route', ws_id: 'ws-default' },
    service: { id: 's-1', name: 'profiles', ws_id: 'ws-default' },
    consumer: { id: 'c-1', username: 'mobile', custom_id: 'cust-9' },
    workspace: 'ws-default',
    workspace_name: 'default',
    client_ip: '10.0.0.1',
    started_at: 1726783839539,
  };
  const merged = { ...base, ...overrides };
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete merged[k];
  return JSON.stringify(merged).replaceAll('/', '\\/');
}

const req = (o: Record<string, unknown>): Record<string, unknown> => ({
  method: 'PUT',
  uri: '/profile/42',
  headers: { host: 'api.example.com' },
  ...o,
});

function router(rulesYaml: string, extra = ''): (text: string) => string[] {
  const config = configFromYaml(`
sources: { t: { type: file, paths: ["/x/*.log"] } }
${extra}
rules:
${rulesYaml}
destinations:
  a: { type: webhook, url: "http://127.0.0.1:1/a" }
  b: { type: webhook, url: "http://127.0.0.1:1/b" }
  c: { type: webhook, url: "http://127.0.0.1:1/c" }
`);
  const { decoder, router: r } = buildRouting(config);
  return (text) => {
    const event = decoder.decode(byteStringOf(text));
    if (event instanceof Error) throw event;
    return r.route(event).map((i) => r.destinations[i]);
  };
}

const one = (when: string, unless = ''): ((t: string) => boolean) => {
  const route = router(`  - { name: r, when: ${when}, ${unless ? `unless: ${unless},` : ''} to: [a] }`);
  return (t) => route(t).includes('a');
};

describe('rules', () => {
  it('methods match case-insensitively against request.method', () => {
    const m = one('{ methods: [put, PATCH] }');
    assert.equal(m(entry()), true);
    assert.equal(m(entry({ request: req({ method: 'PATCH' }) })), true);
    assert.equal(m(entry({ request: req({ method: 'GET' }) })), false);
  });

  it('path is a regex on the raw request path without the query string', () => {
    const m = one(String.raw`{ path: '^/profile/\d+$' }`);
    assert.equal(m(entry()), true, 'query string is not part of the path');
    assert.equal(m(entry({ request: req({ uri: '/profile/42/avatar' }) })), false);
    assert.equal(m(entry({ request: req({ uri: '/profile/abc?id=42' }) })), false);
    assert.equal(
      one(`{ path: '^/caf%C3%A9/' }`)(entry({ request: req({ uri: '/caf%C3%A9/1' }) })),
      true,
      'percent-encoding is kept',
    );
  });

  it('upstream_path matches upstream_uri without its query', () => {
    const m = one(`{ upstream_path: '^/v1/users/42$' }`);
    assert.equal(m(entry()), true);
    assert.equal(m(entry({ upstream_uri: '/v2/users/42' })), false);
    assert.equal(m(entry({ upstream_uri: undefined })), false, 'absent field never matches');
  });

  it('status takes exact codes, classes and ranges', () => {
    assert.equal(one('{ status: [200] }')(entry()), true);
    assert.equal(one('{ status: [201] }')(entry()), false);
    assert.equal(one('{ status: [2xx] }')(entry({ response: { status: 204 } })), true);
    assert.equal(one('{ status: [5xx] }')(entry({ response: { status: 204 } })), false);
    assert.equal(one('{ status: ["500-504"] }')(entry({ response: { status: 502 } })), true);
    assert.equal(one('{ status: ["500-504"] }')(entry({ response: { status: 505 } })), false);
    assert.equal(one('{ status: [404, 2xx] }')(entry({ response: { status: 404 } })), true);
  });

  it('service and route match by name or id', () => {
    assert.equal(one('{ service: profiles }')(entry()), true);
    assert.equal(one('{ service: [s-1] }')(entry()), true);
    assert.equal(one('{ service: other }')(entry()), false);
    assert.equal(one('{ route: profile-route }')(entry()), true);
    assert.equal(one('{ route: r-1 }')(entry()), true);
    assert.equal(one('{ route: r-2 }')(entry()), false);
    assert.equal(one('{ route: r-1 }')(entry({ route: undefined })), false);
  });

  it('consumer matches by username, custom_id or id; anonymous requests never match', () => {
    for (const c of ['mobile', 'cust-9', 'c-1']) assert.equal(one(`{ consumer: ${c} }`)(entry()), true, c);
    assert.equal(one('{ consumer: web }')(entry()), false);
    assert.equal(one('{ consumer: mobile }')(entry({ consumer: undefined })), false);
  });

  it('host matches the Host header without the port, case-insensitively, else the host of request.url', () => {
    const m = one(String.raw`{ host: '^api\.example\.com$' }`);
    assert.equal(m(entry()), true);
    assert.equal(m(entry({ request: req({ headers: { host: 'API.Example.com' } }) })), true);
    assert.equal(m(entry({ request: req({ headers: {}, url: 'http://api.example.com:8000/x' }) })), true);
    assert.equal(m(entry({ request: req({ headers: { host: 'evil.com' } }) })), false);
  });

  it('headers match any value of a repeated header; a missing header never matches', () => {
    assert.equal(one(`{ headers: { X-Tenant: '^other$' } }`)(entry()), true);
    assert.equal(one(`{ headers: { x-tenant: '^nobody$' } }`)(entry()), false);
    assert.equal(one(`{ headers: { x-missing: '.*' } }`)(entry()), false);
  });

  it('every when field must match and unless must not', () => {
    const m = one(`{ methods: [PUT], path: '^/profile/', status: [2xx] }`, `{ path: '/avatar$' }`);
    assert.equal(m(entry()), true);
    assert.equal(m(entry({ request: req({ uri: '/profile/42/avatar' }) })), false, 'unless excludes');
    assert.equal(m(entry({ response: { status: 500 } })), false, 'one when field failing is enough');
    const noWhen = one('{}', `{ methods: [GET] }`);
    assert.equal(noWhen(entry()), true, 'an empty when matches everything');
  });

  it('a stream (TCP) entry never matches rules that ask for method, path or status', () => {
    const tcp = JSON.stringify({
      session: { status: 200, received: 10, sent: 20 },
      route: { id: 'r-1', name: 'tcp' },
      service: { name: 'db' },
      client_ip: '1.2.3.4',
      started_at: 1,
    });
    assert.equal(one('{ methods: [GET] }')(tcp), false);
    assert.equal(one(`{ path: '.*' }`)(tcp), false);
    assert.equal(one('{ status: [2xx] }')(tcp), false);
    assert.equal(one('{ service: db }')(tcp), true, 'fields a stream entry has still match');
  });

  it('an event reaches the union of matching rules, each destination once, in declaration order', () => {
    const route = router(`
  - { name: r1, when: { methods: [PUT] }, to: [c, a] }
  - { name: r2, when: { status: [2xx] }, to: [a, b] }
  - { name: r3, when: { methods: [GET] }, to: [b] }`);
    assert.deepEqual(route(entry()), ['a', 'b', 'c']);
    assert.deepEqual(route(entry({ response: { status: 500 } })), ['a', 'c']);
  });
});

describe('workspace routing', () => {
  const routeWs = router(
    '  []',
    `
workspaces:
  payments: { id: [6e2a-pay, old-pay-id], to: [a] }
  search: { to: [b] }
  "*": { to: [c] }`,
  );

  it('"*" gets every entry, even one without a workspace', () => {
    assert.deepEqual(
      routeWs(entry({ workspace: undefined, workspace_name: undefined, route: undefined, service: undefined })),
      ['c'],
    );
  });

  it('workspace_name wins over the workspace id', () => {
    assert.deepEqual(routeWs(entry({ workspace_name: 'search', workspace: '6e2a-pay' })), ['b', 'c']);
  });

  it('a workspace id is mapped to its name through workspaces:', () => {
    assert.deepEqual(routeWs(entry({ workspace_name: undefined, workspace: '6e2a-pay' })), ['a', 'c']);
  });

  it('older Enterprise entries name it in workspaces[0]', () => {
    assert.deepEqual(
      routeWs(
        entry({
          workspace_name: undefined,
          workspace: undefined,
          workspaces: [{ id: 'old-pay-id', name: 'payments' }],
        }),
      ),
      ['a', 'c'],
    );
    assert.deepEqual(
      routeWs(entry({ workspace_name: undefined, workspace: undefined, workspaces: [{ id: 'old-pay-id' }] })),
      ['a', 'c'],
    );
  });

  it('2.x entries fall back to route, service, then consumer ws_id', () => {
    const bare = { workspace_name: undefined, workspace: undefined };
    assert.deepEqual(routeWs(entry({ ...bare, route: { id: 'r', ws_id: 'old-pay-id' } })), ['a', 'c']);
    assert.deepEqual(routeWs(entry({ ...bare, route: undefined, service: { name: 's', ws_id: '6e2a-pay' } })), [
      'a',
      'c',
    ]);
    assert.deepEqual(
      routeWs(entry({ ...bare, route: undefined, service: undefined, consumer: { id: 'c', ws_id: '6e2a-pay' } })),
      ['a', 'c'],
    );
  });

  it('rules can match a workspace by name, also when the entry only has its id', () => {
    const route = router(
      '  - { name: pay, when: { workspace: payments }, to: [b] }',
      'workspaces:\n  payments: { id: 6e2a-pay }',
    );
    assert.deepEqual(route(entry({ workspace_name: undefined, workspace: '6e2a-pay' })), ['b']);
    assert.deepEqual(route(entry({ workspace_name: 'payments' })), ['b']);
    assert.deepEqual(route(entry()), []);
  });
});
