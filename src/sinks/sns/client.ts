/**
 * The SNS client of one destination: one PublishBatch call, bounded by a timeout, never retried
 * by the SDK. The AWS SDK (~18 MB of heap) is loaded on the first publish, so a relay without
 * SNS destinations never pays for it.
 */
import type { PublishBatchCommandOutput, PublishBatchRequestEntry, SNSClient } from '@aws-sdk/client-sns';
import type { SnsDestination } from '../../config/resolve.ts';
import { requestSignal } from '../request-signal.ts';
import { callError } from './retry.ts';

type Sdk = typeof import('@aws-sdk/client-sns');

export class SnsPublisher {
  readonly #destination: SnsDestination;
  readonly #topicArn: string;
  readonly #timeoutMs: number;
  #sdk: Promise<{ sdk: Sdk; client: SNSClient }> | null = null;
  #client: SNSClient | null = null;

  constructor(destination: SnsDestination) {
    this.#destination = destination;
    this.#topicArn = destination.topicArn;
    this.#timeoutMs = destination.delivery.timeoutMs;
  }

  #load(): Promise<{ sdk: Sdk; client: SNSClient }> {
    this.#sdk ??= import('@aws-sdk/client-sns').then((sdk) => {
      // Credentials come from the SDK's default chain (env, shared files, SSO, container and
      // instance roles). maxAttempts 1: the delivery layer owns retries, backoff and their budget.
      const client = new sdk.SNSClient({
        region: this.#destination.region,
        endpoint: this.#destination.endpoint,
        maxAttempts: 1,
      });
      this.#client = client;
      return { sdk, client };
    });
    return this.#sdk;
  }

  /** One PublishBatch call; throws a SinkError (retryable or not) when the whole call fails. */
  async publishBatch(entries: PublishBatchRequestEntry[], delivery: AbortSignal): Promise<PublishBatchCommandOutput> {
    const { sdk, client } = await this.#load();
    const request = requestSignal(delivery, this.#timeoutMs);
    try {
      return await client.send(
        new sdk.PublishBatchCommand({ TopicArn: this.#topicArn, PublishBatchRequestEntries: entries }),
        { abortSignal: request.signal },
      );
    } catch (e) {
      throw callError(e, { timedOut: request.timedOut(), timeoutMs: this.#timeoutMs, aborted: delivery.aborted });
    } finally {
      request.done();
    }
  }

  close(): void {
    this.#client?.destroy();
  }
}
