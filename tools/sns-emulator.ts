/**
 * SNS for the tests and the demo: fauxqs (in-process SNS/SQS emulator) on 127.0.0.1, and topics
 * with a subscribed SQS queue to read back what was published.
 */
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';

const REGION = 'us-east-1';

// The relay's SDK clients in this process (tests, demo) take credentials from the environment.
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
process.env.AWS_EC2_METADATA_DISABLED = 'true';

export class SnsEmulator {
  readonly endpoint: string;
  readonly port: number;
  readonly #close: () => Promise<unknown>;
  readonly #sns: SNSClient;
  readonly #sqs: SQSClient;

  private constructor(endpoint: string, close: () => Promise<unknown>) {
    this.endpoint = endpoint;
    this.port = Number(new URL(endpoint).port);
    this.#close = close;
    this.#sns = new SNSClient({ endpoint, region: REGION });
    this.#sqs = new SQSClient({ endpoint, region: REGION });
  }

  /** fauxqs bound to loopback only (its own start function listens on every interface). */
  static async start(): Promise<SnsEmulator> {
    const app = buildApp({ logger: false });
    const endpoint = await app.listen({ port: 0, host: '127.0.0.1' });
    return new SnsEmulator(endpoint, () => app.close());
  }

  /** A topic with one raw-delivery SQS queue subscribed; read it with `queue.drain()`. */
  async topicWithQueue(name: string, queueName = `${name}-q`): Promise<{ topicArn: string; queue: SqsQueue }> {
    const { TopicArn } = await this.#sns.send(new CreateTopicCommand({ Name: name }));
    const { QueueUrl } = await this.#sqs.send(new CreateQueueCommand({ QueueName: queueName }));
    const attrs = await this.#sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await this.#sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: attrs.Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    return { topicArn: TopicArn as string, queue: new SqsQueue(this.#sqs, QueueUrl as string) };
  }

  async close(): Promise<void> {
    this.#sns.destroy();
    this.#sqs.destroy();
    await this.#close();
  }
}

/** A subscribed queue; `drain()` moves what is there into `bodies` (every message ever received). */
export class SqsQueue {
  readonly bodies: string[] = [];
  readonly #sqs: SQSClient;
  readonly #url: string;

  constructor(sqs: SQSClient, url: string) {
    this.#sqs = sqs;
    this.#url = url;
  }

  async drain(): Promise<string[]> {
    for (let round = 0; round < 100_000; round++) {
      const out = await this.#sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.#url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) return this.bodies;
      for (const m of messages) this.bodies.push(m.Body ?? '');
      await this.#sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#url,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    throw new Error('queue never ran dry');
  }
}
