/** `match`: the dry run operators use to check where entries go and why. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from './support/pipeline.ts';

const MAIN = path.resolve(import.meta.dirname, '../src/main.js');
const FIXTURES = path.resolve(import.meta.dirname, '../../test/fixtures');
const DEMO = path.resolve(import.meta.dirname, '../../config/demo.yaml');

function match(
  args: string[],
  input?: string,
): { status: number | null; lines: Record<string, unknown>[]; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'match', ...args], { encoding: 'utf8', input });
  const lines = args.includes('--json')
    ? r.stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  return { status: r.status, lines, stdout: r.stdout, stderr: r.stderr };
}

const fixture = (name: string): string => path.join(FIXTURES, name);

describe('kong-log-relay match', () => {
  it('prints one JSON object per entry with sorted destinations, rules and workspace', () => {
    const files = [
      'kong-3.7-workspace.json',
      'kong-3.4-http.json',
      'kong-2.8-http.json',
      'kong-stream-tcp.json',
      'kong-enterprise-workspaces-array.json',
    ].map(fixture);
    const { status, lines } = match(['-c', DEMO, '--json', ...files]);
    assert.equal(status, 0);
    assert.equal(lines.length, 5);
    lines.forEach((l, i) => {
      assert.equal(l.index, i);
      assert.ok(Array.isArray(l.destinations));
      assert.deepEqual(l.destinations, [...(l.destinations as string[])].sort());
      assert.ok(Array.isArray(l.rules));
      assert.ok(l.workspace === null || typeof l.workspace === 'string');
    });
    assert.deepEqual(lines[0], {
      ...lines[0],
      destinations: ['global_view', 'payments_team'],
      rules: [],
      workspace: 'payments',
    });
    assert.deepEqual(lines[1], {
      ...lines[1],
      destinations: ['global_view', 'profile_topic'],
      rules: ['profile-updated'],
      workspace: 'default',
    });
    assert.equal(
      lines[2].workspace,
      'payments',
      '2.8 entries resolve their workspace from route.ws_id through workspaces: ids',
    );
    assert.deepEqual(lines[3].destinations, ['global_view'], 'a stream entry reaches only "*"');
    assert.equal(lines[4].workspace, 'search', 'older Enterprise entries name it in workspaces[0]');
  });

  it('reads a JSON array (http-log batch) and NDJSON from stdin', () => {
    const a = readFileSync(fixture('kong-3.4-http.json'), 'utf8').trim();
    const b = readFileSync(fixture('kong-3.7-workspace.json'), 'utf8').trim();
    const arr = match(['-c', DEMO, '--json', '-'], `[${a},\n${b}]`);
    assert.equal(arr.status, 0);
    assert.deepEqual(
      arr.lines.map((l) => l.index),
      [0, 1],
    );
    const nd = match(['-c', DEMO, '--json'], `${a}\n\n${b}\n`);
    assert.deepEqual(
      nd.lines.map((l) => l.destinations),
      arr.lines.map((l) => l.destinations),
    );
  });

  it('malformed entries print an error object and do not stop the run', () => {
    const good = readFileSync(fixture('kong-3.4-http.json'), 'utf8').trim();
    const { status, lines } = match(
      ['-c', DEMO, '--json'],
      `${good}\n{"request": \nnot json at all\n[1,2]\n"a string"\n${good}\n`,
    );
    assert.equal(status, 0);
    assert.equal(lines.length, 6);
    for (const i of [1, 2, 3, 4]) {
      assert.deepEqual(Object.keys(lines[i]).sort(), ['error', 'index']);
      assert.equal(lines[i].index, i);
      assert.equal(typeof lines[i].error, 'string');
    }
    assert.deepEqual(lines[5].destinations, lines[0].destinations);
  });

  it('explains in plain text which rule matched and why others did not', () => {
    const { status, stdout } = match(['-c', DEMO, fixture('kong-3.4-http.json'), fixture('kong-3.7-workspace.json')]);
    assert.equal(status, 0);
    const [first, second] = stdout.trim().split('\n');
    assert.match(first, /^#0 PUT \/profile\/\d+ 200 workspace=default → .*profile_topic \(rule:profile-updated\)/);
    assert.match(
      second,
      /payments_team \(workspace:payments\), global_view \(workspace:\*\); not matched: profile-updated: methods differs/,
    );
  });

  it('a missing log file is a clear error', () => {
    const { status, stderr } = match(['-c', DEMO, '/nonexistent.log']);
    assert.equal(status, 1);
    assert.match(stderr, /cannot read \/nonexistent\.log/);
  });

  it('an invalid config exits 2 without reading entries', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'c.yaml'), 'sources: 1\n');
    const { status, stderr } = match(['-c', path.join(dir, 'c.yaml'), '--json'], '{}\n');
    assert.equal(status, 2);
    assert.match(stderr, /c\.yaml:1:\d+: error/);
  });
});
