/**
 * The SNS sink through the real pipeline against fauxqs (an in-process SNS/SQS emulator on
 * 127.0.0.1): what arrives in subscribed SQS queues, with which attributes, in what order,
 * and what is dead-lettered instead.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { buildRouting } from '../src/delivery/routing.ts';
import type { SnsDestination } from '../src/config/resolve.ts';
import type { KongEvent } from '../src/event/kong-event.ts';
import { SnsRequestBuilder } from '../src/sinks/sns/request-builder.ts';
import { createSink } from '../src/sinks/index.ts';
import {
  configFromYaml,
  quietLogger,
  readDeadLetters,
  relayEntries,
  tempDir,
  testPipeline,
  type TestPipeline,
} from './support/pipeline.ts';
import { byteStringOf } from '../src/event/byte-string.ts';
import { SnsEmulator } from '../tools/sns-emulator.ts';
import { waitFor } from './support/daemon.ts';
import { freePort, TcpGate } from './support/tcp-gate.ts';

const REGION = 'us-east-1';

class Aws {
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  constructor(endpoint: string) {
    this.sns = new SNSClient({ endpoint, region: REGION });
    this.sqs = new SQSClient({ endpoint, region: REGION });
  }

  async topic(name: string, attributes: Record<string, string> = {}): Promise<string> {
    const out = await this.sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
    return out.TopicArn as string;
  }

  /** A queue subscribed to the topic; returns its URL. */
  async subscribedQueue(
    topicArn: string,
    name: string,
    subscription: Record<string, string>,
    queue: Record<string, string> = {},
  ): Promise<string> {
    const { QueueUrl } = await this.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: queue }));
    const attrs = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await this.sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: attrs.Attributes?.QueueArn,
        Attributes: subscription,
      }),
    );
    return QueueUrl as string;
  }

  /** Everything in the queue, in receive order, deleting as it goes (FIFO queues lock a group until then). */
  async drainQueue(url: string): Promise<Message[]> {
    const all: Message[] = [];
    for (let round = 0; round < 1000; round++) {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) return all;
      all.push(...messages);
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    throw new Error('queue never ran dry');
  }

  close(): void {
    this.sns.destroy();
    this.sqs.destroy();
  }
}

/** A Kong 3.x entry the way lua-cjson writes it: "/" escaped, non-ASCII raw. */
function kongEntry(n: number, o: { method?: string; consumer?: string; pad?: number } = {}): string {
  const e: Record<string, unknown> = {
    request: {
      method: o.method ?? 'PUT',
      uri: `/profile/${n}?x=1`,
      url: `https://api.example.com/profile/${n}?x=1`,
      headers: { host: 'api.example.com' },
      size: 100,
    },
    response: { status: 200, size: 10 },
    workspace_name: 'default',
    started_at: 1726783839539 + n,
    client_ip: '10.0.0.1',
    note: `café ☕ #${n}`,
  };
  if (o.consumer !== undefined) e.consumer = { id: `c-${o.consumer}`, username: o.consumer };
  if (o.pad !== undefined) e.pad = 'x'.repeat(o.pad);
  return JSON.stringify(e).replaceAll('/', '\\/');
}

function pipelineFor(destinationYaml: string, dir: string): TestPipeline {
  const config = configFromYaml(
    `
sources: { t: { type: file, paths: ["${dir}/never/*.log"] } }
rules: [ { name: all, to: [topic] } ]
destinations:
  topic:
${destinationYaml.replace(/^/gm, '    ')}
state_dir: ${dir}
admin: false
`,
    dir,
  );
  const log = quietLogger();
  return testPipeline(config, { topic: createSink(config.destinations[0], log) });
}

const FAST_RETRY = 'retry: { initial_delay: 10ms, max_delay: 100ms, max_elapsed: 5s }\nbatch: { max_wait: 10ms }';

describe('SNS sink (fauxqs)', () => {
  let emulator: SnsEmulator;
  let aws: Aws;
  before(async () => {
    emulator = await SnsEmulator.start();
    aws = new Aws(emulator.endpoint);
  });
  after(async () => {
    aws.close();
    await emulator.close();
  });

  it('publishes each entry text unchanged, once, with rendered attributes; filter policies see them', async () => {
    const topicArn = await aws.topic('profile-updated');
    const raw = await aws.subscribedQueue(topicArn, 'raw', { RawMessageDelivery: 'true' });
    const wrapped = await aws.subscribedQueue(topicArn, 'wrapped', { RawMessageDelivery: 'false' });
    const putsOnly = await aws.subscribedQueue(topicArn, 'puts', {
      RawMessageDelivery: 'true',
      FilterPolicy: JSON.stringify({ method: ['PUT'] }),
    });
    const dir = tempDir();
    const p = pipelineFor(
      `type: sns
topic_arn: ${topicArn}
endpoint: ${emulator.endpoint}
subject: "{method} {path}"
message_attributes: { method: "{request.method}", workspace: "{workspace}", missing: "{request.headers.x-missing}" }
${FAST_RETRY}`,
      dir,
    );
    // 25 entries: three PublishBatch calls of up to 10.
    const texts = Array.from({ length: 25 }, (_, n) => kongEntry(n, { method: n % 3 === 0 ? 'PATCH' : 'PUT' }));
    await relayEntries(p.pipeline, texts);

    const rawMessages = await aws.drainQueue(raw);
    assert.deepEqual(
      rawMessages.map((m) => m.Body).sort(),
      [...texts].sort(),
      'every text exactly once, byte for byte',
    );
    const first = rawMessages.find((m) => m.Body === texts[0]) as Message;
    assert.equal(first.MessageAttributes?.method?.StringValue, 'PATCH');
    assert.equal(first.MessageAttributes?.method?.DataType, 'String');
    assert.equal(first.MessageAttributes?.workspace?.StringValue, 'default');
    assert.equal(first.MessageAttributes?.missing, undefined, 'an attribute that renders empty is left out');

    const envelopes = (await aws.drainQueue(wrapped)).map(
      (m) =>
        JSON.parse(m.Body as string) as {
          Message: string;
          Subject: string | null;
          MessageAttributes: Record<string, { Value: string }>;
        },
    );
    assert.deepEqual(envelopes.map((e) => e.Message).sort(), [...texts].sort());
    const env1 = envelopes.find((e) => e.Message === texts[1]);
    assert.equal(env1?.Subject, 'PUT /profile/1');
    assert.equal(env1?.MessageAttributes.method.Value, 'PUT');

    const puts = (await aws.drainQueue(putsOnly)).map((m) => m.Body);
    assert.deepEqual(
      puts.sort(),
      texts.filter((_, n) => n % 3 !== 0).sort(),
      'the filtered subscription gets only PUT entries',
    );
    assert.deepEqual(readDeadLetters(dir, 'topic'), []);
    await p.pipeline.drain(Date.now() + 2_000);
  });

  it('FIFO topic: entries of each message group arrive in the order they were read', async () => {
    const topicArn = await aws.topic('orders.fifo', { FifoTopic: 'true' });
    const queue = await aws.subscribedQueue(
      topicArn,
      'orders.fifo',
      { RawMessageDelivery: 'true' },
      { FifoQueue: 'true' },
    );
    const dir = tempDir();
    const p = pipelineFor(
      `type: sns
topic_arn: ${topicArn}
endpoint: ${emulator.endpoint}
message_group_id: "{consumer.username}"
${FAST_RETRY}`,
      dir,
    );
    const consumers = ['alice', 'bob', 'carol', undefined];
    const texts = Array.from({ length: 40 }, (_, n) => kongEntry(n, { consumer: consumers[n % 4] }));
    await relayEntries(p.pipeline, texts);

    const messages = await aws.drainQueue(queue);
    assert.equal(messages.length, texts.length, 'each entry once');
    const byGroup = new Map<string, string[]>();
    for (const m of messages) {
      const group = m.Attributes?.MessageGroupId ?? '?';
      byGroup.set(group, [...(byGroup.get(group) ?? []), m.Body as string]);
    }
    assert.deepEqual(
      [...byGroup.keys()].sort(),
      ['alice', 'bob', 'carol', 'kong-log-relay'],
      'no consumer → the default group',
    );
    consumers.forEach((c, i) => {
      assert.deepEqual(
        byGroup.get(c ?? 'kong-log-relay'),
        texts.filter((_, n) => n % 4 === i),
        `order of group ${c ?? 'default'}`,
      );
    });
    await p.pipeline.drain(Date.now() + 2_000);
  });

  it('an entry over 256 KiB is dead-lettered without being sent; the rest of its batch arrives', async () => {
    const topicArn = await aws.topic('big');
    const queue = await aws.subscribedQueue(topicArn, 'big-q', { RawMessageDelivery: 'true' });
    const dir = tempDir();
    const p = pipelineFor(
      `type: sns
topic_arn: ${topicArn}
endpoint: ${emulator.endpoint}
${FAST_RETRY}`,
      dir,
    );
    const big = kongEntry(99, { pad: 300 * 1024 });
    const small = [0, 1, 2, 3].map((n) => kongEntry(n));
    await relayEntries(p.pipeline, [small[0], small[1], big, small[2], small[3]]);

    assert.deepEqual((await aws.drainQueue(queue)).map((m) => m.Body).sort(), [...small].sort());
    const dead = readDeadLetters(dir, 'topic');
    assert.equal(dead.length, 1);
    assert.match(dead[0].reason, /entry is 30\d KiB, over SNS's 256 KiB message limit/);
    assert.equal(dead[0].attempts, 1);
    assert.deepEqual(dead[0].event, JSON.parse(big));
    await p.pipeline.drain(Date.now() + 2_000);
  });

  it('a topic that does not exist: entries are dead-lettered after one attempt, not retried', async () => {
    const dir = tempDir();
    const p = pipelineFor(
      `type: sns
topic_arn: arn:aws:sns:us-east-1:000000000000:no-such-topic
endpoint: ${emulator.endpoint}
${FAST_RETRY}`,
      dir,
    );
    const texts = [kongEntry(1), kongEntry(2)];
    await relayEntries(p.pipeline, texts);
    const dead = readDeadLetters(dir, 'topic');
    assert.equal(dead.length, 2);
    for (const d of dead) {
      assert.match(d.reason, /NotFound/);
      assert.equal(d.attempts, 1);
    }
    assert.equal(p.pipeline.status()[0].retries, 0);
    await p.pipeline.drain(Date.now() + 2_000);
  });

  it('endpoint unreachable for good: retried with backoff, then dead-lettered with the reason', async () => {
    const dir = tempDir();
    const port = await freePort();
    const p = pipelineFor(
      `type: sns
topic_arn: arn:aws:sns:us-east-1:000000000000:anything
endpoint: http://127.0.0.1:${port}
retry: { initial_delay: 10ms, max_delay: 50ms, max_elapsed: 400ms }
batch: { max_wait: 10ms }`,
      dir,
    );
    await relayEntries(p.pipeline, [kongEntry(1)]);
    const dead = readDeadLetters(dir, 'topic');
    assert.equal(dead.length, 1);
    assert.ok(dead[0].attempts > 1, `retried (${dead[0].attempts} attempts)`);
    assert.match(dead[0].reason, /retries exhausted.*ECONNREFUSED/);
    await p.pipeline.drain(Date.now() + 2_000);
  });

  it('endpoint down at first: entries are retried and arrive once it is reachable', async () => {
    const topicArn = await aws.topic('late');
    const queue = await aws.subscribedQueue(topicArn, 'late-q', { RawMessageDelivery: 'true' });
    // The sink talks to a port where nothing listens yet; later a forwarder to fauxqs opens there.
    const gate = await TcpGate.create(emulator.port);
    const dir = tempDir();
    const p = pipelineFor(
      `type: sns
topic_arn: ${topicArn}
endpoint: ${gate.url}
retry: { initial_delay: 20ms, max_delay: 100ms, max_elapsed: 30s }
batch: { max_wait: 10ms }`,
      dir,
    );
    const texts = [kongEntry(1), kongEntry(2), kongEntry(3)];
    const delivered = relayEntries(p.pipeline, texts);
    await waitFor(() => p.pipeline.status()[0].retries >= 3, 10_000, 'retries while the endpoint is down');
    await gate.open();
    try {
      await delivered;
      assert.deepEqual((await aws.drainQueue(queue)).map((m) => m.Body).sort(), [...texts].sort());
      assert.deepEqual(readDeadLetters(dir, 'topic'), []);
    } finally {
      await p.pipeline.drain(Date.now() + 2_000);
      await gate.close();
    }
  });
});

describe('SNS request builder', () => {
  const config = configFromYaml(`
sources: { t: { type: file, paths: ["/never/*.log"] } }
destinations:
  topic: { type: sns, topic_arn: "arn:aws:sns:us-east-1:000000000000:t", message_attributes: { method: "{request.method}" } }
`);
  const destination = config.destinations[0] as SnsDestination;
  const decode = (text: string): KongEvent => {
    const e = buildRouting(config).decoder.decode(byteStringOf(text));
    if (e instanceof Error) throw e;
    return e;
  };

  it('splits an over-full batch into calls of at most 10 entries and 256 KiB, ids "0".."9" per call', () => {
    // ~100 KB of 2-byte characters each: 3 fit by UTF-16 length (the delivery layer's measure), only 2 by bytes.
    const wide = (n: number): string => JSON.stringify({ request: { method: 'GET' }, n, pad: 'é'.repeat(50_000) });
    const events = [...Array.from({ length: 12 }, (_, n) => kongEntry(n)), wide(1), wide(2), wide(3)].map(decode);
    const { calls, rejected } = new SnsRequestBuilder(destination).build(events);
    assert.deepEqual(rejected, []);
    assert.deepEqual(
      calls.map((c) => c.map((r) => r.index)),
      [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13], [14]],
    );
    for (const call of calls) {
      assert.deepEqual(
        call.map((r) => r.entry.Id),
        call.map((_, i) => String(i)),
      );
      const bytes = call.reduce(
        (sum, r) =>
          sum +
          Buffer.byteLength(r.entry.Message as string) +
          Buffer.byteLength('method') +
          Buffer.byteLength('String') +
          Buffer.byteLength('GET'),
        0,
      );
      assert.ok(bytes <= 256 * 1024, `call of ${bytes} bytes`);
    }
  });

  it('measures the size limit in UTF-8 bytes, attributes included', () => {
    const text = JSON.stringify({ request: { method: 'GET' }, pad: 'é'.repeat(140_000) }); // 140k chars, 280 KB
    const { calls, rejected } = new SnsRequestBuilder(destination).build([decode(text)]);
    assert.equal(calls.length, 0);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0].retryable, false);
    assert.match(rejected[0].reason, /^entry is 274 KiB, over SNS's 256 KiB message limit/);
  });
});

/** A port nothing listens on (taken from the OS, then released). */
