/**
 * Seeded generator of realistic Kong Gateway log entries, as `kong.log.serialize()`
 * produces them and lua-cjson encodes them (file-log lines, http-log bodies).
 *
 * Used by the demo, the benchmarks and the reliability tests: the output is a pure
 * function of the options (same seed → same entries, byte for byte), and it is fast
 * (pre-encoded fragments are assembled per entry; no object is built and re-serialized).
 *
 * Shapes follow Kong's serializer by version:
 * - 2.8: no `request.id`, no `upstream_status`, no `source`, no `workspace*` fields,
 *   `latencies` without `receive`; route/service/consumer carry `ws_id`.
 * - 3.4: adds `upstream_status` (a string) and `latencies.receive`; authorization redacted.
 * - 3.7: adds `request.id`, `source`, `workspace` (uuid) and `workspace_name`,
 *   `tries[].balancer_start_ns` (printed in exponent form), `x-kong-request-id`.
 *
 * Each entry's `id` is in `request.headers["x-request-id"]` (every HTTP entry), also in
 * `request.id` and the `x-kong-request-id` response header for 3.7, and in a top-level
 * `session_id` custom field for stream entries. Keys are shuffled per entry at the top level
 * and in request, headers, response, latencies, tries and querystring (with `keyOrder: 'stable'`
 * only headers and querystring vary); route, service and consumer objects keep one random key
 * order each (as one Kong process would).
 * The mean size follows `targetBytes` by dropping optional members or padding with a cookie.
 */

// ---------------------------------------------------------------------------------------------
// lua-cjson encoding

/** Characters other than `/` that lua-cjson escapes. */
const ESCAPE_OTHER = /["\\\u0000-\u001f\u007f]/;
const ESCAPE_ALL = /["\\/\u0000-\u001f\u007f]/g;
const ESCAPES: readonly string[] = (() => {
  const table: string[] = [];
  for (let c = 0; c < 128; c++) table.push(String.fromCharCode(c));
  for (let c = 0; c < 32; c++) table[c] = '\\u' + c.toString(16).padStart(4, '0');
  table[8] = '\\b';
  table[9] = '\\t';
  table[10] = '\\n';
  table[12] = '\\f';
  table[13] = '\\r';
  table[0x22] = '\\"';
  table[0x2f] = '\\/';
  table[0x5c] = '\\\\';
  table[0x7f] = '\\u007f';
  return table;
})();

function escapeChar(c: string): string {
  return ESCAPES[c.charCodeAt(0)];
}

/** The inside of a lua-cjson string literal (no quotes): `/` → `\/`, non-ASCII passed through. */
export function escapeLuaCjsonString(s: string): string {
  if (ESCAPE_OTHER.test(s)) return s.replace(ESCAPE_ALL, escapeChar);
  return s.indexOf('/') === -1 ? s : s.replaceAll('/', '\\/');
}

function quote(s: string): string {
  return '"' + escapeLuaCjsonString(s) + '"';
}

const F64 = new Float64Array(1);
const U64 = new BigUint64Array(F64.buffer);
const MANTISSA_MASK = (1n << 52n) - 1n;

/**
 * A number as lua-cjson prints it: C's `%.14g` (14 significant digits, exponent form when the
 * decimal exponent is < -4 or >= 14, trailing zeros removed, ties rounded to even like glibc).
 * NaN and ±Infinity throw, as lua-cjson does by default.
 */
export function formatLuaCjsonNumber(n: number): string {
  if (Number.isInteger(n) && n < 1e14 && n > -1e14) return n === 0 && 1 / n < 0 ? '-0' : String(n);
  if (!Number.isFinite(n)) throw new RangeError(`Cannot serialise number: must not be NaN or Infinity (${n})`);
  const negative = n < 0;
  // Exact decimal expansion of the double: value = digits × 10^pow10.
  F64[0] = Math.abs(n);
  const bits = U64[0];
  const biased = Number(bits >> 52n);
  let mantissa = bits & MANTISSA_MASK;
  let exp2: number;
  if (biased === 0) exp2 = -1074;
  else {
    mantissa |= 1n << 52n;
    exp2 = biased - 1075;
  }
  let digits: string;
  let pow10: number;
  if (exp2 >= 0) {
    digits = (mantissa << BigInt(exp2)).toString();
    pow10 = 0;
  } else {
    digits = (mantissa * 5n ** BigInt(-exp2)).toString();
    pow10 = exp2;
  }
  let x = digits.length - 1 + pow10; // decimal exponent of the first significant digit
  let sig: string;
  if (digits.length <= 14) sig = digits;
  else {
    sig = digits.slice(0, 14);
    const first = digits.charCodeAt(14);
    let up = first > 0x35;
    if (first === 0x35) {
      up = !/^0*$/.test(digits.slice(15)) || (sig.charCodeAt(13) & 1) === 1; // above half, or tie → even
    }
    if (up) {
      const bumped = (BigInt(sig) + 1n).toString();
      if (bumped.length > 14) {
        sig = bumped.slice(0, 14);
        x += 1;
      } else sig = bumped;
    }
  }
  sig = sig.replace(/0+$/, '');
  if (sig === '') sig = '0';
  let out: string;
  if (x < -4 || x >= 14) {
    const ax = Math.abs(x);
    out =
      sig[0] +
      (sig.length > 1 ? '.' + sig.slice(1) : '') +
      'e' +
      (x < 0 ? '-' : '+') +
      (ax < 10 ? '0' + ax : String(ax));
  } else if (x >= 0) {
    const intPart = sig.length > x + 1 ? sig.slice(0, x + 1) : sig.padEnd(x + 1, '0');
    const frac = sig.slice(x + 1);
    out = frac === '' ? intPart : intPart + '.' + frac;
  } else {
    out = '0.' + '0'.repeat(-x - 1) + sig;
  }
  return negative ? '-' + out : out;
}

function encodeValue(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return formatLuaCjsonNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return formatLuaCjsonNumber(Number(value));
    case 'undefined':
      return 'null';
    case 'object': {
      if (value === null) return 'null';
      if (depth >= 1000) throw new RangeError('Cannot serialise, excessive nesting (1001)');
      if (Array.isArray(value)) {
        if (value.length === 0) return '{}';
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + encodeValue(value[i], depth + 1);
        return out + ']';
      }
      const entries: Iterable<[unknown, unknown]> = value instanceof Map ? value.entries() : Object.entries(value);
      let out = '{';
      let first = true;
      for (const [k, v] of entries) {
        if (v === undefined) continue;
        out += (first ? '' : ',') + quote(String(k)) + ':' + encodeValue(v, depth + 1);
        first = false;
      }
      return out + '}';
    }
    default:
      throw new TypeError(`Cannot serialise ${typeof value}: type not supported`);
  }
}

/**
 * Serialize like Kong's lua-cjson: every `/` escaped as `\/`, numbers as `%.14g`
 * (`1.7267838395395e+18`), raw non-ASCII passed through (not \u-escaped), DEL as `\u007f`,
 * empty arrays and objects as `{}`, object keys in the order given (a `Map` keeps any order,
 * plain objects list integer-like keys first as JavaScript does). `undefined` properties are
 * absent (a Lua nil); `null` is `null` (cjson.null). NaN/Infinity, functions and symbols throw.
 */
export function encodeLuaCjson(value: unknown): string {
  return encodeValue(value, 0);
}

// ---------------------------------------------------------------------------------------------
// Public types

export type KongVersion = '2.8' | '3.4' | '3.7';

export interface KongTrafficOptions {
  seed: number;
  /** Workspace names; the first one is the "default" (gets most traffic and unmatched requests). */
  workspaces?: readonly string[];
  kongVersion?: KongVersion | 'mixed';
  /** Fraction of TCP/TLS stream entries (0..1), default 0. */
  streamShare?: number;
  /**
   * Approximate mean entry size in bytes, default 2300. Reached by dropping optional headers and
   * custom fields, or padding with a `cookie` header (and a `request_body` custom field above
   * ~6 KB). The floor is the required core: about 2.2 KB for 3.7, 1.9 KB for 3.4 and 2.8.
   * Stream entries (~1.3 KB) are not resized; HTTP entries make up the difference.
   */
  targetBytes?: number;
  /**
   * Order of object members. `random` (default): shuffled per entry at the top level and in
   * request, response, latencies, tries and session. `stable`: those objects keep one fixed order
   * for every entry, as one Kong worker's lua-cjson walks the same table shape (header tables and
   * the querystring still vary). The same seed gives the same entries in either order.
   */
  keyOrder?: 'random' | 'stable';
}

export interface KongEntry {
  /** Unique per generated entry (32 hex digits); see where it is placed in the text below. */
  id: string;
  /** One lua-cjson JSON object, no trailing newline. */
  text: string;
  kind: 'http' | 'stream';
  kongVersion: KongVersion;
  /** HTTP method (absent for stream entries). */
  method?: string;
  /** Raw request path as in `request.uri` up to the `?` (percent-encoding kept; absent for stream). */
  path?: string;
  /** `response.status` (absent for stream entries, whose `session.status` is not ground truth). */
  status?: number;
  /** Workspace name, when the entry says it in any way (absent for 2.8 requests that matched no route). */
  workspace?: string;
}

export const DEFAULT_WORKSPACES: readonly string[] = Object.freeze(['default', 'payments', 'search', 'identity']);

/** Fixed workspace uuids of the default workspace names (also used by test/fixtures). */
export const WORKSPACE_IDS: Readonly<Record<string, string>> = Object.freeze({
  default: 'f381e34e-5c25-4e65-b91b-3c0a86cfc393',
  payments: '6e2a8d4c-1f7b-4b3e-9a5d-2c8e7f1b0a94',
  search: 'b7d9e1a2-3c4f-4a6b-8d7e-9f0a1b2c3d4e',
  identity: '3c1e5f7a-9b2d-4e8f-a6c4-1d3b5e7f9a20',
});

/** The uuid the generator uses for a workspace name: WORKSPACE_IDS, or one derived from the name. */
export function workspaceIdFor(name: string): string {
  if (Object.hasOwn(WORKSPACE_IDS, name)) return WORKSPACE_IDS[name];
  const rng = new Rng(hashString('workspace:' + name));
  return uuid(rng);
}

// ---------------------------------------------------------------------------------------------
// PRNG and small helpers

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed | 0;
  }
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  next(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Inclusive range. */
  range(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[Math.floor(this.next() * a.length)];
  }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
  /** Log-normal-ish positive value around `median`. */
  spread(median: number, sigma: number): number {
    return median * Math.exp((this.next() + this.next() + this.next() - 1.5) * 2 * sigma);
  }
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function hex8(n: number): string {
  return HEX2[(n >>> 24) & 255] + HEX2[(n >>> 16) & 255] + HEX2[(n >>> 8) & 255] + HEX2[n & 255];
}

function hexN(rng: Rng, n: number): string {
  let s = '';
  while (s.length < n) s += hex8(rng.u32());
  return s.slice(0, n);
}

function uuid(rng: Rng): string {
  const h = hexN(rng, 32);
  const variant = '89ab'[parseInt(h[16], 16) & 3];
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function base62(rng: Rng, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += B62[rng.int(62)];
  return s;
}

class Weighted<T> {
  readonly items: T[] = [];
  private readonly cum: number[] = [];
  private total = 0;
  add(item: T, weight: number): this {
    if (weight > 0) {
      this.total += weight;
      this.items.push(item);
      this.cum.push(this.total);
    }
    return this;
  }
  pick(rng: Rng): T {
    const r = rng.next() * this.total;
    const cum = this.cum;
    for (let i = 0; i < cum.length; i++) if (r < cum[i]) return this.items[i];
    return this.items[this.items.length - 1];
  }
}

/** `"key":` pre-encoded. */
function k(key: string): string {
  return quote(key) + ':';
}
/** `"key":value` with the value encoded. */
function kv(key: string, value: unknown): string {
  return quote(key) + ':' + encodeLuaCjson(value);
}

/** `{a,b,c}` from encoded members, as one rope (no intermediate flattening). */
function obj(parts: readonly string[]): string {
  if (parts.length === 0) return '{}';
  let s = '{' + parts[0];
  for (let i = 1; i < parts.length; i++) s += ',' + parts[i];
  return s + '}';
}

/** `%.14g` of the nanosecond time `ms * 1e6 + sub` (0 <= sub < 1e6) for positive integer `ms`. */
function nsFromMs(ms: number, sub: number): string {
  // ms has 13 digits until the year 2286: the 14 significant digits are ms and the first digit
  // of sub, rounded half-to-even on the remaining five.
  if (ms < 1e12 || ms >= 1e13) return formatLuaCjsonNumber(ms * 1e6 + sub);
  let head = ms * 10 + Math.floor(sub / 100_000);
  const rest = sub % 100_000;
  if (rest > 50_000 || (rest === 50_000 && head % 2 === 1)) head += 1;
  let sig = String(head);
  let exp = 18;
  if (sig.length > 14) {
    sig = sig.slice(0, 14);
    exp = 19;
  }
  let end = sig.length;
  while (end > 1 && sig.charCodeAt(end - 1) === 0x30) end--;
  return sig[0] + (end > 1 ? '.' + sig.slice(1, end) : '') + 'e+' + exp;
}

/** A member's key, e.g. `started_at` of `"started_at":123`. */
function memberKey(member: string): string {
  return member.slice(1, member.indexOf('"', 1));
}

/**
 * Shuffle encoded members (always: the random draws, and so the entries, stay the same in both
 * orders), then with `stable` sort them by a fixed rank of their key: one order for every entry,
 * arbitrary like a Lua table's hash order.
 */
function orderMembers(rng: Rng, members: string[], stable: boolean): string[] {
  rng.shuffle(members);
  if (!stable) return members;
  const ranked = members.map((m): [number, string] => [hashString(memberKey(m)), m]);
  ranked.sort((a, b) => a[0] - b[0]);
  return ranked.map(([, m]) => m);
}

function shuffledObject(rng: Rng, pairs: [string, unknown][]): string {
  rng.shuffle(pairs);
  return (
    '{' +
    pairs
      .filter(([, v]) => v !== undefined)
      .map(([key, v]) => kv(key, v))
      .join(',') +
    '}'
  );
}

// ---------------------------------------------------------------------------------------------
// The simulated gateway: workspaces → services (apps) → routes → endpoints

type Auth = 'none' | 'key-auth' | 'jwt' | 'oauth2';

// Endpoint kinds (how the path, query, bodies and statuses are made).
const K_PROFILE = 0,
  K_AVATAR = 1,
  K_SETTINGS = 2,
  K_HEALTH = 3,
  K_STATIC = 4,
  K_UNICODE_RAW = 5,
  K_UNICODE_PCT = 6,
  K_LEGACY = 7,
  K_ORDERS_LIST = 8,
  K_ORDER = 9,
  K_ORDERS_CREATE = 10,
  K_ORDER_ITEMS = 11,
  K_PAYMENT = 12,
  K_REFUND = 13,
  K_SEARCH = 14,
  K_SUGGEST = 15,
  K_SEARCH_EVENTS = 16,
  K_TOKEN = 17,
  K_WELLKNOWN = 18,
  K_USERINFO = 19,
  K_USER = 20,
  K_PASSWORD = 21,
  K_LOGIN = 22;

interface EndpointDef {
  kind: number;
  method: string;
  w: number;
}
interface RouteDef {
  name: string;
  paths: string[];
  stripPath: boolean;
  auth: Auth;
  customFields: boolean;
  methods?: string[];
  endpoints: EndpointDef[];
}
interface AppDef {
  key: string;
  service: string;
  upstreamHost: string;
  port: number;
  protocol: 'http' | 'https';
  servicePath?: string;
  server?: string;
  latencyMs: number;
  routes: RouteDef[];
}

const ep = (kind: number, method: string, w: number): EndpointDef => ({ kind, method, w });

const APPS: Record<string, AppDef> = {
  profile: {
    key: 'profile',
    service: 'profile-service',
    upstreamHost: 'profile.identity.svc.cluster.local',
    port: 8080,
    protocol: 'http',
    server: 'uvicorn',
    latencyMs: 24,
    routes: [
      {
        name: 'profile-api',
        paths: ['/profile'],
        stripPath: false,
        auth: 'jwt',
        customFields: true,
        endpoints: [
          ep(K_PROFILE, 'GET', 40),
          ep(K_PROFILE, 'PUT', 8),
          ep(K_PROFILE, 'PATCH', 4),
          ep(K_PROFILE, 'DELETE', 1),
          ep(K_AVATAR, 'GET', 10),
          ep(K_AVATAR, 'PUT', 3),
          ep(K_SETTINGS, 'GET', 5),
          ep(K_SETTINGS, 'PATCH', 1),
        ],
      },
    ],
  },
  web: {
    key: 'web',
    service: 'web-frontend',
    upstreamHost: 'frontend.web.svc.cluster.local',
    port: 80,
    protocol: 'http',
    server: 'nginx/1.25.4',
    latencyMs: 6,
    routes: [
      {
        name: 'health',
        paths: ['/health'],
        stripPath: false,
        auth: 'none',
        customFields: false,
        methods: ['GET', 'HEAD'],
        endpoints: [ep(K_HEALTH, 'GET', 8)],
      },
      {
        name: 'web-pages',
        paths: ['/'],
        stripPath: false,
        auth: 'none',
        customFields: false,
        endpoints: [
          ep(K_STATIC, 'GET', 10),
          ep(K_UNICODE_RAW, 'GET', 1.5),
          ep(K_UNICODE_PCT, 'GET', 2),
          ep(K_LEGACY, 'GET', 1),
        ],
      },
    ],
  },
  orders: {
    key: 'orders',
    service: 'orders-api',
    upstreamHost: 'orders.payments.svc.cluster.local',
    port: 8080,
    protocol: 'http',
    server: 'Jetty(12.0.7)',
    latencyMs: 70,
    routes: [
      {
        name: 'orders-v1',
        paths: ['/api/v1/orders'],
        stripPath: false,
        auth: 'key-auth',
        customFields: true,
        endpoints: [
          ep(K_ORDERS_LIST, 'GET', 10),
          ep(K_ORDER, 'GET', 20),
          ep(K_ORDER, 'PATCH', 3),
          ep(K_ORDER, 'DELETE', 1),
          ep(K_ORDERS_CREATE, 'POST', 6),
          ep(K_ORDER_ITEMS, 'GET', 5),
          ep(K_ORDER_ITEMS, 'POST', 2),
        ],
      },
      {
        name: 'payments-v1',
        paths: ['/api/v1/payments'],
        stripPath: false,
        auth: 'key-auth',
        customFields: false,
        endpoints: [ep(K_PAYMENT, 'GET', 4), ep(K_REFUND, 'POST', 2)],
      },
    ],
  },
  search: {
    key: 'search',
    service: 'search-api',
    upstreamHost: 'search-api.search.svc.cluster.local',
    port: 9200,
    protocol: 'http',
    servicePath: '/v2',
    server: 'gunicorn',
    latencyMs: 45,
    routes: [
      {
        name: 'search',
        paths: ['/search'],
        stripPath: true,
        auth: 'none',
        customFields: true,
        endpoints: [ep(K_SEARCH, 'GET', 30), ep(K_SUGGEST, 'GET', 10), ep(K_SEARCH_EVENTS, 'POST', 3)],
      },
    ],
  },
  identity: {
    key: 'identity',
    service: 'identity-provider',
    upstreamHost: 'keycloak.identity.svc.cluster.local',
    port: 8443,
    protocol: 'https',
    latencyMs: 55,
    routes: [
      {
        name: 'oauth',
        paths: ['/oauth2', '/.well-known', '/login'],
        stripPath: false,
        auth: 'none',
        customFields: false,
        endpoints: [ep(K_TOKEN, 'POST', 10), ep(K_WELLKNOWN, 'GET', 5), ep(K_LOGIN, 'POST', 5)],
      },
      {
        name: 'users',
        paths: ['/users', '/userinfo'],
        stripPath: false,
        auth: 'oauth2',
        customFields: false,
        endpoints: [ep(K_USERINFO, 'GET', 10), ep(K_USER, 'GET', 8), ep(K_USER, 'PUT', 2), ep(K_PASSWORD, 'PUT', 1)],
      },
    ],
  },
};

const APPS_BY_WORKSPACE: Record<string, [string, number][]> = {
  default: [
    ['profile', 7],
    ['web', 3],
  ],
  payments: [['orders', 1]],
  search: [['search', 1]],
  identity: [['identity', 1]],
};
const APP_ROTATION = ['profile', 'orders', 'search', 'identity', 'web'];

const HOSTS: Record<string, string> = {
  default: 'api.example.com',
  payments: 'payments.example.com',
  search: 'search.example.com',
  identity: 'id.example.com',
};

// ---------------------------------------------------------------------------------------------
// Pools of realistic values

const BROWSER_UAS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
];
const CLIENT_UAS = [
  'curl/8.5.0',
  'okhttp/4.12.0',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  'axios/1.6.8',
  'PostmanRuntime/7.37.3',
  'Apache-HttpClient/4.5.14 (Java/17.0.10)',
  'ShopApp/5.12.1 (iPhone; iOS 17.4.1; Scale/3.00)',
  'ShopApp/5.12.0 (Android 14; Pixel 8)',
  'Bäckerei-Kasse/2.3 (Windows 11; de-DE)',
  'kube-probe/1.29',
];
const ACCEPT_LANGS = [
  'en-US,en;q=0.9',
  'de-DE,de;q=0.9,en;q=0.8',
  'fr-FR,fr;q=0.9',
  'ja-JP,ja;q=0.9,en-US;q=0.8',
  'es-ES,es;q=0.9',
];
const SEARCH_TERMS = [
  'kong',
  'api gateway',
  'running shoes',
  'café',
  'zürich hotels',
  '日本語',
  'c++',
  '"exact phrase"',
  'a/b testing',
  'naïve résumé',
  '100% cotton',
  'C:\\Users',
  'iphone 15',
  'red dress size 38',
  '🍕 near me',
  'Crème brûlée',
  'tab\there',
];
const SORTS = ['relevance', 'price_asc', 'price_desc', 'newest'];
const FILTERS = ['brand:acme', 'color:red', 'size:m', 'in_stock', 'price:10-50', 'category:shoes'];
const JUNK_PATHS = [
  '/wp-login.php',
  '/.env',
  '/favicon.ico',
  '/robots.txt',
  '/api/v0/orders',
  '/admin/config.php',
  '/actuator/health',
  '/.git/config',
  '/v1/unknown',
  '/cgi-bin/luci/;stok=/locale',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/ünknown',
];
const GEOS = [
  { country: 'DE', city: 'München' },
  { country: 'US', city: 'Seattle' },
  { country: 'FR', city: 'Orléans' },
  { country: 'JP', city: '東京' },
  { country: 'BR', city: 'São Paulo' },
  { country: 'GB', city: 'London' },
];
const KONG_NODES = ['kong-dp-7c9f6b5d8-x2k4q', 'kong-dp-7c9f6b5d8-m8rtz', 'kong-dp-7c9f6b5d8-p4wnd'];
const TLS_CIPHERS = ['TLS_AES_256_GCM_SHA384', 'TLS_AES_128_GCM_SHA256', 'ECDHE-RSA-AES128-GCM-SHA256'];

// ---------------------------------------------------------------------------------------------
// Pre-encoded model

interface ConsumerModel {
  frag: string;
  entityFrag: string;
  apiKeyFrag: string;
}
interface RouteModel {
  def: RouteDef;
  app: AppModel;
  frag: string;
  endpoints: Weighted<EndpointDef>;
  prefix: string;
}
interface AppModel {
  def: AppDef;
  serviceFrag: string;
  routes: Weighted<RouteModel>;
  upstreamIps: string[];
  serverFrag: string | null;
}
interface StreamModel {
  routeFrag: string;
  serviceFrag: string;
  tls: boolean;
  listenPort: number;
  upstreamIps: string[];
  port: number;
}
interface WorkspaceModel {
  name: string;
  id: string;
  idFrag: string;
  nameFrag: string;
  host: string;
  hostEsc: string;
  hostFrag: string;
  /** origin, referer and sec-fetch-* headers of browser requests. */
  browserFrags: string;
  apps: Weighted<AppModel>;
  consumers: ConsumerModel[];
  streams: StreamModel[];
}

interface QueryParam {
  key: string;
  raw: string | null;
  value: string;
}

const VERSION_INFO: Record<KongVersion, { viaFrag: string; serverFrag: string }> = {
  '2.8': { viaFrag: kv('via', 'kong/2.8.4'), serverFrag: kv('server', 'kong/2.8.4') },
  '3.4': { viaFrag: kv('via', 'kong/3.4.2'), serverFrag: kv('server', 'kong/3.4.2') },
  '3.7': { viaFrag: kv('via', '1.1 kong/3.7.1'), serverFrag: kv('server', 'kong/3.7.1') },
};

/** Trimming to the size budget keeps at least this many request headers (targets >= 2000 bytes). */
const MIN_REQUEST_HEADERS = 9;

const PAD_POOL_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Generates Kong log entries; deterministic for a given options object. */
export class KongTrafficGenerator {
  private readonly rng: Rng;
  private readonly seedHash: number;
  private readonly version: KongVersion | 'mixed';
  private readonly streamShare: number;
  private readonly targetBytes: number;
  private readonly stableOrder: boolean;
  private readonly workspaces: Weighted<WorkspaceModel>;
  private readonly defaultWorkspace: WorkspaceModel;
  private readonly clientIps: string[];
  private readonly browserUaFrags: string[];
  private readonly clientUaFrags: string[];
  private readonly acceptLangFrags: string[];
  private readonly padPool: string;
  private readonly bodyPool: string;
  private readonly idPrefix: string;
  private readonly minRequestHeaders: number;
  private readonly httpsPrefix = quote('https://').slice(1, -1);
  private readonly httpPrefix = quote('http://').slice(1, -1);
  private readonly httpsPortSuffix: string;
  private readonly httpPortSuffix: string;
  private readonly tlsFrags: string[];
  private readonly kongNodeFrags: string[];
  private readonly geoFrags: string[];
  private seq = 0;
  private clock: number;
  private sizeDebt = 0;
  private lastDateSecond = -1;
  private lastDateFrag = '';

  constructor(opts: KongTrafficOptions) {
    // Any number is a seed (1 and 1.5 differ); its text is hashed.
    this.seedHash = fmix32(hashString('seed:' + String(opts.seed)));
    this.rng = new Rng(this.seedHash);
    const rng = this.rng;
    this.version = opts.kongVersion ?? '3.7';
    this.streamShare = Math.min(1, Math.max(0, opts.streamShare ?? 0));
    this.targetBytes = Math.max(0, opts.targetBytes ?? 2300);
    this.stableOrder = opts.keyOrder === 'stable';
    const names =
      opts.workspaces !== undefined && opts.workspaces.length > 0 ? [...opts.workspaces] : [...DEFAULT_WORKSPACES];
    // A fixed day in September 2024 plus a seeded offset; advances a few ms per entry.
    this.clock = 1726783839538 + rng.int(86_400_000);
    this.idPrefix = hex8(this.seedHash);
    this.minRequestHeaders = this.targetBytes >= 2000 ? MIN_REQUEST_HEADERS : 0;
    const portMaps = rng.chance(0.5);
    this.httpsPortSuffix = portMaps ? ':443' : ':8443';
    this.httpPortSuffix = portMaps ? ':80' : ':8000';
    this.tlsFrags = TLS_CIPHERS.map((cipher) => kv('tls', { version: 'TLSv1.3', cipher, client_verify: 'NONE' }));
    this.tlsFrags.push(kv('tls', { version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-GCM-SHA384', client_verify: 'NONE' }));
    this.kongNodeFrags = KONG_NODES.map((node) => kv('kong_node', node));
    this.geoFrags = GEOS.map((geo) => kv('geo', geo));
    this.clientIps = [];
    for (let i = 0; i < 400; i++) {
      const r = rng.next();
      this.clientIps.push(
        r < 0.45
          ? `203.0.113.${rng.range(1, 254)}`
          : r < 0.8
            ? `198.51.100.${rng.range(1, 254)}`
            : r < 0.95
              ? `192.0.2.${rng.range(1, 254)}`
              : `2001:db8:${rng.int(65536).toString(16)}::${rng.range(1, 4095).toString(16)}`,
      );
    }
    this.browserUaFrags = BROWSER_UAS.map((ua) => kv('user-agent', ua));
    this.clientUaFrags = CLIENT_UAS.map((ua) => kv('user-agent', ua));
    this.acceptLangFrags = ACCEPT_LANGS.map((l) => kv('accept-language', l));
    let pad = '';
    while (pad.length < 65536) pad += PAD_POOL_CHARS[rng.int(64)];
    this.padPool = pad + pad;
    this.bodyPool = buildBodyPool(rng);

    this.workspaces = new Weighted<WorkspaceModel>();
    const models = names.map((name, i) => this.buildWorkspace(name, i));
    models.forEach((m, i) =>
      this.workspaces.add(m, i === 0 ? (models.length === 1 ? 1 : 0.4) : 0.6 / (models.length - 1)),
    );
    this.defaultWorkspace = models[0];
  }

  // -- world building -------------------------------------------------------------------------

  private buildWorkspace(name: string, index: number): WorkspaceModel {
    const rng = this.rng;
    const id = workspaceIdFor(name);
    const appList = Object.hasOwn(APPS_BY_WORKSPACE, name)
      ? APPS_BY_WORKSPACE[name]
      : [[APP_ROTATION[index % APP_ROTATION.length], 1] as [string, number]];
    const host = Object.hasOwn(HOSTS, name)
      ? HOSTS[name]
      : `${
          name
            .toLowerCase()
            .replace(/[^a-z0-9-]+/g, '-')
            .replace(/^-+|-+$/g, '') || 'ws'
        }.example.com`;
    const created = 1718000000 + rng.int(5_000_000);
    const apps = new Weighted<AppModel>();
    for (const [key, w] of appList) apps.add(this.buildApp(APPS[key], id, host, created), w);
    const consumers: ConsumerModel[] = [];
    const prefixes = ['mobile-app', 'partner', 'web-portal', 'batch-job', 'user', 'integration'];
    for (let i = 0; i < 40; i++) {
      const cid = uuid(rng);
      const username = i < 6 ? `${prefixes[i]}-${name}` : `${rng.pick(prefixes)}-${rng.range(1000, 99999)}`;
      const c = shuffledObject(rng, [
        ['id', cid],
        ['username', username],
        ['custom_id', rng.chance(0.5) ? `crm-${rng.range(100000, 999999)}` : undefined],
        ['created_at', created + rng.int(900_000)],
        ['ws_id', id],
        ['tags', rng.chance(0.3) ? [rng.pick(['partner', 'internal', 'gold', 'trial'])] : undefined],
      ]);
      const entity = shuffledObject(rng, [
        ['id', uuid(rng)],
        ['consumer_id', cid],
      ]);
      consumers.push({
        frag: k('consumer') + c,
        entityFrag: k('authenticated_entity') + entity,
        apiKeyFrag: kv('apikey', hexN(rng, 32)),
      });
    }
    const streams: StreamModel[] = [];
    for (const tls of [false, true]) {
      const serviceId = uuid(rng);
      const sname = tls ? 'redis-cache' : 'postgres-primary';
      const port = tls ? 6379 : 5432;
      const listenPort = tls ? 9443 : 15432;
      const service = shuffledObject(rng, [
        ['id', serviceId],
        ['name', sname],
        ['protocol', 'tcp'],
        ['host', tls ? 'redis.cache.svc.cluster.local' : 'pg-primary.db.svc.cluster.local'],
        ['port', port],
        ['retries', 5],
        ['connect_timeout', 60000],
        ['read_timeout', 60000],
        ['write_timeout', 60000],
        ['enabled', true],
        ['created_at', created],
        ['updated_at', created + 3600],
        ['ws_id', id],
      ]);
      const route = shuffledObject(rng, [
        ['id', uuid(rng)],
        ['name', tls ? 'redis-tls' : 'postgres-tcp'],
        ['protocols', [tls ? 'tls' : 'tcp']],
        ['destinations', [{ port: listenPort }]],
        ['snis', tls ? [`redis.${host}`] : undefined],
        ['https_redirect_status_code', 426],
        ['regex_priority', 0],
        ['strip_path', true],
        ['preserve_host', false],
        ['request_buffering', true],
        ['response_buffering', true],
        ['service', { id: serviceId }],
        ['created_at', created],
        ['updated_at', created + 3600],
        ['ws_id', id],
      ]);
      streams.push({
        routeFrag: k('route') + route,
        serviceFrag: k('service') + service,
        tls,
        listenPort,
        port,
        upstreamIps: [`10.42.${rng.int(256)}.${rng.range(2, 254)}`, `10.42.${rng.int(256)}.${rng.range(2, 254)}`],
      });
    }
    return {
      name,
      id,
      host,
      hostEsc: escapeLuaCjsonString(host),
      hostFrag: kv('host', host),
      apps,
      consumers,
      streams,
      browserFrags: [
        kv('origin', `https://app.${host}`),
        kv('referer', `https://app.${host}/dashboard`),
        '"sec-fetch-mode":"cors"',
        '"sec-fetch-site":"same-site"',
        '"sec-fetch-dest":"empty"',
      ].join(','),
      idFrag: kv('workspace', id),
      nameFrag: kv('workspace_name', name),
    };
  }

  private buildApp(def: AppDef, wsId: string, host: string, created: number): AppModel {
    const rng = this.rng;
    const serviceId = uuid(rng);
    const service = shuffledObject(rng, [
      ['id', serviceId],
      ['name', def.service],
      ['protocol', def.protocol],
      ['host', def.upstreamHost],
      ['port', def.port],
      ['path', def.servicePath],
      ['retries', 5],
      ['connect_timeout', 60000],
      ['read_timeout', 60000],
      ['write_timeout', 60000],
      ['enabled', true],
      ['tls_verify', def.protocol === 'https' ? true : undefined],
      ['created_at', created],
      ['updated_at', created + rng.int(2_000_000)],
      ['ws_id', wsId],
      ['tags', def.key === 'search' ? ['team-search', 'managed-by-deck'] : undefined],
    ]);
    const app: AppModel = {
      def,
      serviceFrag: k('service') + service,
      routes: new Weighted<RouteModel>(),
      upstreamIps: [0, 1, 2].map(() => `10.${rng.range(0, 3) === 0 ? 96 : 244}.${rng.int(256)}.${rng.range(2, 254)}`),
      serverFrag: def.server === undefined ? null : kv('server', def.server),
    };
    for (const r of def.routes) {
      const route = shuffledObject(rng, [
        ['id', uuid(rng)],
        ['name', r.name],
        ['protocols', ['http', 'https']],
        ['hosts', def.key === 'identity' ? [host] : undefined],
        ['paths', r.paths],
        ['methods', r.methods],
        ['https_redirect_status_code', 426],
        ['regex_priority', 0],
        ['strip_path', r.stripPath],
        ['preserve_host', false],
        ['path_handling', 'v0'],
        ['request_buffering', true],
        ['response_buffering', true],
        ['service', { id: serviceId }],
        ['created_at', created],
        ['updated_at', created + rng.int(2_000_000)],
        ['ws_id', wsId],
        ['tags', def.key === 'orders' ? [`team-${def.key}`] : undefined],
      ]);
      const endpoints = new Weighted<EndpointDef>();
      for (const e of r.endpoints) endpoints.add(e, e.w);
      app.routes.add(
        { def: r, app, frag: k('route') + route, endpoints, prefix: r.paths[0] },
        r.endpoints.reduce((a, e) => a + e.w, 0),
      );
    }
    return app;
  }

  // -- per entry ------------------------------------------------------------------------------

  next(): KongEntry {
    const rng = this.rng;
    const seq = this.seq++;
    const id =
      this.idPrefix +
      hex8(fmix32((seq + 0x9e3779b9) >>> 0)) +
      hex8(fmix32(seq ^ this.seedHash) + seq) +
      hex8(Math.imul(seq, 0x9e3779b1) ^ this.seedHash);
    const version: KongVersion =
      this.version === 'mixed' ? (rng.next() < 0.2 ? '2.8' : rng.next() < 0.4 ? '3.4' : '3.7') : this.version;
    this.clock += rng.int(7);
    const ws = this.workspaces.pick(rng);
    const entry =
      this.streamShare > 0 && rng.next() < this.streamShare
        ? this.streamEntry(id, version, ws)
        : this.httpEntry(id, version, ws);
    // One flat string (the entry was assembled as a rope; flattening once here is cheapest).
    entry.text.charCodeAt(entry.text.length >> 1);
    this.sizeDebt += this.targetBytes - entry.text.length;
    return entry;
  }

  private dateFrag(ms: number): string {
    const s = Math.floor(ms / 1000);
    if (s !== this.lastDateSecond) {
      this.lastDateSecond = s;
      this.lastDateFrag = '"date":"' + new Date(s * 1000).toUTCString() + '"';
    }
    return this.lastDateFrag;
  }

  /** Desired size of this entry: spread around the target, corrected by the running deficit. */
  private desiredSize(): number {
    const t = this.targetBytes;
    const correction = Math.max(-t, Math.min(t, this.sizeDebt * 0.05));
    return t * (0.85 + 0.3 * this.rng.next()) + correction;
  }

  private streamEntry(id: string, version: KongVersion, ws: WorkspaceModel): KongEntry {
    const rng = this.rng;
    const s = rng.pick(ws.streams);
    const startedAt = this.clock;
    const r = rng.next();
    const status = r < 0.9 ? 200 : r < 0.95 ? 502 : r < 0.97 ? 400 : 503;
    const ok = status === 200;
    const sessionMs = ok ? Math.round(rng.spread(s.tls ? 900 : 4000, 1.2)) : rng.int(3);
    const upSent = ok ? rng.range(200, 900_000) : 0;
    const upRecv = ok ? Math.round(upSent * (0.2 + rng.next() * 5)) : 0;
    const session: string[] = [
      '"status":' + status,
      '"received":' + (ok ? upSent + rng.int(64) : rng.range(0, 300)),
      '"sent":' + (ok ? upRecv + rng.int(64) : 0),
      '"server_port":' + s.listenPort,
    ];
    if (s.tls) session.push(this.tlsFrags[rng.int(this.tlsFrags.length)]);
    const kongMs = rng.int(3);
    const parts: string[] = [
      '"session":' + obj(orderMembers(rng, session, this.stableOrder)),
      '"upstream":{"received":' + upRecv + ',"sent":' + upSent + '}',
      '"latencies":' +
        (rng.chance(0.5) || this.stableOrder
          ? '{"kong":' + kongMs + ',"session":' + sessionMs + '}'
          : '{"session":' + sessionMs + ',"kong":' + kongMs + '}'),
      s.routeFrag,
      s.serviceFrag,
      '"client_ip":"' + rng.pick(this.clientIps) + '"',
      '"started_at":' + startedAt,
      '"session_id":"' + id + '"',
    ];
    if (status !== 400)
      parts.push(
        '"tries":[' +
          this.tryFrag(rng, version, startedAt + kongMs, rng.pick(s.upstreamIps), s.port, status === 502 ? 502 : 0) +
          ']',
      );
    if (version === '3.7') parts.push(ws.idFrag, ws.nameFrag);
    return {
      id,
      text: obj(orderMembers(rng, parts, this.stableOrder)),
      kind: 'stream',
      kongVersion: version,
      workspace: ws.name,
    };
  }

  private tryFrag(
    rng: Rng,
    version: KongVersion,
    startMs: number,
    ip: string,
    port: number,
    failedCode: number,
  ): string {
    const p: string[] = ['"ip":"' + ip + '"', '"port":' + port, '"balancer_start":' + startMs, '"balancer_latency":0'];
    if (version === '3.7') {
      p.push(
        '"balancer_start_ns":' + nsFromMs(startMs, rng.int(1_000_000)),
        '"balancer_latency_ns":' + rng.range(9000, 90000),
      );
    }
    if (failedCode !== 0) p.push('"state":"failed"', '"code":' + failedCode);
    return obj(orderMembers(rng, p, this.stableOrder));
  }

  private httpEntry(id: string, version: KongVersion, ws: WorkspaceModel): KongEntry {
    const rng = this.rng;
    const v3 = version !== '2.8';
    const v37 = version === '3.7';
    const startedAt = this.clock;
    const noRoute = rng.next() < 0.015;
    let route: RouteModel | null = null;
    let kind = -1;
    let method: string;
    let path: string;
    const query: QueryParam[] = [];
    let reqBody = 0;
    let workspace: WorkspaceModel | null = ws;
    if (noRoute) {
      workspace = v37 ? this.defaultWorkspace : null;
      method = rng.chance(0.85) ? 'GET' : 'POST';
      path = rng.pick(JUNK_PATHS);
      if (method === 'POST') reqBody = rng.range(20, 400);
      if (rng.chance(0.2)) query.push({ key: 'XDEBUG_SESSION_START', raw: 'phpstorm', value: 'phpstorm' });
    } else {
      const app = ws.apps.pick(rng);
      route = app.routes.pick(rng);
      const e = route.endpoints.pick(rng);
      kind = e.kind;
      method = e.method;
      path = this.makePath(rng, kind, method, query);
      if (method === 'POST' || method === 'PUT' || method === 'PATCH')
        reqBody = kind === K_AVATAR ? rng.range(20_000, 900_000) : rng.range(40, 2500);
    }
    const auth: Auth = route === null ? 'none' : route.def.auth;

    // Outcome: status, who answered, retries.
    let status: number;
    let source: 'upstream' | 'kong' = 'upstream';
    let retried = false;
    let failedCode = 0;
    if (noRoute) {
      status = 404;
      source = 'kong';
    } else if (auth !== 'none' && rng.chance(0.012)) {
      status = 401;
      source = 'kong';
    } else if (auth === 'key-auth' && rng.chance(0.006)) {
      status = 429;
      source = 'kong';
    } else {
      status = pickStatus(rng, kind, method);
      retried = rng.chance(0.015);
      if (retried) failedCode = rng.chance(0.7) ? 502 : 504;
    }
    const consumer =
      source === 'upstream' && auth !== 'none' ? ws.consumers[Math.floor(rng.next() ** 2 * ws.consumers.length)] : null;

    // Query string and URI. TLS mostly ends at the load balancer in front of Kong.
    let rawQuery = '';
    for (const q of query) rawQuery += (rawQuery === '' ? '' : '&') + (q.raw === null ? q.key : q.key + '=' + q.raw);
    const uri = query.length > 0 ? path + '?' + rawQuery : path;
    const https = rng.next() < 0.35;
    const uriText = escapeLuaCjsonString(uri);
    const urlText =
      (https ? this.httpsPrefix : this.httpPrefix) +
      ws.hostEsc +
      (https ? this.httpsPortSuffix : this.httpPortSuffix) +
      uriText;

    // Latencies.
    const kongMs = rng.next() < 0.7 ? 0 : rng.range(1, 4);
    const receive = reqBody > 100_000 ? rng.range(5, 80) : 0;
    let proxyMs = -1;
    if (source === 'upstream') {
      const base = route === null ? 20 : route.app.def.latencyMs;
      proxyMs =
        status === 504
          ? 60000 + rng.int(30)
          : Math.max(1, Math.round(rng.spread(kind === K_HEALTH || kind === K_STATIC ? 3 : base, 0.9)));
      if (retried) proxyMs += rng.range(2, 40);
    }
    const requestMs = kongMs + Math.max(0, proxyMs) + receive + rng.int(3);

    // Response.
    const respBody = responseBodySize(rng, kind, status, source);
    // Required members, and optional ones (dropped first when the entry is over its size budget).
    const rh: string[] = [this.dateFrag(startedAt + requestMs)];
    const rhOpt: string[] = [rng.chance(0.9) ? '"connection":"keep-alive"' : '"connection":"close"'];
    const vi = VERSION_INFO[version];
    if (source === 'upstream') {
      rh.push(contentTypeFrag(kind, status));
      if (status !== 204 && status !== 304)
        rh.push(
          rng.chance(0.12) && respBody > 0 ? '"transfer-encoding":"chunked"' : '"content-length":"' + respBody + '"',
        );
      rh.push(vi.viaFrag, '"x-kong-upstream-latency":"' + proxyMs + '"', '"x-kong-proxy-latency":"' + kongMs + '"');
      if (route !== null && route.app.serverFrag !== null) rhOpt.push(route.app.serverFrag);
      if (method === 'GET' && status === 200) {
        if (rng.chance(0.4)) rhOpt.push('"etag":"W\\/\\"' + hex8(rng.u32()) + hex8(rng.u32()) + '\\""');
        rhOpt.push(
          kind === K_STATIC
            ? '"cache-control":"public, max-age=31536000, immutable"'
            : '"cache-control":"private, no-cache"',
        );
      }
      if (status === 201) rh.push('"location":"' + escapeLuaCjsonString(path) + '\\/' + uuid(rng) + '"');
      else if (status === 301 || status === 302) rh.push('"location":"https:\\/\\/' + ws.hostEsc + '\\/"');
      const vr = rng.next();
      if (vr < 0.2)
        rhOpt.push(
          vr < 0.1 ? '"vary":"Accept-Encoding"' : vr < 0.17 ? '"vary":"Origin"' : '"vary":["Origin","Accept-Encoding"]',
        );
      if (kind === K_LOGIN && status === 200) {
        rh.push(
          '"set-cookie":["sid=' +
            base62(rng, 24) +
            '; Path=\\/; Secure; HttpOnly; SameSite=Lax","csrf=' +
            base62(rng, 16) +
            '; Path=\\/; Secure"]',
        );
      }
      if (rng.chance(0.1)) rhOpt.push('"strict-transport-security":"max-age=31536000; includeSubDomains"');
    } else {
      rh.push(
        '"content-type":"application\\/json; charset=utf-8"',
        '"content-length":"' + respBody + '"',
        vi.serverFrag,
        '"x-kong-response-latency":"' + kongMs + '"',
      );
      if (status === 401)
        rh.push(auth === 'key-auth' ? '"www-authenticate":"Key"' : '"www-authenticate":"Bearer realm=\\"service\\""');
      if (status === 429) rh.push('"retry-after":"' + rng.range(1, 59) + '"');
    }
    if (auth === 'key-auth' && status !== 401 && rng.chance(0.6)) {
      const remaining = status === 429 ? 0 : rng.int(600);
      rhOpt.push('"x-ratelimit-limit-minute":"600","x-ratelimit-remaining-minute":"' + remaining + '"');
      if (rng.chance(0.5))
        rhOpt.push(
          '"ratelimit-limit":"600","ratelimit-remaining":"' +
            remaining +
            '","ratelimit-reset":"' +
            rng.range(1, 60) +
            '"',
        );
    }
    if (v37) rhOpt.push('"x-kong-request-id":"' + id + '"');

    // Request headers (the cookie that pads the entry comes last, once the size is known).
    const browser = rng.next() < 0.2;
    const headers: string[] = [
      ws.hostFrag,
      '"x-request-id":"' + id + '"',
      browser ? rng.pick(this.browserUaFrags) : rng.pick(this.clientUaFrags),
    ];
    const ar = rng.next();
    headers.push(
      browser
        ? kind === K_STATIC
          ? '"accept":"*\\/*"'
          : '"accept":"application\\/json, text\\/plain, *\\/*"'
        : ar < 0.55
          ? '"accept":"application\\/json"'
          : ar < 0.93
            ? '"accept":"*\\/*"'
            : '"accept":["application\\/json","text\\/plain"]',
    );
    const hOpt: string[] = [];
    if (rng.chance(0.8)) hOpt.push('"accept-encoding":"gzip, deflate, br"');
    if (browser || rng.chance(0.1)) hOpt.push(rng.pick(this.acceptLangFrags));
    if (rng.chance(0.6)) hOpt.push('"connection":"keep-alive"');
    const clientIp = rng.pick(this.clientIps);
    const xr = rng.next();
    headers.push(
      xr < 0.6
        ? '"x-forwarded-for":"' + clientIp + '"'
        : xr < 0.94
          ? '"x-forwarded-for":"' + clientIp + ', 10.0.' + rng.int(8) + '.' + rng.range(2, 254) + '"'
          : '"x-forwarded-for":["' + clientIp + '","10.0.' + rng.int(8) + '.' + rng.range(2, 254) + '"]',
    );
    hOpt.push('"x-forwarded-proto":"https"');
    if (rng.chance(0.25))
      hOpt.push(
        '"x-amzn-trace-id":"Root=1-' +
          hex8(startedAt / 1000) +
          '-' +
          hex8(rng.u32()) +
          hex8(rng.u32()) +
          hex8(rng.u32()) +
          '"',
      );
    if (rng.chance(0.15))
      hOpt.push(
        '"traceparent":"00-' +
          hex8(rng.u32()) +
          hex8(rng.u32()) +
          hex8(rng.u32()) +
          hex8(rng.u32()) +
          '-' +
          hex8(rng.u32()) +
          hex8(rng.u32()) +
          '-01"',
      );
    if ((auth === 'jwt' || auth === 'oauth2') && v3) headers.push('"authorization":"REDACTED"');
    if (auth === 'key-auth')
      headers.push(
        consumer !== null
          ? consumer.apiKeyFrag
          : '"apikey":"' + hex8(rng.u32()) + hex8(rng.u32()) + hex8(rng.u32()) + hex8(rng.u32()) + '"',
      );
    if (reqBody > 0) {
      headers.push(
        kind === K_AVATAR
          ? '"content-type":"image\\/jpeg"'
          : kind === K_TOKEN || kind === K_LOGIN
            ? '"content-type":"application\\/x-www-form-urlencoded"'
            : '"content-type":"application\\/json"',
        '"content-length":"' + reqBody + '"',
      );
    }
    if (browser) hOpt.push(ws.browserFrags);
    if (status === 304) headers.push('"if-none-match":"W\\/\\"' + hex8(rng.u32()) + hex8(rng.u32()) + '\\""');

    const requestParts: string[] = [
      '"uri":"' + uriText + '"',
      '"url":"' + urlText + '"',
      '"method":"' + method + '"',
      '"querystring":' + querystringText(rng, query),
    ];
    if (v37) requestParts.push('"id":"' + id + '"');
    if (https) requestParts.push(this.tlsFrags[rng.int(this.tlsFrags.length)]);

    // Top level, except the request.
    const parts: string[] = [
      '"upstream_uri":"' +
        (source === 'upstream' ? escapeLuaCjsonString(upstreamUri(route, path, rawQuery)) : '') +
        '"',
      '"latencies":' + latenciesText(rng, this.stableOrder, v3, kongMs, proxyMs, requestMs, receive),
      '"client_ip":"' + clientIp + '"',
      '"started_at":' + startedAt,
    ];
    const pOpt: string[] = [];
    if (v3)
      parts.push(
        '"upstream_status":"' + (source === 'kong' ? '' : retried ? failedCode + ', ' + status : String(status)) + '"',
      );
    if (v37) {
      const w = workspace ?? this.defaultWorkspace;
      parts.push(source === 'upstream' ? '"source":"upstream"' : '"source":"kong"', w.idFrag, w.nameFrag);
    }
    if (route !== null) {
      parts.push(route.frag, route.app.serviceFrag);
      if (source === 'upstream') {
        const ips = route.app.upstreamIps;
        const port = route.app.def.port;
        const t0 = startedAt + kongMs;
        if (retried) {
          const first = rng.int(ips.length);
          parts.push(
            '"tries":[' +
              this.tryFrag(rng, version, t0, ips[first], port, failedCode) +
              ',' +
              this.tryFrag(rng, version, t0 + rng.range(1, 30), ips[(first + 1) % ips.length], port, 0) +
              ']',
          );
        } else parts.push('"tries":[' + this.tryFrag(rng, version, t0, rng.pick(ips), port, 0) + ']');
      }
      if (route.def.customFields) {
        parts.push(rng.pick(this.kongNodeFrags), '"env":"production"');
        if (rng.chance(0.4)) pOpt.push('"trace_start_ns":' + nsFromMs(startedAt, rng.int(1_000_000)));
        if (rng.chance(0.4)) pOpt.push(rng.pick(this.geoFrags));
      }
    }
    if (consumer !== null) parts.push(consumer.frag, consumer.entityFrag);

    // Fit the size budget: drop optional members when over it; pad with a cookie (and a
    // logged request body for large targets) when under it.
    const desired = this.desiredSize();
    // braces, `"request":`, `"response":{"status":N,"size":N,"headers":{}}`, `"headers":{}`, `"size":N`
    let size = 4 + 12 + 48 + 14 + 8;
    for (const p of parts) size += p.length + 1;
    for (const p of requestParts) size += p.length + 1;
    for (const h of rh) size += h.length + 1;
    for (const h of headers) size += h.length + 1;
    let optSize = 0;
    for (const h of hOpt) optSize += h.length + 1;
    for (const h of rhOpt) optSize += h.length + 1;
    for (const p of pOpt) optSize += p.length + 1;
    if (size + optSize > desired) {
      // Response extras go first, then custom fields, request headers last.
      rng.shuffle(rhOpt);
      rng.shuffle(hOpt);
      while (size + optSize > desired) {
        const from =
          rhOpt.length > 0
            ? rhOpt
            : pOpt.length > 0
              ? pOpt
              : headers.length + hOpt.length > this.minRequestHeaders
                ? hOpt
                : null;
        if (from === null || from.length === 0) break;
        optSize -= (from.pop() as string).length + 1;
      }
    }
    size += optSize;
    for (const h of hOpt) headers.push(h);
    for (const h of rhOpt) rh.push(h);
    for (const p of pOpt) parts.push(p);
    let rhLength = 0;
    for (const h of rh) rhLength += h.length;
    const responseSize = rhLength - rh.length * 4 + respBody + 17;
    parts.push(
      rng.chance(0.5) || this.stableOrder
        ? '"response":{"headers":' + obj(rng.shuffle(rh)) + ',"status":' + status + ',"size":' + responseSize + '}'
        : '"response":{"status":' + status + ',"size":' + responseSize + ',"headers":' + obj(rng.shuffle(rh)) + '}',
    );
    let headersLength = 0;
    for (const h of headers) headersLength += h.length + 1;
    let missing = Math.round(desired - size);
    if (missing > 4200) {
      const bodyLen = missing - 4000;
      parts.push('"request_body":"' + this.bodySlice(bodyLen) + '"');
      missing -= bodyLen + 17;
    }
    if (missing > 40) {
      const len = missing - 12;
      const off = rng.int(65536);
      const cookie = browser
        ? '_ga=GA1.2.' +
          rng.range(100000000, 999999999) +
          '.' +
          Math.floor(startedAt / 1000) +
          '; session=' +
          this.padPool.slice(off, off + Math.max(8, len - 42))
        : 'AWSALB=' + this.padPool.slice(off, off + Math.max(8, len - 7));
      headers.push('"cookie":"' + cookie + '"');
      headersLength += cookie.length + 12;
    }
    const requestSize = uri.length + 16 + reqBody + headersLength;
    requestParts.push('"headers":' + obj(rng.shuffle(headers)), '"size":' + requestSize);
    parts.push('"request":' + obj(orderMembers(rng, requestParts, this.stableOrder)));
    const text = obj(orderMembers(rng, parts, this.stableOrder));
    const entry: KongEntry = { id, text, kind: 'http', kongVersion: version, method, path, status };
    if (workspace !== null) entry.workspace = workspace.name;
    return entry;
  }

  private bodySlice(len: number): string {
    const pool = this.bodyPool;
    let s: string;
    if (len <= pool.length / 2) {
      let off = this.rng.int(pool.length / 2);
      if (pool.charCodeAt(off - 1) === 0x5c) off++;
      s = pool.slice(off, off + len);
    } else {
      s = pool.repeat(Math.ceil(len / pool.length)).slice(0, len);
    }
    if (s.charCodeAt(s.length - 1) === 0x5c) s = s.slice(0, -1);
    return s;
  }

  private makePath(rng: Rng, kind: number, method: string, query: QueryParam[]): string {
    switch (kind) {
      case K_PROFILE:
        return '/profile/' + profileId(rng);
      case K_AVATAR:
        return '/profile/' + profileId(rng) + '/avatar';
      case K_SETTINGS:
        if (method === 'GET' && rng.chance(0.6)) {
          query.push({ key: 'fields', raw: 'theme%2Clocale', value: 'theme,locale' });
          if (rng.chance(0.4))
            query.push(
              { key: 'include', raw: 'notifications', value: 'notifications' },
              { key: 'include', raw: 'privacy', value: 'privacy' },
            );
        }
        return '/profile/' + profileId(rng) + '/settings';
      case K_HEALTH:
        return '/health';
      case K_STATIC:
        return rng.chance(0.6) ? `/static/js/app.${hexN(rng, 8)}.js` : `/static/css/main.${hexN(rng, 8)}.css`;
      case K_UNICODE_RAW:
        return rng.pick(['/café/menu', '/docs/日本語/intro', '/straße/öffnungszeiten', '/menu/crème-brûlée']);
      case K_UNICODE_PCT:
        return rng.pick([
          '/caf%C3%A9/menu',
          '/docs/%E6%97%A5%E6%9C%AC%E8%AA%9E/intro',
          '/files/Quarterly%20Report%202024.pdf',
          '/stra%C3%9Fe/%C3%B6ffnungszeiten',
        ]);
      case K_LEGACY:
        return rng.pick(['/home', '/index.html', '/old-app/']);
      case K_ORDERS_LIST:
        {
          const st = rng.pick(['open', 'shipped', 'cancelled']);
          query.push({ key: 'status', raw: st, value: st });
        }
        query.push({ key: 'limit', raw: '20', value: '20' });
        if (rng.chance(0.5)) {
          const p = String(rng.range(2, 40));
          query.push({ key: 'page', raw: p, value: p });
        }
        if (rng.chance(0.3))
          query.push({ key: 'created_after', raw: '2024-09-01T00%3A00%3A00Z', value: '2024-09-01T00:00:00Z' });
        return '/api/v1/orders';
      case K_ORDER:
        return '/api/v1/orders/' + uuid(rng);
      case K_ORDERS_CREATE:
        return '/api/v1/orders';
      case K_ORDER_ITEMS:
        return '/api/v1/orders/' + uuid(rng) + '/items';
      case K_PAYMENT:
        return '/api/v1/payments/pi_' + base62(rng, 24);
      case K_REFUND:
        return '/api/v1/payments/pi_' + base62(rng, 24) + '/refund';
      case K_SEARCH:
      case K_SUGGEST: {
        const term = rng.pick(SEARCH_TERMS);
        const style = rng.next();
        // Raw UTF-8 only where a client could send it unescaped (no spaces or reserved characters).
        const raw =
          style < 0.1 && /^[^\s"%&+#/\\]+$/.test(term)
            ? term
            : style < 0.8
              ? encodeURIComponent(term).replace(/%20/g, '+')
              : encodeURIComponent(term);
        query.push({ key: 'q', raw, value: term });
        if (kind === K_SEARCH) {
          if (rng.chance(0.6)) {
            const p = String(rng.range(1, 20));
            query.push({ key: 'page', raw: p, value: p });
          }
          if (rng.chance(0.3)) {
            const s = rng.pick(SORTS);
            query.push({ key: 'sort', raw: s, value: s });
          }
          if (rng.chance(0.25)) {
            const n = rng.range(2, 3);
            for (let i = 0; i < n; i++) {
              const f = rng.pick(FILTERS);
              query.push({ key: 'filter', raw: encodeURIComponent(f), value: f });
            }
          }
          if (rng.chance(0.05)) query.push({ key: 'debug', raw: null, value: '' });
          rng.shuffle(query);
          return '/search';
        }
        return '/search/suggest';
      }
      case K_SEARCH_EVENTS:
        return '/search/events';
      case K_TOKEN:
        return '/oauth2/token';
      case K_WELLKNOWN:
        return '/.well-known/openid-configuration';
      case K_USERINFO:
        return '/userinfo';
      case K_USER:
        return '/users/' + uuid(rng);
      case K_PASSWORD:
        return '/users/' + uuid(rng) + '/password';
      case K_LOGIN:
        return '/login';
      default:
        return '/';
    }
  }
}

/** Entries of a fresh generator. */
export function* kongEntries(opts: KongTrafficOptions, count: number): Generator<KongEntry> {
  const gen = new KongTrafficGenerator(opts);
  for (let i = 0; i < count; i++) yield gen.next();
}

// ---------------------------------------------------------------------------------------------
// Per-entry helpers

function profileId(rng: Rng): string {
  return String(Math.floor(1 + rng.next() ** 3 * 2_000_000));
}

function pickStatus(rng: Rng, kind: number, method: string): number {
  if (kind === K_HEALTH) return rng.chance(0.995) ? 200 : 503;
  if (kind === K_LEGACY) return rng.chance(0.7) ? 301 : 302;
  const r = rng.next();
  if (r < 0.005) return 500;
  if (r < 0.009) return 502;
  if (r < 0.012) return 503;
  if (r < 0.014) return 504;
  const c = rng.next();
  switch (method) {
    case 'GET':
      if (kind === K_STATIC) return c < 0.75 ? 200 : c < 0.97 ? 304 : 404;
      return c < 0.86 ? 200 : c < 0.9 ? 304 : c < 0.95 ? 404 : c < 0.97 ? 400 : c < 0.99 ? 403 : 401;
    case 'POST':
      if (kind === K_TOKEN || kind === K_LOGIN || kind === K_REFUND || kind === K_SEARCH_EVENTS)
        return c < 0.85 ? 200 : c < 0.93 ? 400 : 401;
      return c < 0.8 ? 201 : c < 0.88 ? 200 : c < 0.94 ? 400 : c < 0.97 ? 422 : 409;
    case 'DELETE':
      return c < 0.85 ? 204 : c < 0.95 ? 404 : 403;
    default:
      return c < 0.78 ? 200 : c < 0.86 ? 204 : c < 0.92 ? 400 : c < 0.96 ? 404 : c < 0.98 ? 409 : 422;
  }
}

function responseBodySize(rng: Rng, kind: number, status: number, source: 'upstream' | 'kong'): number {
  if (source === 'kong') return status === 404 ? 103 : status === 401 ? 96 : 92;
  if (status === 204 || status === 304) return 0;
  if (status >= 300 && status < 400) return rng.range(150, 170);
  if (status >= 400) return rng.range(60, 400);
  switch (kind) {
    case K_STATIC:
      return rng.range(4_000, 600_000);
    case K_AVATAR:
      return rng.range(8_000, 250_000);
    case K_HEALTH:
      return 15;
    case K_SEARCH:
    case K_ORDERS_LIST:
      return rng.range(2_000, 60_000);
    case K_UNICODE_PCT:
    case K_UNICODE_RAW:
      return rng.range(3_000, 90_000);
    default:
      return rng.range(150, 6_000);
  }
}

function contentTypeFrag(kind: number, status: number): string {
  if (status >= 300 && status < 400) return '"content-type":"text\\/html"';
  switch (kind) {
    case K_STATIC:
      return '"content-type":"application\\/javascript"';
    case K_AVATAR:
      return status === 200 ? '"content-type":"image\\/jpeg"' : '"content-type":"application\\/json"';
    case K_UNICODE_PCT:
    case K_UNICODE_RAW:
      return '"content-type":"text\\/html; charset=utf-8"';
    case K_HEALTH:
      return '"content-type":"text\\/plain"';
    default:
      return '"content-type":"application\\/json"';
  }
}

function upstreamUri(route: RouteModel | null, path: string, rawQuery: string): string {
  if (route === null) return '';
  let up = path;
  if (route.def.stripPath) {
    const rest = path.slice(route.prefix.length);
    up = (route.app.def.servicePath ?? '') + rest;
    if (up === '') up = '/';
  } else if (route.app.def.servicePath !== undefined) up = route.app.def.servicePath + path;
  return rawQuery === '' ? up : up + '?' + rawQuery;
}

function querystringText(rng: Rng, query: QueryParam[]): string {
  if (query.length === 0) return '{}';
  const byKey = new Map<string, (string | true)[]>();
  for (const q of query) {
    const v: string | true = q.raw === null ? true : q.value;
    const list = byKey.get(q.key);
    if (list === undefined) byKey.set(q.key, [v]);
    else list.push(v);
  }
  const out: string[] = [];
  for (const [key, values] of byKey) out.push(kv(key, values.length === 1 ? values[0] : values));
  return obj(rng.shuffle(out));
}

function latenciesText(
  rng: Rng,
  stable: boolean,
  v3: boolean,
  kong: number,
  proxy: number,
  request: number,
  receive: number,
): string {
  const p = ['"kong":' + kong, '"proxy":' + proxy, '"request":' + request];
  if (v3) p.push('"receive":' + receive);
  return obj(orderMembers(rng, p, stable));
}

/** Escaped text of logged JSON request bodies (contains `\"` and `\/`), used to pad large entries. */
function buildBodyPool(rng: Rng): string {
  const items: string[] = [];
  let len = 0;
  while (len < 65536) {
    const item = JSON.stringify({
      sku: `SKU-${rng.range(10000, 99999)}`,
      qty: rng.range(1, 5),
      price: rng.range(100, 99999) / 100,
      note: rng.pick(['gift wrap', 'leave at door', 'Größe M', 'no note', 'ship with order 42/7']),
      image: `https://cdn.example.com/img/${hexN(rng, 12)}.jpg`,
    });
    items.push(item);
    len += item.length;
  }
  return escapeLuaCjsonString('{"items":[' + items.join(',') + ']}');
}
