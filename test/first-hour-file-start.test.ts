/**
 * `start_at: end` is the default: a first run against an existing file sends nothing, and the log
 * now says so, with how much was skipped and how to send it. A checkpoint at offset 0 (the file
 * was empty when the relay stopped) is a good checkpoint, not one reported as "not usable".
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { Daemon } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';

let hook: WebhookReceiver | null = null;
const daemons: Daemon[] = [];
after(async () => {
  for (const d of daemons) d.proc.kill('SIGKILL');
  await hook?.close();
});

const ENTRY = '{"request":{"method":"GET","uri":"\\/x"},"response":{"status":200}}\n';

const config = (dir: string, url: string): string => `
sources:
  kong_file: { type: file, paths: ["${dir}/logs/*.log"], poll_interval: 50ms }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "${url}/hook", batch: { max_wait: 50ms } }
state_dir: "${dir}/state"
admin: { listen: "127.0.0.1:0" }
log: { format: json }
`;

it('first start at the end of an existing file: logged at info with the bytes skipped and the fix', async () => {
  hook = await WebhookReceiver.start();
  const dir = tempDir();
  mkdirSync(path.join(dir, 'logs'));
  const file = path.join(dir, 'logs', 'kong.log');
  writeFileSync(file, ENTRY.repeat(10));
  const d = Daemon.launch(dir, config(dir, hook.url));
  daemons.push(d);
  await d.waitReady(60_000);
  const bytes = ENTRY.length * 10;
  const line = d.logs.find((l) => l.msg.startsWith('starting at byte'));
  assert.ok(line, d.logs.map((l) => l.msg).join('\n'));
  assert.equal(line.level, 30);
  assert.equal(
    line.msg,
    `starting at byte ${bytes} of ${file}: ${bytes} bytes of older entries skipped; set start_at: beginning to send them`,
  );
  assert.equal((await d.stop()).code, 0);
  assert.equal(hook.count('/hook'), 0, 'nothing older was sent');
});

it('a checkpoint at offset 0 is resumed from, not reported as "not usable"', async () => {
  hook ??= await WebhookReceiver.start();
  const dir = tempDir();
  mkdirSync(path.join(dir, 'logs'));
  const file = path.join(dir, 'logs', 'kong.log');
  writeFileSync(file, '');
  const first = Daemon.launch(dir, config(dir, hook.url));
  daemons.push(first);
  await first.waitReady(60_000);
  assert.equal((await first.stop()).code, 0);

  appendFileSync(file, ENTRY.repeat(3));
  const second = Daemon.launch(dir, config(dir, hook.url));
  daemons.push(second);
  await second.waitReady(60_000);
  const tailing = second.logs.find((l) => l.msg.startsWith('tailing log file from byte'));
  assert.ok(tailing, second.logs.map((l) => l.msg).join('\n'));
  assert.equal(tailing.msg, 'tailing log file from byte 0 (resumed from the checkpoint)');
  assert.ok(!second.hasLog(/not usable/));
  assert.ok(!second.hasLog(/^starting at byte/), 'not a first start');
  assert.equal((await second.stop()).code, 0);
});
