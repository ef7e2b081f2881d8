/**
 * Durations are bounded per key. Regression: `timeout: 30d` passed validate and became a 1 ms
 * timer (setTimeout's limit is 2^31-1 ms, 24.8 days): a healthy webhook got 28 requests for 2
 * entries, then they were dead-lettered; `shutdown_timeout: 30d` cancelled delivery at once.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { loadConfigText } from '../src/config/load.ts';
import { MAIN } from './support/daemon.ts';

const CONFIG = `sources:
  kong: { type: http, listen: "127.0.0.1:9876", auth: { none: true }, keep_alive_timeout: KEEP }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "http://127.0.0.1:1/h", timeout: TIMEOUT }
shutdown_timeout: SHUTDOWN
`;

const config = (timeout: string, shutdown: string, keep = '65s'): string =>
  CONFIG.replace('TIMEOUT', timeout).replace('SHUTDOWN', shutdown).replace('KEEP', keep);

describe('durations are bounded per key', () => {
  it('timeout: 30d and shutdown_timeout: 30d are errors at their line:col, nothing is clamped', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'klr-durations-'));
    try {
      const file = path.join(dir, 'relay.yaml');
      writeFileSync(file, config('30d', '30d'));
      const run = spawnSync(process.execPath, [MAIN, 'validate', '-c', file], { encoding: 'utf8' });
      assert.equal(run.status, 2, run.stderr);
      const lines = run.stderr.split('\n').filter((l) => l.includes('error'));
      assert.ok(
        lines.some((l) =>
          /relay\.yaml:5:\d+: error KLR_CONFIG_INVALID: destinations\.hook\.timeout: "30d" is longer than the maximum of 1h/.test(
            l,
          ),
        ),
        run.stderr,
      );
      assert.ok(
        lines.some((l) =>
          /relay\.yaml:6:\d+: error KLR_CONFIG_INVALID: shutdown_timeout: "30d" is longer than the maximum of 1h/.test(
            l,
          ),
        ),
        run.stderr,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every key stays below the timer limit; values up to the maximum are taken as written', () => {
    const over = loadConfigText(config('1h', '1h', '25d'), '/etc/klr/relay.yaml', {});
    assert.equal(over.config, null);
    assert.match(over.diagnostics.map(formatDiagnostic).join('\n'), /relay\.yaml:2:\d+: .*keep_alive_timeout/);
    const edge = loadConfigText(config('1h', '1h', '1h'), '/etc/klr/relay.yaml', {});
    assert.notEqual(edge.config, null, edge.diagnostics.map(formatDiagnostic).join('\n'));
    assert.equal(edge.config?.shutdownTimeoutMs, 3_600_000);
    const hook = edge.config?.destinations[0];
    assert.equal(hook?.delivery.timeoutMs, 3_600_000);
    const justOver = loadConfigText(config('3600001ms', '1h'), '/etc/klr/relay.yaml', {});
    assert.equal(justOver.config, null);
  });
});
