/**
 * Deno 2 runs the same entry point from source: the daemon tails a file, takes http-log POSTs and
 * delivers every entry byte for byte (Deno writes request bodies its own way: event/byte-string.ts).
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { DENO, Daemon, waitFor } from './support/daemon.ts';
import { generate, idOf } from './support/kong.ts';
import { tempDir } from './support/pipeline.ts';

let hook: WebhookReceiver | null = null;
let daemon: Daemon | null = null;
after(async () => {
  daemon?.proc.kill('SIGKILL');
  await hook?.close();
});

it('under Deno the daemon delivers file and http entries and drains on SIGTERM', {
  skip: !existsSync(DENO) && 'deno is not installed',
}, async () => {
  const dir = tempDir();
  hook = await WebhookReceiver.start();
  mkdirSync(path.join(dir, 'logs'));
  const log = path.join(dir, 'logs', 'kong.log');
  writeFileSync(log, '');
  daemon = await Daemon.start(
    dir,
    `
sources:
  tail: { type: file, paths: ["${dir}/logs/*.log"], poll_interval: 50ms }
  http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { bearer: t0ken }, ack: delivered }
rules:
  - { name: writes, when: { methods: [PUT, PATCH, POST] }, to: [writes] }
workspaces: { "*": { to: [all] } }
destinations:
  all: { type: webhook, url: "${hook.url}/all", encoding: ndjson, batch: { max_wait: 50ms } }
  writes: { type: webhook, url: "${hook.url}/writes", batch: { max_wait: 50ms } }
state_dir: ${dir}/state
# Checked byte for byte (generated entries carry credentials; redaction has its own tests).
redact: false
admin: { listen: "127.0.0.1:0" }
log: { format: json }
`,
    {},
    'deno',
  );
  const status = (await daemon.status()) as { runtime: string; sources: { http: { listen: string } } };
  assert.match(status.runtime, /^deno-2/);
  const fileEntries = generate(300, { seed: 11 });
  appendFileSync(log, `${fileEntries.map((e) => e.text).join('\n')}\n`);
  const httpEntries = generate(100, { seed: 12 });
  const r = await fetch(`http://${status.sources.http.listen}/kong`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer t0ken' },
    body: `[${httpEntries.map((e) => e.text).join(',')}]`,
  });
  assert.equal(r.status, 200);
  await waitFor(() => hook!.count('/all') >= 400, 20_000, 'deliveries under deno');
  const all = [...fileEntries, ...httpEntries];
  assert.ok(all.filter((e) => /[^\x00-\x7f]/.test(e.text)).length >= 10, 'some entries are not ASCII');
  assert.deepEqual(new Set(hook.entries('/all').map(idOf)), new Set(all.map((e) => e.id)));
  assert.deepEqual(
    new Set(hook.entries('/all')),
    new Set(all.map((e) => e.text)),
    'ndjson bodies hold the entries as sent',
  );
  const writes = all.filter((e) => ['PUT', 'PATCH', 'POST'].includes(e.method ?? ''));
  await waitFor(() => hook!.count('/writes') >= writes.length, 10_000, 'rule deliveries');
  assert.deepEqual(new Set(hook.entries('/writes').map(idOf)), new Set(writes.map((e) => e.id)));
  assert.deepEqual(
    new Set(hook.entries('/writes')),
    new Set(writes.map((e) => e.text)),
    'json bodies hold the entries as sent',
  );
  daemon.signal('SIGTERM');
  assert.equal((await daemon.exited).code, 0);
});
