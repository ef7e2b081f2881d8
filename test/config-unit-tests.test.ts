/**
 * `kong-log-relay test`: the config's `tests:` (and files named by --tests) route entries as the
 * daemon would, without any network; a readable report, exit 1 on a failure, JUnit XML for CI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MAIN, ROOT } from './support/daemon.ts';
import { tempDir } from './support/pipeline.ts';

function relayTest(
  args: string[],
  env: Record<string, string> = {},
): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, 'test', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const CONFIG = `
sources: { t: { type: file, paths: ["/tmp/none/*.log"] } }
workspaces:
  payments: { id: ws-1, to: [payments] }
  "*": { to: [everything] }
rules:
  - name: profile-updated
    when: { methods: [PUT], path: '^/profile/\\d+$', status: [2xx] }
    to: [topic]
destinations:
  topic: { type: sns, topic_arn: "arn:aws:sns:us-east-1:123456789012:t" }
  payments: { type: webhook, url: "http://127.0.0.1:9/p" }
  everything: { type: webhook, url: "http://127.0.0.1:9/e" }
`;

function configWith(tests: string): string {
  const dir = tempDir();
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, `${CONFIG}\ntests:\n${tests}`);
  return file;
}

describe('kong-log-relay test', () => {
  it('passes when every expectation holds, and says so per case', () => {
    const file = configWith(`
  - name: profile update
    input: { request: { method: PUT, uri: /profile/7 }, response: { status: 204 } }
    expect:
      destinations: [topic, everything]
      rules: [profile-updated]
      payload: { topic: { request.uri: /profile/7, response.status: 204 } }
  - name: payments workspace by id
    input:
      - { workspace: ws-1, request: { method: GET, uri: /a }, response: { status: 200 } }
      - { workspace_name: payments, request: { method: POST, uri: /b }, response: { status: 500 } }
    expect: { to: [payments, everything], not_to: [topic] }
`);
    const r = relayTest(['-c', file]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /ok {3}profile update\n/);
    assert.match(r.out, /ok {3}payments workspace by id\n/);
    assert.match(r.out, /2 tests: 2 passed, 0 failed/);
  });

  it('a failing case exits 1 and says what was expected and what happened', () => {
    const file = configWith(`
  - name: wrong expectation
    input: { request: { method: PUT, uri: /profile/7/avatar }, response: { status: 200 } }
    expect: { to: [topic] }
  - name: wrong payload
    input: { request: { method: PUT, uri: /profile/7 }, response: { status: 200 } }
    expect: { payload: { topic: { request.method: PATCH, consumer.username: alice } } }
  - name: still fine
    input: { request: { method: GET, uri: / } }
    expect: { destinations: [everything] }
`);
    const r = relayTest(['-c', file]);
    assert.equal(r.code, 1);
    assert.match(
      r.out,
      /FAIL wrong expectation\n\s+expected to reach topic; reached: everything; rules: none; workspace: none/,
    );
    assert.match(r.out, /topic payload request.method: expected "PATCH", got "PUT"/);
    assert.match(r.out, /topic payload consumer.username: expected "alice", got \(missing\)/);
    assert.match(r.out, /ok {3}still fine/);
    assert.match(r.out, /3 tests: 1 passed, 2 failed/);
  });

  it('payload expectations see the entry as the destination sends it: redacted, cut to fields, deduplicated', () => {
    const dir = tempDir();
    const file = path.join(dir, 'config.yaml');
    writeFileSync(
      file,
      `
sources: { t: { type: file, paths: ["/tmp/none/*.log"] } }
workspaces: { "*": { to: [full, slim] } }
destinations:
  full: { type: webhook, url: "http://127.0.0.1:9/f" }
  slim: { type: webhook, url: "http://127.0.0.1:9/s", fields: [request.method, consumer.username], unique: [consumer.username] }
tests:
  - name: what leaves
    input:
      - { request: { method: GET, uri: /a, headers: { authorization: Bearer s3cret } }, consumer: { username: ann } }
    expect:
      payload:
        full: { request.headers.authorization: "[REDACTED]", request.uri: /a }
        slim: { request.method: GET, consumer.username: ann }
  - name: the cut has no uri
    input: { request: { method: GET, uri: /a }, consumer: { username: ann } }
    expect: { payload: { slim: { request.uri: /a } } }
  - name: a repeat within the unique window is not sent
    input:
      - { request: { method: GET, uri: /a }, consumer: { username: bob } }
      - { request: { method: GET, uri: /b }, consumer: { username: bob } }
    expect: { payload: { slim: { consumer.username: bob } } }
`,
    );
    const r = relayTest(['-c', file]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /ok {3}what leaves\n/);
    assert.match(r.out, /FAIL the cut has no uri\n\s+slim payload request.uri: expected "\/a", got \(missing\)/);
    assert.match(
      r.out,
      /FAIL a repeat within the unique window is not sent\n\s+entry 2: expected a payload for slim, but its unique window suppressed the entry/,
    );
    assert.doesNotMatch(r.out, /s3cret/);
  });

  it('entries from a file, and more cases from --tests files', () => {
    const file = configWith(`
  - name: from a file
    input_file: entries.ndjson
    expect: { to: [topic] }
`);
    const dir = path.dirname(file);
    // As Kong's file-log writes them: every / escaped.
    writeFileSync(
      path.join(dir, 'entries.ndjson'),
      [
        '{"request":{"method":"PUT","uri":"\\/profile\\/1"},"response":{"status":200}}',
        '{"response":{"status":201},"request":{"uri":"\\/profile\\/2","method":"PUT"}}',
        '',
      ].join('\n'),
    );
    const more = path.join(dir, 'more.yaml');
    writeFileSync(
      more,
      `tests:\n  - name: from --tests\n    input: { request: { method: DELETE, uri: /profile/1 } }\n    expect: { not_to: [topic] }\n`,
    );
    const r = relayTest(['-c', file, '--tests', more]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /ok {3}from a file/);
    assert.match(r.out, /ok {3}from --tests/);
  });

  it('writes JUnit XML for CI systems', () => {
    const file = configWith(`
  - name: passes <ok>
    input: { request: { method: GET, uri: / } }
    expect: { destinations: [everything] }
  - name: fails & says why
    input: { request: { method: GET, uri: / } }
    expect: { destinations: [payments] }
`);
    const junit = path.join(path.dirname(file), 'report.xml');
    const r = relayTest(['-c', file, '--junit', junit]);
    assert.equal(r.code, 1);
    const xml = readFileSync(junit, 'utf8');
    assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>/);
    assert.match(xml, /<testsuite name="kong-log-relay config tests" tests="2" failures="1"/);
    assert.match(xml, /<testcase name="passes &lt;ok&gt;" classname="config.yaml" time="[\d.]+"\/>/);
    assert.match(
      xml,
      /<testcase name="fails &amp; says why"[^>]*>\s*<failure message="expected to reach exactly payments;/,
    );
  });

  it('a case naming a destination the config lacks fails; a malformed case is a config error', () => {
    const unknown = relayTest([
      '-c',
      configWith(`
  - name: typo
    input: { request: { method: GET, uri: / } }
    expect: { to: [everythin] }
`),
    ]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.out, /expect names destination "everythin", which the config does not have/);
    const malformed = relayTest([
      '-c',
      configWith(`
  - name: neither input
    expect: { to: [everything] }
`),
    ]);
    assert.equal(malformed.code, 2);
    assert.match(
      malformed.err,
      /config.yaml:\d+:\d+: error KLR_CONFIG_INVALID: tests\[0\]: expected exactly one of input and input_file/,
    );
  });

  it('the shipped example configs come with tests, and they pass', () => {
    for (const name of ['example.yaml', 'publish-sns.yaml', 'workspaces.yaml']) {
      const file = path.join(ROOT, 'config', name);
      assert.match(readFileSync(file, 'utf8'), /^tests:/m, `${name} has tests`);
      const r = relayTest(['-c', file], { RELAY_TOKEN: 't' });
      assert.equal(r.code, 0, `${name}: ${r.out}${r.err}`);
      assert.match(r.out, / 0 failed/);
    }
  });
});
