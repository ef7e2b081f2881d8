/**
 * Pipeline 1: file source → rules + workspace routing + "*" → four ndjson webhooks on the
 * peer's receiver. The relay reads the whole cached input file from its start; the clock runs
 * from relay.start() until the receiver has counted every entry at every webhook.
 */
import { writeBenchConfig } from './config.ts';
import { createRelay, measure, peakRssMb, runCase, workDir, type CaseResult } from './case-support.ts';
import { PeerClient } from './peer-protocol.ts';

const TIMEOUT_MS = 120_000;

runCase(async ({ input, pin, peerNodeArgs, profileDir }): Promise<CaseResult> => {
  const work = workDir('p1');
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    const { url } = await peer.call({ op: 'receiver', expect: input.expected });
    const relay = createRelay(writeBenchConfig(work.dir, { kind: 'file', file: input.file }, { kind: 'webhook', url, extra: 'batch: { max_wait: 100ms }' }));
    const m = await measure('p1', profileDir);
    await relay.start();
    const counts = await peer.whenReceived(TIMEOUT_MS);
    const { ms, cpuMs } = await m.stop();
    const final = counts ?? (await peer.call({ op: 'counts' })).counts;
    await relay.stop();
    return {
      name: 'pipeline 1: file → rules → 4 webhooks (ndjson)',
      entries: input.entries, bytes: input.bytes, ms, cpuMs, maxRssMb: peakRssMb(), complete: counts !== null,
      notes: counts === null ? [`timed out; received ${JSON.stringify(final)} of ${JSON.stringify(input.expected)}`] : [],
      extra: { delivered: Object.values(final).reduce((a, b) => a + b, 0), pausedMs: relay.metrics.source('kong_file').pausedMs },
    };
  } finally {
    await peer.stop();
    work.remove();
  }
});
