/** What Kong's http-log (and NDJSON/gzip forwarders) send arrives at the destinations, and poison entries do not cost the good ones. */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { kongTexts, startHarness, waitFor, type Harness } from './support/http-harness.ts';

describe('http source: what Kong sends', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('a single Kong entry (max_batch_size 1, the default) is delivered as-is and answered 200 with a report', async () => {
    const [entry] = kongTexts(1, 11);
    const before = h.sink.texts.length;
    const answer = await h.post(entry);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { accepted: 1, dead_lettered: 0, errors: [] });
    await waitFor(() => h.sink.texts.length === before + 1, 'the entry at the sink');
    assert.equal(h.sink.texts.at(-1), entry);
  });

  it('a JSON array of 100 Kong entries is delivered in order, entry texts unchanged', async () => {
    const entries = kongTexts(100, 12);
    const before = h.sink.texts.length;
    const answer = await h.post(`[${entries.join(',')}]`, { contentType: 'application/json; charset=utf-8' });
    assert.equal(answer.status, 200);
    assert.equal(answer.json().accepted, 100);
    await waitFor(() => h.sink.texts.length === before + 100, '100 entries at the sink');
    assert.deepEqual(h.sink.texts.slice(before), entries);
  });

  it('PUT and PATCH are accepted like POST', async () => {
    const [a, b] = kongTexts(2, 13);
    assert.equal((await h.post(a, { method: 'PUT' })).status, 200);
    assert.equal((await h.post(b, { method: 'PATCH' })).status, 200);
    await waitFor(() => h.sink.texts.includes(a) && h.sink.texts.includes(b), 'both entries at the sink');
  });

  it('an NDJSON body (Vector, Fluent Bit) delivers every line', async () => {
    const entries = kongTexts(20, 14);
    const before = h.sink.texts.length;
    const answer = await h.post(`${entries.join('\n')}\n`, { contentType: 'application/x-ndjson' });
    assert.equal(answer.status, 200);
    assert.equal(answer.json().accepted, 20);
    await waitFor(() => h.sink.texts.length === before + 20, '20 entries at the sink');
    assert.deepEqual(h.sink.texts.slice(before), entries);
  });

  it('gzip-encoded JSON arrays and NDJSON are decompressed', async () => {
    const array = kongTexts(30, 15);
    const lines = kongTexts(30, 16);
    const before = h.sink.texts.length;
    const a = await h.post(gzipSync(`[${array.join(',')}]`), { headers: { 'content-encoding': 'gzip' } });
    const b = await h.post(gzipSync(lines.join('\r\n')), {
      contentType: 'application/x-ndjson',
      headers: { 'content-encoding': 'gzip' },
    });
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.json().accepted + b.json().accepted, 60);
    await waitFor(() => h.sink.texts.length === before + 60, '60 entries at the sink');
    assert.deepEqual(new Set(h.sink.texts.slice(before)), new Set([...array, ...lines]));
  });

  it('invalid UTF-8 inside an entry is replaced, not fatal: the entry is delivered', async () => {
    const before = h.sink.texts.length;
    const body = Buffer.concat([
      Buffer.from('{"request":{"method":"GET","uri":"\\/x"},"note":"'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}'),
    ]);
    const answer = await h.post(body);
    assert.equal(answer.status, 200);
    await waitFor(() => h.sink.texts.length === before + 1, 'the entry at the sink');
    assert.match(h.sink.texts.at(-1) ?? '', /"note":"\uFFFD+"/);
  });

  it('path traversal strings and huge field values are just data', async () => {
    const before = h.sink.texts.length;
    const entry = JSON.stringify({
      request: { method: 'GET', uri: '/../../etc/passwd', headers: { host: '../../../x' } },
      workspace_name: '../../../../tmp/evil',
      pad: 'x'.repeat(200_000),
    });
    const answer = await h.post(entry);
    assert.equal(answer.status, 200);
    await waitFor(() => h.sink.texts.length === before + 1, 'the entry at the sink');
    assert.equal(h.sink.texts.at(-1), entry);
  });

  it('other paths get 404, other methods 405 with Allow, other content types 415 listing the accepted ones', async () => {
    const [entry] = kongTexts(1, 17);
    const before = h.stats.received;
    assert.equal((await h.post(entry, { path: '/other' })).status, 404);
    assert.equal((await h.post(entry, { path: '/kong/' })).status, 404);
    const get = await h.post('', { method: 'GET' });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST, PUT, PATCH');
    const form = await h.post(entry, { contentType: 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415);
    assert.deepEqual(form.json().accepted_types, ['application/json', 'application/x-ndjson']);
    assert.equal((await h.post(entry, { contentType: null })).status, 415);
    assert.equal((await h.post(entry, { headers: { 'content-encoding': 'br' } })).status, 415);
    assert.equal((await h.post(entry, { contentType: 'application/json; charset=iso-8859-1' })).status, 415);
    assert.equal(h.stats.received, before, 'nothing was received');
    assert.ok((h.stats.httpRequests['415'] ?? 0) >= 4);
    assert.ok((h.stats.httpRequests['404'] ?? 0) >= 2);
  });

  it('a query string on the path is fine (Kong sends http_endpoint as configured)', async () => {
    const [entry] = kongTexts(1, 18);
    assert.equal((await h.post(entry, { path: '/kong?from=kong-1' })).status, 200);
  });
});

describe('http source: poison payloads (invalid: dead_letter, the default)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ source: { max_entry_bytes: '64KiB' } });
  });
  after(async () => {
    await h.close();
  });

  it('a malformed JSON body is dead-lettered whole and answered 200 with the report (Kong must not retry it)', async () => {
    const answer = await h.post('{"request": {"method": "GET", oops');
    assert.equal(answer.status, 200);
    const report = answer.json();
    assert.equal(report.accepted, 0);
    assert.equal(report.dead_lettered, 1);
    assert.equal(report.errors[0].index, 0);
    assert.match(report.errors[0].error, /invalid JSON/);
    const dl = h.deadLetters().find((d) => d.raw === '{"request": {"method": "GET", oops');
    assert.ok(dl, 'the body is in the dead-letter file');
    assert.equal(dl.source, 'kong_http');
    assert.equal(dl.reason, 'invalid_json');
    assert.equal(dl.context.remote, '127.0.0.1');
    assert.equal(h.stats.invalid.invalid_json, 1);
  });

  it('a 100-entry array with 3 bad entries: the 97 good ones are delivered, the 3 dead-lettered, the report lists their indexes', async () => {
    const entries = kongTexts(100, 21);
    const elements: string[] = [...entries];
    elements[5] = '42';
    elements[50] = '"just a string"';
    elements[99] = '[{"nested":"array"}]';
    const good = entries.filter((_, i) => i !== 5 && i !== 50 && i !== 99);
    const before = h.sink.texts.length;
    const dlBefore = h.deadLetters().length;
    const answer = await h.post(`[${elements.join(',')}]`);
    assert.equal(answer.status, 200);
    const report = answer.json();
    assert.equal(report.accepted, 97);
    assert.equal(report.dead_lettered, 3);
    assert.deepEqual(
      report.errors.map((e) => e.index),
      [5, 50, 99],
    );
    await waitFor(() => h.sink.texts.length === before + 97, '97 entries at the sink');
    assert.deepEqual(h.sink.texts.slice(before), good);
    const dls = h.deadLetters().slice(dlBefore);
    assert.deepEqual(
      dls.map((d) => [d.context.index, d.raw, d.reason]),
      [
        [5, '42', 'not_an_object'],
        [50, '"just a string"', 'not_an_object'],
        [99, '[{"nested":"array"}]', 'not_an_object'],
      ],
    );
  });

  it('an NDJSON body with a broken line and an oversize line: the other lines are delivered once', async () => {
    const entries = kongTexts(10, 22);
    const lines = [...entries];
    lines[3] = '{"broken": ';
    lines[7] = JSON.stringify({ request: { method: 'GET' }, pad: 'y'.repeat(70 * 1024) });
    const good = entries.filter((_, i) => i !== 3 && i !== 7);
    const before = h.sink.texts.length;
    const answer = await h.post(lines.join('\n'), { contentType: 'application/x-ndjson' });
    assert.equal(answer.status, 200);
    const report = answer.json();
    assert.equal(report.accepted, 8);
    assert.deepEqual(
      report.errors.map((e) => e.index),
      [3, 7],
    );
    assert.match(report.errors[1].error, /max_entry_bytes/);
    await waitFor(() => h.sink.texts.length === before + 8, '8 entries at the sink');
    assert.deepEqual(h.sink.texts.slice(before), good);
    const oversize = h.deadLetters().find((d) => d.reason === 'entry_too_large');
    assert.ok(oversize);
    assert.equal(oversize.raw.length, 64 * 1024, 'raw is capped at max_entry_bytes');
  });

  it('deeply nested JSON and a broken gzip stream are dead-lettered, not fatal', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const a = await h.post(deep);
    assert.equal(a.status, 200);
    assert.equal(a.json().dead_lettered, 1);
    const b = await h.post(Buffer.from('this is not gzip at all'), { headers: { 'content-encoding': 'gzip' } });
    assert.equal(b.status, 200);
    assert.equal(b.json().dead_lettered, 1);
    const dl = h.deadLetters().find((d) => d.reason === 'invalid_gzip');
    assert.ok(dl);
    assert.equal(Buffer.from(dl.raw, 'base64').toString(), 'this is not gzip at all');
    // still serving
    const [entry] = kongTexts(1, 23);
    assert.equal((await h.post(entry)).status, 200);
  });
});

describe('http source: invalid: reject', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ source: { invalid: 'reject' } });
  });
  after(async () => {
    await h.close();
  });

  it('a malformed body gets 400 with the report and nothing is ingested or dead-lettered', async () => {
    const answer = await h.post('not json');
    assert.equal(answer.status, 400);
    assert.equal(answer.json().errors[0].index, 0);
    assert.equal(h.deadLetters().length, 0);
  });

  it('an array with one bad entry gets 400 and none of its good entries is ingested', async () => {
    const entries = kongTexts(10, 31);
    const body = `[${[...entries.slice(0, 5), '7', ...entries.slice(5)].join(',')}]`;
    const before = h.stats.received;
    const answer = await h.post(body);
    assert.equal(answer.status, 400);
    assert.deepEqual(
      answer.json().errors.map((e) => e.index),
      [5],
    );
    assert.equal(h.stats.received - before, 1, 'only the bad entry was counted as received');
    assert.equal(h.sink.texts.length, 0);
    assert.equal(h.stats.invalid.not_an_object, 1);
  });
});

describe('http source: dead-letter file cannot be written', () => {
  it("a body with bad entries gets 503 and none of its good entries is taken; Kong's retry after recovery is taken once", async () => {
    const h = await startHarness();
    try {
      // A file where the dead-letter directory must go: every dead-letter write fails, like a full disk.
      const blocker = path.dirname(h.config.deadLetter.dir);
      writeFileSync(blocker, 'in the way');
      const entries = kongTexts(5, 81);
      const body = `[${[...entries.slice(0, 2), 'null', ...entries.slice(2)].join(',')}]`;
      const refused = await h.post(body);
      assert.equal(refused.status, 503);
      assert.ok(refused.headers['retry-after']);
      assert.equal(h.stats.received, 0, 'nothing taken');
      rmSync(blocker);
      const retried = await h.post(body);
      assert.equal(retried.status, 200);
      assert.deepEqual(
        retried.json().errors.map((e) => e.index),
        [2],
      );
      await waitFor(() => h.sink.texts.length === 5, 'the good entries delivered');
      assert.deepEqual(h.sink.texts, entries, 'each good entry exactly once');
      assert.equal(h.deadLetters().length, 1);
    } finally {
      await h.close();
    }
  });
});
