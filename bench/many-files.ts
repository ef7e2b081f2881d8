/**
 * Thousands of files (a Kubernetes node's /var/log/containers): the file source over 5,000
 * matching files in one directory → rules → four webhooks. Three parts, in one relay process:
 * 1. timed: one entry is appended to each of the 5,000 files (present and empty at the start);
 *    the clock runs until the receiver has counted every entry;
 * 2. idle: 10 s with nothing written; the relay's CPU time over that span, in % of one core;
 * 3. one live file beside 4,999 idle ones: 30,000 entries appended to one of them; entries/s
 *    until all arrived (compare with p1, which reads one file alone).
 */
import { mkdirSync, appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeBenchConfig } from './config.ts';
import { createRelay, measure, peakRssMb, runCase, workDir, type CaseResult } from './case-support.ts';
import { expectedFor, readEntries } from './input.ts';
import { PeerClient } from './peer-protocol.ts';

const TIMEOUT_MS = 120_000;
const IDLE_MS = 10_000;

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

runCase(async ({ input, pin, peerNodeArgs, options, profileDir }): Promise<CaseResult> => {
  const fileCount = Number(options.files ?? 5_000);
  const liveEntries = Number(options.liveEntries ?? 30_000);
  const work = workDir('files');
  const logDir = path.join(work.dir, 'containers');
  mkdirSync(logDir);
  const files = Array.from({ length: fileCount }, (_, i) =>
    path.join(logDir, `app-${String(i).padStart(5, '0')}_default_main-${i}.log`),
  );
  for (const f of files) writeFileSync(f, '');
  const entries = readEntries(input, fileCount + liveEntries);
  const expectedAll = expectedFor(input, fileCount + liveEntries);
  const expectedFirst = expectedFor(input, fileCount);
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    const { url } = await peer.call({ op: 'receiver', expect: expectedAll.counts });
    const config = writeBenchConfig(
      work.dir,
      { kind: 'file', file: path.join(logDir, '*.log') },
      { kind: 'webhook', url, extra: 'batch: { max_wait: 100ms }' },
    );
    const relay = createRelay(config);
    const startT0 = performance.now();
    await relay.start();
    const startMs = performance.now() - startT0;
    const counts = async (): Promise<number> => total((await peer.call({ op: 'counts' })).counts);
    const waitForTotal = async (want: number): Promise<boolean> => {
      const deadline = Date.now() + TIMEOUT_MS;
      while (Date.now() < deadline) {
        if ((await counts()) >= want) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return false;
    };

    // 1. One entry per file.
    const m = await measure('files', profileDir);
    for (let i = 0; i < fileCount; i++) appendFileSync(files[i], `${entries[i]}\n`);
    const firstComplete = await waitForTotal(total(expectedFirst.counts));
    const { ms, cpuMs } = await m.stop();

    // 2. Idle.
    await new Promise((r) => setTimeout(r, 1_000));
    const idleCpu = process.cpuUsage();
    const idleT0 = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idleUsed = process.cpuUsage(idleCpu);
    const idleCpuPct = ((idleUsed.user + idleUsed.system) / 1000 / (performance.now() - idleT0)) * 100;

    // 3. One live file beside the idle ones.
    const liveT0 = performance.now();
    appendFileSync(files[0], `${entries.slice(fileCount).join('\n')}\n`);
    const liveComplete = await waitForTotal(total(expectedAll.counts));
    const liveMs = performance.now() - liveT0;
    const livePerSec = liveEntries / (liveMs / 1000);
    await relay.stop();
    return {
      name: `${fileCount} files, one entry each → 4 webhooks`,
      entries: fileCount,
      bytes: expectedFirst.bytes,
      ms,
      cpuMs,
      maxRssMb: peakRssMb(),
      complete: firstComplete && liveComplete,
      notes: [
        `start with ${fileCount} files: ${Math.round(startMs)} ms; one entry in each delivered in ${Math.round(ms)} ms`,
        `idle CPU with ${fileCount} files: ${idleCpuPct.toFixed(1)}% of a core (over ${IDLE_MS / 1000} s)`,
        `one live file beside ${fileCount - 1} idle ones: ${Math.round(livePerSec)} entries/s (${liveEntries} entries${liveComplete ? '' : ', INCOMPLETE'})`,
      ],
      extra: { startMs, idleCpuPct, livePerSec },
    };
  } finally {
    await peer.stop();
    work.remove();
  }
});
