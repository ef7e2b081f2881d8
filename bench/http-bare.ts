/**
 * The comparison for case 2b: a bare node:http server that reads each body, JSON.parses it and
 * answers 200 — nothing routed, nothing sent on. The peer's clients send it exactly what they
 * send the relay in 2b (one entry per POST, same connections); requests/s is the figure.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HTTP_TOKEN } from './config.ts';
import { measure, peakRssMb, runCase, type CaseResult } from './case-support.ts';
import { expectedFor } from './input.ts';
import { PeerClient } from './peer-protocol.ts';

runCase(async ({ input, pin, options, peerNodeArgs, profileDir }): Promise<CaseResult> => {
  const entries = Math.min(input.entries, Number(options.entries ?? input.entries));
  const connections = Number(options.connections ?? 8);
  let parsed = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      try {
        JSON.parse(body.toString('utf8'));
        parsed++;
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"accepted":1}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    const { port } = server.address() as AddressInfo;
    await peer.call({
      op: 'prepare',
      url: `http://127.0.0.1:${port}/kong`,
      token: HTTP_TOKEN,
      input,
      entries,
      perRequest: 1,
      connections,
    });
    const m = await measure('http-bare', profileDir);
    const { report } = await peer.call({ op: 'load' });
    const { ms, cpuMs } = await m.stop();
    return {
      name: `bare node:http + JSON.parse, 1 entry/POST, ${connections} clients`,
      entries,
      bytes: expectedFor(input, entries).bytes,
      requests: report.requests,
      ms,
      cpuMs,
      maxRssMb: peakRssMb(),
      complete: parsed === entries && report.failed === 0,
    };
  } finally {
    await peer.stop();
    server.closeAllConnections();
    server.close();
  }
});
