/**
 * The memory the http source spends on request bodies is bounded by max_inflight_body_bytes:
 * requests past it are refused with 503 + Retry-After (Kong retries them, nothing is lost), and
 * every way a request can end gives back exactly the bytes it held.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FULL_LAYER_ONLY } from './support/layer.ts';
import { gzipSync } from 'node:zlib';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { loadConfigText } from '../src/config/load.ts';
import { kongEntries } from '../tools/kong-traffic.ts';
import { kongTexts, startHarness, TOKEN, waitFor, type Harness } from './support/http-harness.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';

const KiB = 1024;
/** Tests with raw sockets fail after this instead of hanging. */
const TEST_TIMEOUT_MS = 30_000;

/** A JSON array of Kong entries of at least `bytes` bytes. */
function arrayOf(bytes: number, seed: number): { body: string; entries: string[] } {
  const entries: string[] = [];
  let size = 2;
  for (const text of kongTexts(Math.ceil(bytes / 1500), seed)) {
    if (size >= bytes) break;
    entries.push(text);
    size += text.length + 1;
  }
  return { body: `[${entries.join(',')}]`, entries };
}

interface PartialPost {
  readonly socket: Socket;
  /** Send the rest of the body; resolves with the raw answer once the server closed the connection. */
  readonly finish: () => Promise<string>;
  readonly closed: Promise<void>;
  /** What the server sent so far (latin1). */
  readonly answer: () => string;
}

/**
 * A request whose body is sent in part: the headers declare its whole length, `sent` bytes of it
 * follow, the rest is sent by `finish()`. The server holds what arrived in the budget meanwhile.
 */
function partialPost(
  port: number,
  body: string | Buffer,
  sent: number,
  headers: Record<string, string> = {},
): PartialPost {
  const bytes = Buffer.from(body);
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1');
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(
    `POST /kong HTTP/1.1\r\nHost: relay\r\nConnection: close\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n${extra}\r\n`,
  );
  socket.write(bytes.subarray(0, sent));
  const finish = async (): Promise<string> => {
    socket.write(bytes.subarray(sent));
    await closed;
    return received;
  };
  return { socket, finish, closed, answer: () => received };
}

function inflight(h: Harness): number {
  return h.source.status().inflight_body_bytes as number;
}

describe('http source: body budget under a burst of large batches', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      source: { max_body_bytes: '256KiB', max_inflight_body_bytes: '512KiB', retry_after: '2s' },
    });
  });
  after(async () => {
    await h.close();
  });

  it('a body that does not fit in what is free is refused with 503, Retry-After and connection: close before it is read', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // Two bodies half received hold 300 KiB of the 512 KiB.
    const held = [arrayOf(200 * KiB, 60), arrayOf(200 * KiB, 61)];
    const partials = held.map((b) => partialPost(h.port, b.body, 150 * KiB));
    await waitFor(() => inflight(h) === 300 * KiB, 'the two bodies held in the budget');

    // Refused on its Content-Length alone, before a byte of its body is sent.
    const refused = arrayOf(240 * KiB, 62);
    const unsent = partialPost(h.port, refused.body, 0);
    await waitFor(() => /^HTTP\/1\.1 503 /.test(unsent.answer()), 'a 503 to the headers alone');
    await unsent.closed;
    assert.match(unsent.answer(), /\r\nretry-after: 2\r\n/i);
    assert.match(unsent.answer(), /\r\nconnection: close\r\n/i);
    assert.match(unsent.answer(), /busy/);
    assert.equal(h.stats.httpRefused.max_inflight_body_bytes, 1);

    // The same with the whole body sent, as Kong does.
    const answer = await h.post(refused.body);
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['retry-after'], '2');
    assert.equal(answer.headers.connection, 'close');
    assert.match(answer.json().error ?? '', /busy/);
    assert.equal(h.stats.httpRefused.max_inflight_body_bytes, 2);

    // A chunked body (no Content-Length) is refused at the chunk that does not fit, mid-body.
    async function* chunks(): AsyncGenerator<Buffer> {
      const bytes = Buffer.from(refused.body);
      for (let i = 0; i < bytes.length; i += 16 * KiB) {
        yield bytes.subarray(i, i + 16 * KiB);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const chunked = await h.post(chunks()).catch(() => null);
    // undici may see the connection close before it reads the answer; either way nothing was taken.
    if (chunked !== null) {
      assert.equal(chunked.status, 503);
      assert.equal(chunked.headers['retry-after'], '2');
    }
    await waitFor(() => h.stats.httpRefused.max_inflight_body_bytes === 3, 'the chunked body refused');
    await waitFor(() => inflight(h) === 300 * KiB, 'what the refused chunked body held released');
    assert.equal(h.stats.received, 0);

    for (const p of partials) assert.match(await p.finish(), /^HTTP\/1\.1 200/);
    await waitFor(() => inflight(h) === 0, 'every body released');
    const expected = held.flatMap((b) => b.entries);
    await waitFor(() => h.sink.texts.length === expected.length, 'the two held bodies delivered');
    assert.deepEqual([...h.sink.texts].sort(), [...expected].sort());
    h.sink.texts.length = 0;
  });

  it('many concurrent large POSTs: some get 503, Kong-like retries deliver every entry exactly once', {
    ...FULL_LAYER_ONLY,
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // ~230 KiB bodies (100 entries), 12 at a time, into a budget of two bodies. Two slow uploads
    // hold 300 KiB of it at first, so that refusals do not depend on how fast this machine is.
    const held = [arrayOf(200 * KiB, 63), arrayOf(200 * KiB, 64)];
    const partials = held.map((b) => partialPost(h.port, b.body, 150 * KiB));
    await waitFor(() => inflight(h) === 300 * KiB, 'the two slow bodies held in the budget');
    const entries = [...kongEntries({ seed: 65 }, 4000)].map((e) => ({ id: e.id, text: e.text }));
    const client = new KongHttpLogClient(entries, {
      url: h.url + '/kong',
      authorization: `Bearer ${TOKEN}`,
      batchSize: 100,
      concurrency: 12,
      maxRetryDelayMs: 50,
    });
    try {
      const sending = client.run();
      const before = h.stats.httpRefused.max_inflight_body_bytes ?? 0;
      await waitFor(
        () => (h.stats.httpRefused.max_inflight_body_bytes ?? 0) >= before + 12,
        'requests refused while the budget is held',
      );
      for (const p of partials) assert.match(await p.finish(), /^HTTP\/1\.1 200/);
      await sending;
    } finally {
      await client.close();
    }
    assert.equal(client.acked, client.batches.length, 'every batch answered 2xx in the end');
    assert.ok((client.answers['503'] ?? 0) > 0, `answers: ${JSON.stringify(client.answers)}`);
    const expected = [...held.flatMap((b) => b.entries), ...entries.map((e) => e.text)];
    await waitFor(() => h.sink.texts.length >= expected.length, 'every entry at the sink');
    // Exactly once: no entry lost, none taken twice (a refused request took nothing).
    assert.equal(h.sink.texts.length, expected.length);
    assert.deepEqual([...h.sink.texts].sort(), expected.sort());
    assert.equal(inflight(h), 0);
    const metrics = await h.test.metrics.text();
    assert.match(metrics, /^kong_log_relay_http_inflight_body_bytes\{source="kong_http"\} 0$/m);
    assert.match(
      metrics,
      /^kong_log_relay_http_requests_refused_total\{source="kong_http",reason="max_inflight_body_bytes"\} [1-9]\d*$/m,
    );
  });
});

describe('http source: every way a request ends gives back its body bytes', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ source: { max_body_bytes: '256KiB', max_inflight_body_bytes: '1MiB' } });
  });
  after(async () => {
    await h.close();
  });

  it('good, aborted mid-body, oversize (413), broken gzip and gzip bomb requests leave the gauge at 0', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    // Good, plain and gzip.
    const good = arrayOf(100 * KiB, 71);
    assert.equal((await h.post(good.body)).status, 200);
    assert.equal((await h.post(gzipSync(good.body), { headers: { 'content-encoding': 'gzip' } })).status, 200);
    assert.equal(inflight(h), 0);

    // Aborted mid-body: the client destroys its socket after part of the body.
    const aborted = partialPost(h.port, arrayOf(200 * KiB, 72).body, 120 * KiB);
    await waitFor(() => inflight(h) >= 120 * KiB, 'the partial body held');
    aborted.socket.destroy();
    await waitFor(() => inflight(h) === 0, 'the aborted body released');

    // Aborted mid-body, gzip.
    const zipped = gzipSync(arrayOf(200 * KiB, 73).body);
    const abortedGzip = partialPost(h.port, zipped, Math.floor(zipped.length / 2), { 'Content-Encoding': 'gzip' });
    await waitFor(() => inflight(h) > 0, 'the partial gzip body held');
    abortedGzip.socket.destroy();
    await waitFor(() => inflight(h) === 0, 'the aborted gzip body released');

    // Oversize: declared (refused before reading) and chunked (refused at the limit).
    const oversize = arrayOf(300 * KiB, 74);
    assert.equal((await h.post(oversize.body)).status, 413);
    async function* chunks(): AsyncGenerator<Buffer> {
      const bytes = Buffer.from(oversize.body);
      for (let i = 0; i < bytes.length; i += 16 * KiB) yield bytes.subarray(i, i + 16 * KiB);
    }
    const chunked = await h.post(chunks()).catch(() => null);
    if (chunked !== null) assert.equal(chunked.status, 413);
    await waitFor(() => (h.stats.httpRequests['413'] ?? 0) === 2, 'both oversize bodies refused');
    // A gzip bomb, stopped at max_body_bytes after gunzip.
    const bomb = gzipSync(`[{"pad":"${'a'.repeat(4 * 1024 * KiB)}"}]`);
    assert.equal((await h.post(bomb, { headers: { 'content-encoding': 'gzip' } })).status, 413);

    // Broken gzip: some of it decodes, then the stream breaks (dead-lettered, 200).
    const broken = Buffer.from(zipped);
    broken.fill(0x41, Math.floor(broken.length / 2));
    const answer = await h.post(broken, { headers: { 'content-encoding': 'gzip' } });
    assert.equal(answer.status, 200);
    assert.equal(answer.json().dead_lettered, 1);

    await waitFor(() => inflight(h) === 0, 'every body released');
    assert.match(await h.test.metrics.text(), /^kong_log_relay_http_inflight_body_bytes\{source="kong_http"\} 0$/m);
    // And the source still takes a good batch.
    assert.equal((await h.post(good.body)).status, 200);
    assert.equal(inflight(h), 0);
  });

  it('with ack: delivered the body is given back once its entries are taken, not when they are delivered', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const d = await startHarness({
      source: { ack: 'delivered', max_body_bytes: '256KiB', max_inflight_body_bytes: '256KiB' },
    });
    try {
      d.sink.stall();
      const batch = arrayOf(200 * KiB, 75);
      const waiting = d.post(batch.body);
      await waitFor(() => d.stats.received === batch.entries.length, 'the entries taken');
      await waitFor(() => inflight(d) === 0, 'the body released while its answer waits for delivery');
      // The whole budget is free for the next batch.
      const next = arrayOf(200 * KiB, 76);
      const second = d.post(next.body);
      d.sink.resume();
      assert.equal((await waiting).status, 200);
      assert.equal((await second).status, 200);
    } finally {
      await d.close();
    }
  });

  it('a body being received when the source closes is given back', { timeout: TEST_TIMEOUT_MS }, async () => {
    const s = await startHarness({ source: { max_body_bytes: '256KiB' } });
    try {
      const partial = partialPost(s.port, arrayOf(200 * KiB, 77).body, 100 * KiB);
      await waitFor(() => inflight(s) >= 100 * KiB, 'the partial body held');
      await s.source.close();
      await partial.closed;
      await waitFor(() => inflight(s) === 0, 'the body released at close');
      assert.equal(s.stats.received, 0);
    } finally {
      await s.close();
    }
  });
});

describe('http source: max_inflight_body_bytes in the config', () => {
  const yaml = (source: string): string => `
sources:
  kong_http:
    type: http
    listen: "127.0.0.1:0"
    auth: { bearer: t }
${source}
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "http://127.0.0.1:9/" }
`;
  const httpSourceOf = (text: string): { maxBodyBytes: number; maxInflightBodyBytes: number } => {
    const r = loadConfigText(text, '/etc/klr/config.yaml', {});
    assert.ok(r.config, r.diagnostics.map(formatDiagnostic).join('\n'));
    const s = r.config.sources[0];
    assert.equal(s.type, 'http');
    return s;
  };

  it("a budget below max_body_bytes is an error at the key's line and column", () => {
    const r = loadConfigText(
      yaml('    max_body_bytes: 10MiB\n    max_inflight_body_bytes: 4MiB'),
      '/etc/klr/config.yaml',
      {},
    );
    assert.equal(r.config, null);
    const d = r.diagnostics.find((x) => x.severity === 'error');
    assert.ok(d);
    assert.deepEqual(d.path, ['sources', 'kong_http', 'max_inflight_body_bytes']);
    assert.equal(d.line, 8);
    assert.ok((d.col ?? 0) > 1);
    assert.match(
      formatDiagnostic(d),
      /^\/etc\/klr\/config\.yaml:8:\d+: error KLR_CONFIG_\w+: sources\.kong_http\.max_inflight_body_bytes: 4MiB is less than max_body_bytes \(10MiB\)/,
    );
  });

  it('a budget equal to max_body_bytes is accepted; without one the default is 64MiB, or 4 × max_body_bytes when larger', () => {
    assert.equal(
      httpSourceOf(yaml('    max_body_bytes: 1MiB\n    max_inflight_body_bytes: 1MiB')).maxInflightBodyBytes,
      1024 ** 2,
    );
    assert.equal(httpSourceOf(yaml('')).maxInflightBodyBytes, 64 * 1024 ** 2);
    // A config that raised max_body_bytes is not refused for a default it never wrote.
    assert.equal(httpSourceOf(yaml('    max_body_bytes: 100MiB')).maxInflightBodyBytes, 400 * 1024 ** 2);
  });
});
