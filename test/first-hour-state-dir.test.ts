/**
 * A relay that cannot write its state must say so and not start (exit 3), instead of logging
 * "running", answering /readyz with ready:true and retrying EACCES every second forever; a state
 * directory that becomes unwritable later makes /readyz not ready, with the reason.
 *
 * How "cannot write" is made real: a state_dir under a regular file (ENOTDIR, fails as root too),
 * and, where the test runs as root and setpriv exists, the relay run as `nobody` against a
 * root-owned directory (EACCES, the case of the issue). Later: the state directory is replaced
 * by a regular file while the relay runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Daemon, MAIN, ROOT, waitFor } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';

const EXIT_STATE_UNWRITABLE = 3;

const config = (stateDir: string): string => `
sources:
  kong_http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { none: true } }
workspaces: { "*": { to: [hook] } }
destinations:
  hook: { type: webhook, url: "http://127.0.0.1:9/never" }
state_dir: ${JSON.stringify(stateDir)}
admin: { listen: "127.0.0.1:0" }
log: { format: json }
`;

const daemons: Daemon[] = [];
after(async () => {
  for (const d of daemons) d.proc.kill('SIGKILL');
});

function run(configFile: string, asUser?: string): { status: number | null; stdout: string; stderr: string } {
  const [cmd, args] =
    asUser === undefined
      ? [process.execPath, [MAIN, 'run', '-c', configFile]]
      : [
          'setpriv',
          [`--reuid=${asUser}`, '--regid=nogroup', '--clear-groups', process.execPath, MAIN, 'run', '-c', configFile],
        ];
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('run refuses to start when it cannot write its state', () => {
  it('a state_dir that cannot be created: exit 3, a message naming it and the error, never "running"', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'not-a-dir'), '');
    const stateDir = path.join(dir, 'not-a-dir', 'state');
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, config(stateDir));
    const r = run(file);
    assert.equal(r.status, EXIT_STATE_UNWRITABLE, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`cannot write state_dir ${stateDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ENOTDIR`),
    );
    assert.match(r.stderr, /run the relay as a user that can write there/);
    // Dead-letter directories under the failed state_dir are not reported again, one by one.
    assert.doesNotMatch(r.stderr, /dead-letter directory/);
    assert.doesNotMatch(r.stdout, /kong-log-relay running/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('a dead-letter directory that cannot be written is refused the same way', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'blocker'), '');
    const file = path.join(dir, 'config.yaml');
    writeFileSync(
      file,
      config(path.join(dir, 'state')).replace(
        'destinations:',
        `defaults: { dead_letter: { dir: ${JSON.stringify(path.join(dir, 'blocker', 'dl'))} } }\ndestinations:`,
      ),
    );
    const r = run(file);
    assert.equal(r.status, EXIT_STATE_UNWRITABLE, r.stderr);
    assert.match(r.stderr, /cannot write dead-letter directory of destination hook .*blocker.*ENOTDIR/);
  });

  // As nobody, node and the checkout must be reachable: a clone or a node under a 0700 temp dir is not.
  const canDropPrivileges =
    process.getuid?.() === 0 &&
    existsSync(MAIN) &&
    spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, MAIN, '--version'])
      .status === 0;
  it('run as nobody against the default-like root-owned state_dir: EACCES, exit 3', {
    skip: !canDropPrivileges && 'needs root, setpriv, and node and this checkout readable by nobody',
  }, () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    const stateDir = path.join(dir, 'var-lib', 'kong-log-relay');
    mkdirSync(path.dirname(stateDir), { mode: 0o755 });
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, config(stateDir));
    chmodSync(file, 0o644);
    const r = run(file, 'nobody');
    assert.equal(r.status, EXIT_STATE_UNWRITABLE, `${r.stderr}\n${r.stdout}`);
    assert.match(r.stderr, /cannot write state_dir .*kong-log-relay: EACCES/);
    assert.equal(existsSync(stateDir), false);
  });
});

describe('/readyz while running', () => {
  it('says not ready, with the reason, when state_dir stops being writable, and ready again once it is back', async () => {
    const dir = tempDir();
    const stateDir = path.join(dir, 'state');
    const d = Daemon.launch(dir, config(stateDir));
    daemons.push(d);
    await d.waitReady(60_000);
    const readyz = async (): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> => {
      const r = await fetch(`${d.adminUrl}/readyz`);
      return { status: r.status, body: (await r.json()) as { ready: boolean; reasons: string[] } };
    };
    assert.deepEqual((await readyz()).body, { ready: true, reasons: [] });

    // The directory goes away and a regular file takes its name: nothing can be written there.
    renameSync(stateDir, `${stateDir}.moved`);
    writeFileSync(stateDir, '');
    await waitFor(async () => (await readyz()).status === 503, 60_000, '/readyz to turn 503');
    const notReady = await readyz();
    assert.equal(notReady.body.ready, false);
    assert.ok(
      notReady.body.reasons.some((r) => r.startsWith(`cannot write state_dir ${stateDir}:`)),
      JSON.stringify(notReady.body),
    );
    assert.ok(
      d.logs.some((l) => l.level >= 50 && l.msg.startsWith('cannot write state_dir')),
      'logged as an error',
    );

    rmSync(stateDir);
    renameSync(`${stateDir}.moved`, stateDir);
    await waitFor(async () => (await readyz()).status === 200, 60_000, '/readyz to turn 200 again');
    assert.equal((await d.stop()).code, 0);
  });
});
