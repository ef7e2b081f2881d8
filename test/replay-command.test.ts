/** `replay`: dead-lettered entries go out again, to their destination or to another one. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { AckGroup } from '../src/core/ack.ts';
import { Pipeline } from '../src/delivery/pipeline.ts';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { createSink } from '../src/sinks/index.ts';
import { RelayMetrics } from '../src/telemetry/metrics.ts';
import { MAIN } from './support/daemon.ts';
import { generate, idOf } from './support/kong.ts';
import { configFromYaml, quietLogger, tempDir } from './support/pipeline.ts';
import { byteStringOf } from '../src/event/byte-string.ts';

const receivers: WebhookReceiver[] = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

function yaml(dir: string, hook: WebhookReceiver): string {
  return `
sources: { t: { type: file, paths: ["${dir}/*.log"] } }
workspaces: { "*": { to: [strict] } }
rules: [{ name: puts, when: { methods: [PUT] }, to: [other] }]
destinations:
  strict: { type: webhook, url: "${hook.url}/strict", batch: { max_wait: 10ms } }
  other: { type: webhook, url: "${hook.url}/other", batch: { max_wait: 10ms } }
state_dir: ${dir}/state
# Replay is checked byte for byte (generated entries carry credentials; redaction has its own tests).
redact: false
`;
}

/** Make a dead-letter file the way the daemon does: a destination that answers 400. */
async function deadLetterFile(
  dir: string,
  hook: WebhookReceiver,
  count: number,
): Promise<{ file: string; ids: string[] }> {
  hook.fault = (req) => (req.url === '/strict' ? { status: 400 } : null);
  const config = configFromYaml(yaml(dir, hook), dir);
  const log = quietLogger();
  const pipeline = new Pipeline(config, (d) => createSink(d, log), new RelayMetrics('t', 'node'), log);
  const entries = generate(count, { seed: 21 });
  const group = new AckGroup(false);
  for (const e of entries) pipeline.ingest(byteStringOf(e.text), group, new RelayMetrics('t', 'node').source('t'));
  group.seal();
  await group.whenDone();
  await pipeline.drain(Date.now() + 1000);
  const dlqDir = path.join(dir, 'state', 'dead-letter', 'strict');
  const [name] = readdirSync(dlqDir);
  hook.fault = null;
  return { file: path.join(dlqDir, name), ids: entries.map((e) => e.id) };
}

function replay(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, 'replay', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    p.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    p.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    p.on('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

describe('kong-log-relay replay', () => {
  it('re-sends each dead-lettered entry once to its destination, byte for byte', async () => {
    const dir = tempDir();
    const hook = await WebhookReceiver.start();
    receivers.push(hook);
    const { file, ids } = await deadLetterFile(dir, hook, 40);
    writeFileSync(path.join(dir, 'config.yaml'), yaml(dir, hook));
    const r = await replay(['-c', path.join(dir, 'config.yaml'), file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /replayed 40 entries: 40 delivered, 0 dead-lettered again, 0 skipped/);
    assert.deepEqual(hook.entries('/strict').map(idOf), ids, 'in the original order');
    const original = new Map(generate(40, { seed: 21 }).map((e) => [e.id, e.text]));
    for (const text of hook.entries('/strict')) assert.equal(text, original.get(idOf(text)));
  });

  it('--to sends them to another destination; a broken line is skipped and reported', async () => {
    const dir = tempDir();
    const hook = await WebhookReceiver.start();
    receivers.push(hook);
    const { file, ids } = await deadLetterFile(dir, hook, 10);
    const { appendFileSync } = await import('node:fs');
    appendFileSync(file, 'not a record\n');
    writeFileSync(path.join(dir, 'config.yaml'), yaml(dir, hook));
    const before = hook.count('/other');
    const r = await replay(['-c', path.join(dir, 'config.yaml'), file, '--to', 'other']);
    assert.equal(r.code, 1, 'exit 1: something was skipped');
    assert.match(r.stderr, /line 11: not a dead-letter record/);
    assert.equal(hook.count('/other') - before, 10);
    assert.deepEqual(hook.entries('/other').slice(-10).map(idOf), ids);
    assert.equal(hook.count('/strict'), 0);
  });

  it('an unknown --to destination is a clear error', async () => {
    const dir = tempDir();
    const hook = await WebhookReceiver.start();
    receivers.push(hook);
    writeFileSync(path.join(dir, 'config.yaml'), yaml(dir, hook));
    writeFileSync(path.join(dir, 'dlq.ndjson'), '');
    const r = await replay(['-c', path.join(dir, 'config.yaml'), path.join(dir, 'dlq.ndjson'), '--to', 'nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--to nope: no such destination \(have: strict, other\)/);
  });

  it('is idempotent: a replayed file moves to replayed/, so replaying the directory again sends nothing twice', async () => {
    const dir = tempDir();
    const hook = await WebhookReceiver.start();
    receivers.push(hook);
    const { file, ids } = await deadLetterFile(dir, hook, 25);
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, yaml(dir, hook));
    const dlqRoot = path.join(dir, 'state', 'dead-letter');
    const first = await replay(['-c', config, dlqRoot]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(hook.entries('/strict').map(idOf), ids);
    assert.ok(!existsSync(file), 'the file left its place');
    assert.ok(existsSync(path.join(path.dirname(file), 'replayed', path.basename(file))), 'and is in replayed/');
    const second = await replay(['-c', config, dlqRoot]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /no dead-letter files/);
    assert.equal(hook.count('/strict'), 25, 'nothing sent twice');
  });

  it('takes several files and globs; entries that fail again are dead-lettered again, not lost', async () => {
    const dir = tempDir();
    const hook = await WebhookReceiver.start();
    receivers.push(hook);
    const a = await deadLetterFile(dir, hook, 5);
    // A second file, as an earlier run of the daemon would have left it.
    const b = await deadLetterFile(tempDir(), hook, 7);
    const bFile = path.join(path.dirname(a.file), 'dead-letter-2000-01-01T00-00-00-000Z.ndjson');
    renameSync(b.file, bFile);
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, yaml(dir, hook));
    hook.fault = (req) => (req.url === '/strict' ? { status: 400 } : null);
    const failed = await replay(['-c', config, path.join(dir, 'state', 'dead-letter', '*', 'dead-letter-*.ndjson')]);
    assert.equal(failed.code, 1, 'exit 1: dead-lettered again');
    assert.match(failed.stderr, /replayed 12 entries: 0 delivered, 12 dead-lettered again/);
    const dlq = path.dirname(a.file);
    const again = readdirSync(dlq).filter((f) => f.endsWith('.ndjson'));
    assert.equal(again.length, 1, 'one new dead-letter file holds them');
    assert.equal(readFileSync(path.join(dlq, again[0]), 'utf8').trim().split('\n').length, 12);
    hook.fault = null;
    const fixed = await replay([
      '-c',
      config,
      path.join(dlq, again[0]),
      a.file.replace(dlq, path.join(dlq, 'replayed')),
    ]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.deepEqual(
      hook.entries('/strict').map(idOf).sort(),
      [...a.ids, ...b.ids, ...a.ids].sort(),
      'the 12 from the new file, and the 5 of a file named explicitly in replayed/',
    );
  });

  it('--dry-run prints each record and where it would go, and sends and moves nothing', async () => {
    const dir = tempDir();
    const hook = await WebhookReceiver.start();
    receivers.push(hook);
    const { file, ids } = await deadLetterFile(dir, hook, 6);
    const config = path.join(dir, 'config.yaml');
    writeFileSync(config, yaml(dir, hook));
    const r = await replay(['-c', config, file, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => ({ line: l, record: JSON.parse(l) as { file: string; line: number; to: string[] } }));
    assert.deepEqual(
      lines.map((l) => idOf(l.line)),
      ids,
    );
    assert.deepEqual(
      lines.map((l) => l.record.line),
      [1, 2, 3, 4, 5, 6],
    );
    for (const { record: l } of lines) assert.deepEqual(l.to, ['strict']);
    const viaRules = await replay(['-c', config, file, '--dry-run', '--to', 'other']);
    assert.ok(viaRules.stdout.includes('"to":["other"]'));
    assert.equal(hook.count('/strict') + hook.count('/other'), 0, 'nothing sent');
    assert.ok(existsSync(file), 'nothing moved');
  });
});
