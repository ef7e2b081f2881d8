/**
 * Dead letters stay where an operator can replay them: a restart continues the newest file, a
 * file or directory removed while running is made again by the next record, and retention goes
 * by total bytes, counting and reporting every record it deletes.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { DeadLetterSettings } from '../src/config/resolve.ts';
import { type DeadLetterDiscard, type DeadLetterRecord, DeadLetterWriter } from '../src/core/dead-letter.ts';
import { AckGroup } from '../src/core/ack.ts';
import { Pipeline } from '../src/delivery/pipeline.ts';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { byteStringOf } from '../src/event/byte-string.ts';
import { createSink } from '../src/sinks/index.ts';
import { RelayMetrics } from '../src/telemetry/metrics.ts';
import { generate, idOf } from './support/kong.ts';
import { configFromYaml, quietLogger, tempDir } from './support/pipeline.ts';

function settings(dir: string, more: Partial<DeadLetterSettings> = {}): DeadLetterSettings {
  return { dir, maxFileBytes: 100 << 20, maxTotalBytes: 1 << 30, maxFiles: undefined, appendToNewest: true, ...more };
}

function record(i: number, pad = 0): DeadLetterRecord {
  return { destination: 'd', reason: 'HTTP 400', attempts: 1, event: `{"id":"e${i}","pad":"${'x'.repeat(pad)}"}` };
}

/** Every record id in the directory's files, in file order. */
function idsIn(dir: string): string[] {
  const ids: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (!f.endsWith('.ndjson')) continue;
    for (const line of readFileSync(path.join(dir, f), 'utf8').split('\n'))
      if (line !== '') ids.push((JSON.parse(line) as { event: { id: string } }).event.id);
  }
  return ids;
}

const files = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.ndjson'));

describe('dead-letter files', () => {
  it('a restart appends to the newest file instead of starting one per start', async () => {
    const dir = path.join(tempDir(), 'dl');
    for (let start = 0; start < 12; start++) {
      const w = new DeadLetterWriter(settings(dir, { maxFiles: 10 }), () => assert.fail('nothing may be discarded'));
      await w.write([record(start)]);
      await w.close();
    }
    assert.equal(files(dir).length, 1);
    assert.deepEqual(
      idsIn(dir),
      Array.from({ length: 12 }, (_, i) => `e${i}`),
    );
  });

  it('a newest file that ends in a torn record, or is full, is left as it is and a new one started', async () => {
    const dir = path.join(tempDir(), 'dl');
    const w1 = new DeadLetterWriter(settings(dir), () => {});
    await w1.write([record(1)]);
    await w1.close();
    const [first] = files(dir);
    appendFileSync(path.join(dir, first), '{"destination":"d","reason":"x","att');
    const w2 = new DeadLetterWriter(settings(dir), () => {});
    await w2.write([record(2)]);
    await w2.close();
    assert.equal(files(dir).length, 2, 'the torn file is not continued');
    assert.ok(readFileSync(path.join(dir, first), 'utf8').endsWith('"att'), 'and not changed');
  });

  it('a file or its directory removed while running is created again by the next record', async () => {
    const dir = path.join(tempDir(), 'dl');
    const w = new DeadLetterWriter(settings(dir), () => {});
    await w.write([record(1)]);
    rmSync(path.join(dir, files(dir)[0]));
    await w.write([record(2)]);
    assert.deepEqual(idsIn(dir), ['e2'], 'the record after the removal is on disk');
    rmSync(dir, { recursive: true });
    await w.write([record(3)]);
    await w.write([record(4)]);
    assert.deepEqual(idsIn(dir), ['e3', 'e4']);
    // Replaced by another file of the same name (moved away and back): still the one at the path.
    const name = path.join(dir, files(dir)[0]);
    const kept = readFileSync(name);
    rmSync(name);
    writeFileSync(name, kept);
    await w.write([record(5)]);
    assert.deepEqual(idsIn(dir), ['e3', 'e4', 'e5']);
    await w.close();
  });

  it('retention deletes the oldest whole files past max_total_bytes and reports each record it deleted', async () => {
    const dir = path.join(tempDir(), 'dl');
    const discarded: DeadLetterDiscard[] = [];
    // ~1 KiB records, 4 KiB files, 10 KiB in all: 3 records a file, the newest files kept.
    const w = new DeadLetterWriter(settings(dir, { maxFileBytes: 4096, maxTotalBytes: 10_240 }), (d) =>
      discarded.push(d),
    );
    for (let i = 0; i < 30; i++) await w.write([record(i, 1000)]);
    await w.close();
    const total = files(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    assert.ok(total <= 10_240, `kept ${total} bytes`);
    const kept = idsIn(dir);
    const deleted = discarded.reduce((n, d) => n + d.records, 0);
    assert.equal(kept.length + deleted, 30, 'every record is either kept or counted as deleted');
    assert.deepEqual(
      kept,
      Array.from({ length: kept.length }, (_, i) => `e${30 - kept.length + i}`),
      'the newest are kept',
    );
    for (const d of discarded) assert.ok(d.bytes > 0 && d.file.startsWith(dir));
  });

  it('the file being written is never deleted, even when it alone is over max_total_bytes', async () => {
    const dir = path.join(tempDir(), 'dl');
    const w = new DeadLetterWriter(settings(dir, { maxTotalBytes: 100 }), () => {});
    await w.write([record(1, 500)]);
    await w.write([record(2, 500)]);
    await w.close();
    assert.deepEqual(idsIn(dir), ['e1', 'e2']);
  });

  it('max_files still limits the number of files when it is set', async () => {
    const dir = path.join(tempDir(), 'dl');
    mkdirSync(dir);
    let deleted = 0;
    const w = new DeadLetterWriter(settings(dir, { maxFileBytes: 200, maxFiles: 2 }), (d) => {
      deleted += d.records;
    });
    for (let i = 0; i < 6; i++) await w.write([record(i, 150)]);
    await w.close();
    assert.equal(files(dir).length, 2);
    assert.equal(idsIn(dir).length + deleted, 6);
  });

  it('a running relay whose dead-letter directory is removed keeps every rejected entry on disk, and /metrics counts what retention deleted', async () => {
    const dir = tempDir();
    const hook = await WebhookReceiver.start();
    hook.fault = () => ({ status: 400 });
    try {
      const config = configFromYaml(
        `
sources: { t: { type: file, paths: ["${dir}/*.log"] } }
workspaces: { "*": { to: [strict] } }
destinations:
  strict: { type: webhook, url: "${hook.url}/strict", batch: { max_wait: 10ms, max_events: 10 }, dead_letter: { max_file_bytes: 8KiB, max_total_bytes: 24KiB } }
state_dir: ${dir}/state
`,
        dir,
      );
      const log = quietLogger();
      const metrics = new RelayMetrics('t', 'node');
      const pipeline = new Pipeline(config, (d) => createSink(d, log), metrics, log);
      const entries = generate(60, { seed: 5 });
      const dlq = path.join(dir, 'state', 'dead-letter', 'strict');
      const send = async (from: number, to: number): Promise<void> => {
        const group = new AckGroup(false);
        for (const e of entries.slice(from, to)) pipeline.ingest(byteStringOf(e.text), group, metrics.source('t'));
        group.seal();
        await group.whenDone();
      };
      await send(0, 10);
      rmSync(dlq, { recursive: true });
      await send(10, 20);
      assert.deepEqual(
        deadLetterIds(dlq),
        entries.slice(10, 20).map((e) => e.id),
        'every entry rejected after the removal is on disk',
      );
      await send(20, 60);
      await pipeline.drain(Date.now() + 1000);
      const kept = deadLetterIds(dlq);
      const text = await metrics.registry.metrics();
      const m = /kong_log_relay_dead_letters_discarded_total\{destination="strict",source=""\} (\d+)/.exec(text);
      assert.ok(m !== null, text);
      assert.ok(Number(m[1]) > 0, 'retention deleted something');
      assert.equal(
        kept.length + Number(m[1]),
        50,
        'kept + counted as deleted = every entry rejected since the removal',
      );
    } finally {
      await hook.close();
    }
  });
});

function deadLetterIds(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ndjson'))
    .sort()
    .flatMap((f) =>
      readFileSync(path.join(dir, f), 'utf8')
        .split('\n')
        .filter((l) => l !== ''),
    )
    .map((l) => idOf(l));
}
