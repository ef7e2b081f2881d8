/**
 * Rule regexes cannot stall the relay. Regression: with the JS RegExp, the rule
 * `^/api/(\d|\w|_)*\/items$` and one entry whose path was `/api/` + 33 digits blocked the event
 * loop for 26-28 s (each extra digit doubled it), and `^/v1/(.*)/(.*)/(.*)/items$` with a 2 KB
 * `/v1////…` path for 4-5 s; validate accepted both without a warning. Paths come from anyone.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FULL_LAYER_ONLY } from './support/layer.ts';
import { loadConfigText } from '../src/config/load.ts';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { byteStringOf } from '../src/event/byte-string.ts';
import { buildRouting } from '../src/delivery/routing.ts';
import { RuleRegex } from '../src/route/rule-regex.ts';
import { Daemon, waitFor } from './support/daemon.ts';
import { configFromYaml } from './support/pipeline.ts';
import { freePort } from './support/tcp-gate.ts';
import { WebhookReceiver } from '../tools/webhook-receiver.ts';

const DIGITS_RULE = String.raw`^/api/(\d|\w|_)*/items$`;
const SLASHES_RULE = '^/v1/(.*)/(.*)/(.*)/items$';
const DIGITS_PATH = `/api/${'1'.repeat(40)}`;
const SLASHES_PATH = `/v1${'/'.repeat(2048)}`;

/** A Kong entry as lua-cjson writes it. */
function entry(uri: string, id: string): string {
  return JSON.stringify({
    request: { method: 'GET', uri, headers: { host: 'api.example.com' }, size: 10 },
    response: { status: 200, size: 1 },
    client_ip: '10.0.0.1',
    started_at: 1726783839539,
    workspace_name: 'default',
    id,
  }).replaceAll('/', '\\/');
}

const RULES = `
rules:
  - { name: digits, when: { path: '${DIGITS_RULE}' }, to: [hook] }
  - { name: slashes, when: { path: '${SLASHES_RULE}', upstream_path: '${SLASHES_RULE}' }, to: [hook] }
  - { name: header, when: { headers: { x-id: '${DIGITS_RULE}' } }, to: [hook] }
`;

describe('rule regexes run in linear time', () => {
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'klr-regex-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('validate accepts the patterns that backtrack exponentially, without a warning', () => {
    const yaml = `sources: { t: { type: file, paths: ["/x/*.log"] } }\n${RULES}destinations:\n  hook: { type: webhook, url: "http://127.0.0.1:1/h" }\n`;
    const { config, diagnostics } = loadConfigText(yaml, path.join(tmp(), 'c.yaml'), {});
    assert.notEqual(config, null, diagnostics.map(formatDiagnostic).join('\n'));
    assert.deepEqual(diagnostics, []);
  });

  it('a hostile path is matched (or not) within a generous bound, for every rule field', () => {
    const config = configFromYaml(
      `sources: { t: { type: file, paths: ["/x/*.log"] } }\n${RULES}destinations:\n  hook: { type: webhook, url: "http://127.0.0.1:1/h" }\n`,
      tmp(),
    );
    const { decoder, router } = buildRouting(config);
    const hostile = [DIGITS_PATH, SLASHES_PATH, `/api/${'7'.repeat(5000)}`, `/v1${'/'.repeat(20_000)}`];
    for (const uri of hostile) {
      const event = decoder.decode(byteStringOf(entry(uri, 'h')));
      if (event instanceof Error) throw event;
      const started = performance.now();
      assert.deepEqual(router.route(event), []);
      const ms = performance.now() - started;
      // The backtracking engine took 26 s for DIGITS_PATH; linear matching takes well under a millisecond.
      assert.ok(ms < 1000, `routing a ${uri.length}-char hostile path took ${ms.toFixed(0)} ms`);
    }
    for (const [pattern, value] of [
      [DIGITS_RULE, DIGITS_PATH],
      [SLASHES_RULE, SLASHES_PATH],
    ]) {
      const re = RuleRegex.compile(pattern);
      assert.ok(re instanceof RuleRegex);
      const started = performance.now();
      assert.equal(re.test(value), false);
      assert.equal(re.test(`${value}/items`), true);
      assert.ok(performance.now() - started < 1000);
    }
  });

  it('patterns RE2 cannot run are validate errors with FILE:LINE:COL and the reason', () => {
    const yaml = [
      'sources: { t: { type: file, paths: ["/x/*.log"] } }',
      'rules:',
      String.raw`  - { name: backref, when: { path: '^/(\w+)/\1$' }, to: [hook] }`,
      "  - { name: ahead, when: { host: '^(?!internal)' }, to: [hook] }",
      "  - { name: behind, when: { headers: { x-a: '(?<=a)b' } }, to: [hook] }",
      'destinations:',
      '  hook: { type: webhook, url: "http://127.0.0.1:1/h" }',
      '',
    ].join('\n');
    const file = path.join(tmp(), 'c.yaml');
    const { config, diagnostics } = loadConfigText(yaml, file, {});
    assert.equal(config, null);
    const lines = diagnostics.map(formatDiagnostic);
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.match(lines[0], /c\.yaml:3:\d+: error KLR_CONFIG_REGEX: rules\[0\]\.when\.path: .*backreferences/);
    assert.match(lines[1], /c\.yaml:4:\d+: error KLR_CONFIG_REGEX: rules\[1\]\.when\.host: .*lookahead/);
    assert.match(lines[2], /c\.yaml:5:\d+: error KLR_CONFIG_REGEX: rules\[2\]\.when\.headers\.x-a: .*lookbehind/);
  });

  it('named captures of a path match are returned by one function', () => {
    const re = RuleRegex.compile(String.raw`^/profile/(?<id>\d+)(?:/(?<part>\w+))?$`);
    assert.ok(re instanceof RuleRegex);
    assert.deepEqual(
      [...(re.namedCaptures('/profile/42/avatar') ?? [])],
      [
        ['id', '42'],
        ['part', 'avatar'],
      ],
    );
    assert.deepEqual([...(re.namedCaptures('/profile/42') ?? [])], [['id', '42']]);
    assert.equal(re.namedCaptures('/other'), null);
    const host = RuleRegex.compile('^API\\.example\\.com$', { ignoreCase: true });
    assert.ok(host instanceof RuleRegex && host.test('api.example.com'));
  });

  it(
    'a running daemon answers /healthz while hostile paths flow, and routes what matches',
    FULL_LAYER_ONLY,
    async (t) => {
      const hook = await WebhookReceiver.start({ port: 0 });
      t.after(() => hook.close());
      const dir = tmp();
      const port = await freePort();
      const daemon = await Daemon.start(
        dir,
        `
sources:
  kong: { type: http, listen: "127.0.0.1:${port}", path: /kong, auth: { none: true } }
${RULES}
destinations:
  hook: { type: webhook, url: "${hook.url}/hook", encoding: ndjson, batch: { max_wait: 50ms } }
state_dir: ${dir}/state
admin: { listen: "127.0.0.1:0" }
log: { level: info, format: json }
`,
      );
      t.after(() => daemon.stop());
      const kong = `http://127.0.0.1:${port}/kong`;
      const hostile: string[] = [];
      for (let i = 0; i < 20; i++) hostile.push(entry(i % 2 === 0 ? DIGITS_PATH : SLASHES_PATH, `h${i}`));
      hostile.push(entry(`${DIGITS_PATH}/items`, 'match-digits'), entry(`${SLASHES_PATH}items`, 'match-slashes'));
      const posting = fetch(kong, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `[${hostile.join(',')}]`,
      });
      const started = performance.now();
      const health = await fetch(`${daemon.adminUrl}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(performance.now() - started < 5000, '/healthz must not wait behind routing');
      assert.equal((await posting).status, 200);
      await waitFor(() => hook.count('/hook') >= 1, 20_000);
      const ids = hook.entries('/hook').map((e) => (JSON.parse(e) as { id: string }).id);
      assert.deepEqual(ids.sort(), ['match-digits']);
    },
  );
});
