import assert from 'node:assert/strict';
import { closeSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { KongTrafficGenerator } from '../tools/kong-traffic.ts';
import type { KongEvent } from '../src/event/kong-event.ts';
import { DELIVERED, type SendResult, type Sink } from '../src/sinks/sink.ts';
import { RecordingSink } from './support/recording-sink.ts';
import { jsonLines, pause, range, seqs, startTail, tailDirs, waitFor } from './support/file-tail-harness.ts';

/** Counts what arrives without keeping it (a recording of 200 MB would be the memory the test measures). */
class CountingSink implements Sink {
  events = 0;
  bytes = 0;
  async send(events: readonly KongEvent[]): Promise<SendResult> {
    this.events += events.length;
    for (const e of events) this.bytes += Buffer.byteLength(e.text) + 1;
    return DELIVERED;
  }
  async close(): Promise<void> {}
}

/** Highest RSS seen while `run` runs, sampled every 50 ms. */
async function peakRss<T>(run: () => Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  try {
    const result = await run();
    return { result, peak: Math.max(peak, process.memoryUsage().rss) };
  } finally {
    clearInterval(timer);
  }
}

/** A file of `bytes` (at least) of generated Kong entries: one block of distinct entries, repeated. */
function writeKongLog(file: string, bytes: number): { lines: number; bytes: number } {
  const gen = new KongTrafficGenerator({ seed: 7 });
  let block = '';
  let blockLines = 0;
  while (block.length < 4 * 1024 * 1024) {
    block += gen.next().text + '\n';
    blockLines++;
  }
  const blockBytes = Buffer.byteLength(block);
  const copies = Math.ceil(bytes / blockBytes);
  const fd = openSync(file, 'w');
  const data = Buffer.from(block);
  for (let i = 0; i < copies; i++) writeSync(fd, data);
  closeSync(fd);
  return { lines: blockLines * copies, bytes: blockBytes * copies };
}

const MiB = 1024 * 1024;

test('backpressure: a full block buffer pauses reading; after the destination resumes every line arrives once', async () => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  writeFileSync(file, jsonLines(0, 20_000));
  const size = statSync(file).size;
  const sink = new RecordingSink();
  sink.stall();
  const run = await startTail(
    dirs,
    {
      delivery:
        '    concurrency: 1\n    buffer: { max_events: 20, when_full: block }\n    batch: { max_events: 10, max_wait: 10ms }',
    },
    sink,
  );
  try {
    await waitFor(
      'pipeline blocked',
      () => run.test.pipeline.blocked && (run.source.status() as { paused: boolean }).paused,
    );
    const readWhenBlocked = run.stats.bytesRead;
    await pause(300); // nothing may be read while blocked
    assert.equal(run.stats.bytesRead, readWhenBlocked);
    assert.ok(
      readWhenBlocked <= 2 * 64 * 1024 && readWhenBlocked < size / 10,
      `read ${readWhenBlocked} of ${size} bytes while blocked`,
    );
    sink.resume();
    await waitFor('every line', () => run.recorded.length >= 20_000, 30_000);
    assert.deepEqual(seqs(run.recorded), range(0, 20_000));
    assert.equal(run.stats.bytesRead, size);
    assert.ok(run.stats.pausedMs > 0);
  } finally {
    await run.stop();
  }
});

async function tailLargeFile(sizeBytes: number, diagnostic: (m: string) => void): Promise<void> {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const written = writeKongLog(file, sizeBytes);
  const sink = new CountingSink();
  const before = process.memoryUsage().rss;
  const started = Date.now();
  const { peak } = await peakRss(async () => {
    const run = await startTail(
      dirs,
      {
        delivery:
          '    buffer: { max_events: 20000, max_bytes: 16MiB, when_full: block }\n    batch: { max_events: 500, max_wait: 50ms }\n    concurrency: 4',
      },
      sink,
    );
    try {
      await waitFor('every line of the large file', () => sink.events >= written.lines, 120_000);
    } finally {
      await run.stop();
      rmSync(dirs.root, { recursive: true, force: true });
    }
  });
  const seconds = (Date.now() - started) / 1000;
  const growth = peak - before;
  diagnostic(
    `${(written.bytes / MiB).toFixed(0)} MiB, ${written.lines} lines in ${seconds.toFixed(2)} s: ${(written.lines / seconds).toFixed(0)} lines/s, ${(written.bytes / MiB / seconds).toFixed(1)} MiB/s; RSS growth ${(growth / MiB).toFixed(0)} MiB`,
  );
  assert.equal(sink.events, written.lines);
  assert.equal(sink.bytes, written.bytes);
  // Bounded by the buffer settings (16 MiB of entries) and one read chunk, not by the file size.
  assert.ok(
    growth < 160 * MiB,
    `RSS grew by ${(growth / MiB).toFixed(0)} MiB while tailing ${(written.bytes / MiB).toFixed(0)} MiB`,
  );
}

test('a 200 MB file is tailed with flat memory', async (t) => {
  await tailLargeFile(200 * MiB, (m) => t.diagnostic(m));
});

test('a 1 GiB file is tailed with flat memory (KLR_BIG=1)', { skip: process.env.KLR_BIG !== '1' }, async (t) => {
  await tailLargeFile(1024 * MiB, (m) => t.diagnostic(m));
});

test('a 100 MB line is skipped with bounded memory and the lines after it arrive', async (t) => {
  const dirs = tailDirs();
  const file = path.join(dirs.logDir, 'access.log');
  const fd = openSync(file, 'w');
  writeSync(fd, jsonLines(0, 1) + '{"pad":"');
  const filler = Buffer.alloc(MiB, 'q');
  for (let i = 0; i < 100; i++) writeSync(fd, filler);
  writeSync(fd, '"}\n' + jsonLines(1, 3));
  closeSync(fd);
  const before = process.memoryUsage().rss;
  const { result: run, peak } = await peakRss(async () => {
    const r = await startTail(dirs);
    await waitFor('lines around the huge one', () => r.recorded.length >= 3, 60_000);
    return r;
  });
  try {
    t.diagnostic(`RSS growth ${((peak - before) / MiB).toFixed(0)} MiB for a 100 MiB line`);
    assert.deepEqual(seqs(run.recorded), range(0, 3));
    assert.deepEqual(run.stats.invalid, { line_too_long: 1 });
    assert.ok(peak - before < 64 * MiB, `RSS grew by ${((peak - before) / MiB).toFixed(0)} MiB`);
  } finally {
    await run.stop();
    rmSync(dirs.root, { recursive: true, force: true });
  }
});
