import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import {
  DEFAULT_WORKSPACES,
  KongTrafficGenerator,
  WORKSPACE_IDS,
  encodeLuaCjson,
  formatLuaCjsonNumber,
  kongEntries,
  workspaceIdFor,
  type KongEntry,
  type KongTrafficOptions,
} from '../tools/kong-traffic.ts';

const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function take(opts: KongTrafficOptions, count: number): KongEntry[] {
  return [...kongEntries(opts, count)];
}

function parseObject(text: string): JsonObject {
  const value: unknown = JSON.parse(text);
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), 'a JSON object');
  return value as JsonObject;
}

function obj(value: Json | undefined): JsonObject {
  assert.ok(
    value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value),
    `an object: ${JSON.stringify(value)}`,
  );
  return value as JsonObject;
}

/** Index of the first `/` not written as `\/`, or -1. */
function unescapedSlash(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x2f) return i;
  }
  return -1;
}

/** First object key that appears twice in one object, or null (JSON.parse hides duplicates). */
function duplicateKey(text: string): string | null {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') expectKey = stack[stack.length - 1] !== null;
    else if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const key = text.slice(i, j + 1);
      const set = stack[stack.length - 1];
      if (expectKey && set) {
        if (set.has(key)) return key;
        set.add(key);
        expectKey = false;
      }
      i = j;
    }
  }
  return null;
}

const OPTION_SETS: KongTrafficOptions[] = [
  { seed: 1 },
  { seed: 2, kongVersion: '2.8' },
  { seed: 3, kongVersion: '3.4' },
  { seed: 4, kongVersion: 'mixed', streamShare: 0.15 },
  { seed: 5, workspaces: ['default', 'Équipe Paiements', 'constructor'], targetBytes: 5000 },
];

test('the same seed gives identical entries; another seed gives different ones', () => {
  for (const opts of OPTION_SETS) {
    const a = take(opts, 1500);
    const b = take({ ...opts }, 1500);
    assert.deepEqual(a, b);
    const c = take({ ...opts, seed: opts.seed + 1000 }, 1500);
    assert.notDeepEqual(
      a.map((e) => e.text),
      c.map((e) => e.text),
    );
  }
  // kongEntries and the class agree.
  const gen = new KongTrafficGenerator({ seed: 9 });
  const viaClass = Array.from({ length: 200 }, () => gen.next());
  assert.deepEqual(take({ seed: 9 }, 200), viaClass);
});

test('keyOrder stable: the same entries as random, one key order per object shape, headers still vary', () => {
  const opts: KongTrafficOptions = { seed: 7, kongVersion: '3.7', streamShare: 0.05 };
  const random = take(opts, 3000);
  const stable = take({ ...opts, keyOrder: 'stable' }, 3000);
  // "a|b": a came before b in some entry; one order for all entries means never also "b|a".
  const before = new Set<string>();
  const headerOrders = new Set<string>();
  stable.forEach((s, i) => {
    const r = random[i];
    assert.deepEqual(parseObject(s.text), parseObject(r.text), `entry ${i}: same content`);
    assert.equal(s.text.length, r.text.length);
    assert.deepEqual({ ...s, text: '' }, { ...r, text: '' }, 'same ground truth');
    // Every entry's top-level keys follow one order (entries differ only in which members they have).
    const keys = Object.keys(parseObject(s.text));
    keys.forEach((a, j) => {
      for (const b of keys.slice(j + 1)) {
        assert.ok(!before.has(`${b}|${a}`), `entry ${i}: ${a} before ${b}, elsewhere after`);
        before.add(`${a}|${b}`);
      }
    });
    const request = parseObject(s.text).request;
    if (request !== undefined) headerOrders.add(Object.keys(obj(obj(request).headers)).join(','));
  });
  assert.ok(headerOrders.size > 100, 'request header tables keep varying in order');
  const randomTop = new Set(random.map((e) => Object.keys(parseObject(e.text)).join(',')));
  assert.ok(randomTop.size > 1000, 'the default order is random per entry');
});

test('every text is one lua-cjson JSON object matching its ground truth', () => {
  for (const opts of OPTION_SETS) {
    let stream = 0;
    for (const e of kongEntries(opts, 4000)) {
      assert.ok(!e.text.includes('\n') && !e.text.endsWith(' '), 'single line');
      const o = parseObject(e.text);
      assert.equal(duplicateKey(e.text), null);
      const wsName = o.workspace_name;
      const wsId = o.workspace ?? obj(o.route ?? { ws_id: null }).ws_id;
      if (e.kind === 'http') {
        const request = obj(o.request);
        const response = obj(o.response);
        assert.equal(request.method, e.method);
        assert.equal(response.status, e.status);
        assert.equal(String(request.uri).split('?')[0], e.path);
        assert.ok(String(request.url).endsWith(String(request.uri)));
        assert.equal(obj(request.headers)['x-request-id'], e.id);
        assert.equal(o.session, undefined);
      } else {
        stream++;
        assert.equal(e.method, undefined);
        assert.equal(e.path, undefined);
        assert.equal(e.status, undefined);
        assert.equal(o.request, undefined);
        assert.equal(o.response, undefined);
        assert.equal(o.session_id, e.id);
        assert.equal(typeof obj(o.session).status, 'number');
        assert.equal(typeof obj(o.upstream).sent, 'number');
        assert.equal(typeof obj(o.latencies).session, 'number');
      }
      if (e.workspace === undefined) {
        assert.equal(e.kongVersion === '3.7', false, '3.7 entries always name their workspace');
        assert.equal(o.route, undefined);
      } else {
        assert.equal(wsId, workspaceIdFor(e.workspace));
        if (wsName !== undefined) assert.equal(wsName, e.workspace);
      }
      if (opts.kongVersion !== 'mixed') assert.equal(e.kongVersion, opts.kongVersion ?? '3.7');
    }
    if (opts.streamShare !== undefined)
      assert.ok(
        stream > 4000 * opts.streamShare * 0.7 && stream < 4000 * opts.streamShare * 1.3,
        `stream share ${stream}`,
      );
    else assert.equal(stream, 0);
  }
});

test('every / in the text is escaped and numbers print like %.14g', () => {
  for (const e of kongEntries({ seed: 21, kongVersion: 'mixed', streamShare: 0.1 }, 5000)) {
    assert.equal(unescapedSlash(e.text), -1, e.text);
    for (const m of e.text.matchAll(/"(?:balancer_start_ns|trace_start_ns)":([^,}\]]+)/g)) {
      assert.match(m[1], /^\d\.\d+e\+18$/);
      assert.equal(formatLuaCjsonNumber(Number(m[1])), m[1]);
    }
  }
});

test('ids are unique over 10k entries and sit where tests can count them', () => {
  const ids = new Set<string>();
  for (const e of kongEntries({ seed: 33, kongVersion: 'mixed', streamShare: 0.1 }, 10_000)) {
    assert.match(e.id, /^[0-9a-f]{32}$/);
    ids.add(e.id);
    const o = parseObject(e.text);
    if (e.kind === 'http' && e.kongVersion === '3.7') assert.equal(obj(o.request).id, e.id);
  }
  assert.equal(ids.size, 10_000);
  // Different seeds do not share ids.
  const other = new Set(take({ seed: 34 }, 2000).map((e) => e.id));
  assert.equal(take({ seed: 33 }, 2000).filter((e) => other.has(e.id)).length, 0);
});

test('fields follow the Kong version', () => {
  for (const e of kongEntries({ seed: 44, kongVersion: 'mixed' }, 6000)) {
    const o = parseObject(e.text);
    const request = obj(o.request);
    const latencies = obj(o.latencies);
    if (e.kongVersion === '2.8') {
      for (const key of ['workspace', 'workspace_name', 'workspaces', 'source', 'upstream_status'])
        assert.equal(o[key], undefined, key);
      assert.equal(request.id, undefined);
      assert.equal(latencies.receive, undefined);
      if (o.route !== undefined) assert.equal(obj(o.route).ws_id, workspaceIdFor(e.workspace ?? ''));
    } else {
      assert.equal(typeof o.upstream_status, 'string');
      assert.equal(typeof latencies.receive, 'number');
      if (e.kongVersion === '3.4') {
        for (const key of ['workspace', 'workspace_name', 'source']) assert.equal(o[key], undefined, key);
        assert.equal(request.id, undefined);
      } else {
        assert.equal(o.workspace_name, e.workspace);
        assert.ok(o.source === 'upstream' || o.source === 'kong');
        assert.equal(request.id, e.id);
      }
    }
  }
});

test('traffic mix: mostly GET and 2xx, with retries, kong-generated responses and unicode paths', () => {
  const methods = new Map<string, number>();
  let ok = 0,
    retries = 0,
    fromKong = 0,
    noRoute = 0,
    unicode = 0,
    percent = 0,
    arrays = 0,
    flags = 0,
    redacted = 0;
  const n = 20_000;
  for (const e of kongEntries({ seed: 55 }, n)) {
    methods.set(e.method ?? '', (methods.get(e.method ?? '') ?? 0) + 1);
    if ((e.status ?? 0) >= 200 && (e.status ?? 0) < 300) ok++;
    const o = parseObject(e.text);
    const request = obj(o.request);
    if (o.upstream_status === '502, 200' || o.upstream_status === '504, 200') {
      retries++;
      const tries = o.tries as Json[];
      assert.equal(tries.length, 2);
      assert.equal(obj(tries[0]).state, 'failed');
    }
    if (o.source === 'kong') {
      fromKong++;
      assert.equal(o.tries, undefined);
      assert.equal(o.upstream_status, '');
      assert.equal(obj(o.latencies).proxy, -1);
    }
    if (o.route === undefined) {
      noRoute++;
      assert.equal(e.status, 404);
      assert.equal(o.service, undefined);
    }
    if (/[^\x00-\x7f]/.test(e.path ?? '')) unicode++;
    if (/%[0-9A-F]{2}/.test(e.path ?? '')) percent++;
    const qs = obj(request.querystring);
    if (Object.values(qs).some((v) => Array.isArray(v))) arrays++;
    if (Object.values(qs).some((v) => v === true)) flags++;
    if (obj(request.headers).authorization === 'REDACTED') redacted++;
  }
  assert.ok((methods.get('GET') ?? 0) > n * 0.6, 'mostly GET');
  for (const m of ['POST', 'PUT', 'PATCH', 'DELETE']) assert.ok((methods.get(m) ?? 0) > 0, m);
  assert.ok(ok > n * 0.7 && ok < n * 0.95, `2xx share ${ok}`);
  for (const [name, count] of Object.entries({ retries, fromKong, noRoute, unicode, percent, arrays, flags, redacted }))
    assert.ok(count > 0, name);
});

test('mean size is near targetBytes', () => {
  for (const [opts, tolerance] of [
    [{ seed: 61 }, 0.03],
    [{ seed: 62, kongVersion: '2.8' }, 0.03],
    [{ seed: 63, kongVersion: 'mixed', streamShare: 0.1 }, 0.03],
    [{ seed: 64, targetBytes: 6000 }, 0.03],
    [{ seed: 65, targetBytes: 3000 }, 0.03],
  ] as const) {
    const n = 5000;
    let bytes = 0;
    for (const e of kongEntries(opts, n)) bytes += Buffer.byteLength(e.text);
    const target = opts.targetBytes ?? 2300;
    assert.ok(Math.abs(bytes / n - target) <= target * tolerance, `${JSON.stringify(opts)}: mean ${bytes / n}`);
  }
  let big = 0;
  for (const e of kongEntries({ seed: 66, targetBytes: 300_000 }, 40)) {
    parseObject(e.text);
    big += Buffer.byteLength(e.text);
  }
  assert.ok(Math.abs(big / 40 - 300_000) < 30_000, `large entries: ${big / 40}`);
});

test('workspace ids: fixed for the default names, stable for others', () => {
  assert.deepEqual(Object.keys(WORKSPACE_IDS), [...DEFAULT_WORKSPACES]);
  for (const name of DEFAULT_WORKSPACES) assert.equal(workspaceIdFor(name), WORKSPACE_IDS[name]);
  assert.equal(workspaceIdFor('team-x'), workspaceIdFor('team-x'));
  assert.notEqual(workspaceIdFor('team-x'), workspaceIdFor('team-y'));
  assert.match(workspaceIdFor('__proto__'), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('encodeLuaCjson escapes like lua-cjson', () => {
  assert.equal(encodeLuaCjson('/a/b'), '"\\/a\\/b"');
  assert.equal(encodeLuaCjson('q"\\\b\f\n\r\t\u0001\u001f\u007f'), '"q\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f"');
  assert.equal(encodeLuaCjson('café 日本 🍕'), '"café 日本 🍕"');
  assert.equal(encodeLuaCjson({}), '{}');
  assert.equal(encodeLuaCjson([]), '{}');
  assert.equal(encodeLuaCjson([1, 'a', true, null]), '[1,"a",true,null]');
  assert.equal(encodeLuaCjson({ b: 1, a: { d: undefined, c: [] } }), '{"b":1,"a":{"c":{}}}');
  assert.equal(
    encodeLuaCjson(
      new Map<string, unknown>([
        ['2', 'x'],
        ['1', 'y'],
      ]),
    ),
    '{"2":"x","1":"y"}',
  );
  assert.throws(() => encodeLuaCjson(Number.NaN), RangeError);
  assert.throws(() => encodeLuaCjson({ f: () => 1 }), TypeError);
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme-composite' }), (s) => {
      const out = encodeLuaCjson(s);
      assert.equal(JSON.parse(out), s);
      assert.equal(unescapedSlash(out), -1);
      assert.equal(/[\u0000-\u001f\u007f]/.test(out), false);
    }),
  );
});

test('numbers print like C %.14g', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [-0, '-0'],
    [42, '42'],
    [-7, '-7'],
    [1726783839538, '1726783839538'],
    [99999999999999, '99999999999999'],
    [1e14, '1e+14'],
    [123456789012345, '1.2345678901234e+14'],
    [1726783839539500000, '1.7267838395395e+18'],
    [0.1, '0.1'],
    [1 / 3, '0.33333333333333'],
    [173.00000000000003, '173'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [2.5, '2.5'],
    [1e21, '1e+21'],
    [1e100, '1e+100'],
    [5e-324, '4.9406564584125e-324'],
    [3 * 2 ** -20, '2.8610229492188e-06'],
    [99999999999999.5, '1e+14'],
    [-1234.5678, '-1234.5678'],
  ];
  for (const [n, s] of cases) assert.equal(formatLuaCjsonNumber(n), s, String(n));
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
      const s = formatLuaCjsonNumber(n);
      assert.match(s, /^-?\d+(\.\d+)?(e[+-]\d{2,3})?$/);
      const digits = s.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '');
      assert.ok(digits.length <= 14, s);
      const back = Number(s);
      assert.ok(n === 0 ? back === 0 : Math.abs(back - n) <= Math.abs(n) * 5e-14, `${n} → ${s}`);
    }),
  );
});

// ---------------------------------------------------------------------------------------------
// Fixtures

const FIXTURE_FILES = [
  'kong-2.8-http.json',
  'kong-3.4-http.json',
  'kong-3.7-workspace.json',
  'kong-enterprise-workspaces-array.json',
  'kong-custom-fields.json',
  'kong-stream-tcp.json',
  'kong-unicode-escapes.json',
  'kong-upstream-retries.json',
  'kong-no-route.json',
];

function fixture(name: string): { text: string; o: JsonObject } {
  const text = readFileSync(path.join(FIXTURES, name), 'utf8').replace(/\n$/, '');
  return { text, o: parseObject(text) };
}

test('fixtures are single-line lua-cjson JSON objects', () => {
  const present = readdirSync(FIXTURES).filter((f) => /^kong-.*\.json$/.test(f));
  for (const name of FIXTURE_FILES) assert.ok(present.includes(name), name);
  for (const name of present) {
    const { text } = fixture(name);
    assert.ok(!text.includes('\n'), `${name}: one line`);
    assert.equal(unescapedSlash(text), -1, `${name}: every / escaped`);
    assert.equal(duplicateKey(text), null, name);
  }
});

test('fixtures have the shapes they are named for', () => {
  {
    const { o } = fixture('kong-2.8-http.json');
    for (const key of ['workspace', 'workspace_name', 'workspaces', 'source', 'upstream_status'])
      assert.equal(o[key], undefined, key);
    assert.equal(obj(o.request).id, undefined);
    assert.equal(obj(o.route).ws_id, WORKSPACE_IDS.payments);
    assert.equal(obj(o.service).ws_id, WORKSPACE_IDS.payments);
  }
  {
    const { o } = fixture('kong-3.4-http.json');
    assert.equal(o.upstream_status, '200');
    assert.equal(obj(o.request).id, undefined);
    assert.equal(o.workspace, undefined);
    assert.equal(obj(obj(o.request).headers).authorization, 'REDACTED');
    assert.equal(obj(o.request).method, 'PUT');
    assert.match(String(obj(o.request).uri), /^\/profile\/\d+$/);
  }
  {
    const { o, text } = fixture('kong-3.7-workspace.json');
    assert.equal(o.workspace, WORKSPACE_IDS.payments);
    assert.equal(o.workspace_name, 'payments');
    assert.equal(typeof obj(o.request).id, 'string');
    assert.ok(text.includes('"balancer_start_ns":1.7267838395395e+18'));
  }
  {
    const { o } = fixture('kong-enterprise-workspaces-array.json');
    assert.deepEqual(o.workspaces, [{ id: WORKSPACE_IDS.search, name: 'search' }]);
    assert.equal(obj(o.route).ws_id, undefined);
  }
  {
    const { o } = fixture('kong-custom-fields.json');
    for (const key of ['kong_node', 'env', 'request_body', 'trace_start_ns', 'geo', 'consumer_tier'])
      assert.notEqual(o[key], undefined, key);
    assert.deepEqual(JSON.parse(String(o.request_body)), {
      theme: 'dark',
      locale: 'de-DE',
      avatar_url: 'https://cdn.example.com/a/1024.png',
    });
  }
  {
    const { o } = fixture('kong-stream-tcp.json');
    assert.equal(o.request, undefined);
    assert.equal(obj(o.session).status, 200);
    assert.deepEqual(obj(o.route).protocols, ['tcp']);
  }
  {
    const { o, text } = fixture('kong-unicode-escapes.json');
    const request = obj(o.request);
    assert.ok(text.includes('"uri":"\\/caf\\u00e9\\/men\\u00fc?'));
    assert.equal(String(request.uri).split('?')[0], '/café/menü');
    assert.equal(String(o.upstream_uri).split('?')[0], '/café/menü');
    assert.ok(text.includes('"upstream_uri":"\\/café\\/menü?'), 'raw UTF-8 too');
    assert.deepEqual(request.querystring, {
      q: 'crème brûlée',
      tag: ['vegan', 'bio'],
      fresh: true,
      note: 'say "bonjour"',
    });
    const headers = obj(request.headers);
    assert.deepEqual(headers.accept, ['text/html', 'application/json']);
    assert.equal(headers['x-emoji'], headers['x-emoji-escaped']);
    assert.equal(headers['x-customer-name'], 'Zoë "Zee" O\'Brien');
  }
  {
    const { o } = fixture('kong-upstream-retries.json');
    assert.equal(o.upstream_status, '502, 200');
    const tries = o.tries as Json[];
    assert.equal(tries.length, 2);
    assert.equal(obj(tries[0]).code, 502);
    assert.equal(obj(o.response).status, 200);
  }
  {
    const { o } = fixture('kong-no-route.json');
    for (const key of ['route', 'service', 'tries', 'consumer']) assert.equal(o[key], undefined, key);
    assert.equal(o.source, 'kong');
    assert.equal(o.upstream_uri, '');
    assert.equal(obj(o.response).status, 404);
    assert.equal(obj(o.latencies).proxy, -1);
  }
});
