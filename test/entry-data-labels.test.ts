/**
 * Names from entries and from the config are data, never object keys with a meaning.
 * Regression: `workspace_name: "constructor"` or `"toString"` made
 * `workspace_events_total{workspace="constructor"}` NaN for good, and `"__proto__"` was never
 * counted (counts lived in plain objects); a rule named "constructor" was never counted either.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { loadConfigText } from '../src/config/load.ts';
import { AckGroup } from '../src/core/ack.ts';
import { byteStringOf } from '../src/event/byte-string.ts';
import { buildRouting } from '../src/delivery/routing.ts';
import { sumMetric } from './support/daemon.ts';
import { configFromYaml, testPipeline } from './support/pipeline.ts';
import { RecordingSink } from './support/recording-sink.ts';

const NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'ordinary'];

function entry(workspace: string, uri = '/x'): string {
  return JSON.stringify({
    request: { method: 'GET', uri, headers: { host: 'h' } },
    response: { status: 200 },
    workspace_name: workspace,
  }).replaceAll('/', '\\/');
}

const YAML = `
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
workspaces:
  constructor: { to: [constructor] }
  toString: { to: [plain] }
rules:
  - { name: constructor, when: { path: '^/c' }, to: [constructor] }
  - { name: __proto__, when: { path: '^/p' }, to: [plain] }
destinations:
  constructor: { type: webhook, url: "http://127.0.0.1:9/c" }
  plain: { type: webhook, url: "http://127.0.0.1:9/p" }
`;

describe('entry data and config names as labels and keys', () => {
  it('workspace_events_total and rule_matches_total count every name, "constructor" and "__proto__" included', async () => {
    const constructorSink = new RecordingSink();
    const plain = new RecordingSink();
    const { pipeline, metrics } = testPipeline(configFromYaml(YAML), { constructor: constructorSink, plain });
    const source = metrics.source('t');
    for (const name of NAMES) {
      for (let i = 0; i < 2; i++) pipeline.ingest(byteStringOf(entry(name)), new AckGroup(false), source);
    }
    pipeline.ingest(byteStringOf(entry('ordinary', '/c1')), new AckGroup(false), source);
    pipeline.ingest(byteStringOf(entry('ordinary', '/p1')), new AckGroup(false), source);
    await pipeline.drain(Date.now() + 5000);
    const text = await metrics.text();
    for (const name of NAMES) {
      const expected = name === 'ordinary' ? 4 : 2;
      assert.equal(
        sumMetric(text, 'kong_log_relay_workspace_events_total', { workspace: name }),
        expected,
        `workspace ${name}:\n${text}`,
      );
    }
    // Our series only: prom-client's default event-loop gauges read NaN before their first sample.
    assert.doesNotMatch(text, /^kong_log_relay_\S* NaN$/m);
    assert.equal(sumMetric(text, 'kong_log_relay_rule_matches_total', { rule: 'constructor' }), 1);
    assert.equal(sumMetric(text, 'kong_log_relay_rule_matches_total', { rule: '__proto__' }), 1);
    // Routing by workspace name: "constructor" → its destination, "toString" → plain (never Object's members).
    assert.equal(constructorSink.texts.length, 2 + 1);
    assert.equal(plain.texts.length, 2 + 1);
  });

  it('"__proto__" as a config key is an error at its place, not silently dropped', () => {
    const result = loadConfigText(
      YAML.replace('  toString:', '  __proto__: { to: [plain] }\n  toString:'),
      '/etc/r.yaml',
      {},
    );
    assert.equal(result.config, null);
    assert.match(
      result.diagnostics.map(formatDiagnostic).join('\n'),
      /r\.yaml:5:3: error KLR_CONFIG_INVALID: workspaces\.__proto__: "__proto__" cannot be used as a name/,
    );
  });

  it('match explanations key destinations and rules named like Object members correctly', () => {
    const config = configFromYaml(YAML);
    const { decoder, router } = buildRouting(config);
    const event = decoder.decode(byteStringOf(entry('constructor', '/c')));
    if (event instanceof Error) throw event;
    const why = router.explain(event);
    assert.deepEqual(why.destinations, ['constructor']);
    assert.deepEqual(why.rules, ['constructor']);
    assert.deepEqual(why.reasons.constructor, ['workspace:constructor', 'rule:constructor']);
    assert.equal(Object.getOwnPropertyDescriptor(why.misses, '__proto__')?.value, 'path');
    const other = decoder.decode(byteStringOf(entry('nobody', '/z')));
    if (other instanceof Error) throw other;
    assert.deepEqual(router.explain(other).destinations, []);
  });
});
