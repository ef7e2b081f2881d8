/**
 * `validate` reports placeholders that can never resolve, and schema and reference errors of one
 * file in one run, each with FILE:LINE:COL; `match --payload` shows what each destination would
 * send, redacted, signature included.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from './support/pipeline.ts';

const MAIN = path.resolve(import.meta.dirname, '../src/main.js');

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(name: string, text: string): string {
  const file = path.join(tempDir(), name);
  writeFileSync(file, text);
  return file;
}

/** The error lines of a validate run as [line, col, path] (FILE:LINE:COL: error CODE: path: …). */
function errors(file: string, stderr: string): [number, number, string][] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith(`${file}:`) && l.includes(': error '))
    .map((l) => {
      const m = /^.*?:(\d+):(\d+): error \S+: (\S+):/.exec(l) as RegExpExecArray;
      return [Number(m[1]), Number(m[2]), m[3]];
    });
}

describe('validate: placeholders and every error in one run', () => {
  it('reports unknown {match.NAME}, misspelled top-level fields and bad types in every template, with lines', () => {
    const file = write(
      'placeholders.yaml',
      `sources: { f: { type: file, paths: [x.log] } }
rules:
  - { name: profile, when: { path: '^/profile/(?<id>\\d+)$' }, to: [hook, topic] }
  - { name: other, when: { path: '^/other$' }, to: [plain] }
destinations:
  hook:
    type: webhook
    url: http://127.0.0.1:9/h
    headers: { X-Id: "{match.idd}" }
    payload:
      id: "{match.id}"
      method: "{reqest.method}"
      bad: "{id}"
      n: "{response.status:numbr}"
  topic:
    type: sns
    topic_arn: arn:aws:sns:us-east-1:123456789012:t
    subject: "{match.user}"
    message_attributes: { s: { value: "{respons.status}", type: Number } }
    unique: [consumer.idd, client_ip]
  plain:
    type: webhook
    url: http://127.0.0.1:9/p
    payload: { id: "{match.id}" }
`,
    );
    const r = cli(['validate', '-c', file]);
    assert.equal(r.status, 2, r.stderr);
    assert.deepEqual(errors(file, r.stderr), [
      [9, 22, 'destinations.hook.headers.X-Id'],
      [12, 15, 'destinations.hook.payload.method'],
      [13, 12, 'destinations.hook.payload.bad'],
      [14, 10, 'destinations.hook.payload.n'],
      [18, 14, 'destinations.topic.subject'],
      [19, 39, 'destinations.topic.message_attributes.s.value'],
      [24, 20, 'destinations.plain.payload.id'],
    ]);
    assert.match(
      r.stderr,
      /\{match\.idd\} can never resolve: no rule that routes to this destination has a named group "idd"/,
    );
    assert.match(r.stderr, /"reqest"; did you mean "request"\?/);
    assert.match(r.stderr, /unknown type "numbr"/);
    assert.doesNotMatch(r.stderr, /consumer\.idd/, 'below the top level any field may exist');
  });

  it('lists schema errors and the reference checks that follow them in the same run', () => {
    const file = write(
      'mixed.yaml',
      `sources:
  a: { type: http, listen: "127.0.0.1:9000", auth: {} }
  b: { type: http, listen: "127.0.0.1:9000", auth: { none: true }, bogus: 1 }
workspaces:
  w1: { id: abc, to: [h] }
  w2: { id: abc, to: [h] }
rules:
  - { name: r, to: [h, nowhere] }
destinations:
  h: { type: webhook, url: "http://127.0.0.1:9/h", payload: { x: "{match.id}" } }
  s: { type: sns, topic_arn: nope }
  u: { type: webhook, url: "http://127.0.0.1:9/u", unique: ["{consumer.username}"] }
`,
    );
    const r = cli(['validate', '-c', file]);
    assert.equal(r.status, 2);
    assert.deepEqual(
      errors(file, r.stderr).map(([l, , p]) => [l, p]),
      [
        [2, 'sources.a.auth'],
        [3, 'sources.b.listen'],
        [3, 'sources.b.bogus'],
        [6, 'workspaces.w2.id'],
        [8, 'rules[0].to[1]'],
        [10, 'destinations.h.payload.x'],
        [11, 'destinations.s.topic_arn'],
        [12, 'destinations.u.unique[0]'],
      ],
    );
  });
});

describe('match --payload', () => {
  it('prints per destination the exact body, webhook headers with the Kong signature, and SNS attributes, redacted', () => {
    const config = write(
      'relay.yaml',
      `sources: { f: { type: file, paths: [x.log] } }
rules:
  - { name: profile, when: { path: '^/profile/(?<id>\\d+)$' }, to: [hook, topic] }
destinations:
  hook:
    type: webhook
    url: http://127.0.0.1:9/h
    encoding: json
    headers: { Authorization: "Bearer CONFIG-SECRET" }
    payload: { event: profile.updated, id: "{match.id}", status: "{response.status:number}" }
    signing: { scheme: kong, secret: s3 }
  topic:
    type: sns
    topic_arn: arn:aws:sns:us-east-1:123456789012:t
    message_attributes: { status: { value: "{response.status}", type: Number } }
    unique: [match.id]
`,
    );
    const entry =
      '{"request":{"method":"PUT","uri":"\\/profile\\/42?apikey=ENTRY-SECRET","headers":{"authorization":"Bearer ENTRY-SECRET2"}},"response":{"status":204}}';
    const logs = write('entries.log', `${entry}\n${entry}\n`);
    const r = cli(['match', '--payload', '--json', '-c', config, logs]);
    assert.equal(r.status, 0, r.stderr);
    const [first, second] = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { payloads: Record<string, Record<string, unknown>> });
    const hook = first.payloads.hook as { body: string; headers: Record<string, string> };
    assert.equal(hook.body, '{"event":"profile.updated","id":"42","status":204}');
    assert.equal(hook.headers['x-kong-signature'], `sha1=${createHmac('sha1', 's3').update(hook.body).digest('hex')}`);
    assert.equal(hook.headers.authorization, '[REDACTED]');
    assert.deepEqual(first.payloads.topic.attributes, { status: { type: 'Number', value: '204' } });
    assert.match(first.payloads.topic.message as string, /"apikey=\[REDACTED\]|apikey=\[REDACTED\]/);
    assert.deepEqual(second.payloads.topic, { suppressed: true });
    assert.doesNotMatch(r.stdout, /SECRET/);
    const text = cli(['match', '--payload', '-c', config, logs]);
    assert.match(text.stdout, /hook: POST http:\/\/127\.0\.0\.1:9\/h\n/);
    assert.match(text.stdout, /body: \{"event":"profile\.updated","id":"42","status":204\}/);
    assert.match(text.stdout, /topic: suppressed/);
    assert.doesNotMatch(text.stdout, /SECRET/);
  });
});
