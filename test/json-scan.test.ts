import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { propertyRuns } from './support/layer.ts';
import fc from 'fast-check';
import {
  FieldPlan,
  JsonSyntaxError,
  MAX_DEPTH,
  decodeString,
  decodeValue,
  getScanStats,
  scanArrayElements,
  scanObject,
  scanUsesWasm,
  setScanBackend,
  type JsonPath,
  type ScanBackend,
} from '../src/event/json-scan.ts';
import { byteStringOf, textOf, type ByteString } from '../src/event/byte-string.ts';

// ---------------------------------------------------------------------------------------
// Oracle helpers

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function parseOk(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walk a JSON.parse result along a path: string steps only into objects, number steps only into arrays. */
function walk(root: unknown, path: JsonPath): { found: boolean; value?: unknown } {
  let cur: unknown = root;
  for (const step of path) {
    if (typeof step === 'string') {
      if (!isPlainObject(cur) || !Object.hasOwn(cur, step)) return { found: false };
      cur = cur[step];
    } else {
      if (!Array.isArray(cur) || step >= cur.length) return { found: false };
      cur = cur[step];
    }
  }
  return { found: true, value: cur };
}

/** All paths present in a value (up to a limit), useful as "wanted" paths. */
function pathsOf(v: unknown, limit = 40): JsonPath[] {
  const out: JsonPath[] = [];
  const rec = (x: unknown, prefix: (string | number)[]): void => {
    if (out.length >= limit) return;
    out.push(prefix);
    if (Array.isArray(x)) x.forEach((e, i) => rec(e, [...prefix, i]));
    else if (isPlainObject(x)) for (const k of Object.keys(x)) rec(x[k], [...prefix, k]);
  };
  rec(v, []);
  return out;
}

/**
 * The core property: acceptance equals JSON.parse's (object at the top), and every wanted path's
 * span decodes to what walking JSON.parse's result gives (absent -> -1).
 */
function checkAgainstJsonParse(text: string, paths: readonly JsonPath[], start?: number, end?: number): boolean {
  const region = text.slice(start ?? 0, end ?? text.length);
  const expected = parseOk(region);
  const expectOk = expected.ok && isPlainObject(expected.value);
  const plan = new FieldPlan(paths);
  const spans = new Int32Array(plan.size * 2 + 3).fill(7); // longer than needed, garbage-filled
  const err = scanObject(text, plan, spans, start, end);
  if (!expectOk) {
    assert.ok(err instanceof JsonSyntaxError, `expected an error for ${JSON.stringify(region)}`);
    assert.equal(typeof err.position, 'number');
    assert.ok(err.position >= 0 && err.position <= text.length, `position ${err.position} out of range`);
    return true;
  }
  assert.equal(err, null, `unexpected error ${err?.message} for ${JSON.stringify(region)}`);
  const value = expected.ok ? expected.value : undefined;
  paths.forEach((p, i) => {
    const s = spans[2 * i];
    const e = spans[2 * i + 1];
    const w = walk(value, p);
    if (!w.found) {
      assert.deepEqual([s, e], [-1, -1], `path ${JSON.stringify(p)} should be absent in ${JSON.stringify(region)}`);
    } else {
      assert.ok(s >= (start ?? 0) && e > s && e <= (end ?? text.length), `bad span ${s},${e} for ${JSON.stringify(p)}`);
      assert.deepEqual(decodeValue(text, s, e), w.value, `path ${JSON.stringify(p)} in ${JSON.stringify(region)}`);
      const str = decodeString(text, s, e);
      assert.equal(str, typeof w.value === 'string' ? w.value : undefined);
    }
  });
  return checkBytesAgainstJsonParse(text, paths, start, end);
}

/**
 * The same check for the text's byte string, scanned with a `bytes` plan (as the relay scans
 * entries): spans are byte offsets, keys match on their bytes, values decode to the text's.
 */
function checkBytesAgainstJsonParse(text: string, paths: readonly JsonPath[], start?: number, end?: number): boolean {
  // A key with a lone surrogate has no UTF-8 form: such a path cannot be asked of bytes.
  if (paths.some((p) => p.some((k) => typeof k === 'string' && /\p{Surrogate}/u.test(k)))) return true;
  const raw = byteStringOf(text);
  const at = (i: number | undefined): number | undefined =>
    i === undefined ? undefined : Buffer.byteLength(text.slice(0, i));
  const [s0, e0] = [at(start), at(end)];
  // A lone surrogate has no UTF-8 form: the byte string holds U+FFFD instead, and so must the values.
  const expected = parseOk(textOf(raw.slice(s0 ?? 0, e0 ?? raw.length) as ByteString));
  const plan = new FieldPlan(paths, { bytes: true });
  const spans = plan.newSpans();
  const err = scanObject(raw, plan, spans, s0, e0);
  if (!(expected.ok && isPlainObject(expected.value))) {
    assert.ok(err instanceof JsonSyntaxError, `expected an error for the bytes of ${JSON.stringify(text)}`);
    return true;
  }
  assert.equal(err, null, `unexpected error ${err?.message} for the bytes of ${JSON.stringify(text)}`);
  paths.forEach((p, i) => {
    const w = walk(expected.value, p);
    const [s, e] = [spans[2 * i], spans[2 * i + 1]];
    if (!w.found)
      assert.deepEqual(
        [s, e],
        [-1, -1],
        `path ${JSON.stringify(p)} should be absent in the bytes of ${JSON.stringify(text)}`,
      );
    else {
      assert.deepEqual(
        decodeValue(raw, s, e, true),
        w.value,
        `path ${JSON.stringify(p)} in the bytes of ${JSON.stringify(text)}`,
      );
      assert.equal(decodeString(raw, s, e, true), typeof w.value === 'string' ? w.value : undefined);
    }
  });
  return true;
}

function acceptanceMatches(text: string): boolean {
  const expected = parseOk(text);
  const expectOk = expected.ok && isPlainObject(expected.value);
  const plan = new FieldPlan([['a'], ['request', 'method'], [0], []]);
  const err = scanObject(text, plan, plan.newSpans());
  assert.equal(
    err === null,
    expectOk,
    `acceptance differs from JSON.parse for ${JSON.stringify(text)}: ${err?.message}`,
  );
  if (expected.ok && isPlainObject(expected.value)) checkAgainstJsonParse(text, plan.paths);
  const arr = scanArrayElements(text);
  const expectArr = expected.ok && Array.isArray(expected.value);
  assert.equal(!(arr instanceof JsonSyntaxError), expectArr, `array acceptance differs for ${JSON.stringify(text)}`);
  return true;
}

// ---------------------------------------------------------------------------------------
// Generators

const jsonObject = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 }) as fc.Arbitrary<
  Record<string, Json>
>;
const unicodeJsonObject = fc.dictionary(
  fc.string({ unit: 'binary' }),
  fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }),
  { maxKeys: 8 },
) as fc.Arbitrary<Record<string, Json>>;

/** Random extra paths: mostly plausible keys, some indices. */
const randomPath: fc.Arbitrary<JsonPath> = fc.array(
  fc.oneof(
    fc.constantFrom('a', 'b', '', '0', 'request', 'method', '__proto__'),
    fc.string({ maxLength: 3 }),
    fc.nat(3),
  ),
  { maxLength: 4 },
);

interface EncodeOptions {
  rnd: () => number;
  escapeSlash: boolean;
  unicodeEscapes: boolean;
  whitespace: boolean;
  shuffle: boolean;
}

const WS = [' ', '\n', '\t', '\r', '  ', '\r\n'];

/** Serialize like lua-cjson: "/" as "\/", random key order, some \u escapes, optional whitespace. */
function encodeLike(v: Json, o: EncodeOptions): string {
  const ws = (): string => (o.whitespace && o.rnd() < 0.3 ? WS[Math.floor(o.rnd() * WS.length)] : '');
  const str = (s: string): string => {
    let out = '"';
    for (const ch of JSON.stringify(s)
      .slice(1, -1)
      .match(/\\u[0-9a-f]{4}|\\.|[\s\S]/g) ?? []) {
      if (ch === '/' && o.escapeSlash) out += '\\/';
      else if (ch.length === 1 && o.unicodeEscapes && o.rnd() < 0.15) {
        const hex = ch.charCodeAt(0).toString(16).padStart(4, '0');
        out += '\\u' + (o.rnd() < 0.5 ? hex : hex.toUpperCase());
      } else out += ch;
    }
    return out + '"';
  };
  const num = (n: number): string => {
    const r = o.rnd();
    if (Number.isInteger(n) && Math.abs(n) < 1e15 && r < 0.2) return n.toExponential().replace('e+0', 'e0');
    if (r < 0.3)
      return n
        .toPrecision(14)
        .replace(/(\.\d*?)0+(e|$)/, '$1$2')
        .replace(/\.(e|$)/, '$1');
    return JSON.stringify(n);
  };
  const rec = (x: Json): string => {
    if (x === null || typeof x === 'boolean') return String(x);
    if (typeof x === 'number') {
      const s = num(x);
      return Number(s) === x || Number.isNaN(x) ? s : JSON.stringify(x);
    }
    if (typeof x === 'string') return str(x);
    if (Array.isArray(x)) return '[' + ws() + x.map((e) => rec(e)).join(ws() + ',' + ws()) + ws() + ']';
    const keys = Object.keys(x);
    if (o.shuffle) keys.sort(() => o.rnd() - 0.5);
    return '{' + ws() + keys.map((k) => str(k) + ws() + ':' + ws() + rec(x[k])).join(ws() + ',' + ws()) + ws() + '}';
  };
  return ws() + rec(v) + ws();
}

function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const MUTATION_CHARS = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ',',
  ':',
  '\\',
  ' ',
  '0',
  '1',
  '9',
  '-',
  '+',
  '.',
  'e',
  'E',
  't',
  'f',
  'n',
  'u',
  'a',
  'x',
  '/',
  "'",
  '\u0000',
  '\n',
  '\t',
  '\u001f',
  '\u007f',
  '\u2028',
  '\ud800',
  '\udc00',
  '\ufeff',
  'é',
  '😀',
  'N',
  'I',
];

interface Mutation {
  kind: 'insert' | 'delete' | 'replace' | 'truncate' | 'duplicate';
  at: number; // fraction of the length
  ch: string;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('insert', 'delete', 'replace', 'truncate', 'duplicate'),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  ch: fc.constantFrom(...MUTATION_CHARS),
});

function mutate(text: string, muts: readonly Mutation[]): string {
  let t = text;
  for (const m of muts) {
    const i = Math.min(t.length, Math.floor(m.at * (t.length + 1)));
    switch (m.kind) {
      case 'insert':
        t = t.slice(0, i) + m.ch + t.slice(i);
        break;
      case 'delete':
        t = t.slice(0, i) + t.slice(i + 1);
        break;
      case 'replace':
        t = t.slice(0, i) + m.ch + t.slice(i + 1);
        break;
      case 'truncate':
        t = t.slice(0, i);
        break;
      case 'duplicate':
        t = t.slice(0, i) + t.slice(Math.max(0, i - 3), i) + t.slice(i);
        break;
    }
  }
  return t;
}

// Kong-shaped entries, serialized from entry lists so that keys can be duplicated.
type Entries = [string, Val][];
type Val = Json | { entries: Entries };

function ser(v: Val): string {
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'entries' in v && Array.isArray(v.entries)) {
    return '{' + (v.entries as Entries).map(([k, x]) => JSON.stringify(k) + ':' + ser(x)).join(',') + '}';
  }
  if (Array.isArray(v)) return '[' + v.map((e) => ser(e)).join(',') + ']';
  return JSON.stringify(v).replace(/\//g, '\\/');
}

const KONG_PATHS: JsonPath[] = [
  ['request', 'method'],
  ['request', 'uri'],
  ['request', 'headers', 'host'],
  ['request', 'querystring'],
  ['response', 'status'],
  ['workspace_name'],
  ['route', 'name'],
  ['service', 'name'],
  ['consumer', 'username'],
  ['tries', 0, 'ip'],
  ['tries', 1, 'ip'],
  ['latencies', 'request'],
  ['request'],
  [],
];

const smallValue: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom('GET', 'POST', '/status/200', 'default', 'a\\b', 'é/ü', '\u2028'),
  fc.integer({ min: -5, max: 600 }),
  fc.constant(null),
  fc.boolean(),
  fc.constant(1.7267838395395e18),
);

const kongEntries: fc.Arbitrary<Val> = fc
  .record({
    method: fc.option(smallValue),
    uri: fc.option(smallValue),
    host: fc.option(smallValue),
    status: fc.option(smallValue),
    ws: fc.option(smallValue),
    route: fc.option(smallValue),
    tries: fc.array(fc.option(smallValue), { maxLength: 3 }),
    lookalike: fc.boolean(),
    dupRequest: fc.constantFrom('none', 'before', 'after', 'scalar'),
    dupMethod: fc.option(smallValue),
    escapedKey: fc.boolean(),
    extra: fc.jsonValue({ maxDepth: 2 }),
  })
  .map((r) => {
    const opt = (k: string, v: Json | null): Entries => (v === null ? [] : [[k, v]]);
    const headers: Entries = [
      ['accept', '*/*'],
      ...opt('host', r.host),
      ...(r.lookalike
        ? ([
            ['method', 'LOOKALIKE'],
            ['status', 999],
          ] as Entries)
        : []),
    ];
    const request: Entries = [
      // JSON.stringify does not escape "o", so spell the escaped key out by hand below
      ...opt(r.escapedKey ? '\u0000ESCAPED-method' : 'method', r.method),
      ...opt('uri', r.uri),
      ['headers', { entries: headers }],
      [
        'querystring',
        {
          entries: r.lookalike
            ? [
                ['status', '1'],
                ['method', 'q'],
              ]
            : [],
        },
      ],
      ...(r.dupMethod !== null ? ([['method', r.dupMethod]] as Entries) : []),
    ];
    const entries: Entries = [];
    if (r.dupRequest === 'before')
      entries.push([
        'request',
        {
          entries: [
            ['method', 'EARLIER'],
            ['extra', 1],
          ],
        },
      ]);
    entries.push(['request', { entries: request }]);
    if (r.dupRequest === 'after') entries.push(['request', { entries: [['uri', '/later']] }]);
    if (r.dupRequest === 'scalar') entries.push(['request', 'not an object']);
    entries.push(...opt('workspace_name', r.ws));
    entries.push(['response', { entries: opt('status', r.status) }]);
    entries.push(['route', { entries: [...opt('name', r.route), ['service', { entries: [['name', 'nested']] }]] }]);
    entries.push(['tries', r.tries.map((t) => ({ entries: opt('ip', t) }) as Val) as Json]);
    entries.push(['extra', r.extra as Json]);
    if (r.lookalike) entries.push(['method', 'TOP'], ['status', 1]);
    return { entries };
  });

/** Serialize a Kong-shaped value; the marker key becomes "meth\u006fd" (an escaped spelling of "method"). */
function serKong(v: Val): string {
  return ser(v).replaceAll('"\\u0000ESCAPED-method"', '"meth\\u006fd"');
}

// ---------------------------------------------------------------------------------------

// (Before the UTF-16 route was dropped, a third backend, "wasm-utf8", ran these tests with it off.)
const backends: ScanBackend[] = ['auto', 'js'];

for (const backend of backends) {
  describe(`json-scan (${backend} backend)`, () => {
    const withBackend = (fn: () => void) => () => {
      const prev = setScanBackend(backend);
      try {
        fn();
      } finally {
        setScanBackend(prev);
      }
    };
    const runs = backend === 'auto' ? 1 : 0.5;
    const numRuns = (n: number): number => Math.max(20, Math.round(propertyRuns(n) * runs));

    it(
      'agrees with JSON.parse on objects serialized by JSON.stringify, for present and absent paths',
      withBackend(() => {
        fc.assert(
          fc.property(jsonObject, fc.array(randomPath, { maxLength: 4 }), (obj, extra) => {
            const text = JSON.stringify(obj);
            return checkAgainstJsonParse(text, [...pathsOf(obj), ...extra]);
          }),
          { numRuns: numRuns(400) },
        );
      }),
    );

    it(
      'agrees with JSON.parse on objects with non-ASCII and lone-surrogate strings',
      withBackend(() => {
        fc.assert(
          fc.property(unicodeJsonObject, fc.array(randomPath, { maxLength: 3 }), (obj, extra) => {
            const text = JSON.stringify(obj);
            // JSON.stringify escapes lone surrogates; also try them raw (JSON.parse accepts raw ones).
            const raw = text.replace(/\\u(d[89a-f][0-9a-f]{2})/g, (_m, h: string) =>
              String.fromCharCode(parseInt(h, 16)),
            );
            const paths = [...pathsOf(obj), ...extra];
            return checkAgainstJsonParse(text, paths) && checkAgainstJsonParse(raw, paths);
          }),
          { numRuns: numRuns(300) },
        );
      }),
    );

    it(
      'agrees with JSON.parse on lua-cjson style encodings (escaped slashes, shuffled keys, \\u escapes, whitespace)',
      withBackend(() => {
        fc.assert(
          fc.property(
            fc.oneof(jsonObject, unicodeJsonObject),
            fc.integer(),
            fc.boolean(),
            fc.array(randomPath, { maxLength: 3 }),
            (obj, seed, whitespace, extra) => {
              const text = encodeLike(obj, {
                rnd: seeded(seed),
                escapeSlash: true,
                unicodeEscapes: true,
                whitespace,
                shuffle: true,
              });
              return checkAgainstJsonParse(text, [...pathsOf(obj), ...extra]);
            },
          ),
          { numRuns: numRuns(400) },
        );
      }),
    );

    it(
      'accepts exactly what JSON.parse accepts after random insertions, deletions, replacements and truncations',
      withBackend(() => {
        fc.assert(
          fc.property(
            fc.oneof(jsonObject, unicodeJsonObject),
            fc.integer(),
            fc.array(mutation, { minLength: 1, maxLength: 3 }),
            (obj, seed, muts) => {
              const text = encodeLike(obj, {
                rnd: seeded(seed),
                escapeSlash: seed % 2 === 0,
                unicodeEscapes: seed % 3 === 0,
                whitespace: seed % 5 === 0,
                shuffle: false,
              });
              return acceptanceMatches(mutate(text, muts));
            },
          ),
          { numRuns: numRuns(5000) },
        );
      }),
    );

    it(
      'accepts exactly what JSON.parse accepts for short strings over the JSON alphabet',
      withBackend(() => {
        const alphabet = fc.constantFrom(
          '{',
          '}',
          '[',
          ']',
          '"',
          ',',
          ':',
          '\\',
          ' ',
          '0',
          '1',
          '-',
          '+',
          '.',
          'e',
          'u',
          'a',
          't',
          'r',
          'n',
          '\n',
          '\u0001',
          '"a"',
          '"a":',
          'true',
          'null',
          'fals',
          '\\u00',
          '\\u12',
          '1e',
          'é',
          'f',
          'A',
        );
        fc.assert(
          fc.property(fc.array(alphabet, { maxLength: 14 }), (parts) => acceptanceMatches(parts.join(''))),
          { numRuns: numRuns(5000) },
        );
      }),
    );

    it(
      'finds quotes, escapes and control characters at every offset of a 16-byte block',
      withBackend(() => {
        const specials = ['\\n', '\\"', '\\\\', '\\u00e9', '\\x', '\u0001', '\u001f', '\n', 'é', '\\u12', '"'];
        for (let pad = 0; pad < 40; pad++) {
          for (const sp of specials) {
            for (const tail of ['', 'zz', 'z'.repeat(17)]) {
              const str = 'x'.repeat(pad) + sp + tail;
              checkAgainstJsonParse(`{"k${'y'.repeat(pad % 7)}":"${str}","b":[${pad}]}`, [
                ['k' + 'y'.repeat(pad % 7)],
                ['b', 0],
              ]);
              acceptanceMatches(`{"${str}":1}`);
            }
          }
        }
      }),
    );

    it(
      'finds Kong fields whether present, absent, duplicated (last wins), escaped or shadowed by nested lookalike keys',
      withBackend(() => {
        fc.assert(
          fc.property(kongEntries, (v) => checkAgainstJsonParse(serKong(v), KONG_PATHS)),
          { numRuns: numRuns(500) },
        );
      }),
    );

    it(
      'scans a region of a larger text (NDJSON chunk) and reports absolute offsets',
      withBackend(() => {
        fc.assert(
          fc.property(fc.array(kongEntries, { minLength: 1, maxLength: 4 }), fc.nat(), (vals, pick) => {
            const lines = vals.map((v) => serKong(v));
            const chunk = lines.join('\n') + '\n';
            const k = pick % lines.length;
            const start = lines.slice(0, k).reduce((a, l) => a + l.length + 1, 0);
            return checkAgainstJsonParse(chunk, KONG_PATHS, start, start + lines[k].length + 1);
          }),
          { numRuns: numRuns(150) },
        );
      }),
    );

    it(
      'returns the top-level elements of an array body, like JSON.parse',
      withBackend(() => {
        fc.assert(
          fc.property(
            fc.array(fc.oneof(jsonObject, fc.jsonValue({ maxDepth: 2 })), { maxLength: 6 }),
            fc.integer(),
            (arr, seed) => {
              const text = encodeLike(arr as Json, {
                rnd: seeded(seed),
                escapeSlash: true,
                unicodeEscapes: true,
                whitespace: true,
                shuffle: false,
              });
              const res = scanArrayElements(text);
              assert.ok(!(res instanceof JsonSyntaxError), String(res));
              assert.equal(res.length, arr.length * 2);
              const parsed = JSON.parse(text) as unknown[];
              parsed.forEach((el, i) => assert.deepEqual(JSON.parse(text.slice(res[2 * i], res[2 * i + 1])), el));
              return true;
            },
          ),
          { numRuns: numRuns(200) },
        );
      }),
    );

    // ---- rejection rules, each like JSON.parse ----
    const rejected: [string, string][] = [
      ['a trailing comma in an object', '{"a":1,}'],
      ['a trailing comma in an array', '{"a":[1,]}'],
      ['a missing value', '{"a":}'],
      ['a missing colon', '{"a" 1}'],
      ['a missing comma', '{"a":1 "b":2}'],
      ['a leading comma', '{,"a":1}'],
      ['single-quoted strings', "{'a':1}"],
      ['single-quoted values', '{"a":\'x\'}'],
      ['unquoted keys', '{a:1}'],
      ['NaN', '{"a":NaN}'],
      ['Infinity', '{"a":Infinity}'],
      ['-Infinity', '{"a":-Infinity}'],
      ['a leading zero', '{"a":01}'],
      ['a negative leading zero', '{"a":-01}'],
      ['a plus sign', '{"a":+1}'],
      ['a number ending with a dot', '{"a":1.}'],
      ['a number starting with a dot', '{"a":.5}'],
      ['an exponent without digits', '{"a":1e}'],
      ['an exponent sign without digits', '{"a":1e+}'],
      ['a lone minus', '{"a":-}'],
      ['hex numbers', '{"a":0x10}'],
      ['a raw NUL in a string', '{"a":"x\u0000y"}'],
      ['a raw newline in a string', '{"a":"x\ny"}'],
      ['a raw tab in a string', '{"a":"x\ty"}'],
      ['a raw control character in a key', '{"a\u001f":1}'],
      ['an invalid escape \\x', '{"a":"\\x41"}'],
      ["an invalid escape \\'", '{"a":"\\\'"}'],
      ['a non-hex unicode escape', '{"a":"\\u12G4"}'],
      ['a unicode escape with a non-hex first digit', '{"a":"\\uG123"}'],
      ['a unicode escape with a non-hex second digit', '{"a":"\\u1x23"}'],
      ['a unicode escape with a non-hex last digit', '{"a":"\\u123g"}'],
      ['a unicode escape in a key with a non-hex last digit', '{"a\\u004G":1}'],
      ['a short unicode escape', '{"a":"\\u12"}'],
      ['an unterminated string', '{"a":"abc}'],
      ['an unterminated escape at the end', '{"a":"abc\\'],
      ['a line comment', '{"a":1 // c\n}'],
      ['a block comment', '{/* c */"a":1}'],
      ['garbage after the object', '{"a":1} x'],
      ['a second object', '{"a":1}{"b":2}'],
      ['an unclosed object', '{"a":1'],
      ['an unclosed nested array', '{"a":[1,2}'],
      ['mismatched brackets', '{"a":[1}]'],
      ['a misspelled literal', '{"a":tru}'],
      ['a capitalized literal', '{"a":True}'],
      ['a byte order mark', '\ufeff{"a":1}'],
      ['non-JSON whitespace (NBSP)', '{\u00a0"a":1}'],
      ['an empty text', ''],
      ['a whitespace-only text', ' \n\t '],
      ['a top-level array', '[1,2]'],
      ['a top-level string', '"{}"'],
      ['a top-level number', '42'],
      ['a top-level null', 'null'],
    ];
    for (const [what, text] of rejected) {
      it(
        `${what} is rejected like JSON.parse does`,
        withBackend(() => {
          const oracle = parseOk(text);
          assert.ok(!oracle.ok || !isPlainObject(oracle.value), 'JSON.parse accepts it as an object');
          const err = scanObject(text, new FieldPlan([['a']]), new Int32Array(2));
          assert.ok(err instanceof JsonSyntaxError, `accepted ${JSON.stringify(text)}`);
          assert.ok(err.position >= 0 && err.position <= text.length);
        }),
      );
    }

    const accepted: [string, string, JsonPath, unknown][] = [
      ['a lone high-surrogate escape', '{"a":"\\ud800"}', ['a'], '\ud800'],
      ['a lone low-surrogate escape', '{"a":"x\\udc00"}', ['a'], 'x\udc00'],
      ['a raw lone surrogate', '{"a":"\ud800"}', ['a'], '\ud800'],
      ['an exponent number', '{"a":1.7267838395395e+18}', ['a'], 1.7267838395395e18],
      ['a capital exponent', '{"a":2E-3}', ['a'], 2e-3],
      ['negative zero', '{"a":-0}', ['a'], -0],
      ['zero with a fraction', '{"a":0.5}', ['a'], 0.5],
      ['escaped slashes', '{"a":"\\/status\\/200"}', ['a'], '/status/200'],
      ['all simple escapes', '{"a":"\\"\\\\\\/\\b\\f\\n\\r\\t"}', ['a'], '"\\/\b\f\n\r\t'],
      ['unicode text', '{"a":"héllo 😀 \u2028"}', ['a'], 'héllo 😀 \u2028'],
      ['a DEL character in a string', '{"a":"\u007f"}', ['a'], '\u007f'],
      ['whitespace everywhere', ' \t\r\n{ "a" : [ 1 , { } ] }\n', ['a'], [1, {}]],
      ['an empty key', '{"":1}', [''], 1],
      ['a __proto__ key', '{"__proto__":{"x":1}}', ['__proto__', 'x'], 1],
      ['a big exponent (Infinity after parse)', '{"a":1e400}', ['a'], Infinity],
    ];
    for (const [what, text, path, value] of accepted) {
      it(
        `${what} is accepted like JSON.parse does`,
        withBackend(() => {
          const plan = new FieldPlan([path]);
          const spans = plan.newSpans();
          assert.equal(scanObject(text, plan, spans), null);
          assert.deepEqual(decodeValue(text, spans[0], spans[1]), value);
          checkAgainstJsonParse(text, [path]);
        }),
      );
    }

    it(
      'reports the last occurrence of a duplicated key, and forgets fields of an overwritten object',
      withBackend(() => {
        const text = '{"request":{"method":"GET","uri":"\\/a"},"x":1,"request":{"uri":"\\/b"},"x":2}';
        const plan = new FieldPlan([['request', 'method'], ['request', 'uri'], ['x']]);
        const spans = plan.newSpans();
        assert.equal(scanObject(text, plan, spans), null);
        assert.deepEqual([spans[0], spans[1]], [-1, -1]);
        assert.equal(decodeString(text, spans[2], spans[3]), '/b');
        assert.equal(decodeValue(text, spans[4], spans[5]), 2);
      }),
    );

    it(
      'matches keys after unescaping them',
      withBackend(() => {
        const text = '{"re\\u0071uest":{"m\\u0065thod":"GET","a\\/b":1}}';
        const plan = new FieldPlan([
          ['request', 'method'],
          ['request', 'a/b'],
        ]);
        const spans = plan.newSpans();
        assert.equal(scanObject(text, plan, spans), null);
        assert.equal(decodeString(text, spans[0], spans[1]), 'GET');
        assert.equal(decodeValue(text, spans[2], spans[3]), 1);
      }),
    );

    it(
      'does not confuse nested lookalike keys with the wanted ones',
      withBackend(() => {
        const text =
          '{"request":{"headers":{"method":"H"},"querystring":{"status":"Q"}},"method":"TOP","response":{"headers":{"status":1}}}';
        const plan = new FieldPlan([['request', 'method'], ['response', 'status'], ['method']]);
        const spans = plan.newSpans();
        assert.equal(scanObject(text, plan, spans), null);
        assert.deepEqual(Array.from(spans.subarray(0, 4)), [-1, -1, -1, -1]);
        assert.equal(decodeString(text, spans[4], spans[5]), 'TOP');
      }),
    );

    it(
      'matches number steps only to array indices and string steps only to object keys',
      withBackend(() => {
        const text = '{"o":{"0":"key"},"a":["idx",{"name":"n1"}]}';
        const plan = new FieldPlan([
          ['o', 0],
          ['o', '0'],
          ['a', 0],
          ['a', '0'],
          ['a', 1, 'name'],
          ['a', 2],
        ]);
        const spans = plan.newSpans();
        assert.equal(scanObject(text, plan, spans), null);
        const got = plan.paths.map((_p, i) => decodeValue(text, spans[2 * i], spans[2 * i + 1]));
        assert.deepEqual(got, [undefined, 'key', 'idx', undefined, 'n1', undefined]);
      }),
    );

    it(
      'fills every slot of a path listed twice and reports the whole object for the empty path',
      withBackend(() => {
        const text = ' {"a":{"b":[1,2]}} ';
        const plan = new FieldPlan([['a', 'b'], [], ['a', 'b'], ['a']]);
        const spans = plan.newSpans();
        assert.equal(scanObject(text, plan, spans), null);
        // ' {"a":{"b":[1,2]}} ': [1,2] is [11,16), {"b":...} is [6,17), the object is [1,18)
        assert.deepEqual(Array.from(spans), [11, 16, 1, 18, 11, 16, 6, 17]);
      }),
    );

    it(
      'matches non-ASCII plan keys (raw, escaped, and lone surrogates) like JSON.parse',
      withBackend(() => {
        const text = '{"héllo":1,"k\\u00e9y":{"\\ud800":"esc"},"\\ud83d\\ude00":[0,"😀"],"h\\u00e9llo":2}';
        checkAgainstJsonParse(text, [['héllo'], ['kéy', '\ud800'], ['😀', 1], ['kéy'], ['hello']]);
        checkAgainstJsonParse('{"a\\ud800":{"b":1},"a\ud800":{"b":2}}', [
          ['a\ud800', 'b'],
          ['a\ufffd', 'b'],
        ]);
        checkAgainstJsonParse('{"a\ud800":{"b":1},"a\\ufffd":{"b":2}}', [
          ['a\ud800', 'b'],
          ['a\ufffd', 'b'],
        ]);
      }),
    );

    it(
      'keeps working when plans alternate and when the text buffer grows between scans',
      withBackend(() => {
        const p1 = new FieldPlan([['a'], ['b', 'c']]);
        const p2 = new FieldPlan([['b'], ['a'], ['x', 'y', 'z']]);
        const small = '{"a":1,"b":{"c":"x"},"x":{"y":{"z":null}}}';
        const big = '{"pad":"' + 'p'.repeat(300_000) + '","a":2,"b":{"c":"é"}}';
        for (const text of [small, big, small, big]) {
          const parsed = JSON.parse(text) as unknown;
          for (const p of [p1, p2, p1]) {
            const spans = p.newSpans();
            assert.equal(scanObject(text, p, spans), null);
            p.paths.forEach((path, i) =>
              assert.deepEqual(decodeValue(text, spans[2 * i], spans[2 * i + 1]), walk(parsed, path).value),
            );
          }
        }
      }),
    );

    it(
      'accepts nesting as deep as JSON.parse up to MAX_DEPTH levels (lua-cjson writes at most 1000), and finds fields after it',
      withBackend(() => {
        // {"deep": [[…]] , "b": "x"}: `depth` levels in all, the field after the deep part.
        const nested = (depth: number): string =>
          '{"deep":' + '['.repeat(depth - 1) + ']'.repeat(depth - 1) + ',"b":"x"}';
        const plan = new FieldPlan([['b'], ['deep']]);
        assert.equal(MAX_DEPTH, 100_000);
        for (const depth of [512, 513, 1000, 1024, 1025, 1026, 5000, MAX_DEPTH]) {
          const text = nested(depth);
          assert.doesNotThrow(() => JSON.parse(text));
          const spans = plan.newSpans();
          assert.equal(scanObject(text, plan, spans), null, `depth ${depth}`);
          assert.equal(text.slice(spans[0], spans[1]), '"x"', `depth ${depth}`);
          assert.equal(spans[3] - spans[2], 2 * (depth - 1), `depth ${depth}`);
          if (depth < MAX_DEPTH) {
            const elements = scanArrayElements(`[${text},{"b":1}]`);
            assert.ok(!(elements instanceof JsonSyntaxError), `array of depth ${depth + 1}`);
            assert.equal(elements.length, 4);
          }
          assert.ok(
            !(scanArrayElements('['.repeat(depth) + ']'.repeat(depth)) instanceof JsonSyntaxError),
            `depth ${depth}`,
          );
        }
        const err = scanObject(nested(MAX_DEPTH + 1), plan, plan.newSpans());
        assert.ok(err instanceof JsonSyntaxError);
        assert.match(err.message, /nesting too deep/);
        const arrErr = scanArrayElements('['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1));
        assert.ok(arrErr instanceof JsonSyntaxError);
        assert.match(arrErr.message, /nesting too deep/);
        // Invalid deep texts are still rejected, past the kernel's stacks too.
        for (const bad of [nested(2000).replace(']]]]', ']]}]'), nested(2000).slice(0, -1)]) {
          assert.throws(() => JSON.parse(bad));
          assert.ok(scanObject(bad, plan, plan.newSpans()) instanceof JsonSyntaxError);
        }
        const badArray = '['.repeat(3000) + ']'.repeat(2999);
        assert.throws(() => JSON.parse(badArray));
        assert.ok(scanArrayElements(badArray) instanceof JsonSyntaxError);
      }),
    );

    it(
      'returns an error instead of overflowing the stack on 10 MB of opening brackets',
      withBackend(() => {
        const plan = new FieldPlan([['a']]);
        for (const text of ['['.repeat(10_000_000), '{"a":' + '['.repeat(10_000_000), '{'.repeat(10_000_000)]) {
          const err = scanObject(text, plan, plan.newSpans());
          assert.ok(err instanceof JsonSyntaxError);
          const arr = scanArrayElements(text);
          assert.ok(arr instanceof JsonSyntaxError);
        }
      }),
    );

    it(
      'never throws for odd inputs (NUL, U+FFFD, lone surrogates, huge numbers)',
      withBackend(() => {
        const plan = new FieldPlan([['a'], ['a', 0]]);
        const odd = [
          '\u0000',
          '{\u0000}',
          '\ufffd',
          '{"\ud800":1}',
          '{"a":"\udfff"}',
          '{"a":' + '9'.repeat(5000) + '}',
          '\ud83d',
          '{',
          '{"a":"\u0080\u00ff\u0100"}',
        ];
        for (const t of odd) {
          assert.doesNotThrow(() => scanObject(t, plan, plan.newSpans()));
          assert.doesNotThrow(() => scanArrayElements(t));
          acceptanceMatches(t);
        }
      }),
    );

    it(
      'validates the whole array body and rejects bad ones',
      withBackend(() => {
        const ok = scanArrayElements(' [ {"a":1} , 2,"x" ,[3] ] ');
        assert.ok(!(ok instanceof JsonSyntaxError));
        assert.deepEqual(Array.from(ok), [3, 10, 13, 14, 15, 18, 20, 23]);
        const empty = scanArrayElements('[ ]');
        assert.ok(!(empty instanceof JsonSyntaxError));
        assert.equal(empty.length, 0);
        for (const bad of ['[1,]', '[,1]', '[1 2]', '{"a":1}', '[1]]', '[1] x', '[', '', '["\u0001"]', '[01]']) {
          assert.ok(scanArrayElements(bad) instanceof JsonSyntaxError, bad);
        }
        const chunk = 'xx[1,{"b":2}]yy';
        const part = scanArrayElements(chunk, 2, 13);
        assert.ok(!(part instanceof JsonSyntaxError));
        assert.deepEqual(Array.from(part), [3, 4, 5, 12]);
      }),
    );

    it(
      'the wasm kernel never rejects a text that the JS scanner accepts',
      withBackend(() => {
        const st = getScanStats();
        assert.equal(st.kernelMismatches, 0);
        if (backend !== 'js' && scanUsesWasm()) {
          assert.ok(st.kernelScans > 1000, `kernel used ${st.kernelScans} times`);
          assert.ok(st.kernelBailouts > 0, 'escaped keys in tracked objects were seen');
        }
      }),
    );
  });
}

describe('json-scan API', () => {
  it('uses the WebAssembly kernel on this runtime (Node >= 20 and Deno 2 have wasm SIMD)', () => {
    assert.equal(scanUsesWasm(), true);
  });

  it('rejects plans with steps that are neither strings nor non-negative integers', () => {
    for (const bad of [[-1], [1.5], [Number.NaN], [{}], [null]] as unknown as JsonPath[]) {
      assert.throws(() => new FieldPlan([bad]), TypeError);
    }
  });

  it('throws a RangeError when the spans array is too short for the plan', () => {
    assert.throws(() => scanObject('{}', new FieldPlan([['a'], ['b']]), new Int32Array(3)), RangeError);
  });

  it('decodes absent spans and non-strings as undefined in decodeString', () => {
    const text = '{"n":12,"s":"x","o":{"k":[true,null]}}';
    const plan = new FieldPlan([['n'], ['s'], ['o'], ['missing']]);
    const spans = plan.newSpans();
    assert.equal(scanObject(text, plan, spans), null);
    assert.equal(decodeString(text, spans[0], spans[1]), undefined);
    assert.equal(decodeString(text, spans[2], spans[3]), 'x');
    assert.deepEqual(decodeValue(text, spans[4], spans[5]), { k: [true, null] });
    assert.equal(decodeValue(text, spans[6], spans[7]), undefined);
    assert.equal(decodeString(text, spans[6], spans[7]), undefined);
  });

  it('gives error positions that point at the offending character', () => {
    const err = scanObject('{"a":1,}', new FieldPlan([]), new Int32Array(0));
    assert.ok(err instanceof JsonSyntaxError);
    assert.equal(err.position, 7);
    const ctl = scanObject('{"a":"x\u0001"}', new FieldPlan([]), new Int32Array(0));
    assert.ok(ctl instanceof JsonSyntaxError);
    assert.equal(ctl.position, 7);
    assert.match(ctl.message, /control character/);
    const region = scanObject('{"a":1}\n{"a":,}', new FieldPlan([]), new Int32Array(0), 8);
    assert.ok(region instanceof JsonSyntaxError);
    assert.equal(region.position, 13);
  });
});
