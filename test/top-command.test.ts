/**
 * `kong-log-relay top`: a live view of a running relay with one slow destination, driven in a real
 * pseudo-terminal (tmux, 80 columns) and read off the screen; `q` quits. Without a terminal it
 * prints plain lines.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';
import { Daemon, MAIN, waitFor } from './support/daemon.ts';
import { generate } from './support/kong.ts';
import { tempDir } from './support/pipeline.ts';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;

describe('kong-log-relay top', () => {
  let daemon: Daemon;
  let hook: WebhookReceiver;
  let logFile = '';
  let configFile = '';
  before(async () => {
    const dir = tempDir();
    logFile = path.join(dir, 'kong.log');
    writeFileSync(logFile, '');
    hook = await WebhookReceiver.start();
    // The slow destination answers 503 (retried): its buffer fills and it reports the error.
    hook.fault = (req) => (req.url === '/slow' ? { status: 503, body: 'busy' } : null);
    daemon = await Daemon.start(
      dir,
      `
sources:
  kong_file: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
workspaces: { "*": { to: [fast_hook, slow_hook] } }
destinations:
  fast_hook: { type: webhook, url: "${hook.url}/fast", batch: { max_wait: 50ms } }
  slow_hook: { type: webhook, url: "${hook.url}/slow", batch: { max_wait: 50ms, max_events: 10 }, concurrency: 1, retry: { initial_delay: 1s, max_delay: 2s }, buffer: { max_events: 400 } }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
    );
    configFile = daemon.configFile;
    writeFileSync(
      logFile,
      generate(300, { seed: 9 })
        .map((e) => `${e.text}\n`)
        .join(''),
    );
    await waitFor(() => hook.count('/fast') === 300, 30_000, 'the fast destination has everything');
  });
  after(async () => {
    await daemon?.stop();
    await hook?.close();
  });

  it('draws sources and destinations in an 80-column terminal, and q quits', async (t) => {
    if (!hasTmux) {
      if (process.env.CI === 'true') assert.fail('tmux is missing in CI');
      return t.skip('tmux not installed');
    }
    const session = `klr-top-${process.pid}`;
    const tmux = (...args: string[]): string => spawnSync('tmux', args, { encoding: 'utf8' }).stdout;
    spawnSync('tmux', [
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '80',
      '-y',
      '24',
      `${process.execPath} ${MAIN} top --admin ${daemon.adminUrl} --interval 0.3; echo "top exited $?"; sleep 30`,
    ]);
    try {
      let screen = '';
      await waitFor(
        () => {
          screen = tmux('capture-pane', '-p', '-t', session);
          return /slow_hook/.test(screen) && /last error/.test(screen) && /kong_file\s+[\d.]+\s+300/.test(screen);
        },
        20_000,
        'top shows the relay',
      );
      for (const line of screen.split('\n')) assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
      assert.match(screen, /kong-log-relay \S+ node/);
      assert.match(screen, /SOURCE\s+entries\/s\s+total\s+state/);
      assert.match(screen, /kong_file\s+\S+\s+300\s+1 file/);
      assert.match(screen, /fast_hook\s+\S+ \[\.{10}\s+0%\]/, 'the fast buffer is empty');
      assert.match(
        screen,
        /slow_hook\s+\S+ \[#+\.*\s+73%\]\s+290\s+1\s/,
        'the slow one holds 290 of 400, one batch of 10 in flight',
      );
      assert.match(screen, /last error \d+s ago: HTTP 503/);
      tmux('send-keys', '-t', session, 'q');
      await waitFor(() => /top exited 0/.test(tmux('capture-pane', '-p', '-t', session)), 10_000, 'q quits with 0');
    } finally {
      spawnSync('tmux', ['kill-session', '-t', session]);
    }
  });

  it('without a terminal prints plain lines, reading the admin address from -c FILE', async () => {
    // The same config, with the port the daemon got for its admin listener.
    const file = path.join(path.dirname(configFile), 'top.yaml');
    writeFileSync(
      file,
      readFileSync(configFile, 'utf8').replace('"127.0.0.1:0"', `"${new URL(daemon.adminUrl).host}"`),
    );
    const child = spawn(process.execPath, [MAIN, 'top', '-c', file, '--interval', '0.2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    try {
      await waitFor(() => (out.match(/destination slow_hook /g) ?? []).length >= 2, 15_000, 'two rounds of lines');
    } finally {
      child.kill('SIGTERM');
    }
    assert.match(out, /source kong_file entries\/s=\S+ total=300/);
    assert.match(
      out,
      /destination slow_hook entries\/s=\S+ buffer=290\/400 .*in_flight=1 retries=\d+ .*last_error="HTTP 503/,
    );
    assert.doesNotMatch(out, /\x1b\[/, 'no terminal escapes');
  });
});
