/**
 * A destination that rejects everything (HTTP 400): every entry goes to its dead-letter file at
 * once, the other destination gets everything as if nothing happened, file checkpoints and
 * `ack: delivered` answers still move on; later `kong-log-relay replay` delivers the dead
 * letters, to the original destination or to another one with --to.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MAIN, waitFor } from './support/daemon.ts';
import { generate } from './support/kong.ts';
import { KongHttpLogClient } from './support/kong-http-client.ts';
import { account, deadLetters, Fleet, LogWriter, readCheckpoint, waitForAll } from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';

const fleet = new Fleet();
const report = reliabilityReport('reliability-dead-letter');

/** Run `kong-log-relay replay`; resolves with its exit code and stderr. */
function replay(config: string, file: string, to?: string): Promise<{ code: number | null; stderr: string }> {
  const args = [MAIN, 'replay', '-c', config, file, ...(to === undefined ? [] : ['--to', to])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('reliability: permanent failure', () => {
  it('a destination answering 400 dead-letters everything, the other is unaffected, and replay delivers it later', async () => {
    const row = report.row('permanent failure (HTTP 400), then replay');
    const { dir, logFile } = fleet.kongLogDir('klr-rel-dlq-');
    const state = path.join(dir, 'state');
    const hook = await fleet.receiver();
    let badFixed = false;
    hook.fault = (req) =>
      req.url === '/bad' && !badFixed ? { status: 400, body: '{"error":"schema mismatch"}' } : null;
    const daemon = await fleet.daemon(
      dir,
      `
sources:
  tail: { type: file, paths: ["${logFile}"], start_at: beginning, poll_interval: 50ms }
  kong: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { none: true }, ack: delivered }
workspaces: { "*": { to: [good, bad] } }
destinations:
  good: { type: webhook, url: "${hook.url}/good", batch: { max_events: 100, max_wait: 50ms } }
  bad: { type: webhook, url: "${hook.url}/bad", batch: { max_events: 100, max_wait: 50ms }, retry: { initial_delay: 20ms, max_delay: 100ms } }
  archive: { type: webhook, url: "${hook.url}/archive" }
state_dir: ${state}
shutdown_timeout: 5s
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
    );
    const listen = ((await daemon.status()).sources as Record<string, { listen: string }>).kong.listen;
    const fileEntries = generate(1000, { seed: 401 });
    const httpEntries = generate(500, { seed: 402 });
    const all = [...fileEntries, ...httpEntries];
    row.describe(
      `${fileEntries.length} entries from a file + ${httpEntries.length} POSTed (ack: delivered), each routed to two webhooks`,
      'one webhook answers every request with HTTP 400; later fixed, and replay (once to it, once with --to another)',
    );

    const writer = new LogWriter(logFile);
    writer.append(fileEntries);
    const client = new KongHttpLogClient(httpEntries, { url: `http://${listen}/kong`, batchSize: 50, concurrency: 2 });
    fleet.onCleanup(() => client.close());
    await client.run();
    const ids = all.map((e) => e.id);
    await waitForAll(
      () => [{ name: 'good', owed: ids, arrived: hook.entries('/good') }],
      30_000,
      'the healthy destination got everything',
    );
    await waitFor(() => deadLetters(state, 'bad').length >= all.length, 30_000, 'every entry in the dead-letter file');
    await waitFor(
      () => readCheckpoint(state, 'tail')[0]?.offset === statSync(logFile).size,
      10_000,
      'the checkpoint moved past dead-lettered entries',
    );
    assert.ok(
      client.batches.every((b) => b.attempts === 1),
      'Kong got 200 at once for entries that were dead-lettered (it must not retry them)',
    );
    const dead = deadLetters(state, 'bad');
    assert.equal(hook.count('/bad'), 0);
    for (const d of dead) {
      assert.equal(d.destination, 'bad');
      assert.equal(d.attempts, 1, 'a 400 is not retried');
      assert.match(d.reason, /HTTP 400 from .*schema mismatch/);
    }
    const ok = (await daemon.stop()).code;
    assert.equal(ok, 0);

    badFixed = true;
    const files = [...new Set(dead.map((d) => d.file))];
    for (const f of files) {
      const r = await replay(daemon.configFile, f);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /replayed \d+ entries: \d+ delivered, 0 dead-lettered again, 0 skipped/);
    }
    // Each replayed file moved to replayed/ (a second replay of the directory sends nothing);
    // named explicitly there, it can still be sent elsewhere.
    for (const f of files) {
      const moved = path.join(path.dirname(f), 'replayed', path.basename(f));
      assert.ok(existsSync(moved) && !existsSync(f), `${f} moved to replayed/`);
      const r = await replay(daemon.configFile, moved, 'archive');
      assert.equal(r.code, 0, r.stderr);
    }
    const result = account(all.length, [
      { name: 'good', owed: ids, arrived: hook.entries('/good') },
      { name: 'bad', owed: ids, arrived: hook.entries('/bad') },
    ]);
    const archived = account(all.length, [{ name: 'archive', owed: ids, arrived: hook.entries('/archive') }]);
    row
      .set(result)
      .note(
        `${dead.length} dead letters in ${files.length} file(s), each with reason and 1 attempt; the file checkpoint and ack: delivered moved past them; replay --to archive delivered ${archived.received}`,
      );
    assert.deepEqual(result.missing, { good: [], bad: [] });
    assert.deepEqual(result.unexpected, { good: [], bad: [] });
    assert.equal(result.duplicated, 0, 'no destination got anything twice');
    assert.deepEqual(archived.missing, { archive: [] });
    row.pass();
  });

  it('replay ignores a record torn at the end of a file by a crash, and still reports a broken line inside one', async () => {
    const dir = fleet.dir('klr-rel-dlq-torn-');
    const hook = await fleet.receiver();
    const config = path.join(dir, 'config.yaml');
    writeFileSync(
      config,
      `
sources: { t: { type: file, paths: ["${dir}/none.log"] } }
workspaces: { "*": { to: [hook] } }
destinations: { hook: { type: webhook, url: "${hook.url}/hook", batch: { max_wait: 10ms } } }
state_dir: ${dir}/state
admin: false
`,
    );
    const [a, b, c] = generate(3, { seed: 403 }).map(
      (e) => `{"destination":"hook","reason":"HTTP 400","attempts":1,"event":${e.text}}`,
    );
    const tornAtEnd = path.join(dir, 'torn-at-end.ndjson');
    writeFileSync(tornAtEnd, `${a}\n${b}\n${c.slice(0, 300)}`);
    const ok = await replay(config, tornAtEnd);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /line 3: incomplete last record .*ignored/);
    assert.match(ok.stderr, /replayed 2 entries: 2 delivered, 0 dead-lettered again, 0 skipped/);
    const brokenInside = path.join(dir, 'broken-inside.ndjson');
    writeFileSync(brokenInside, `${a}\n${c.slice(0, 300)}\n${b}\n`);
    const bad = await replay(config, brokenInside);
    assert.equal(bad.code, 1, 'a broken record inside a file is a problem to report');
    assert.match(bad.stderr, /line 2: not a dead-letter record \(invalid JSON\), skipped/);
  });
});
