/**
 * Overload: pipeline 1 with one slow destination, the "*" webhook that gets every entry. The
 * receiver answers its requests after `stallMs` (default 50 ms), batches hold `batchEvents`
 * (default 100) entries and the webhook has its default concurrency (4), so it drains about
 * 4 × 100 / 50 ms = 8k entries/s while the file source reads about ten times that. The other
 * three webhooks answer at once. Buffers are the defaults (100k events / 32 MiB per
 * destination); `policy` is their when_full (block or drop_newest).
 * Runs for `seconds`, then reports peak RSS, peak buffered entries/bytes, how long the source was
 * paused (block) and how many entries were dropped (drop_newest). Not end to end: the input is
 * never drained (with block, what is left stays behind the checkpoint; with drop_newest the drops
 * are counted).
 */
import type { RelayMetrics } from '../src/telemetry/metrics.ts';
import { writeBenchConfig } from './config.ts';
import { createRelay, measure, peakRssMb, runCase, workDir, type CaseResult } from './case-support.ts';
import { PeerClient } from './peer-protocol.ts';

const SAMPLE_MS = 50;

interface Peaks {
  rss: number;
  events: number;
  bytes: number;
}

function sample(metrics: RelayMetrics, peaks: Peaks): void {
  // Live RSS besides maxRSS: the peak while overloaded, not a start-up transient.
  peaks.rss = Math.max(peaks.rss, process.memoryUsage.rss());
  let events = 0;
  let bytes = 0;
  for (const read of metrics.gauges.values()) {
    const g = read();
    events += g.bufferedEvents;
    bytes += g.bufferedBytes;
  }
  peaks.events = Math.max(peaks.events, events);
  peaks.bytes = Math.max(peaks.bytes, bytes);
}

runCase(async ({ input, pin, options, peerNodeArgs, profileDir }): Promise<CaseResult> => {
  const policy = options.policy === 'drop_newest' ? 'drop_newest' : 'block';
  const stallMs = Number(options.stallMs ?? 50);
  const batchEvents = Number(options.batchEvents ?? 100);
  const seconds = Number(options.seconds ?? 8);
  const heapGrowth = options.heapGrowth === 'v8' ? 'v8' : 'bounded';
  const key = `overload-${policy}${heapGrowth === 'v8' ? '-v8' : ''}`;
  const work = workDir(key);
  const peer = PeerClient.start(pin, peerNodeArgs);
  try {
    const { url } = await peer.call({ op: 'receiver', expect: input.expected, stallMs, stallPath: '/global' });
    const extra = `batch: { max_events: ${batchEvents}, max_wait: 100ms }, buffer: { when_full: ${policy} }`;
    const relay = createRelay(
      writeBenchConfig(
        work.dir,
        { kind: 'file', file: input.file },
        { kind: 'webhook', url, extra },
        'error',
        false,
        heapGrowth,
      ),
    );
    const peaks: Peaks = { rss: 0, events: 0, bytes: 0 };
    const m = await measure(key, profileDir);
    await relay.start();
    const source = relay.metrics.source('kong_file');
    // With drop_newest the source may read the whole file before the time is up: its read rate is
    // counted until then.
    let readAllMs: number | null = null;
    const sampler = setInterval(() => {
      sample(relay.metrics, peaks);
      if (readAllMs === null && source.received >= input.entries) readAllMs = performance.now() - t0;
    }, SAMPLE_MS);
    const t0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    clearInterval(sampler);
    sample(relay.metrics, peaks);
    const { ms, cpuMs } = await m.stop();
    const slow = relay.metrics.destination('global_hook');
    const dropped = Object.values(slow.dropped).reduce((a, b) => a + b, 0);
    const received = source.received;
    const readPerSec = received / ((readAllMs ?? ms) / 1000);
    const drainPerSec = slow.delivered / (ms / 1000);
    const paused = relay.status().sources as Record<string, { paused?: boolean }>;
    // Not drained: the result is taken now; the process ends right after (finish exits).
    return {
      name: `overload (${policy}): the "*" webhook slow (${stallMs} ms a request, ${batchEvents}/batch), default buffers, ${seconds} s${heapGrowth === 'v8' ? ', heap_growth: v8' : ''}`,
      entries: received,
      bytes: source.bytesRead,
      ms,
      cpuMs,
      maxRssMb: peakRssMb(),
      complete: policy === 'block' ? source.pausedMs > 0 || paused.kong_file?.paused === true : dropped > 0,
      extra: {
        readPerSec: Math.round(readPerSec),
        deliveredPerSec: Math.round(drainPerSec),
        overload: Number((readPerSec / drainPerSec).toFixed(1)),
        pausedSec: Number((source.pausedMs / 1000).toFixed(2)),
        paused: paused.kong_file?.paused === true,
        dropped,
        peakBufferedEvents: peaks.events,
        peakBufferedMiB: Number((peaks.bytes / 2 ** 20).toFixed(1)),
        peakRssSampledMb: Math.round(peaks.rss / 2 ** 20),
      },
    };
  } finally {
    await peer.stop();
    work.remove();
  }
});
