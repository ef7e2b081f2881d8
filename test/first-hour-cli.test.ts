/**
 * The CLI in a newcomer's first hour: `match` and `validate` without the secrets of the config,
 * `match … | head -1` without an EPIPE stack trace, a plain hint under the usual YAML mistakes,
 * Kong's `{id}` in a path regex caught, `--help` listing every command, a port clash naming the
 * listener, and `health -c FILE` asking the admin address the config gives.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Daemon, MAIN, ROOT } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';

/** No RELAY_TOKEN, no AWS credentials, no instance-metadata lookups. */
const CLEAN_ENV: NodeJS.ProcessEnv = (() => {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' };
  delete env.RELAY_TOKEN;
  return env;
})();

function cli(
  args: string[],
  env: NodeJS.ProcessEnv = CLEAN_ENV,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeConfig(text: string): string {
  const file = path.join(tempDir(), 'config.yaml');
  writeFileSync(file, text);
  return file;
}

/** A config that needs ${RELAY_TOKEN} for a source `match` does not use. */
const WITH_SECRET = `
sources:
  kong_http: { type: http, listen: "127.0.0.1:0", path: /kong, auth: { bearer: "\${RELAY_TOKEN}" } }
rules:
  - { name: profile, when: { methods: [PUT], path: '^/profile/(?<id>[^/]+)$' }, to: [hook] }
destinations:
  hook: { type: webhook, url: "http://127.0.0.1:9/hook" }
`;

const ENTRY = '{"request":{"method":"PUT","uri":"\\/profile\\/42","headers":{}},"response":{"status":200}}';

describe('match and validate without the secrets', () => {
  it('validate: an unset ${RELAY_TOKEN} is a warning, exit 0', () => {
    const file = writeConfig(WITH_SECRET);
    const r = cli(['validate', '-c', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning KLR_CONFIG_ENV: sources\.kong_http\.auth\.bearer: environment variable \$\{RELAY_TOKEN\} is not set/,
    );
    assert.match(r.stdout, /valid: 1 source, 1 rule, .*1 warning/);
  });

  it('match: routes entries with ${RELAY_TOKEN} unset, warning on stderr only', () => {
    const file = writeConfig(WITH_SECRET);
    const logs = path.join(tempDir(), 'kong.log');
    writeFileSync(logs, `${ENTRY}\n`);
    const r = cli(['match', '-c', file, '--json', logs]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).destinations, ['hook']);
    assert.match(r.stderr, /warning KLR_CONFIG_ENV/);
  });

  it('run still refuses an unset secret (exit 2)', () => {
    const r = cli(['run', '-c', writeConfig(WITH_SECRET)]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /error KLR_CONFIG_ENV: .*RELAY_TOKEN/);
  });
});

describe('a closed pipe', () => {
  it('match … | head -1 prints one line and exits quietly (no EPIPE, no stack trace)', () => {
    const file = writeConfig(WITH_SECRET);
    const logs = path.join(tempDir(), 'kong.log');
    // Far more output than a pipe buffer holds, so writes go on after head has gone.
    writeFileSync(logs, `${ENTRY}\n`.repeat(50_000));
    const script = `"${process.execPath}" "${MAIN}" match -c "${file}" "${logs}" | head -1; echo "status:\${PIPESTATUS[0]}" >&2`;
    const r = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', env: CLEAN_ENV, timeout: 120_000 });
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, r.stdout);
    assert.match(r.stdout, /^#0 PUT \/profile\/42 200/);
    assert.match(r.stderr, /status:0\s*$/);
    assert.doesNotMatch(r.stderr, /EPIPE|Error|\n\s+at /);
  });
});

describe('plain hints under the usual YAML mistakes', () => {
  it('wrong indentation: the YAML message, and a hint about indentation under it', () => {
    const r = cli(['validate', '-c', writeConfig('rules:\n  - name: a\n    when: methods: [PUT]\n    to: [x]\n')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /config\.yaml:3:\d+: error KLR_CONFIG_YAML: .*\n {2}hint: check the indentation/);
  });

  it('a double-quoted regex: "use single quotes"', () => {
    const r = cli(['validate', '-c', writeConfig('rules:\n  - name: a\n    when: { path: "^/profile/\\d+$" }\n')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /Invalid escape sequence \\d\n {2}hint: .*single quotes/);
  });

  it("Kong's {id} path parameter in a regex is an error that says what to write", () => {
    const r = cli(['validate', '-c', writeConfig(WITH_SECRET.replace('(?<id>[^/]+)', '{id}'))]);
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /error KLR_CONFIG_REGEX: rules\[0\]\.when\.path: regex \/\^\/profile\/\{id\}\$\/ contains \{id\}/,
    );
    assert.match(r.stderr, /\n {2}hint: \{id\} is Kong's path-parameter syntax, not a regex: use \(\?<id>\[\^\/\]\+\)/);
  });

  it('escaped braces are literal braces, and quantifiers like {2} are not taken for parameters', () => {
    const ok = WITH_SECRET.replace("'^/profile/(?<id>[^/]+)$'", () => "'^/profile/\\{id\\}/\\d{2}$'");
    const r = cli(['validate', '-c', writeConfig(ok)]);
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('--help and listeners', () => {
  it('--help lists every command, schema and health included', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    for (const command of ['run', 'validate', 'match', 'replay', 'demo', 'health', 'schema'])
      assert.match(r.stdout, new RegExp(`kong-log-relay ${command}\\b`), command);
  });

  let blocker: Server | null = null;
  after(() => blocker?.close());
  it('a port clash names the listener: "admin.listen 127.0.0.1:PORT: address in use"', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = tempDir();
    const file = path.join(dir, 'config.yaml');
    writeFileSync(
      file,
      `${WITH_SECRET.replace('${RELAY_TOKEN}', 'x')}state_dir: ${JSON.stringify(dir)}\nadmin: { listen: "127.0.0.1:${port}" }\n`,
    );
    const r = cli(['run', '-c', file]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`could not start: admin\\.listen 127\\.0\\.0\\.1:${port}: address in use`));
  });
});

describe('health -c FILE', () => {
  const daemons: Daemon[] = [];
  after(() => {
    for (const d of daemons) d.proc.kill('SIGKILL');
  });

  it('asks /healthz (or /readyz) at the admin address of the config: 0 while up, 1 once it is gone', async () => {
    const dir = tempDir();
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const config = `${WITH_SECRET.replace('${RELAY_TOKEN}', 'x')}state_dir: ${JSON.stringify(dir)}\nadmin: { listen: ":${port}" }\nlog: { format: json }\n`;
    const d = Daemon.launch(dir, config);
    daemons.push(d);
    await d.waitReady(60_000);
    const healthy = cli(['health', '-c', d.configFile]);
    assert.equal(healthy.status, 0, healthy.stderr);
    assert.match(healthy.stdout, new RegExp(`127\\.0\\.0\\.1:${port}/healthz: 200 ok`));
    const ready = cli(['health', '-c', d.configFile, '--ready']);
    assert.equal(ready.status, 0, ready.stderr);
    assert.match(ready.stdout, /\/readyz: 200 \{"ready":true/);
    await d.stop();
    const gone = cli(['health', '-c', d.configFile]);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /ECONNREFUSED/);
  });
});
