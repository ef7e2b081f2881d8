/**
 * Pipeline 2: http source (Kong http-log POSTs from the peer's keep-alive clients) → the same
 * routing → four ndjson webhooks on the peer's receiver. Options:
 *   perRequest   entries per POST: 100 (a JSON array, http-log with max_batch_size 100) or
 *                1 (one object per POST, http-log's default queue.max_batch_size = 1: case 2b)
 *   entries      how many entries of the input to send
 *   connections  concurrent keep-alive clients (Kong: about one per nginx worker)
 * The clock runs from the first POST until the receiver has counted every entry and every
 * POST has its answer.
 */
import type { HttpSource } from '../src/sources/http/http-source.ts';
import { HTTP_TOKEN, writeBenchConfig } from './config.ts';
import { createRelay, measure, peakRssMb, runCase, workDir, type CaseResult } from './case-support.ts';
import { expectedFor } from './input.ts';
import { PeerClient } from './peer-protocol.ts';

const TIMEOUT_MS = 120_000;

runCase(async ({ input, pin, options, peerNodeArgs, profileDir }): Promise<CaseResult> => {
  const perRequest = Number(options.perRequest ?? 100);
  const entries = Math.min(input.entries, Number(options.entries ?? input.entries));
  const connections = Number(options.connections ?? 4);
  const expect = expectedFor(input, entries);
  const work = workDir('p2');
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    const { url } = await peer.call({ op: 'receiver', expect: expect.counts });
    const relay = createRelay(
      writeBenchConfig(work.dir, { kind: 'http' }, { kind: 'webhook', url, extra: 'batch: { max_wait: 100ms }' }),
    );
    await relay.start();
    const source = relay.sources[0] as HttpSource;
    await peer.call({
      op: 'prepare',
      url: `http://${source.address()}/kong`,
      token: HTTP_TOKEN,
      input,
      entries,
      perRequest,
      connections,
    });
    const m = await measure(perRequest === 1 ? 'p2b' : 'p2', profileDir);
    const { report } = await peer.call({ op: 'load' });
    const counts = await peer.whenReceived(TIMEOUT_MS);
    const { ms, cpuMs } = await m.stop();
    const final = counts ?? (await peer.call({ op: 'counts' })).counts;
    const http = relay.metrics.source(source.name).httpRequests;
    await relay.stop();
    const notes: string[] = [];
    if (counts === null) notes.push(`timed out; received ${JSON.stringify(final)} of ${JSON.stringify(expect.counts)}`);
    if (report.failed > 0) notes.push(`${report.failed} requests failed`);
    return {
      name:
        perRequest === 1
          ? `pipeline 2b: http, 1 entry/POST, ${connections} clients → rules → 4 webhooks`
          : `pipeline 2: http, ${perRequest} entries/POST, ${connections} clients → rules → 4 webhooks`,
      entries,
      bytes: expect.bytes,
      requests: report.requests,
      ms,
      cpuMs,
      maxRssMb: peakRssMb(),
      complete: counts !== null && report.failed === 0,
      notes,
      extra: {
        delivered: Object.values(final).reduce((a, b) => a + b, 0),
        retried429: report.retried,
        answered200: http['200'] ?? 0,
        loadMs: Math.round(report.ms),
        peerCpuMs: Math.round(report.cpuMs),
      },
    };
  } finally {
    await peer.stop();
    work.remove();
  }
});
