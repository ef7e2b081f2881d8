/**
 * SNS for daemon tests: fauxqs (in-process SNS/SQS emulator) on 127.0.0.1, a topic with a
 * subscribed SQS queue to read back what was published, and a TCP gate in front of the
 * emulator that a test opens and closes to make the endpoint unreachable and back.
 */
import net from 'node:net';
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

// The test process's own SDK clients take credentials from the environment.
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
  async topicWithQueue(name: string): Promise<{ topicArn: string; queue: SqsQueue }> {
    const { TopicArn } = await this.#sns.send(new CreateTopicCommand({ Name: name }));
    const { QueueUrl } = await this.#sqs.send(new CreateQueueCommand({ QueueName: `${name}-q` }));
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

/**
 * A TCP forwarder on a fixed loopback port: open, it passes connections to `to`; closed,
 * nothing listens on the port (ECONNREFUSED) and open connections are cut.
 */
export class TcpGate {
  readonly port: number;
  readonly #to: number;
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | null = null;

  private constructor(port: number, to: number) {
    this.port = port;
    this.#to = to;
  }

  /** A gate on a free port, closed. */
  static async create(to: number): Promise<TcpGate> {
    return new TcpGate(await freePort(), to);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get isOpen(): boolean {
    return this.#server !== null;
  }

  async open(): Promise<void> {
    if (this.#server !== null) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.#to, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A loopback port nothing listens on (taken from the OS, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
