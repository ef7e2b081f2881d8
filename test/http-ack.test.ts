/** When Kong gets its answer: after delivery with ack: delivered, 429 under backpressure, 503 while shutting down. */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { kongTexts, startHarness, TOKEN, waitFor, type Answer } from './support/http-harness.ts';

describe('http source: ack: delivered', () => {
  it('answers only after the destination got the entries (stalled, then resumed)', async () => {
    const h = await startHarness({ source: { ack: 'delivered' } });
    try {
      const entries = kongTexts(3, 61);
      h.sink.stall();
      let answer: Answer | null = null;
      const pending = h.post(`[${entries.join(',')}]`).then((a) => {
        answer = a;
        return a;
      });
      // The batch is at the (stalled) sink and the request is still open.
      await waitFor(() => h.test.pipeline.status()[0].inFlight === 1, 'the batch in flight at the stalled sink');
      assert.equal(h.source.status().in_flight, 1);
      assert.equal(answer, null, 'no answer while the destination has not delivered');
      h.sink.resume();
      const done = await pending;
      assert.equal(done.status, 200);
      assert.equal(done.json().accepted, 3);
      assert.deepEqual(h.sink.texts, entries, 'delivered before the answer');
    } finally {
      await h.close();
    }
  });

  it('past ack_timeout it answers 503 with Retry-After, and the entries are still delivered later', async () => {
    const h = await startHarness({ source: { ack: 'delivered', ack_timeout: '200ms', retry_after: '3s' } });
    try {
      const [entry] = kongTexts(1, 62);
      h.sink.stall();
      const answer = await h.post(entry);
      assert.equal(answer.status, 503);
      assert.equal(answer.headers['retry-after'], '3');
      h.sink.resume();
      await waitFor(() => h.sink.texts.includes(entry), 'the entry delivered after all');
    } finally {
      await h.close();
    }
  });

  it('a request waiting for delivery is answered 503 when the source closes, and close() does not hang', async () => {
    const h = await startHarness({ source: { ack: 'delivered' } });
    const [entry] = kongTexts(1, 63);
    h.sink.stall();
    const pending = h.post(entry);
    await waitFor(
      () => h.source.status().in_flight === 1 && h.test.pipeline.status()[0].inFlight === 1,
      'the request waiting for delivery',
    );
    await h.source.stopIntake();
    await h.source.close();
    assert.equal((await pending).status, 503);
    await h.close();
  });
});

describe('http source: backpressure and shutdown', () => {
  it('while a block buffer is full: 429 with Retry-After before the body is read, nothing ingested; then 200 again', async () => {
    const h = await startHarness({
      source: { retry_after: '2s' },
      destination: {
        buffer: { max_events: 2, when_full: 'block' },
        batch: { max_events: 1, max_wait: '1ms' },
        concurrency: 1,
      },
    });
    try {
      const entries = kongTexts(10, 64);
      h.sink.stall();
      // Ingest is synchronous: once a request is answered, `blocked` tells whether the buffer is full.
      let sent = 0;
      while (!h.test.pipeline.blocked) {
        assert.ok(sent < 5, 'the buffer should be full after a few entries');
        assert.equal((await h.post(entries[sent])).status, 200);
        sent++;
      }
      const received = h.stats.received;
      const refused = await h.post(entries[sent]);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers['retry-after'], '2');
      assert.equal(h.stats.received, received, 'nothing ingested');
      h.sink.resume();
      await waitFor(() => !h.test.pipeline.blocked, 'the buffer drained');
      assert.equal((await h.post(entries[sent])).status, 200);
      await waitFor(() => h.sink.texts.length === sent + 1, 'every taken entry delivered');
      assert.deepEqual(h.sink.texts, entries.slice(0, sent + 1), 'each entry once, the refused one after its retry');
    } finally {
      await h.close();
    }
  });

  it('after stopIntake new requests get 503 with Retry-After and the source is not ready', async () => {
    const h = await startHarness();
    try {
      const [a, b] = kongTexts(2, 65);
      assert.equal(h.source.ready, true);
      assert.equal((await h.post(a)).status, 200);
      await h.source.stopIntake();
      assert.equal(h.source.ready, false);
      const answer = await h.post(b);
      assert.equal(answer.status, 503);
      assert.equal(answer.headers['retry-after'], '1');
      await waitFor(() => h.sink.texts.length === 1, 'the first entry delivered');
      assert.deepEqual(h.sink.texts, [a]);
      assert.equal(h.stats.httpRequests['503'], 1);
    } finally {
      await h.close();
    }
  });

  it('a request already uploading when intake stops is still taken and answered', { timeout: 30_000 }, async () => {
    const h = await startHarness();
    try {
      const [entry] = kongTexts(1, 68);
      const socket = connect(h.port, '127.0.0.1');
      let response = '';
      socket.on('data', (d: Buffer) => {
        response += d.toString();
      });
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      socket.write(
        `POST /kong HTTP/1.1\r\nHost: relay\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(entry)}\r\n\r\n${entry.slice(0, 10)}`,
      );
      await waitFor(() => h.source.status().in_flight === 1, 'the request reading its body');
      const stopped = h.source.stopIntake();
      socket.write(entry.slice(10));
      await stopped;
      await closed; // answered with Connection: close
      assert.match(response, /^HTTP\/1\.1 200 /);
      assert.match(response, /connection: close/i);
      await waitFor(() => h.sink.texts.length === 1, 'the entry delivered');
      assert.deepEqual(h.sink.texts, [entry]);
    } finally {
      await h.close();
    }
  });

  it('close() is idempotent and does not hang on idle keep-alive connections', async () => {
    const h = await startHarness();
    const [a] = kongTexts(1, 66);
    assert.equal((await h.post(a)).status, 200); // leaves a keep-alive connection open
    await Promise.all([h.source.close(), h.source.close()]);
    await h.close();
    assert.equal(h.source.ready, false);
  });
});
