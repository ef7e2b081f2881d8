/**
 * `validate --kong-admin`: the config checked against a live gateway (the Admin API stand-in):
 * workspaces, and the services, routes and consumers that rules name, each missing one reported
 * as FILE:LINE:COL like every other config error; Kong OSS (no /workspaces) works without errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { MAIN, ROOT } from './support/daemon.ts';
import { KongAdminStub } from './support/kong-admin-stub.ts';
import { tempDir } from './support/pipeline.ts';

const run = promisify(execFile);
const stubs: KongAdminStub[] = [];
after(async () => {
  for (const s of stubs) await s.close().catch(() => undefined);
});

async function validate(
  config: string,
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string; file: string }> {
  const file = path.join(tempDir('klr-validate-kong-'), 'config.yaml');
  writeFileSync(file, config);
  try {
    const r = await run(process.execPath, [MAIN, 'validate', '--kong-admin', '-c', file], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr, file };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr, file };
  }
}

function config(url: string, rules: string, workspaces = ''): string {
  return `kong_admin:
  url: ${url}
  token: \${KONG_ADMIN_TOKEN:-none}
sources:
  tail: { type: file, paths: ["/var/log/kong/*.log"] }
workspaces:
  "*": { to: [hook] }
${workspaces}
rules:
${rules}
destinations:
  hook: { type: webhook, url: "http://127.0.0.1:9/x" }
`;
}

describe('validate --kong-admin', () => {
  it('names each missing route, service, consumer and workspace with FILE:LINE:COL, and exits 2', async () => {
    const stub = await KongAdminStub.start({ edition: 'enterprise', token: 'tok' });
    stubs.push(stub);
    stub.addWorkspace('payments');
    stub.addWorkspace('billing');
    const svc = stub.create('payments', 'services', { name: 'ledger' });
    stub.create('payments', 'routes', { name: 'charge', service: { id: svc.id } });
    stub.create('billing', 'routes', { name: 'invoice' });
    stub.create('billing', 'consumers', { username: 'app', custom_id: 'c-1' });
    // More routes than one page of Kong's default size: the check follows pagination.
    for (let i = 0; i < 150; i++) stub.create('payments', 'routes', { name: `r${i}` });
    const rules = `  - name: known
    when: { workspace: payments, route: [charge, r149], service: ledger }
    to: [hook]
  - name: wrong-workspace
    when: { workspace: payments, route: invoice }
    to: [hook]
  - name: anywhere
    when: { route: [invoice, refund], consumer: [c-1, nobody] }
    to: [hook]
`;
    const r = await validate(config(stub.url, rules, '  teams: { to: [hook] }\n  billing: { to: [hook] }'), {
      KONG_ADMIN_TOKEN: 'tok',
    });
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    const at = (needle: string): string => {
      const line = lines.find((l) => l.includes(needle));
      assert.ok(line, `no line about ${needle} in:\n${r.stderr}`);
      return line;
    };
    // rules[1].when.route "invoice" exists, but in billing, not in the rule's workspace payments.
    assert.match(
      at('route "invoice"'),
      new RegExp(`^${r.file}:15:41: error KLR_CONFIG_KONG_ADMIN: rules\\[1\\]\\.when\\.route\\[0\\]: `),
    );
    assert.match(
      at('route "refund"'),
      new RegExp(`^${r.file}:18:30: error KLR_CONFIG_KONG_ADMIN: rules\\[2\\]\\.when\\.route\\[1\\]`),
    );
    assert.match(at('consumer "nobody"'), /rules\[2\]\.when\.consumer\[1\]/);
    assert.match(
      at('workspace "teams"'),
      new RegExp(`^${r.file}:8:3: error KLR_CONFIG_KONG_ADMIN: workspaces\\.teams`),
    );
    assert.equal(lines.filter((l) => l.includes('KLR_CONFIG_KONG_ADMIN')).length, 4, r.stderr);
    assert.match(lines.at(-1) ?? '', /invalid: 4 errors/);
  });

  it('passes on Kong OSS, where /workspaces is a 404 and everything is in "default"', async () => {
    const stub = await KongAdminStub.start({ edition: 'oss' });
    stubs.push(stub);
    stub.create('default', 'routes', { name: 'charge' });
    stub.create('default', 'services', { name: 'ledger' });
    const r = await validate(
      config(stub.url, '  - { name: a, when: { route: charge, service: ledger, workspace: default }, to: [hook] }\n'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid: .*checked against the Kong Admin API/);
  });

  it('reports an Admin API that refuses the token, without showing the token', async () => {
    const stub = await KongAdminStub.start({ edition: 'enterprise', token: 'right' });
    stubs.push(stub);
    const r = await validate(config(stub.url, '  - { name: a, when: { route: x }, to: [hook] }\n'), {
      KONG_ADMIN_TOKEN: 'wrong-token-value',
    });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /kong_admin\.url: cannot check against the gateway: .*401.*Invalid credentials/);
    assert.ok(!r.stderr.includes('wrong-token-value'));
  });
});
