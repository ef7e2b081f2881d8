/** `validate` and config loading: every problem reported at once, each with FILE:LINE:COL and its YAML path. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FULL_LAYER_ONLY, propertyRuns } from './support/layer.ts';
import { loadConfigText } from '../src/config/load.ts';
import { configJsonSchema } from '../src/config/schema.ts';
import { formatDiagnostic, type Diagnostic } from '../src/config/diagnostics.ts';
import { tempDir } from './support/pipeline.ts';

const MAIN = path.resolve(import.meta.dirname, '../src/main.js');
const ROOT = path.resolve(import.meta.dirname, '../..');

const VALID = `
sources:
  tail: { type: file, paths: ["/var/log/kong/*.log"] }
rules:
  - name: profile
    when: { methods: [PUT], path: '^/profile/\\d+$', status: [2xx] }
    to: [topic]
destinations:
  topic: { type: sns, topic_arn: "arn:aws:sns:eu-west-1:123456789012:profiles" }
`;

function load(
  yaml: string,
  env: Record<string, string> = {},
): { ok: boolean; diagnostics: readonly Diagnostic[]; lines: string[] } {
  const r = loadConfigText(yaml, '/etc/klr/config.yaml', env);
  return { ok: r.config !== null, diagnostics: r.diagnostics, lines: r.diagnostics.map(formatDiagnostic) };
}

function find(diags: readonly Diagnostic[], code: string): Diagnostic {
  const d = diags.find((x) => x.code === code);
  assert.ok(d, `expected a ${code} diagnostic, got: ${diags.map(formatDiagnostic).join('\n')}`);
  return d;
}

describe('config loading', () => {
  it('a valid config loads with defaults merged into each destination', () => {
    const r = loadConfigText(VALID, '/etc/klr/config.yaml', {});
    assert.ok(r.config, r.diagnostics.map(formatDiagnostic).join('\n'));
    const d = r.config.destinations[0];
    assert.equal(d.delivery.batch.maxEvents, 10, 'SNS batches are capped at 10 entries');
    assert.equal(d.delivery.batch.maxBytes, 256 * 1024);
    assert.equal(d.delivery.retry.initialDelayMs, 200);
    assert.equal(d.delivery.retry.maxElapsedMs, 15 * 60_000);
    assert.equal(d.delivery.buffer.whenFull, 'block');
    assert.equal(d.type === 'sns' && d.region, 'eu-west-1', 'region comes from the ARN');
    assert.equal(r.config.sources[0].type === 'file' && r.config.sources[0].rotateWaitMs, 30_000);
  });

  it('per-destination settings override defaults key by key', () => {
    const r = loadConfigText(
      `${VALID}
  hook:
    type: webhook
    url: http://127.0.0.1:9/x
    batch: { max_wait: 250ms }
defaults:
  batch: { max_events: 50, max_bytes: 2MiB }
  concurrency: 2
workspaces:
  "*": { to: [hook] }
`,
      '/x/c.yaml',
      {},
    );
    assert.ok(r.config, r.diagnostics.map(formatDiagnostic).join('\n'));
    const hook = r.config.destinations.find((d) => d.name === 'hook');
    assert.deepEqual(hook?.delivery.batch, { maxEvents: 50, maxBytes: 2 * 1024 * 1024, maxWaitMs: 250 });
    assert.equal(hook?.delivery.concurrency, 2);
  });

  it('environment variables are interpolated, with defaults, and keep their YAML type when unquoted', () => {
    const r = loadConfigText(
      `
sources:
  h:
    type: http
    listen: "127.0.0.1:\${PORT}"
    auth: { bearer: "\${TOKEN}" }
workspaces: { "*": { to: [hook] } }
destinations:
  hook:
    type: webhook
    url: "\${URL:-http://127.0.0.1:8080/in}"
    concurrency: \${CONC}
`,
      '/x/c.yaml',
      { PORT: '9999', TOKEN: 's3cret', CONC: '7' },
    );
    assert.ok(r.config, r.diagnostics.map(formatDiagnostic).join('\n'));
    const [src] = r.config.sources;
    assert.equal(src.type === 'http' && src.listen, '127.0.0.1:9999');
    assert.equal(src.type === 'http' && src.auth.bearer, 's3cret');
    const [hook] = r.config.destinations;
    assert.equal(hook.type === 'webhook' && hook.url, 'http://127.0.0.1:8080/in');
    assert.equal(hook.delivery.concurrency, 7);
  });

  it('a missing environment variable is an error at its line, never an empty string, and its value is not printed', () => {
    const { ok, diagnostics, lines } = load(
      `${VALID}  other:\n    type: sns\n    topic_arn: "arn:aws:sns:eu-west-1:123456789012:x"\n    endpoint: "\${SNS_ENDPOINT}"\n`,
      { UNRELATED: 'hunter2' },
    );
    assert.equal(ok, false);
    const d = find(diagnostics, 'KLR_CONFIG_ENV');
    assert.equal(d.line, 13);
    assert.doesNotMatch(lines.join('\n'), /hunter2/);
    assert.deepEqual(d.path, ['destinations', 'other', 'endpoint']);
    assert.match(d.message, /SNS_ENDPOINT/);
  });

  it('reports every error at once, each with line and column', () => {
    const { ok, diagnostics, lines } = load(`
sources:
  tail: { type: file, paths: ["/x/*.log"], rotate_wait: soon }
  web: { type: http, listen: "127.0.0.1:1", auth: { bearer: t }, colour: red }
rules:
  - name: a
    when: { path: '([', status: [2xx, "7xx"] }
    to: [nope]
  - name: a
    to: [topic]
destinations:
  topic: { type: sns, topic_arn: "arn:aws:sns:eu-west-1:123456789012:p", buffer: { max_bytes: lots } }
  spare: { type: webhook, url: "http://127.0.0.1:1/" }
`);
    assert.equal(ok, false);
    const at = (code: string, line: number, p: readonly (string | number)[]): void => {
      const d = diagnostics.find((x) => x.code === code && x.line === line);
      assert.ok(d, `no ${code} at line ${line} in:\n${lines.join('\n')}`);
      assert.deepEqual(d.path, p);
      assert.ok((d.col ?? 0) > 1);
      assert.equal(d.file, '/etc/klr/config.yaml');
    };
    at('KLR_CONFIG_INVALID', 3, ['sources', 'tail', 'rotate_wait']);
    at('KLR_CONFIG_UNKNOWN_KEY', 4, ['sources', 'web', 'colour']);
    at('KLR_CONFIG_REGEX', 7, ['rules', 0, 'when', 'path']);
    at('KLR_CONFIG_INVALID', 7, ['rules', 0, 'when', 'status', 1]);
    at('KLR_CONFIG_UNDEFINED_DESTINATION', 8, ['rules', 0, 'to', 0]);
    at('KLR_CONFIG_DUPLICATE', 9, ['rules', 1, 'name']);
    at('KLR_CONFIG_INVALID', 12, ['destinations', 'topic', 'buffer', 'max_bytes']);
    const unused = find(diagnostics, 'KLR_CONFIG_UNUSED_DESTINATION');
    assert.equal(unused.severity, 'warning');
    assert.deepEqual(unused.path, ['destinations', 'spare']);
    assert.match(
      lines.join('\n'),
      /^\/etc\/klr\/config\.yaml:3:\d+: error KLR_CONFIG_INVALID: sources\.tail\.rotate_wait: expected a duration/m,
    );
  });

  it('an unknown key names the keys that are allowed there', () => {
    const { diagnostics } = load(VALID.replace('type: file,', 'type: file, start_from: end,'));
    const d = find(diagnostics, 'KLR_CONFIG_UNKNOWN_KEY');
    assert.match(d.message, /"start_from".*start_at/);
  });

  it('a wrong type says what was expected', () => {
    const { diagnostics } = load(VALID.replace('[2xx]', '2xx'));
    const d = find(diagnostics, 'KLR_CONFIG_INVALID');
    assert.deepEqual(d.path, ['rules', 0, 'when', 'status']);
    assert.match(d.message, /expected array/);
  });

  it('duplicate destination names are errors', () => {
    const { ok, diagnostics } = load(
      `${VALID}  topic: { type: sns, topic_arn: "arn:aws:sns:eu-west-1:123456789012:other" }\n`,
    );
    assert.equal(ok, false);
    const d = find(diagnostics, 'KLR_CONFIG_DUPLICATE');
    assert.equal(d.line, 10);
    assert.match(d.message, /"topic"/);
  });

  it('nested repetition is accepted without a warning: rule regexes run in linear time', () => {
    const { ok, diagnostics } = load(VALID.replace("'^/profile/\\d+$'", () => "'^/(a+)+$'"));
    assert.equal(ok, true);
    assert.deepEqual(diagnostics, []);
  });

  it('a bad duration and a bad size are errors that show the expected form', () => {
    const { diagnostics } = load(`${VALID}defaults:\n  retry: { max_delay: 30 }\n  batch: { max_bytes: 1 mebibyte }\n`);
    const msgs = diagnostics
      .filter((d) => d.code === 'KLR_CONFIG_INVALID')
      .map((d) => d.message)
      .join('\n');
    assert.match(msgs, /expected string/);
    assert.match(msgs, /expected a size/);
  });

  it('YAML syntax errors are located', () => {
    const { ok, diagnostics } = load('sources:\n  a: [unclosed\n');
    assert.equal(ok, false);
    assert.equal(diagnostics[0].code, 'KLR_CONFIG_YAML');
    assert.ok((diagnostics[0].line ?? 0) >= 2);
  });

  it('an http source without credentials must say auth.none explicitly', () => {
    const { diagnostics } = load(
      VALID.replace(
        'tail: { type: file, paths: ["/var/log/kong/*.log"] }',
        'web: { type: http, listen: "127.0.0.1:9", auth: {} }',
      ),
    );
    assert.match(find(diagnostics, 'KLR_CONFIG_INVALID').message, /none: true/);
  });

  it('fuzzed YAML never throws: every failure is a diagnostic', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ' \n:-[]{}"\'#&*!|>%@`,?$\\\t0aZ';
    for (let i = 0; i < propertyRuns(400); i++) {
      const chars = [...VALID];
      for (let k = 0; k < 1 + rnd(6); k++) chars.splice(rnd(chars.length), rnd(3), alphabet[rnd(alphabet.length)]);
      const r = loadConfigText(chars.join(''), 'fuzz.yaml', {});
      if (r.config === null) assert.ok(r.diagnostics.some((d) => d.severity === 'error'));
    }
  });
});

describe('kong-log-relay validate', () => {
  it('exits 0 with a one-line summary for the shipped configs', FULL_LAYER_ONLY, () => {
    for (const f of ['example.yaml', 'publish-sns.yaml', 'workspaces.yaml', 'demo.yaml']) {
      const r = spawnSync(process.execPath, [MAIN, 'validate', '-c', path.join(ROOT, 'config', f)], {
        encoding: 'utf8',
        env: { ...process.env, RELAY_TOKEN: 'x' },
      });
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
      assert.equal(r.stdout.trim().split('\n').length, 1);
      assert.match(r.stdout, /valid: \d+ sources?/);
    }
  });

  it('exits 2 and prints FILE:LINE:COL for each error', FULL_LAYER_ONLY, () => {
    const dir = tempDir();
    const file = path.join(dir, 'bad.yaml');
    writeFileSync(file, VALID.replace('[topic]', '[missing]').replace('type: file,', 'type: file, bogus: 1,'));
    const r = spawnSync(process.execPath, [MAIN, 'validate', '-c', file], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      new RegExp(`${file.replace(/[/.]/g, '\\$&')}:3:\\d+: error KLR_CONFIG_UNKNOWN_KEY: sources\\.tail\\.bogus`),
    );
    assert.match(r.stderr, /:7:\d+: error KLR_CONFIG_UNDEFINED_DESTINATION: rules\[0\]\.to\[0\]/);
  });

  it('a missing file is a clear error', FULL_LAYER_ONLY, () => {
    const r = spawnSync(process.execPath, [MAIN, 'validate', '-c', '/nonexistent/klr.yaml'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /cannot read config: no such file/);
  });
});

describe('config/schema.json', () => {
  it('is generated from the schema and up to date (npm run schema)', async () => {
    const { readFileSync } = await import('node:fs');
    const committed = JSON.parse(readFileSync(path.join(ROOT, 'config', 'schema.json'), 'utf8')) as unknown;
    assert.deepEqual(committed, configJsonSchema());
  });
});
