/**
 * Hostile input on the http-log receiver of a running daemon: invalid and deeply nested JSON,
 * huge strings and bodies, wrong content types and encodings, gzip bombs, slow clients,
 * thousands of connections, missing or wrong credentials, path traversal in the URL and in
 * every file-name-like field of an entry. The daemon stays up, answers clearly, dead-letters
 * invalid entries (with a 2xx report) or rejects them (400) per its `invalid:` policy, ingests
 * nothing unauthenticated, and delivers nothing invalid.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from 'undici';
import { MAX_DEPTH } from '../src/event/json-scan.ts';
import type { WebhookReceiver } from '../tools/webhook-receiver.ts';
import type { Daemon } from './support/daemon.ts';
import { waitFor } from './support/daemon.ts';
import {
  chunked,
  gzipBomb,
  idleConnections,
  rawExchange,
  rawRequest,
  send,
  type Answer,
} from './support/hostile-client.ts';
import { generate } from './support/kong.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';
import { account, deadLetters, Fleet, idsIn, MiB, rssBytes, waitForAll } from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';

const fleet = new Fleet();
const report = reliabilityReport('reliability-hostile-http');
const TOKEN = 'hostile-test-bearer-token-5f3a';
const USER = 'kong';
const PASSWORD = 'hostile-test-password-9c1e';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const JSON_TYPE = { 'content-type': 'application/json' };
const MARKER = `klr-pwned-${process.pid}`;

/** What was sent and what must (not) arrive, across the tests of this file. */
const ledger = {
  owed: new Set<string>(),
  forbidden: new Set<string>(),
  /** Sum of `dead_lettered` in 2xx reports of the lenient source. */
  reportedDeadLettered: 0,
  answers: {} as Record<string, number>,
  hostileRequests: 0,
};
let seed = 700;
/** Fresh entries with unique ids. */
function fresh(n: number): { id: string; text: string }[] {
  return generate(n, { seed: seed++ });
}

function count(status: number | 'error'): void {
  ledger.answers[status] = (ledger.answers[status] ?? 0) + 1;
  ledger.hostileRequests++;
}

describe('reliability: hostile input on the HTTP receiver', () => {
  let dir = '';
  let daemon: Daemon;
  let hook: WebhookReceiver;
  let lenient = '';
  let strict = '';
  let lenientPort = 0;
  let strictPort = 0;
  const agent = new Agent({ connections: 16, keepAliveTimeout: 1_000 });
  after(() => agent.destroy());

  before(async () => {
    dir = fleet.dir('klr-rel-hostile-http-');
    hook = await fleet.receiver();
    const limits = 'max_body_bytes: 1MiB, max_entry_bytes: 256KiB, request_timeout: 3s, headers_timeout: 1s';
    daemon = await fleet.daemon(
      dir,
      `
sources:
  lenient: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { bearer: "${TOKEN}" }, invalid: dead_letter, ${limits} }
  strict: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { basic: { user: ${USER}, password: "${PASSWORD}" } }, invalid: reject, ${limits} }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "${hook.url}/all", batch: { max_wait: 50ms } }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
    );
    const sources = (await daemon.status()).sources as Record<string, { listen: string }>;
    lenient = `http://${sources.lenient.listen}/kong`;
    strict = `http://${sources.strict.listen}/kong`;
    lenientPort = Number(sources.lenient.listen.split(':').at(-1));
    strictPort = Number(sources.strict.listen.split(':').at(-1));
  });

  /**
   * POST the same kind of body to both sources. The lenient one must answer 200, take the entries
   * at `good` and dead-letter `bad` items; the strict one must answer 400 and take nothing.
   */
  async function both(
    body: (e: { id: string; text: string }[]) => string | Buffer,
    spec: { entries: number; good: number[]; bad: number },
    headers: Record<string, string> = JSON_TYPE,
  ): Promise<void> {
    const mine = fresh(spec.entries);
    const a = await send(agent, lenient, {
      headers: { ...headers, authorization: `Bearer ${TOKEN}` },
      body: body(mine),
    });
    count(a.status);
    assert.equal(a.status, 200, `lenient: ${a.text}`);
    const r = JSON.parse(a.text) as { accepted: number; dead_lettered: number };
    assert.deepEqual(
      { accepted: r.accepted, dead_lettered: r.dead_lettered },
      { accepted: spec.good.length, dead_lettered: spec.bad },
    );
    ledger.reportedDeadLettered += r.dead_lettered;
    mine.forEach((e, i) => (spec.good.includes(i) ? ledger.owed : ledger.forbidden).add(e.id));
    const other = fresh(spec.entries);
    const s = await send(agent, strict, { headers: { ...headers, authorization: BASIC }, body: body(other) });
    count(s.status);
    assert.equal(s.status, 400, `strict: ${s.text}`);
    assert.ok((JSON.parse(s.text) as { errors: unknown[] }).errors.length >= 1, 'the 400 says which entries were bad');
    for (const e of other) ledger.forbidden.add(e.id);
  }

  /**
   * A request that must be refused with `status` by both sources (or, for a body too large to
   * upload, a connection closed under it); its entries must never arrive.
   */
  async function refused(
    status: number,
    options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | AsyncIterable<Buffer> },
    opts: { lenientOnly?: boolean; orReset?: boolean } = {},
  ): Promise<void> {
    const targets =
      opts.lenientOnly === true
        ? [[lenient, `Bearer ${TOKEN}`]]
        : [
            [lenient, `Bearer ${TOKEN}`],
            [strict, BASIC],
          ];
    for (const [url, auth] of targets) {
      const a: Answer = await send(agent, url, { ...options, headers: { authorization: auth, ...options.headers } });
      count(a.status);
      if (opts.orReset === true && a.status === 'error') continue;
      assert.equal(a.status, status, `${url}: ${a.text}`);
    }
  }

  it('invalid JSON, non-objects and deep nesting: dead-lettered with a 2xx report, or 400', async () => {
    await both((e) => e[0].text.slice(0, -40), { entries: 1, good: [], bad: 1 });
    await both((e) => `[${e[0].text}, 42, "x", null, ${e[1].text}]`, { entries: 2, good: [0, 1], bad: 3 });
    await both(() => `${'['.repeat(100_000)}${']'.repeat(100_000)}`, { entries: 0, good: [], bad: 1 });
    await both(() => `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`, { entries: 0, good: [], bad: 1 });
    // Nested deeper than lua-cjson writes (1000 levels) but within the scanner's limit: delivered.
    const nested = fresh(2);
    const n = await send(agent, lenient, {
      headers: { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` },
      body: `[${nested[0].text},${nested[1].text.replace(/\}$/, `,"deep":${'['.repeat(1500)}${']'.repeat(1500)}}`)}]`,
    });
    count(n.status);
    assert.equal(n.status, 200);
    assert.deepEqual(JSON.parse(n.text), { accepted: 2, dead_lettered: 0, errors: [] });
    for (const e of nested) ledger.owed.add(e.id);
    // An entry nested past the limit (MAX_DEPTH) inside an array of good ones: the array cannot be split, all of it is dead-lettered.
    const deep = fresh(3);
    const a = await send(agent, lenient, {
      headers: { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` },
      body: `[${deep[0].text},${deep[1].text.replace(/\}$/, `,"deep":${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}}`)},${deep[2].text}]`,
    });
    count(a.status);
    assert.equal(a.status, 200);
    ledger.reportedDeadLettered += (JSON.parse(a.text) as { dead_lettered: number }).dead_lettered;
    for (const d of deep) ledger.forbidden.add(d.id);
    await both(() => '', { entries: 0, good: [], bad: 1 });
  });

  it('huge strings and bodies: an entry over max_entry_bytes is dead-lettered or rejected; a body over max_body_bytes is 413, also chunked', async () => {
    await both((e) => `[${e[0].text},${e[1].text.replace(/\}$/, `,"huge":"${'A'.repeat(600 * 1024)}"}`)}]`, {
      entries: 2,
      good: [0],
      bad: 1,
    });
    const big = fresh(1)[0];
    // Answered before the upload ends: the client may see the 413 or only the connection closing (Kong retries either way).
    await refused(413, { headers: JSON_TYPE, body: `[${big.text},"${'B'.repeat(5 * MiB)}"]` }, { orReset: true });
    ledger.forbidden.add(big.id);
    await refused(413, { headers: { ...JSON_TYPE }, body: chunked(5 * MiB) }, { lenientOnly: true, orReset: true });
  });

  it('wrong content types and encodings: 415, nothing taken', async () => {
    for (const type of [
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/json; charset=iso-8859-1',
      'application/x-www-form-urlencoded',
    ]) {
      const e = fresh(1)[0];
      await refused(415, { headers: { 'content-type': type }, body: e.text });
      ledger.forbidden.add(e.id);
    }
    for (const encoding of ['br', 'deflate', 'compress']) {
      const e = fresh(1)[0];
      await refused(415, { headers: { ...JSON_TYPE, 'content-encoding': encoding }, body: e.text });
      ledger.forbidden.add(e.id);
    }
    const e = fresh(1)[0];
    await refused(415, { headers: {}, body: e.text });
    ledger.forbidden.add(e.id);
  });

  it('gzip: a bomb is cut at max_body_bytes (413); a broken stream is dead-lettered or rejected', async () => {
    const bomb = await gzipBomb(256);
    await refused(413, { headers: { ...JSON_TYPE, 'content-encoding': 'gzip' }, body: bomb });
    await both(
      () => Buffer.from('this is not gzip at all'),
      { entries: 0, good: [], bad: 1 },
      { ...JSON_TYPE, 'content-encoding': 'gzip' },
    );
  });

  it('credentials: missing, wrong, the other scheme, oversized: 401 (or 431) and nothing ingested', async () => {
    const cases: [string, Record<string, string>, number][] = [
      [lenient, {}, 401],
      [lenient, { authorization: 'Bearer wrong-token' }, 401],
      [lenient, { authorization: `Bearer ${TOKEN}x` }, 401],
      [lenient, { authorization: BASIC }, 401],
      [lenient, { authorization: `Token ${TOKEN}` }, 401],
      [lenient, { authorization: TOKEN }, 401],
      [strict, {}, 401],
      [strict, { authorization: `Basic ${Buffer.from(`${USER}:wrong`).toString('base64')}` }, 401],
      [strict, { authorization: 'Basic !!!not-base64!!!' }, 401],
      [strict, { authorization: `Bearer ${TOKEN}` }, 401],
      [strict, { authorization: `Basic ${'A'.repeat(20_000)}` }, 431],
    ];
    for (const [url, headers, status] of cases) {
      const e = fresh(2);
      const a = await send(agent, url, { headers: { ...JSON_TYPE, ...headers }, body: `[${e[0].text},${e[1].text}]` });
      count(a.status);
      if (status === 431) assert.ok(a.status === 431 || a.status === 'error', `oversized header: ${a.status}`);
      else {
        assert.equal(a.status, status, `${JSON.stringify(headers).slice(0, 60)}: ${a.text}`);
        assert.match(String(a.headers['www-authenticate']), /realm="kong-log-relay"/);
      }
      for (const x of e) ledger.forbidden.add(x.id);
    }
  });

  it('paths and methods: traversal, encoded dots, other paths are 404 as written (never normalized); other methods 405', async () => {
    for (const p of [
      '/kong/../kong',
      '/x/../kong',
      '/%6bong',
      '/kong%2f',
      '/./kong',
      '//kong',
      '/KONG',
      '/kong/',
      '/kong/..%2f..%2fetc%2fpasswd',
      '/../../../../etc/passwd',
    ]) {
      const e = fresh(1)[0];
      const a = await rawExchange(lenientPort, [
        rawRequest('POST', p, { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` }, e.text),
      ]);
      count(a.status);
      assert.equal(a.status, 404, `${p}: ${a.text.slice(0, 200)}`);
      ledger.forbidden.add(e.id);
    }
    for (const method of ['GET', 'DELETE', 'OPTIONS', 'TRACE']) {
      const a = await rawExchange(strictPort, [rawRequest(method, '/kong', { authorization: BASIC })]);
      count(a.status);
      assert.equal(a.status, 405, method);
    }
  });

  it('malformed HTTP: garbage, conflicting framing, bad header bytes: 400 and the connection closed', async () => {
    const e = fresh(1)[0];
    const requests = [
      'GARBAGE\r\n\r\n',
      '\u0000\u0001\u0002\u0003\r\n\r\n',
      'POST /kong HTTP/9.9\r\nHost: x\r\n\r\n',
      `POST /kong HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /kong HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(e.text)}\r\n\r\n${e.text}`,
    ];
    for (const r of requests) {
      const a = await rawExchange(lenientPort, [r]);
      count(a.status);
      assert.ok(a.status === 400 || a.status === 0, `${JSON.stringify(r.slice(0, 40))}: ${a.text.slice(0, 100)}`);
    }
    ledger.forbidden.add(e.id);
  });

  it('slow clients: headers or body trickling in are cut off (408) while others are served; nothing of them is taken', async () => {
    const slowEntry = fresh(1)[0];
    const head = `POST /kong HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(slowEntry.text)}\r\n\r\n`;
    const slowHeaders = rawExchange(
      lenientPort,
      ['POST /kong HTTP/1.1\r\nHost: x\r\n', ...'X-Slow: abcdefghijklmnopqrstuvwxyz'.split('')],
      200,
    );
    const slowBody = rawExchange(lenientPort, [head, ...slowEntry.text.slice(0, 200).split('')], 100);
    // Meanwhile an ordinary request is answered at once.
    const normal = fresh(5);
    const n = await send(agent, lenient, {
      headers: { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` },
      body: `[${normal.map((x) => x.text).join(',')}]`,
    });
    assert.equal(n.status, 200);
    for (const x of normal) ledger.owed.add(x.id);
    const [h, b] = await Promise.all([slowHeaders, slowBody]);
    count(h.status);
    count(b.status);
    assert.ok(h.status === 408 || h.status === 0, `slow headers: ${h.text.slice(0, 100)}`);
    assert.ok(b.status === 408 || b.status === 0, `slow body: ${b.text.slice(0, 100)}`);
    ledger.forbidden.add(slowEntry.id);
  });

  it('thousands of connections: idle ones are cut, a burst of 1500 concurrent posts is all taken (Kong-like retries)', async () => {
    const idle = await idleConnections(lenientPort, 2_000, 30_000);
    ledger.hostileRequests += 2_000;
    idle.destroy();
    assert.equal(
      idle.closedByServer,
      2_000,
      'every idle connection was closed by the relay (max connections, headers_timeout)',
    );
    const burst = fresh(1_500);
    const client = new KongHttpLogClient(burst, {
      url: lenient,
      authorization: `Bearer ${TOKEN}`,
      batchSize: 1,
      concurrency: 1_500,
      maxRetryDelayMs: 500,
    });
    fleet.onCleanup(() => client.close());
    await client.run();
    for (const x of burst) ledger.owed.add(x.id);
    assert.equal(client.acked, burst.length);
    ledger.answers['burst 200'] = burst.length;
    ledger.answers['burst refused or reset, retried'] = Object.entries(client.answers)
      .filter(([s]) => s !== '200')
      .reduce((n, [, c]) => n + c, 0);
  });

  it('path traversal in file-name-like fields of entries: delivered as data, no file is created from them', async () => {
    const entries = fresh(4).map((e, i) => {
      const o = JSON.parse(e.text) as Record<string, unknown> & { request: { uri: string } };
      const evil = [
        `../../../../../../tmp/${MARKER}`,
        `..\\..\\..\\${MARKER}`,
        `/${MARKER}/../../etc/passwd`,
        `%2e%2e%2f%2e%2e%2f${MARKER}`,
      ][i];
      o.workspace_name = evil;
      o.workspace = evil;
      o.service = { id: evil, name: evil, ws_id: evil };
      o.route = { id: evil, name: evil, paths: [evil] };
      o.consumer = { id: evil, username: evil, custom_id: evil };
      o.request.uri = `/${evil}?file=${evil}`;
      o.upstream_uri = evil;
      o.source = evil;
      return { id: e.id, text: JSON.stringify(o) };
    });
    // Right after the connection floods, on a fresh connection, on the first try: the burst
    // client still holds its keep-alive connections, which must not lock a new one out.
    const own = new Agent();
    const a = await send(own, lenient, {
      headers: { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` },
      body: `[${entries.map((e) => e.text).join(',')}]`,
    });
    await own.close();
    count(a.status);
    assert.equal(a.status, 200, a.text);
    for (const e of entries) ledger.owed.add(e.id);
  });

  it('afterwards: the daemon is up, every accepted entry arrived once, nothing refused or invalid arrived, dead letters match the reports', async () => {
    const row = report.row('hostile input on the HTTP receiver');
    const owed = [...ledger.owed];
    await waitForAll(() => [{ name: 'hook', owed, arrived: hook.entries('/all') }], 60_000, 'every accepted entry');
    await waitFor(
      () => deadLetters(path.join(dir, 'state'), 'source-lenient').length >= ledger.reportedDeadLettered,
      10_000,
      'dead letters on disk',
    );
    assert.equal(daemon.proc.exitCode, null, 'the daemon is still running');
    assert.equal((await fetch(`${daemon.adminUrl}/healthz`)).status, 200);
    const rss = rssBytes(daemon.proc.pid) ?? 0;
    const dropped = ((await daemon.status()).sources as Record<string, { dropped_connections: number }>).lenient
      .dropped_connections;
    const arrived = hook.entries('/all');
    const result = account(owed.length, [{ name: 'hook', owed, arrived }]);
    const { counts, foreign } = idsIn(arrived);
    const leaked = [...counts.keys()].filter((id) => ledger.forbidden.has(id));
    for (const text of arrived) {
      const parsed: unknown = JSON.parse(text);
      assert.ok(
        parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed),
        'only JSON objects are delivered',
      );
    }
    const lenientDead = deadLetters(path.join(dir, 'state'), 'source-lenient');
    const strictDead = deadLetters(path.join(dir, 'state'), 'source-strict');
    const logs = JSON.stringify(daemon.logs);
    // Nothing is written where an entry's fields point: only the relay's own tree exists.
    const tree = listTree(path.join(dir, 'state'));
    const unexpectedFiles = tree.filter(
      (f) =>
        !/^(checkpoints\/[^/]+\.json|dead-letter\/(source-lenient|source-strict|hook)\/dead-letter-[0-9TZ-]+(-\d+)?\.ndjson)$/.test(
          f,
        ),
    );
    const statuses = Object.entries(ledger.answers)
      .map(([s, n]) => `${s}×${n}`)
      .join(', ');
    row
      .describe(
        `${owed.length} valid entries accepted (incl. a burst of 1500 concurrent posts) next to ${ledger.hostileRequests} hostile requests and connections`,
        'invalid/nested/huge JSON, 413/415 bodies, 256 MiB gzip bomb, broken gzip, 2000 idle connections, slow headers and body, 11 credential variants, 10 traversal paths, malformed HTTP, traversal in entry fields',
      )
      .set(result)
      .note(
        `answers: ${statuses}; forbidden ids that arrived: ${leaked.length}; ${dropped} connections over the limit closed at accept; dead letters ${lenientDead.length} = reported ${ledger.reportedDeadLettered}; RSS ${Math.round(rss / MiB)} MiB`,
      );
    assert.deepEqual(result.missing, { hook: [] });
    assert.deepEqual(leaked, [], 'nothing refused, unauthenticated or dead-lettered was delivered');
    assert.deepEqual(
      foreign.map((t) => t.slice(0, 80)),
      [],
      'nothing without a generator id (an invalid fragment) was delivered',
    );
    assert.equal(result.duplicated, 0);
    assert.equal(lenientDead.length, ledger.reportedDeadLettered, 'each reported dead letter is on disk, no more');
    assert.equal(strictDead.length, 0, 'invalid: reject writes no dead letters');
    assert.ok(!logs.includes(TOKEN) && !logs.includes(PASSWORD), 'no credential in the logs');
    assert.deepEqual(unexpectedFiles, []);
    assert.equal(existsSync(path.join('/tmp', MARKER)), false);
    row.pass();
  });
});

function listTree(root: string, prefix = ''): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
    return e.isDirectory() ? listTree(path.join(root, e.name), rel) : [rel];
  });
}
