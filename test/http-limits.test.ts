/** Oversize bodies, gzip bombs, slow clients and connection floods are refused without hurting the requests that behave. */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FULL_LAYER_ONLY } from './support/layer.ts';
import { gzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { kongTexts, startHarness, TOKEN, waitFor, type Harness } from './support/http-harness.ts';

/** Tests that wait for a server to close a raw socket fail after this instead of hanging. */
const SOCKET_TEST_TIMEOUT_MS = 30_000;

describe('http source: body limits', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ source: { max_body_bytes: '256KiB' } });
  });
  after(async () => {
    await h.close();
  });

  it('a body declared over max_body_bytes gets 413 and nothing is ingested', async () => {
    const entries = kongTexts(200, 51);
    const body = `[${entries.join(',')}]`;
    assert.ok(body.length > 256 * 1024);
    const answer = await h.post(body);
    assert.equal(answer.status, 413);
    assert.equal(h.stats.received, 0);
  });

  it('a chunked body without Content-Length is counted as it streams and stopped at the limit with 413', async () => {
    async function* slowChunks(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 40; i++) {
        yield Buffer.alloc(16 * 1024, 0x20);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const answer = await h.post(slowChunks());
    assert.equal(answer.status, 413);
    assert.equal(answer.headers.connection, 'close');
    assert.equal(h.stats.received, 0);
  });

  it('a body of countless tiny entries is refused with 413, not split and dead-lettered entry by entry', async () => {
    const lines = await h.post('1\n'.repeat(120_000), { contentType: 'application/x-ndjson' });
    assert.equal(lines.status, 413);
    assert.match(lines.json().error ?? '', /entries in one body/);
    const array = await h.post(`[${'0,'.repeat(120_000)}0]`);
    assert.equal(array.status, 413);
    assert.equal(h.deadLetters().length, 0);
    assert.equal(h.stats.received, 0);
  });

  it('a gzip bomb (small compressed, huge decompressed) stops at the limit with 413', async () => {
    const huge = `[${'{"pad":"' + 'a'.repeat(1024 * 1024) + '"}'},${'{"pad":"' + 'b'.repeat(20 * 1024 * 1024) + '"}'}]`;
    const bomb = gzipSync(huge);
    assert.ok(bomb.length < 256 * 1024, `compressed ${bomb.length} bytes`);
    const answer = await h.post(bomb, { headers: { 'content-encoding': 'gzip' } });
    assert.equal(answer.status, 413);
    assert.match(answer.json().error ?? '', /after gunzip/);
    assert.equal(h.stats.received, 0);
    // still serving
    const [entry] = kongTexts(1, 52);
    assert.equal((await h.post(entry)).status, 200);
    await waitFor(() => h.sink.texts.length === 1, 'the entry at the sink');
  });
});

describe('http source: slow clients', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ source: { request_timeout: '600ms', headers_timeout: '400ms' } });
  });
  after(async () => {
    await h.close();
  });

  it('a slow-body client is cut off by the request timeout while other requests are served', {
    timeout: SOCKET_TEST_TIMEOUT_MS,
  }, async () => {
    const [entry] = kongTexts(1, 53);
    const socket = connect(h.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => {
      received += d.toString();
    });
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => undefined);
    // Headers and a first byte of the body, then nothing: the slowloris way.
    socket.write(
      `POST /kong HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${entry.length}\r\n\r\n${entry.slice(0, 1)}`,
    );
    // Meanwhile the relay serves others.
    for (const other of kongTexts(5, 54)) assert.equal((await h.post(other)).status, 200);
    await closed;
    assert.match(received, /^HTTP\/1\.1 408/);
    assert.equal(h.stats.httpRequests['408'], 1);
    await waitFor(() => h.sink.texts.length === 5, 'the five other entries at the sink');
    assert.ok(!h.sink.texts.includes(entry), 'nothing of the cut-off request was taken');
  });

  it('a client that never finishes its headers is cut off too', { timeout: SOCKET_TEST_TIMEOUT_MS }, async () => {
    const socket = connect(h.port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.resume(); // read what comes, so that the end of the connection is seen
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('POST /kong HTTP/1.1\r\nHost: relay\r\n');
    await closed;
    assert.ok((h.stats.httpRequests['408'] ?? 0) >= 2);
  });
});

describe('http source: many connections', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  it('500 concurrent connections each posting an entry are all answered 200 and delivered', {
    ...FULL_LAYER_ONLY,
    timeout: SOCKET_TEST_TIMEOUT_MS,
  }, async () => {
    const entries = kongTexts(500, 55);
    const pool = new Pool(h.url, { connections: 500, pipelining: 0 });
    try {
      const statuses = await Promise.all(
        entries.map(async (entry) => {
          const res = await pool.request({
            path: '/kong',
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
            body: entry,
          });
          await res.body.text();
          return res.statusCode;
        }),
      );
      assert.deepEqual(new Set(statuses), new Set([200]));
      await waitFor(() => h.sink.texts.length === 500, '500 entries at the sink');
      assert.deepEqual(new Set(h.sink.texts), new Set(entries));
    } finally {
      await pool.close();
    }
  });

  it('500 idle sockets do not keep close() from finishing', { timeout: SOCKET_TEST_TIMEOUT_MS }, async () => {
    const sockets = await Promise.all(
      Array.from(
        { length: 500 },
        () =>
          new Promise<ReturnType<typeof connect>>((resolve) => {
            const s = connect(h.port, '127.0.0.1', () => resolve(s));
            s.on('error', () => undefined);
            s.resume();
          }),
      ),
    );
    await h.close();
    await Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.destroyed || s.readableEnded) resolve();
            else s.on('close', () => resolve());
          }),
      ),
    );
    for (const s of sockets) s.destroy();
  });
});

describe('http source: connection flood', () => {
  it('connections beyond the cap are closed at accept and counted; once the flood is gone Kong gets through', {
    timeout: SOCKET_TEST_TIMEOUT_MS,
  }, async () => {
    // The cap is MAX_CONNECTIONS (1024) in production; a small one keeps the kernel's accept backlog out of the test.
    const h = await startHarness({ maxConnections: 10 });
    const sockets: Socket[] = [];
    const closed: Promise<void>[] = [];
    try {
      for (let i = 0; i < 25; i++) {
        await new Promise<void>((connected) => {
          const s = connect(h.port, '127.0.0.1', () => connected());
          sockets.push(s);
          closed.push(new Promise<void>((resolve) => s.on('close', () => resolve())));
          s.on('error', () => connected());
          s.resume();
        });
      }
      await waitFor(() => h.source.status().dropped_connections === 15, '15 connections over the cap dropped');
      for (const s of sockets) s.destroy();
      await Promise.all(closed);
      // The server notices the closed sockets a moment later; like Kong, retry until a slot is free.
      const [entry] = kongTexts(1, 56);
      let status = 0;
      for (let attempt = 0; attempt < 100 && status !== 200; attempt++) {
        status = await h.post(entry).then(
          (a) => a.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(status, 200);
      await waitFor(() => h.sink.texts.length === 1, 'the entry at the sink');
      assert.deepEqual(h.sink.texts, [entry]);
    } finally {
      for (const s of sockets) s.destroy();
      await h.close();
    }
  });
});
