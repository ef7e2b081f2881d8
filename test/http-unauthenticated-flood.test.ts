/**
 * Clients without credentials cannot hold Kong out. Regression: 1,100 connections without
 * credentials, each sending a tiny POST and keeping its 401 connection alive (65 s keep-alive),
 * filled the 1,024-connection cap: every new connection from Kong was reset while they went on.
 * Now a 401 closes its connection, and at a cap the oldest connection that never sent valid
 * credentials makes room. The flood here comes from the same address as Kong (the harder case:
 * the per-client cap holds for both), with real sockets on loopback, bounded in count and time.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { Fleet } from './support/reliability-harness.ts';
import { freePort } from './support/tcp-gate.ts';
import { tempDir } from './support/pipeline.ts';
import { waitFor } from './support/daemon.ts';

const FLOODERS = 1100;
const FLOOD_MS = 8_000;
const TOKEN = 'kong-secret-token';

function entry(i: number): string {
  return JSON.stringify({
    request: { method: 'GET', uri: `/x/${i}`, headers: { host: 'h' } },
    response: { status: 200 },
    id: `e${i}`,
  }).replaceAll('/', '\\/');
}

describe('http source under a flood of unauthenticated keep-alive connections', () => {
  const fleet = new Fleet();

  it(`a Kong-like client gets 200s throughout ${FLOODERS} unauthenticated connections`, {
    timeout: 120_000,
  }, async () => {
    const dir = tempDir();
    const port = await freePort();
    const hook = await fleet.receiver();
    const daemon = await fleet.daemon(
      dir,
      `
sources:
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { bearer: ${TOKEN} } }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "${hook.url}/hook", encoding: ndjson, batch: { max_wait: 50ms } }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
    );

    // The flood: each flooder keeps one connection and connects again 1 s after the server closes
    // it; half send a tiny POST without credentials on it, half send nothing at all.
    let stopping = false;
    const sockets = new Set<net.Socket>();
    let floodRequests = 0;
    let floodAnswers401 = 0;
    const flooder = (silent: boolean): void => {
      if (stopping) return;
      const socket = net.connect(port, '127.0.0.1');
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('data', (d: Buffer) => {
        if (d.toString('latin1').startsWith('HTTP/1.1 401')) floodAnswers401++;
      });
      socket.on('close', () => {
        sockets.delete(socket);
        if (!stopping) setTimeout(() => flooder(silent), 1000).unref();
      });
      socket.once('connect', () => {
        if (silent) return;
        floodRequests++;
        socket.write(
          'POST /kong HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}',
        );
      });
    };
    for (let i = 0; i < FLOODERS; i++) {
      flooder(i % 2 === 0);
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 20));
    }

    // Kong: keep-alive connections (reused), and a client that opens a new connection per request.
    const keepAlive = new Agent({ connections: 4, keepAliveTimeout: 60_000 });
    const answers: Record<string, number> = {};
    let sent = 0;
    const post = async (fresh: boolean): Promise<void> => {
      const i = sent++;
      const status = await request(`http://127.0.0.1:${port}/kong`, {
        method: 'POST',
        dispatcher: keepAlive,
        reset: fresh,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: `[${entry(i)}]`,
        headersTimeout: 10_000,
      }).then(
        async (r) => {
          await r.body.dump();
          return String(r.statusCode);
        },
        (e: Error & { code?: string }) => `error ${e.code ?? e.message}`,
      );
      answers[status] = (answers[status] ?? 0) + 1;
    };
    const end = Date.now() + FLOOD_MS;
    while (Date.now() < end) {
      await Promise.all([post(false), post(false), post(true)]);
      await new Promise((r) => setTimeout(r, 50));
    }
    stopping = true;
    for (const s of sockets) s.destroy();
    await keepAlive.close();

    const status = (await daemon.status()) as { sources?: Record<string, { dropped_connections?: number }> };
    process.stdout.write(
      `# Kong-like answers ${JSON.stringify(answers)}; flood: ${floodRequests} connections with a request, ${floodAnswers401} answered 401; ${JSON.stringify(status.sources ?? status)}\n`,
    );
    assert.deepEqual(Object.keys(answers), ['200'], 'every Kong request answered 200');
    assert.ok(sent >= 3, `only ${sent} Kong requests in ${FLOOD_MS} ms`);
    assert.ok(floodAnswers401 >= FLOODERS / 2, 'the flood was answered (and its connections closed)');
    // The silent half filled the per-client cap: the oldest of them were closed to make room.
    assert.ok((status.sources?.kong?.dropped_connections ?? 0) > 0, 'unproven connections evicted');
    await waitFor(() => hook.count('/hook') === sent, 20_000, 'every Kong entry delivered');
  });
});
