/**
 * A Kong http-log batch (a JSON array of entries, as UTF-8 bytes) is validated, split and decoded
 * by one scan (decodeArrayBytes, scanArrayOfObjectsUtf8) instead of a split and then a scan per
 * entry. What comes out must be what the two-step path gives: the same entry texts, and events
 * whose fields read exactly as decoding each text on its own; over-long arrays are counted, not
 * kept; and an event decoded before a config reload is decoded again by the new config's rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import { byteStringOf } from '../src/event/byte-string.ts';
import { decodeArrayBytes, splitEntryBytes } from '../src/event/entries.ts';
import { ELEMENT_SCANNED, scanArrayOfObjectsUtf8, scanObject } from '../src/event/json-scan.ts';
import { EventDecoder, type KongEvent } from '../src/event/kong-event.ts';
import { AckGroup } from '../src/core/ack.ts';
import { generate } from './support/kong.ts';
import { configFromYaml, testPipeline } from './support/pipeline.ts';
import { RecordingSink } from './support/recording-sink.ts';

const decoder = new EventDecoder({
  headers: ['x-team'],
  paths: [
    ['request', 'querystring', 'page'],
    ['tries', 0, 'ip'],
  ],
  workspaceNames: new Map([['ws-1', 'payments']]),
});

/** Everything a rule or template can read of an event. */
function fields(e: KongEvent): unknown[] {
  return [
    e.isHttp,
    e.method,
    e.path,
    e.upstreamPath,
    e.status,
    e.host,
    e.workspace,
    e.header('x-team'),
    e.routeId,
    e.routeName,
    e.serviceId,
    e.serviceName,
    e.consumerId,
    e.consumerUsername,
    e.consumerCustomId,
    e.requestId,
    e.valueAt(['request', 'querystring', 'page']),
    e.valueAt(['tries', 0, 'ip']),
  ];
}

/** The entries of `bytes` as the one-scan path gives them, checked against the two-step path. */
function decodedLikeTwoSteps(bytes: Uint8Array): void {
  const once = decodeArrayBytes(bytes, decoder, 1_000_000);
  const twice = splitEntryBytes(bytes, 'json');
  if (once === null) {
    // Only a body that is not a valid array, or not valid UTF-8, takes the old path.
    assert.ok(
      !isUtf8(bytes) || (twice.length === 1 && ('error' in twice[0] || !twice[0].raw.trimStart().startsWith('['))),
      'a valid array was not decoded in one scan',
    );
    return;
  }
  assert.ok(!('tooMany' in once));
  assert.deepEqual(
    once.map((e) => ({ index: e.index, raw: e.raw })),
    twice,
  );
  for (const entry of once) {
    if (entry.event === undefined) continue;
    const alone = decoder.decode(entry.raw);
    assert.ok(!(alone instanceof Error), `an entry with an event must decode alone: ${alone}`);
    assert.deepEqual(fields(entry.event), fields(alone), entry.raw);
  }
}

const value = fc.oneof(
  fc
    .string({ unit: fc.constantFrom('a', '/', '\\/', '\\"', '\\u0041', 'é', '€', '😀', ' '), maxLength: 12 })
    .map((s) => `"${s}"`),
  fc.integer({ min: -1000, max: 1000 }).map(String),
  fc.constantFrom('true', 'null', '[]', '{}', '1.5e+3', '["x",{"host":"h"}]'),
);
/** Keys rules look at, some written with escapes, some not; values of every kind. */
const key = fc.constantFrom(
  'method',
  'uri',
  'status',
  'host',
  'x-team',
  'id',
  'name',
  'ws_id',
  'page',
  'ip',
  'other',
  'meth\\u006fd',
  'ho\\u0073t',
  'é',
);
const object = (depth: number): fc.Arbitrary<string> =>
  fc
    .array(
      fc.tuple(
        key,
        depth > 0
          ? fc.oneof(
              value,
              fc.constant(null).chain(() => object(depth - 1)),
            )
          : value,
      ),
      { maxLength: 5 },
    )
    .map((members) => `{${members.map(([k, v]) => `"${k}":${v}`).join(',')}}`);
const kongLike = fc
  .record({
    method: fc.constantFrom('GET', 'PUT', 'P\\u0055T'),
    status: fc.constantFrom('200', '"502, 200"', '404'),
    uri: fc.constantFrom('"\\/profile\\/1?page=2"', '"\\/caf\u00e9"', '"\\/a"'),
    headers: object(1),
    extra: object(2),
    workspace: fc.constantFrom(
      '',
      ',"workspace":"ws-1"',
      ',"workspace_name":"search"',
      ',"wo\\u0072kspace":"ws-1"',
      ',"route":{"ws_id":"ws-1","id":"r","name":"n"}',
    ),
  })
  .map(
    (r) =>
      `{"request":{"method":"${r.method}","uri":${r.uri},"headers":${r.headers.slice(0, -1)}${r.headers === '{}' ? '' : ','}"x-team":"t"},"querystring":{"page":2}},"response":{"status":${r.status}},"tries":[{"ip":"10.0.0.1"}],"x":${r.extra}${r.workspace}}`,
  );
const element = fc.oneof(
  { weight: 4, arbitrary: kongLike },
  { weight: 1, arbitrary: object(2) },
  { weight: 1, arbitrary: value },
);

describe('an HTTP array of entries scanned once', () => {
  it('gives the texts of the split and, per entry, the fields decoding that text alone gives', () => {
    fc.assert(
      fc.property(
        fc.array(element, { maxLength: 8 }),
        fc.constantFrom(',', ' , ', ',\n'),
        fc.constantFrom('', ' ', '\ufeff'),
        (elements, sep, lead) => {
          decodedLikeTwoSteps(Buffer.from(`${lead}[${elements.join(sep)}]`));
          decodedLikeTwoSteps(Buffer.from(`${lead}[${elements.join(sep)}`)); // broken: the old path
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gives every real Kong entry its event, non-ASCII ones too, with the fields of the entry alone', () => {
    const entries = generate(300);
    const body = Buffer.from(`[${entries.map((e) => e.text).join(',')}]`);
    decodedLikeTwoSteps(body);
    const once = decodeArrayBytes(body, decoder, 1000);
    assert.ok(once !== null && !('tooMany' in once));
    assert.ok(
      entries.some((e) => Buffer.byteLength(e.text) !== e.text.length),
      'the sample has non-ASCII entries',
    );
    once.forEach((e, k) => {
      assert.ok(e.event !== undefined, `entry ${k} has no event`);
      assert.equal(e.event.text, entries[k].text);
      const parsed = JSON.parse(entries[k].text) as { request: { method: string }; consumer?: { username?: string } };
      assert.equal(e.event.method, parsed.request.method);
      assert.equal(e.event.consumerUsername, parsed.consumer?.username);
    });
  });

  it('keeps invalid UTF-8 replaced exactly as the split does', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x80, 0xc3, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0xff, 0x61), { maxLength: 8 }),
        (junk) => {
          const inside = Buffer.concat([
            Buffer.from('[{"request":{"method":"'),
            Buffer.from(junk),
            Buffer.from('","uri":"\\/x"}},{"a":1}]'),
          ]);
          decodedLikeTwoSteps(inside);
          const method = new TextDecoder().decode(Buffer.from(junk));
          const [first] = splitEntryBytes(inside, 'json');
          assert.ok(!('error' in first));
          const event = decoder.decode(first.raw);
          assert.ok(!(event instanceof Error));
          assert.equal(event.method, method);
          assert.equal(event.text, `{"request":{"method":"${method}","uri":"\\/x"}}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('records the spans scanObject finds, relative to each element', () => {
    const texts = generate(50).map((e) => byteStringOf(e.text));
    const body = Buffer.from(` [ ${texts.join(' ,\n')} ] `, 'latin1');
    const plan = decoder.plan;
    const scanned = scanArrayOfObjectsUtf8(body, plan, 100);
    assert.ok(scanned !== null && !('tooMany' in scanned));
    assert.equal(scanned.count, texts.length);
    const alone = plan.newSpans();
    texts.forEach((text, k) => {
      assert.equal(body.toString('latin1', scanned.bounds[2 * k], scanned.bounds[2 * k + 1]), text);
      assert.equal(scanned.kinds[k], ELEMENT_SCANNED);
      assert.equal(scanObject(text, plan, alone), null);
      assert.deepEqual([...scanned.spans.subarray(k * 2 * plan.size, (k + 1) * 2 * plan.size)], [...alone]);
    });
  });

  it('counts an array with more elements than allowed without keeping them', () => {
    const body = Buffer.from(`[${Array.from({ length: 5000 }, (_, i) => (i % 2 === 0 ? '{}' : '1')).join(',')}]`);
    assert.deepEqual(decodeArrayBytes(body, decoder, 4999), { tooMany: 5000 });
    const within = decodeArrayBytes(body, decoder, 5000);
    assert.ok(Array.isArray(within) && within.length === 5000);
    assert.deepEqual(decodeArrayBytes(Buffer.from('[]'), decoder, 0), []);
  });

  it('an event decoded before a reload is routed by the new rules, which read fields the old decoder never extracted', async () => {
    const yaml = (rule: string): string => `
sources: { h: { type: file, paths: ["/nonexistent/*.log"] } }
rules: [ { name: r, when: { ${rule} }, to: [b] } ]
destinations: { a: { type: webhook, url: "http://127.0.0.1:9/a" }, b: { type: webhook, url: "http://127.0.0.1:9/b" } }
`;
    const b = new RecordingSink();
    const { pipeline, metrics } = testPipeline(configFromYaml(yaml('methods: [PUT]')), { a: new RecordingSink(), b });
    const text = '{"request":{"method":"GET","uri":"\\/x","headers":{"x-team":"blue"}},"response":{"status":200}}';
    const decoded = decodeArrayBytes(Buffer.from(`[${text}]`), pipeline.decoder, 10);
    assert.ok(Array.isArray(decoded) && decoded[0].event !== undefined);
    // The new rule needs a header the first config's decoder does not extract.
    pipeline.reload(configFromYaml(yaml('headers: { x-team: "^blue$" }')), () => Date.now() + 5000);
    const event = pipeline.ingestDecoded(decoded[0].event, new AckGroup(false), metrics.source('h'));
    assert.ok(!(event instanceof Error));
    await pipeline.drain(Date.now() + 5000);
    assert.deepEqual(b.texts, [text]);
  });
});
