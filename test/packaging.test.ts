/** What the container image and the systemd unit rely on is really there (Docker cannot build here). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'dist', 'src', 'main.js');
const read = (f: string): string => readFileSync(path.join(ROOT, f), 'utf8');

describe('npm package', () => {
  it('the bin entry runs as a program after a build (shebang and executable bit)', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string> };
    const bin = path.join(ROOT, pkg.bin['kong-log-relay']);
    assert.equal(bin, MAIN);
    const run = spawnSync(bin, ['--help'], { encoding: 'utf8' });
    assert.equal(run.error, undefined, `spawning ${bin}: ${String(run.error)}`);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^kong-log-relay <command>/);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('copies only files that exist in the repository', () => {
    const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)].map((m) =>
      m[1].trim().split(/\s+/).slice(0, -1),
    );
    assert.ok(copies.length >= 3);
    for (const sources of copies)
      for (const s of sources) assert.ok(existsSync(path.join(ROOT, s)), `COPY ${s}: missing`);
  });

  it('is multi-stage, runs as a non-root user, on Node 24, with a health check that reads the config', () => {
    assert.equal([...dockerfile.matchAll(/^FROM /gm)].length, 2);
    assert.match(dockerfile, /^FROM node:24-/m);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK [^\n]*\\\n\s*CMD .*"health", "-c", "\/etc\/kong-log-relay\/config\.yaml"/m);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^VOLUME \["\/var\/lib\/kong-log-relay"\]/m);
  });

  it('the config the image starts with validates', () => {
    assert.match(dockerfile, /cp config\/example\.yaml \/etc\/kong-log-relay\/config\.yaml/);
    const r = spawnSync(process.execPath, [MAIN, 'validate', '-c', path.join(ROOT, 'config', 'example.yaml')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });

  it('the compose example builds this directory and mounts a config that validates', () => {
    const compose = read('deploy/docker-compose.yaml');
    assert.match(compose, /build: \.\./);
    for (const f of ['deploy/relay.yaml', 'deploy/kong.yaml']) assert.ok(existsSync(path.join(ROOT, f)), f);
    const r = spawnSync(process.execPath, [MAIN, 'validate', '-c', path.join(ROOT, 'deploy', 'relay.yaml')], {
      encoding: 'utf8',
      env: { ...process.env, RELAY_TOKEN: 'x', RELAY_ADMIN_TOKEN: 'admin-token-0123456789' },
    });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('systemd unit', () => {
  const unit = read('systemd/kong-log-relay.service');

  it('runs the installed entry point as a dedicated user, validates first, reloads with SIGHUP', () => {
    assert.match(unit, /^User=kong-log-relay$/m);
    assert.match(
      unit,
      /^ExecStartPre=.*\/opt\/kong-log-relay\/dist\/src\/main\.js validate -c \/etc\/kong-log-relay\/config\.yaml$/m,
    );
    assert.match(unit, /^ExecStart=.*\/opt\/kong-log-relay\/dist\/src\/main\.js run -c /m);
    assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.match(unit, /^StateDirectory=kong-log-relay$/m);
    assert.match(read('README.md'), /\/opt\/kong-log-relay/);
  });

  it('is hardened', () => {
    for (const line of [
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'NoNewPrivileges=yes',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'SystemCallFilter=@system-service',
      'Restart=on-failure',
    ]) {
      assert.match(unit, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), line);
    }
    assert.match(unit, /^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX$/m);
  });

  it('passes systemd-analyze verify where systemd-analyze exists', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version']);
    if (probe.error !== undefined) {
      t.skip('systemd-analyze is not installed (.ci/run installs it)');
      return;
    }
    const r = spawnSync('systemd-analyze', ['verify', path.join(ROOT, 'systemd', 'kong-log-relay.service')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  });
});
