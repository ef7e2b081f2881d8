/**
 * Redaction is on by default: credentials in request/response headers, the querystring and the
 * query of request.uri, request.url and upstream_uri are masked before any destination sees an
 * entry; only the secret values' bytes change, and an entry with nothing to mask leaves as it came.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byteStringOf } from '../src/event/byte-string.ts';
import { JsonSyntaxError } from '../src/event/json-scan.ts';
import type { Pipeline } from '../src/delivery/pipeline.ts';
import { createSink } from '../src/sinks/index.ts';
import { generate } from './support/kong.ts';
import { configFromYaml, quietLogger, testPipeline } from './support/pipeline.ts';

/** A pipeline whose destinations (YAML bodies by name) get every entry; nothing is ever sent. */
function pipelineWith(destinations: Record<string, string>, top = ''): Pipeline {
  const names = Object.keys(destinations);
  const config = configFromYaml(`
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
rules: [ { name: all, to: [${names.join(', ')}] } ]
destinations:
${names.map((n) => `  ${n}: { type: webhook, url: "http://127.0.0.1:1/${n}"${destinations[n] === '' ? '' : `, ${destinations[n]}`} }`).join('\n')}
admin: false
${top}
`);
  const log = quietLogger();
  return testPipeline(config, Object.fromEntries(config.destinations.map((d) => [d.name, createSink(d, log)])))
    .pipeline;
}

/** What destination `to` would send for the entry text. */
function sent(p: Pipeline, text: string, to = 'h'): string {
  const event = p.decoder.decode(byteStringOf(text));
  if (event instanceof JsonSyntaxError) throw event;
  const shaped = p.preview(event, to);
  assert.ok(shaped !== undefined);
  return shaped.text;
}

describe('credentials are redacted by default', () => {
  const p = pipelineWith({ h: '' });

  it('an entry with nothing to mask leaves byte for byte, Kong\'s own "REDACTED" included', () => {
    const plain =
      '{"request":{"method":"GET","uri":"\\/a\\/b?x=1&tokens=2","url":"https:\\/\\/h\\/a\\/b?x=1","headers":{"host":"h","authorization":"REDACTED","x-tokenizer":"v"},"querystring":{"x":"1","tokens":"2"}},"response":{"status":200,"headers":{"content-type":"application\\/json"}},"upstream_uri":"\\/b?x=1","note":"café \\u00e9 apikey"}';
    assert.equal(sent(p, plain), plain);
  });

  it('masks each default header, in request and response headers, in lower, Title- and UPPER-case, keeping the key', () => {
    const entry = (v: (s: string) => string): string =>
      `{"request":{"method":"GET","uri":"\\/x","headers":{"Authorization":${v('"Bearer S1"')},"proxy-authorization":${v('"Basic S2"')},"COOKIE":${v('"sid=S3"')},"x-api-key":${v('"S4"')},"APIKEY":${v('"S5"')},"host":"h"}},"response":{"status":200,"headers":{"Set-Cookie":${v('["a=S6","b=S7"]')},"x-api-key":${v('"S8"')},"server":"kong"}}}`;
    const expected = entry((s) => (s.startsWith('[') ? '["[REDACTED]","[REDACTED]"]' : '"[REDACTED]"'));
    const out = sent(
      p,
      entry((s) => s),
    );
    assert.equal(out, expected);
    assert.doesNotMatch(out, /S\d/);
  });

  it('masks keys written with escapes, array values element by element, and keeps nulls', () => {
    const out = sent(
      p,
      '{"request":{"headers":{"x-api\\u002dkey":"S1","\\u0063ookie":["S2",null],"authorization":null,"x-other":"\\/keep"}}}',
    );
    assert.equal(
      out,
      '{"request":{"headers":{"x-api\\u002dkey":"[REDACTED]","\\u0063ookie":["[REDACTED]",null],"authorization":null,"x-other":"\\/keep"}}}',
    );
  });

  it('masks query parameters in request.querystring (true and arrays as Kong writes them)', () => {
    const out = sent(
      p,
      '{"request":{"querystring":{"apikey":"S1","debug":true,"token":["S2",true],"Password":"S3","page":"2","sig":"S4","signature":"S5","client_secret":"S6","access_token":"S7","api_key":"S8"}}}',
    );
    assert.equal(
      out,
      '{"request":{"querystring":{"apikey":"[REDACTED]","debug":true,"token":["[REDACTED]",true],"Password":"[REDACTED]","page":"2","sig":"[REDACTED]","signature":"[REDACTED]","client_secret":"[REDACTED]","access_token":"[REDACTED]","api_key":"[REDACTED]"}}}',
    );
  });

  it("masks the query of request.uri, request.url and upstream_uri, keeping Kong's \\/ escapes", () => {
    const out = sent(
      p,
      '{"request":{"uri":"\\/p\\/1?apikey=S1&x=a\\/b&api%5Fkey=S2#frag","url":"https:\\/\\/h\\/p\\/1?TOKEN=S3&keep=1"},"upstream_uri":"\\/up?sig=S4&access_token=S5&flag"}',
    );
    assert.equal(
      out,
      '{"request":{"uri":"\\/p\\/1?apikey=[REDACTED]&x=a\\/b&api%5Fkey=[REDACTED]#frag","url":"https:\\/\\/h\\/p\\/1?TOKEN=[REDACTED]&keep=1"},"upstream_uri":"\\/up?sig=[REDACTED]&access_token=[REDACTED]&flag"}',
    );
    assert.deepEqual(JSON.parse(out).request.uri, '/p/1?apikey=[REDACTED]&x=a/b&api%5Fkey=[REDACTED]#frag');
  });

  it('extends per destination, masks JSON paths, takes a replacement, and redact: false sends raw logs', () => {
    const q = pipelineWith(
      {
        h: '',
        more: 'redact: { headers: [x-session], query: [state] }',
        raw: 'redact: false',
      },
      'redact: { paths: [request.body.card], replacement: "***" }',
    );
    const text =
      '{"request":{"uri":"\\/x?state=S1&token=S2","headers":{"x-session":"S3","cookie":"S4"},"body":{"card":{"n":"S5"},"amount":3}}}';
    assert.equal(
      sent(q, text, 'h'),
      '{"request":{"uri":"\\/x?state=S1&token=***","headers":{"x-session":"S3","cookie":"***"},"body":{"card":"***","amount":3}}}',
    );
    assert.equal(
      sent(q, text, 'more'),
      '{"request":{"uri":"\\/x?state=***&token=***","headers":{"x-session":"***","cookie":"***"},"body":{"card":"***","amount":3}}}',
    );
    assert.equal(sent(q, text, 'raw'), text);
  });

  it('on generated Kong traffic every masked entry is valid JSON and only secret values differ', () => {
    const SECRET_HEADERS = new Set([
      'authorization',
      'proxy-authorization',
      'cookie',
      'set-cookie',
      'x-api-key',
      'apikey',
    ]);
    let masked = 0;
    for (const e of generate(1500, { seed: 3 })) {
      const out = sent(p, e.text);
      if (out === e.text) continue;
      masked++;
      const before = JSON.parse(e.text);
      const after = JSON.parse(out);
      for (const side of ['request', 'response'] as const) {
        for (const [k, v] of Object.entries((after[side]?.headers ?? {}) as Record<string, unknown>)) {
          if (!SECRET_HEADERS.has(k.toLowerCase())) continue;
          for (const x of [v].flat()) assert.ok(x === '[REDACTED]' || x === 'REDACTED' || x === null, `${k}: ${x}`);
          before[side].headers[k] = v;
        }
      }
      for (const k of Object.keys(after.request?.querystring ?? {}))
        if (before.request.querystring[k] !== after.request.querystring[k])
          before.request.querystring[k] = after.request.querystring[k];
      for (const [o, k] of [
        [before.request, 'uri'],
        [before.request, 'url'],
        [before, 'upstream_uri'],
      ] as const)
        if (typeof o?.[k] === 'string') o[k] = k === 'upstream_uri' ? after.upstream_uri : after.request[k];
      assert.deepEqual(after, before, 'nothing but secrets changed');
    }
    assert.ok(masked > 100, `generated traffic carries credentials (${masked} masked)`);
  });
});
