/** The SNS client of one destination: one PublishBatch call, bounded by a timeout, never retried by the SDK. */
import { PublishBatchCommand, SNSClient, type PublishBatchCommandOutput, type PublishBatchRequestEntry } from '@aws-sdk/client-sns';
import type { SnsDestination } from '../../config/resolve.ts';
import { requestSignal } from '../request-signal.ts';
import { callError } from './retry.ts';

export class SnsPublisher {
  readonly #client: SNSClient;
  readonly #topicArn: string;
  readonly #timeoutMs: number;

  constructor(destination: SnsDestination) {
    this.#topicArn = destination.topicArn;
    this.#timeoutMs = destination.delivery.timeoutMs;
    // Credentials come from the SDK's default chain (env, shared files, SSO, container and
    // instance roles). maxAttempts 1: the delivery layer owns retries, backoff and their budget.
    this.#client = new SNSClient({
      region: destination.region,
      endpoint: destination.endpoint,
      maxAttempts: 1,
    });
  }

  /** One PublishBatch call; throws a SinkError (retryable or not) when the whole call fails. */
  async publishBatch(entries: PublishBatchRequestEntry[], delivery: AbortSignal): Promise<PublishBatchCommandOutput> {
    const request = requestSignal(delivery, this.#timeoutMs);
    try {
      return await this.#client.send(new PublishBatchCommand({ TopicArn: this.#topicArn, PublishBatchRequestEntries: entries }), { abortSignal: request.signal });
    } catch (e) {
      throw callError(e, { timedOut: request.timedOut(), timeoutMs: this.#timeoutMs, aborted: delivery.aborted });
    } finally {
      request.done();
    }
  }

  close(): void {
    this.#client.destroy();
  }
}
