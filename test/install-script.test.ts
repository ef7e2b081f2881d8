/**
 * The README's systemd install steps, run as written against a temporary root: the README's
 * `deploy/install.sh` line (with `--root DIR` instead of sudo) must produce every file the other
 * steps and the unit use, and the installed code must run. The steps once failed because
 * /etc/kong-log-relay did not exist yet; this test keeps README and script from drifting apart.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { ROOT } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';

/** The shell block under "### Install under systemd" in the README. */
function readmeInstallBlock(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Install under systemd'));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'the README has a sh block under "Install under systemd"');
  return m[1];
}

it("the README's systemd steps install every file the unit and the later steps use", { timeout: 600_000 }, () => {
  const block = readmeInstallBlock();
  const installLines = block.split('\n').filter((l) => /deploy\/install\.sh/.test(l));
  assert.equal(installLines.length, 1, block);
  const command = installLines[0].replace(/#.*$/, '').trim();
  assert.match(command, /^sudo deploy\/install\.sh\b/);

  const root = tempDir('klr-install-');
  const script = `${command.replace(/^sudo /, '')} --root "${root}"`;
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const first = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', env, timeout: 540_000 });
  assert.equal(first.status, 0, first.stdout + first.stderr);

  // What the unit runs and reads.
  const unitPath = path.join(root, 'etc/systemd/system/kong-log-relay.service');
  const unit = readFileSync(unitPath, 'utf8');
  assert.equal(unit, readFileSync(path.join(ROOT, 'systemd/kong-log-relay.service'), 'utf8'));
  const main = /^ExecStart=\S+ (\S+) run -c (\S+)$/m.exec(unit);
  assert.ok(main, 'ExecStart runs main.js with a config');
  assert.ok(existsSync(path.join(root, main[1])), `${main[1]} installed`);
  assert.ok(existsSync(path.join(root, main[2])), `${main[2]} installed`);
  const envFile = /^EnvironmentFile=-?(\S+)$/m.exec(unit)?.[1];
  assert.ok(envFile !== undefined && existsSync(path.join(root, envFile)), `${envFile} installed`);

  // Every /etc/kong-log-relay path the README's later steps name exists, with the modes it says.
  for (const p of new Set(block.match(/\/etc\/kong-log-relay\/[\w.-]+/g) ?? []))
    assert.ok(existsSync(path.join(root, p)), `${p} (named in the README) exists`);
  assert.equal(statSync(path.join(root, 'etc/kong-log-relay/config.yaml')).mode & 0o777, 0o640);
  assert.equal(statSync(path.join(root, 'etc/kong-log-relay/env')).mode & 0o777, 0o600);
  assert.equal(statSync(path.join(root, 'etc/kong-log-relay')).mode & 0o777, 0o750);

  // The installed code runs with its production dependencies only, on the installed config.
  assert.ok(!existsSync(path.join(root, 'opt/kong-log-relay/node_modules/typescript')), 'no dev dependencies');
  const validate = spawnSync(process.execPath, [path.join(root, main[1]), 'validate', '-c', path.join(root, main[2])], {
    encoding: 'utf8',
    env: { ...env, AWS_EC2_METADATA_DISABLED: 'true' },
    timeout: 60_000,
  });
  assert.equal(validate.status, 0, validate.stderr);

  // Run again (an upgrade): the operator's config and env are kept.
  const configFile = path.join(root, 'etc/kong-log-relay/config.yaml');
  writeFileSync(configFile, `${readFileSync(configFile, 'utf8')}# edited by the operator\n`);
  writeFileSync(path.join(root, 'etc/kong-log-relay/env'), 'RELAY_TOKEN=s3cret\n');
  const again = spawnSync('bash', ['-c', script.replace('install.sh', 'install.sh --skip-deps')], {
    cwd: ROOT,
    encoding: 'utf8',
    env,
    timeout: 120_000,
  });
  assert.equal(again.status, 0, again.stdout + again.stderr);
  assert.match(readFileSync(configFile, 'utf8'), /# edited by the operator\n$/);
  assert.equal(readFileSync(path.join(root, 'etc/kong-log-relay/env'), 'utf8'), 'RELAY_TOKEN=s3cret\n');
  assert.match(again.stdout, /kept the existing .*config\.yaml/);
});

it('install.sh refuses an unknown option, and says why', () => {
  const r = spawnSync('bash', [path.join(ROOT, 'deploy/install.sh'), '--bogus'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option --bogus/);
});
