/**
 * Pipeline 3: file source → the same rules → one SNS topic (every entry, with two message
 * attributes from templates) on fauxqs, the SNS/SQS emulator, in the peer process; a queue
 * subscribed to the topic (raw delivery) is counted. PublishBatch carries at most 10 entries a
 * call, so this case is bound by per-call cost (AWS SDK request signing and serialization
 * here, the emulator's parsing there) rather than by bytes. Option `entries`: a prefix of the
 * input file (written to its own file, so the source reads exactly that).
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeBenchConfig } from './config.ts';
import { peakRssMb, runCase, timeFileRelay, workDir, type CaseResult } from './case-support.ts';
import { expectedFor, type BenchInput } from './input.ts';
import { PeerClient } from './peer-protocol.ts';

const TIMEOUT_MS = 120_000;

/** The first `bytes` bytes of the input (a line boundary) as a file of its own. */
function prefixFile(input: BenchInput, bytes: number, dir: string): string {
  const buffer = Buffer.allocUnsafe(bytes);
  const fd = openSync(input.file, 'r');
  let got = 0;
  try {
    while (got < bytes) {
      const n = readSync(fd, buffer, got, bytes - got, got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  const file = path.join(dir, 'kong.log');
  writeFileSync(file, buffer.subarray(0, got));
  return file;
}

runCase(async ({ input, pin, options, peerNodeArgs, profileDir }): Promise<CaseResult> => {
  const entries = Math.min(input.entries, Number(options.entries ?? 50_000));
  const { bytes } = expectedFor(input, entries);
  const work = workDir('p3');
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    // Each entry is followed by its newline in the file.
    const file = prefixFile(input, bytes + entries, work.dir);
    const { endpoint, topicArn } = await peer.call({ op: 'sns', expect: entries });
    process.env.AWS_ACCESS_KEY_ID ??= 'bench';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'bench';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    // The SDK warns once that it will need Node 22 from 2027 on: not what this run is about.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
    const config = writeBenchConfig(work.dir, { kind: 'file', file }, { kind: 'sns', endpoint, topicArn });
    const run = await timeFileRelay('p3', config, peer, TIMEOUT_MS, profileDir);
    return {
      name: 'pipeline 3: file → rules → SNS (fauxqs, PublishBatch of 10)',
      entries,
      bytes: bytes + entries,
      ms: run.ms,
      cpuMs: run.cpuMs,
      maxRssMb: peakRssMb(),
      complete: run.complete,
      notes: run.complete ? [] : [`timed out; the queue holds ${JSON.stringify(run.counts)} of ${entries}`],
      extra: { published: run.counts.sqs ?? 0 },
    };
  } finally {
    await peer.stop();
    work.remove();
  }
});
