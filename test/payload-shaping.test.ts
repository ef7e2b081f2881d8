/**
 * What leaves the relay is the operator's: `payload` templates with the rule's named captures and
 * typed placeholders, `fields`, `unique` + `snooze` dedupe, Kong's X-Kong-Signature, typed SNS
 * attributes and a FIFO topic deduplicated across relays — checked on real receivers (node:http on
 * 127.0.0.1, fauxqs SNS → SQS).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { createSink } from '../src/sinks/index.ts';
import { Pipeline } from '../src/delivery/pipeline.ts';
import { RelayMetrics } from '../src/telemetry/metrics.ts';
import { configFromYaml, quietLogger, relayEntries, type TestPipeline } from './support/pipeline.ts';
import { SnsEmulator } from '../tools/sns-emulator.ts';
import { VirtualClock } from './support/virtual-clock.ts';

interface Received {
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

const servers: http.Server[] = [];
const pipelines: TestPipeline[] = [];
afterEach(async () => {
  await Promise.all(pipelines.splice(0).map((p) => p.pipeline.drain(Date.now() + 2_000)));
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

/** A receiver that records every request and answers 200. */
async function receiver(): Promise<{ url: string; requests: Received[] }> {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, requests };
}

/** A real pipeline with real sinks (which count into the pipeline's metrics, as in the daemon). */
function pipeline(yaml: string): TestPipeline {
  const config = configFromYaml(`${yaml}\nadmin: false\n`);
  const log = quietLogger();
  const metrics = new RelayMetrics('test', 'node');
  const p = {
    config,
    log,
    metrics,
    pipeline: new Pipeline(config, (d) => createSink(d, log, metrics.destination(d.name)), metrics, log),
  };
  pipelines.push(p);
  return p;
}

function profileEntry(id: string, o: { consumer?: string; status?: number; method?: string } = {}): string {
  return `{"request":{"method":"${o.method ?? 'PUT'}","uri":"\\/profile\\/${id}?apikey=SECRET-${id}","headers":{"authorization":"Bearer SECRET-TOKEN","host":"api"}},"response":{"status":${o.status ?? 200}},"consumer":{"id":"${o.consumer ?? 'c1'}","username":"u-${o.consumer ?? 'c1'}"},"client_ip":"10.0.0.9","started_at":1726783839539,"workspace_name":"default"}`;
}

const FAST = 'batch: { max_wait: 10ms }, retry: { initial_delay: 10ms, max_delay: 50ms, max_elapsed: 5s }';
/** FAST as block mapping lines of a destination (indented by 4). */
const FAST_BLOCK = 'batch: { max_wait: 10ms }\n    retry: { initial_delay: 10ms, max_delay: 50ms, max_elapsed: 5s }';

describe('payload templates, fields, dedupe and Kong signing', () => {
  it('a "profile updated" webhook: exact small bodies from captures and typed fields, repeats suppressed, X-Kong-Signature verifies', async () => {
    const rx = await receiver();
    const p = pipeline(`
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
rules:
  - name: profile
    when: { methods: [PUT], path: '^/profile/(?<id>\\d+)$', status: [2xx] }
    to: [profile_hook]
workspaces: { "*": { to: [audit] } }
destinations:
  profile_hook:
    type: webhook
    url: ${rx.url}/profile
    encoding: json
    headers: { X-Event: "profile.updated/{match.id}" }
    payload: { event: profile.updated, id: "{match.id}", at: "{started_at}", status: "{response.status:number}", ok: "{request.headers.x-ok:boolean}", consumer: "{consumer:json}", n: 1, tags: [a, "{request.method}"] }
    unique: [match.id, consumer.id]
    snooze: 1h
    signing: { scheme: kong, secret: "hook-secret" }
    ${FAST_BLOCK}
  audit:
    type: webhook
    url: ${rx.url}/audit
    encoding: ndjson
    gzip: true
    fields: [request.method, request.uri, response.status, consumer.username, workspace_name, request.headers.x-none]
    signing: { scheme: kong, secret: "audit-secret" }
    ${FAST_BLOCK}
`);
    const texts = [
      profileEntry('42'),
      profileEntry('42'), // repeat: suppressed
      profileEntry('42', { consumer: 'c2' }), // another combination
      profileEntry('7'),
    ];
    await relayEntries(p.pipeline, texts);
    const profile = rx.requests.filter((r) => r.url === '/profile');
    assert.deepEqual(
      profile.map((r) => r.body.toString('utf8')),
      [
        '{"event":"profile.updated","id":"42","at":"1726783839539","status":200,"ok":null,"consumer":{"id":"c1","username":"u-c1"},"n":1,"tags":["a","PUT"]}',
        '{"event":"profile.updated","id":"42","at":"1726783839539","status":200,"ok":null,"consumer":{"id":"c2","username":"u-c2"},"n":1,"tags":["a","PUT"]}',
        '{"event":"profile.updated","id":"7","at":"1726783839539","status":200,"ok":null,"consumer":{"id":"c1","username":"u-c1"},"n":1,"tags":["a","PUT"]}',
      ],
    );
    for (const r of profile) {
      assert.equal(
        r.headers['x-kong-signature'],
        `sha1=${createHmac('sha1', 'hook-secret').update(r.body).digest('hex')}`,
      );
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['webhook-signature'], undefined, 'kong scheme only');
    }
    assert.deepEqual(
      profile.map((r) => r.headers['x-event']),
      ['profile.updated/42', 'profile.updated/42', 'profile.updated/7'],
    );
    assert.equal(p.metrics.destination('profile_hook').suppressed, 1);
    assert.equal(
      (await p.metrics.registry.metrics()).includes(
        'kong_log_relay_events_suppressed_total{destination="profile_hook"} 1',
      ),
      true,
    );

    // fields: only the listed paths, their bytes as Kong wrote them; gzip signed over the compressed bytes.
    const audit = rx.requests.filter((r) => r.url === '/audit');
    const lines = audit.flatMap((r) => {
      assert.equal(r.headers['content-encoding'], 'gzip');
      assert.equal(
        r.headers['x-kong-signature'],
        `sha1=${createHmac('sha1', 'audit-secret').update(r.body).digest('hex')}`,
      );
      return gunzipSync(r.body).toString('utf8').split('\n').filter(Boolean);
    });
    assert.equal(lines.length, 4, 'dedupe is per destination');
    assert.equal(
      lines[0],
      '{"request":{"method":"PUT","uri":"\\/profile\\/42?apikey=[REDACTED]"},"response":{"status":200},"consumer":{"username":"u-c1"},"workspace_name":"default"}',
    );
    for (const r of rx.requests) assert.doesNotMatch(gunzipIf(r), /SECRET/);
  });

  it('snooze: a repeat is suppressed until its window has passed, then sent again and a new window starts', async (t) => {
    const clock = new VirtualClock(t);
    const rx = await receiver();
    const p = pipeline(`
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
rules: [ { name: profile, when: { path: '^/profile/(?<id>\\d+)$' }, to: [h] } ]
destinations:
  h: { type: webhook, url: ${rx.url}, encoding: json, payload: { id: "{match.id}" }, unique: [match.id], snooze: 1h, batch: { max_events: 1 } }
`);
    const sent = (): number => rx.requests.length;
    await relayEntries(p.pipeline, [profileEntry('42'), profileEntry('42')]);
    assert.equal(sent(), 1);
    clock.advance(3_600_000 - 1);
    await relayEntries(p.pipeline, [profileEntry('42')]);
    assert.equal(sent(), 1, 'still inside the window');
    clock.advance(1);
    await relayEntries(p.pipeline, [profileEntry('42'), profileEntry('42')]);
    assert.equal(sent(), 2, 'sent again once the window has passed, then suppressed again');
    assert.equal(p.metrics.destination('h').suppressed, 3);
  });

  it('an entry routed only by a workspace or "*" renders {match.NAME} as "" (null when typed)', async () => {
    const rx = await receiver();
    const p = pipeline(`
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
rules: [ { name: profile, when: { path: '^/profile/(?<id>\\d+)$' }, to: [h] } ]
workspaces: { "*": { to: [h] } }
destinations:
  h: { type: webhook, url: ${rx.url}, encoding: json_array, payload: { id: "{match.id}", n: "{match.id:number}" }, ${FAST} }
`);
    await relayEntries(p.pipeline, [profileEntry('5'), profileEntry('5').replace('\\/profile\\/5', '\\/other')]);
    const bodies = rx.requests.flatMap((r) => JSON.parse(r.body.toString('utf8')) as unknown[]);
    assert.deepEqual(bodies, [
      { id: '5', n: 5 },
      { id: '', n: null },
    ]);
  });
});

describe('SNS: typed attributes and FIFO dedupe across relays (fauxqs)', () => {
  let emulator: SnsEmulator;
  let sns: SNSClient;
  let sqs: SQSClient;
  before(async () => {
    emulator = await SnsEmulator.start();
    sns = new SNSClient({ endpoint: emulator.endpoint, region: 'us-east-1' });
    sqs = new SQSClient({ endpoint: emulator.endpoint, region: 'us-east-1' });
  });
  after(async () => {
    sns.destroy();
    sqs.destroy();
    await emulator.close();
  });

  async function topicAndQueue(name: string, fifo: boolean, filter?: object): Promise<{ arn: string; queue: string }> {
    const attrs: Record<string, string> = fifo ? { FifoTopic: 'true' } : {};
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name, Attributes: attrs }));
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }),
    );
    const q = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: q.Attributes?.QueueArn,
        Attributes: {
          RawMessageDelivery: 'true',
          ...(filter === undefined ? {} : { FilterPolicy: JSON.stringify(filter) }),
        },
      }),
    );
    return { arn: TopicArn as string, queue: QueueUrl as string };
  }

  async function drain(url: string): Promise<Message[]> {
    const all: Message[] = [];
    for (;;) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
        }),
      );
      const ms = out.Messages ?? [];
      if (ms.length === 0) return all;
      all.push(...ms);
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: ms.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  }

  it('Number attributes feed numeric filter policies; a non-number is left out and counted; messages are redacted', async () => {
    const { arn, queue } = await topicAndQueue('typed', false, { status: [{ numeric: ['>=', 500] }] });
    const p = pipeline(`
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
rules: [ { name: all, to: [topic] } ]
destinations:
  topic:
    type: sns
    topic_arn: ${arn}
    endpoint: ${emulator.endpoint}
    message_attributes:
      status: { value: "{response.status}", type: Number }
      method: "{request.method}"
      bogus: { value: "{request.method}", type: Number }
      tags: { value: "{request.method}", type: String.Array }
    ${FAST_BLOCK}
`);
    await relayEntries(p.pipeline, [profileEntry('1', { status: 503 }), profileEntry('2', { status: 200 })]);
    const got = await drain(queue);
    assert.equal(got.length, 1, 'only the 503 passes the numeric filter');
    const m = got[0];
    assert.equal(m.MessageAttributes?.status?.DataType, 'Number');
    assert.equal(m.MessageAttributes?.status?.StringValue, '503');
    assert.equal(m.MessageAttributes?.method?.StringValue, 'PUT');
    assert.equal(m.MessageAttributes?.tags?.DataType, 'String.Array');
    assert.equal(m.MessageAttributes?.tags?.StringValue, '["PUT"]');
    assert.equal(m.MessageAttributes?.bogus, undefined);
    assert.equal(p.metrics.destination('topic').attributesOmitted, 2);
    assert.doesNotMatch(m.Body ?? '', /SECRET/);
    assert.match(m.Body ?? '', /"authorization":"\[REDACTED\]"/);
  });

  it('a FIFO topic fed by two relays with unique: each combination arrives once (deduplication id = hash of the unique values)', async () => {
    const { arn, queue } = await topicAndQueue('profile.fifo', true);
    const yaml = `
sources: { t: { type: file, paths: ["/nonexistent/*.log"] } }
rules: [ { name: profile, when: { path: '^/profile/(?<id>\\d+)$' }, to: [topic] } ]
destinations:
  topic:
    type: sns
    topic_arn: ${arn}
    endpoint: ${emulator.endpoint}
    message_group_id: "{match.id}"
    payload: { event: profile.updated, id: "{match.id}" }
    unique: [match.id]
    snooze: 1s
    ${FAST_BLOCK}
`;
    const a = pipeline(yaml);
    const b = pipeline(yaml);
    const texts = ['1', '2', '1', '3', '2'].map((id) => profileEntry(id));
    await Promise.all([relayEntries(a.pipeline, texts), relayEntries(b.pipeline, texts)]);
    const got = (await drain(queue)).map((m) => m.Body).sort();
    assert.deepEqual(
      got,
      [1, 2, 3].map((id) => `{"event":"profile.updated","id":"${id}"}`),
    );
  });
});

function gunzipIf(r: Received): string {
  return (r.headers['content-encoding'] === 'gzip' ? gunzipSync(r.body) : r.body).toString('utf8');
}
