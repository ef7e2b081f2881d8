/**
 * Pipeline 1: file source → rules + workspace routing + "*" → four ndjson webhooks on the
 * peer's receiver; without redaction (p1), or with the default redaction (p1r: about one entry
 * in four of the input carries credentials to mask, and more carry Kong's own "REDACTED"). The relay reads the whole cached input file from its start; the clock runs
 * from relay.start() until the receiver has counted every entry at every webhook.
 */
import { writeBenchConfig } from './config.ts';
import { peakRssMb, runCase, timeFileRelay, workDir, type CaseResult } from './case-support.ts';
import { PeerClient } from './peer-protocol.ts';

const TIMEOUT_MS = 120_000;

runCase(async ({ input, pin, peerNodeArgs, profileDir, options }): Promise<CaseResult> => {
  // options.redact (case p1r): the default redaction; options.buffer 'disk' (case p1d): each
  // webhook with a disk buffer, default fsync policy.
  const redact = options.redact === true;
  const disk = options.buffer === 'disk';
  const key = redact ? 'p1r' : disk ? 'p1d' : 'p1';
  const work = workDir(key);
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    const { url } = await peer.call({ op: 'receiver', expect: input.expected });
    const config = writeBenchConfig(
      work.dir,
      { kind: 'file', file: input.file },
      { kind: 'webhook', url, extra: `batch: { max_wait: 100ms }${disk ? ', buffer: { type: disk }' : ''}` },
      'warn',
      redact,
    );
    // Under Deno (case p1-deno) the profile gets a name of its own.
    const profileName = 'Deno' in globalThis ? `${key}-deno` : key;
    const run = await timeFileRelay(profileName, config, peer, TIMEOUT_MS, profileDir);
    return {
      name: `pipeline 1: file → rules → 4 webhooks (ndjson)${redact ? ', default redaction' : ''}${disk ? ', disk buffers' : ''}`,
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
