/**
 * The admin listener is bounded and can be protected. Regression: idle admin connections took all
 * 4,096 file descriptors of the daemon (Kong's POSTs were reset, the file source failed with
 * EMFILE), and /metrics and /status were open to anyone who reached a listener on all interfaces.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { FULL_LAYER_ONLY } from './support/layer.ts';
import { loadConfigText } from '../src/config/load.ts';
import { idleConnections } from './support/hostile-client.ts';
import { Fleet } from './support/reliability-harness.ts';
import { tempDir } from './support/pipeline.ts';

const TOKEN = 'admin-token-0123456789';

function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

describe('admin listener', () => {
  const fleet = new Fleet();

  it('admin.token guards everything but /healthz and /readyz; idle connections are capped and closed', {
    ...FULL_LAYER_ONLY,
    timeout: 120_000,
  }, async () => {
    const dir = tempDir();
    mkdirSync(`${dir}/logs`);
    const daemon = await fleet.daemon(
      dir,
      `
sources:
  tail: { type: file, paths: ["${dir}/logs/*.log"] }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "http://127.0.0.1:9/h" }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0", token: "${TOKEN}", max_connections: 32, idle_timeout: 2s }
log: { level: info, format: json }
`,
    );
    const base = daemon.adminUrl;
    for (const open of ['/healthz', '/readyz']) assert.equal((await fetch(`${base}${open}`)).status, 200, open);
    for (const guarded of ['/metrics', '/status', '/anything']) {
      const r = await fetch(`${base}${guarded}`);
      assert.equal(r.status, 401, guarded);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = await fetch(`${base}${guarded}`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(wrong.status, 401);
    }
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /kong_log_relay_build_info/);
    assert.equal((await fetch(`${base}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);

    // A flood of idle connections: at most max_connections held, each closed after idle_timeout.
    const pid = daemon.proc.pid ?? 0;
    const before = openDescriptors(pid);
    const port = Number(new URL(base).port);
    const flood = idleConnections(port, 1000, 30_000);
    let peak = before;
    const sampling = setInterval(() => {
      peak = Math.max(peak, openDescriptors(pid));
    }, 20);
    const { closedByServer, destroy } = await flood;
    clearInterval(sampling);
    destroy();
    process.stdout.write(`# descriptors: ${before} before, peak ${peak} under 1000 idle admin connections\n`);
    assert.equal(closedByServer, 1000, 'every idle connection was closed by the daemon');
    assert.ok(peak - before <= 32 + 8, `descriptors grew from ${before} to ${peak}`);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  });

  it('a short admin token is a config error', () => {
    const yaml = `sources: { t: { type: file, paths: ["/x/*.log"] } }\nworkspaces: { "*": { to: [h] } }\ndestinations: { h: { type: webhook, url: "http://127.0.0.1:9/h" } }\nadmin: { listen: "0.0.0.0:9877", token: "short" }\n`;
    const { config, diagnostics } = loadConfigText(yaml, '/etc/r.yaml', {});
    assert.equal(config, null);
    assert.ok(diagnostics.some((d) => d.line === 4 && /at least 16 characters/.test(d.message)));
  });
});
