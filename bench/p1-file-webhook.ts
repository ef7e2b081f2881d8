/**
 * Pipeline 1: file source → rules + workspace routing + "*" → four ndjson webhooks on the
 * peer's receiver. The relay reads the whole cached input file from its start; the clock runs
 * from relay.start() until the receiver has counted every entry at every webhook.
 */
import { writeBenchConfig } from './config.ts';
import { peakRssMb, runCase, timeFileRelay, workDir, type CaseResult } from './case-support.ts';
import { PeerClient } from './peer-protocol.ts';

const TIMEOUT_MS = 120_000;

runCase(async ({ input, pin, peerNodeArgs, profileDir, options }): Promise<CaseResult> => {
  // options.buffer 'disk' (case p1d): each webhook with a disk buffer, default fsync policy.
  const disk = options.buffer === 'disk';
  const work = workDir(disk ? 'p1d' : 'p1');
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    const { url } = await peer.call({ op: 'receiver', expect: input.expected });
    const config = writeBenchConfig(
      work.dir,
      { kind: 'file', file: input.file },
      { kind: 'webhook', url, extra: `batch: { max_wait: 100ms }${disk ? ', buffer: { type: disk }' : ''}` },
    );
    const run = await timeFileRelay(disk ? 'p1d' : 'p1', config, peer, TIMEOUT_MS, profileDir);
    return {
      name: `pipeline 1: file → rules → 4 webhooks (ndjson)${disk ? ', disk buffers' : ''}`,
      entries: input.entries,
      bytes: input.bytes,
      ms: run.ms,
      cpuMs: run.cpuMs,
      maxRssMb: peakRssMb(),
      complete: run.complete,
      notes: run.complete
        ? []
        : [`timed out; received ${JSON.stringify(run.counts)} of ${JSON.stringify(input.expected)}`],
      extra: { delivered: Object.values(run.counts).reduce((a, b) => a + b, 0), pausedMs: run.pausedMs },
    };
  } finally {
    await peer.stop();
    work.remove();
  }
});
