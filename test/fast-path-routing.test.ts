/**
 * The fast path (one validating scan per entry, a handful of fields decoded on demand, no
 * JSON.parse) must route every entry exactly as a full parse would: same fields, same
 * destinations. Checked on realistic Kong entries of every generated version, and on entries
 * mutated and re-encoded the hard ways: escapes anywhere (keys too), unicode, key order, extra
 * whitespace, duplicate keys (the last one counts, as in JSON.parse), look-alike keys nested in
 * headers and query strings, values of unexpected types; each through the file path (one entry
 * at a time) and the http-log array path (a whole array in one scan).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { propertyRuns } from './support/layer.ts';
import fc from 'fast-check';
import { byteStringOf } from '../src/event/byte-string.ts';
import { decodeArrayBytes, isProblem } from '../src/event/entries.ts';
import type { EventFields, KongEvent } from '../src/event/kong-event.ts';
import { buildRouting } from '../src/delivery/routing.ts';
import { splitBody } from '../src/sources/http/intake.ts';
import { generate } from './support/kong.ts';
import { FullParseEvent } from './support/full-parse-event.ts';
import { configFromYaml } from './support/pipeline.ts';
import { SeededRandom } from './support/seeded-random.ts';

const routing = buildRouting(
  configFromYaml(String.raw`
sources: { t: { type: file, paths: ["/x/*.log"] } }
workspaces:
  payments: { id: [6e2a8d4c-1f7b-4b3e-9a5d-2c8e7f1b0a94, old-pay], to: [pay] }
  search: { to: [search] }
  "*": { to: [all] }
rules:
  - { name: profile, when: { methods: [PUT, PATCH], path: '^/profile/\d+$', status: [2xx] }, unless: { path: '/avatar$' }, to: [profile] }
  - { name: errors, when: { status: [5xx, 429] }, to: [errors] }
  - { name: upstream, when: { upstream_path: '^/v\d/' }, to: [upstream] }
  - { name: cafe, when: { path: 'caf(é|%C3%A9)', methods: [get] }, to: [unicode] }
  - { name: hosts, when: { host: '^(api|shop)\.example\.(com|org)$' }, to: [hosts] }
  - { name: tenant, when: { headers: { x-tenant: '^acme', user-agent: 'curl|okhttp' } }, to: [tenant] }
  - { name: who, when: { consumer: [mobile, cust-9, ünïcode], service: [profiles, orders], route: [profile-route, r-1] }, to: [who] }
  - { name: search-ws, when: { workspace: [search] }, unless: { methods: [GET] }, to: [writes] }
destinations:
  pay: { type: webhook, url: "http://127.0.0.1:1/pay" }
  search: { type: webhook, url: "http://127.0.0.1:1/search" }
  all: { type: webhook, url: "http://127.0.0.1:1/all" }
  profile: { type: webhook, url: "http://127.0.0.1:1/profile" }
  errors: { type: webhook, url: "http://127.0.0.1:1/errors" }
  upstream: { type: webhook, url: "http://127.0.0.1:1/upstream" }
  unicode: { type: webhook, url: "http://127.0.0.1:1/unicode" }
  hosts: { type: webhook, url: "http://127.0.0.1:1/hosts" }
  tenant: { type: webhook, url: "http://127.0.0.1:1/tenant" }
  who: { type: webhook, url: "http://127.0.0.1:1/who" }
  writes: { type: webhook, url: "http://127.0.0.1:1/writes" }
`),
);
const { decoder, router } = routing;

/** Everything a rule can read, and where the entry goes. */
function reading(e: EventFields): unknown {
  return {
    isHttp: e.isHttp,
    method: e.method,
    path: e.path,
    upstreamPath: e.upstreamPath,
    status: e.status,
    host: e.host,
    tenant: e.header('x-tenant'),
    agent: e.header('user-agent'),
    workspace: e.workspace,
    route: [e.routeId, e.routeName],
    service: [e.serviceId, e.serviceName],
    consumer: [e.consumerId, e.consumerUsername, e.consumerCustomId],
    to: router.route(e).map((i) => router.destinations[i]),
  };
}

function fastPath(text: string): KongEvent {
  const event = decoder.decode(byteStringOf(text));
  if (event instanceof Error) throw new Error(`the fast path refused a valid entry: ${event.message}\n${text}`);
  return event;
}

function routesLikeFullParse(texts: readonly string[]): void {
  const expected = texts.map((t) => reading(new FullParseEvent(t, decoder.workspaceNames)));
  texts.forEach((t, k) => assert.deepEqual(reading(fastPath(t)), expected[k], t));
  // The same entries as one http-log batch: split and decoded by one scan of the array.
  const batch = decodeArrayBytes(Buffer.from(`[${texts.join(',')}]`), decoder, 10_000);
  assert.ok(batch !== null && !('tooMany' in batch), 'a valid array is decoded in one scan');
  batch.forEach((entry, k) => assert.deepEqual(reading(entry.event ?? fastPath(texts[k])), expected[k], texts[k]));
}

// ---------------------------------------------------------------------------------------
// Re-encoding: the same value written in other valid ways.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON string literal with some characters escaped (as \uXXXX, or "/" as "\/" the way lua-cjson writes it). */
function stringLiteral(s: string, rnd: SeededRandom, escapeRate: number): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else if (ch === '/' && rnd.next() < 0.5) out += '\\/';
    else if (rnd.next() < escapeRate) {
      for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

interface Encoding {
  readonly rnd: SeededRandom;
  readonly escapeRate: number;
  readonly space: boolean;
  readonly duplicates: boolean;
}

function encode(v: Json, enc: Encoding): string {
  const ws = (): string => (enc.space && enc.rnd.next() < 0.3 ? enc.rnd.pick([' ', '\n', '\t', '\r\n', '  ']) : '');
  if (v === null || typeof v !== 'object')
    return typeof v === 'string' ? stringLiteral(v, enc.rnd, enc.escapeRate) : JSON.stringify(v);
  if (Array.isArray(v)) return `[${ws()}${v.map((x) => encode(x, enc)).join(`${ws()},${ws()}`)}${ws()}]`;
  const members = Object.entries(v);
  // Shuffled key order (Kong's varies by process).
  for (let i = members.length - 1; i > 0; i--) {
    const j = enc.rnd.int(0, i);
    [members[i], members[j]] = [members[j], members[i]];
  }
  const parts = members.map(([k, x]) => `${stringLiteral(k, enc.rnd, enc.escapeRate)}${ws()}:${ws()}${encode(x, enc)}`);
  // A key written twice: JSON.parse keeps the last value, and so must the scan.
  if (enc.duplicates && members.length > 0 && enc.rnd.next() < 0.3) {
    const [k] = enc.rnd.pick(members);
    parts.unshift(
      `${stringLiteral(k, enc.rnd, enc.escapeRate)}:${enc.rnd.pick(['"EARLIER"', '0', 'null', '{"method":"DELETE"}', '[]'])}`,
    );
  }
  return `{${ws()}${parts.join(`${ws()},${ws()}`)}${ws()}}`;
}

// ---------------------------------------------------------------------------------------
// Mutations of real entries: values a rule reads, changed to hard cases.

const pick = <T>(...xs: T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);
const mutation = fc.record({
  method: pick<Json | undefined>(undefined, 'put', 'PATCH', 'Get', 42, null, ''),
  uri: pick<Json | undefined>(
    undefined,
    '/profile/42',
    '/profile/42?x=1&y=/avatar',
    '/profile/42/avatar',
    '/caf%C3%A9/menu',
    '/café?q=ü',
    '/',
    7,
  ),
  upstream: pick<Json | undefined>(undefined, '/v1/users/1?x', '/v12/', 'v1/', null),
  status: pick<Json | undefined>(undefined, 200, 204, 429, 503, '200', '502, 200', '5xx', null, 200.5),
  host: pick<Json | undefined>(
    undefined,
    'api.example.com:8443',
    'API.Example.Org',
    ['shop.example.com', 'evil.example.com'],
    '[::1]:8000',
    8080,
    null,
    'DELETE',
  ),
  url: pick<Json | undefined>(
    undefined,
    'https://user:pw@shop.example.org:8443/x?y',
    'http://api.example.com',
    'not a url',
  ),
  tenant: pick<Json | undefined>(undefined, 'acme-corp', ['other', 'acme'], 7, true, [1, 'acme'], { nested: 'acme' }),
  agent: pick<Json | undefined>(undefined, 'curl/8.5', 'okhttp/4', 'Mozilla/5.0 (ünï)'),
  workspace: pick(
    'keep',
    'drop-name',
    'drop-all',
    'unknown-id',
    'empty-name',
    'enterprise',
    'route-ws',
    'consumer-ws',
    'name-not-string',
  ),
  consumer: pick<Json | undefined>(
    undefined,
    { id: 'c-1', username: 'mobile' },
    { custom_id: 'cust-9' },
    { username: 'ünïcode' },
    null,
    'mobile',
  ),
  lookalikes: fc.boolean(),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

/** Set (or, for undefined, leave) o[key]; null objects along the way are replaced. */
function put(o: { [key: string]: Json }, path: readonly string[], value: Json | undefined): void {
  if (value === undefined) return;
  let at = o;
  for (const step of path.slice(0, -1)) {
    const next = at[step];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) at[step] = {};
    at = at[step] as { [key: string]: Json };
  }
  at[path[path.length - 1]] = value;
}

function mutate(entry: { [key: string]: Json }, m: Mutation): { [key: string]: Json } {
  const o = structuredClone(entry);
  put(o, ['request', 'method'], m.method);
  put(o, ['request', 'uri'], m.uri);
  put(o, ['upstream_uri'], m.upstream);
  put(o, ['response', 'status'], m.status);
  put(o, ['request', 'headers', 'host'], m.host);
  put(o, ['request', 'url'], m.url);
  put(o, ['request', 'headers', 'x-tenant'], m.tenant);
  put(o, ['request', 'headers', 'user-agent'], m.agent);
  put(o, ['consumer'], m.consumer);
  const dropWorkspace = (): void => {
    delete o.workspace_name;
    delete o.workspace;
  };
  switch (m.workspace) {
    case 'keep':
      break;
    case 'drop-name':
      delete o.workspace_name;
      break;
    case 'drop-all':
      dropWorkspace();
      delete o.route;
      delete o.service;
      delete o.consumer;
      break;
    case 'unknown-id':
      delete o.workspace_name;
      o.workspace = 'no-such-workspace-id';
      break;
    case 'empty-name':
      o.workspace_name = '';
      break;
    case 'enterprise':
      dropWorkspace();
      o.workspaces = [{ id: 'old-pay' }, { name: 'search' }];
      break;
    case 'route-ws':
      dropWorkspace();
      put(o, ['route', 'ws_id'], 'old-pay');
      break;
    case 'consumer-ws':
      dropWorkspace();
      delete o.route;
      delete o.service;
      put(o, ['consumer', 'ws_id'], '6e2a8d4c-1f7b-4b3e-9a5d-2c8e7f1b0a94');
      break;
    case 'name-not-string':
      o.workspace_name = ['search'];
      break;
  }
  if (m.lookalikes) {
    // The same key names, deeper: rules must not see them.
    put(o, ['request', 'headers', 'method'], 'DELETE');
    put(o, ['request', 'querystring', 'status'], '500');
    put(o, ['request', 'querystring', 'uri'], '/profile/1');
    put(o, ['method'], 'PUT');
    put(o, ['status'], 500);
    put(o, ['extra', 'request', 'method'], 'PUT');
  }
  return o;
}

describe('the fast path routes exactly as a full parse', () => {
  it('real Kong entries of every version (2.8, 3.4, 3.7, Enterprise, stream), as Kong writes them', () => {
    const texts = [
      ...generate(1500, { seed: 11 }),
      ...generate(1500, {
        seed: 12,
        kongVersion: 'mixed',
        streamShare: 0.1,
        workspaces: ['default', 'payments', 'search', 'ünïcode-ws'],
      }),
    ].map((e) => e.text);
    for (let i = 0; i < texts.length; i += 500) routesLikeFullParse(texts.slice(i, i + 500));
  });

  it('entries with hard values, re-encoded with escapes, unicode, shuffled keys, whitespace and duplicate keys', () => {
    const base = generate(60, { seed: 21, kongVersion: 'mixed', streamShare: 0.05 }).map(
      (e) => JSON.parse(e.text) as { [key: string]: Json },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(base.length - 1), mutation), { minLength: 1, maxLength: 6 }),
        fc.integer(),
        fc.constantFrom(0, 0.05, 0.5),
        fc.boolean(),
        fc.boolean(),
        (picks, seed, escapeRate, space, duplicates) => {
          const enc: Encoding = { rnd: new SeededRandom(seed), escapeRate, space, duplicates };
          routesLikeFullParse(picks.map(([i, m]) => encode(mutate(base[i], m), enc)));
        },
      ),
      { numRuns: propertyRuns(400) },
    );
  });

  it('entries with a custom field nested deeper than the WebAssembly kernel goes (lua-cjson writes up to 1000 levels)', () => {
    const texts = generate(12, { seed: 31 }).map((e, i) => {
      const depth = 500 + 400 * i; // 500 … 4900
      const deep = `{"k":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      // Before the fields the rules read, or after them.
      return i % 2 === 0 ? `{"custom":${deep},${e.text.slice(1)}` : `${e.text.slice(0, -1)},"custom":${deep}}`;
    });
    const expected = texts.map((t) => reading(new FullParseEvent(t, decoder.workspaceNames)));
    texts.forEach((t, k) => assert.deepEqual(reading(fastPath(t)), expected[k], `entry ${k}`));
    // As one http-log batch, the way the http source splits it.
    const entries = splitBody(Buffer.from(`[${texts.join(',')}]`), 'json', 10_000, decoder);
    assert.ok(!('tooMany' in entries));
    assert.equal(entries.length, texts.length);
    entries.forEach((entry, k) => {
      assert.ok(!isProblem(entry), `entry ${k}: ${isProblem(entry) ? entry.error : ''}`);
      assert.equal(entry.raw, byteStringOf(texts[k]));
      assert.deepEqual(
        reading(('event' in entry ? entry.event : undefined) ?? fastPath(texts[k])),
        expected[k],
        `entry ${k}`,
      );
    });
  });
});
