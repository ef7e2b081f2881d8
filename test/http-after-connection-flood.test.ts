/**
 * Right after a connection flood, a new connection from Kong is taken at once. Regression: after a
 * burst of 400 concurrent Kong-like POSTs from one address (each on its own connection), the
 * client kept its keep-alive connections open, as Kong's workers keep theirs and as undici does
 * for the 65 s the relay announces. Those 256 idle connections (the per-client cap), all having
 * sent valid credentials, could never be closed to make room: for a minute every new connection
 * from that address was reset at accept ("other side closed", ECONNRESET). Now a connection with
 * no request in progress makes room (the one idle longest), after those that never sent valid
 * credentials; a new connection is refused only when every connection is busy with a request.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { kongTexts, startHarness, TOKEN, waitFor } from './support/http-harness.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';

const BURST = 400;
const IDLE_FLOOD = 600;

describe('http source right after a connection flood', () => {
  it('a new connection gets 200 on its first try while the flood client still holds its keep-alive connections', {
    timeout: 120_000,
  }, async () => {
    const h = await startHarness();
    const sockets: Socket[] = [];
    const entries = kongTexts(BURST + 2, 91);
    const burst = new KongHttpLogClient(
      entries.slice(0, BURST).map((text, i) => ({ id: String(i), text })),
      {
        url: `${h.url}/kong`,
        authorization: `Bearer ${TOKEN}`,
        batchSize: 1,
        concurrency: BURST,
        maxRetryDelayMs: 200,
      },
    );
    try {
      // Silent connections (never a request) beside the burst, closed by their client afterwards.
      const closed: Promise<void>[] = [];
      for (let i = 0; i < IDLE_FLOOD; i++) {
        const s = connect(h.port, '127.0.0.1');
        s.on('error', () => undefined);
        s.resume();
        closed.push(new Promise((resolve) => s.once('close', () => resolve())));
        sockets.push(s);
      }
      await burst.run();
      assert.equal(burst.acked, BURST, 'the burst was taken in the end (Kong-like retries)');
      for (const s of sockets) s.destroy();
      await Promise.all(closed);

      // A fresh connection, no retry: the relay must take it although the burst client keeps its pool.
      const fresh = new Agent();
      try {
        const answer = await request(`${h.url}/kong`, {
          method: 'POST',
          dispatcher: fresh,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
          body: entries[BURST],
        }).then(
          async (r) => `${r.statusCode} ${await r.body.text()}`,
          (e: Error & { code?: string }) => `error ${e.code ?? ''} ${e.message}`,
        );
        assert.match(answer, /^200 /, 'first try on a fresh connection');
      } finally {
        await fresh.close();
      }
      // And a second client on a new connection too (the room made is not a one-off).
      const second = await h.post(entries[BURST + 1]);
      assert.equal(second.status, 200);

      await waitFor(() => h.sink.texts.length >= BURST + 2, 'every entry at the sink', 30_000);
      assert.equal(h.sink.texts.length, BURST + 2, 'each entry once');
      assert.deepEqual(new Set(h.sink.texts), new Set(entries));
    } finally {
      for (const s of sockets) s.destroy();
      await burst.close();
      await h.close();
    }
  });
});
