/** Amazon SNS sink: each batch goes out as PublishBatch calls; per-entry failures are reported by index. */
import type { PublishBatchCommandOutput } from '@aws-sdk/client-sns';
import type { SnsDestination } from '../../config/resolve.ts';
import type { KongEvent } from '../../event/kong-event.ts';
import type { Logger } from '../../telemetry/log.ts';
import type { DestinationStats } from '../../telemetry/metrics.ts';
import { SinkError, type EntryFailure, type SendResult, type Sink } from '../sink.ts';
import { SnsPublisher } from './client.ts';
import { SnsRequestBuilder } from './request-builder.ts';
import { entryFailure } from './retry.ts';

/*
 * Ordering on FIFO topics. The delivery layer sends one batch at a time for FIFO topics, and
 * this sink sends its calls in batch order, so entries of a group reach SNS in the order they
 * were read — except after a retryable per-entry failure: if entry i of group G fails
 * retryably while a later entry j of G in the same call succeeds, j is published before i's
 * retry. Order per group therefore holds for every entry that succeeds on its first attempt;
 * an entry that needs a retry may arrive after later entries of its group. (Resending j after
 * i would not help: j's deduplication id makes SNS drop the resend within 5 minutes.)
 */
export class SnsSink implements Sink {
  readonly #builder: SnsRequestBuilder;
  readonly #publisher: SnsPublisher;

  constructor(destination: SnsDestination, log: Logger, stats?: DestinationStats) {
    this.#builder = new SnsRequestBuilder(destination, (name) => {
      if (stats !== undefined) stats.attributesOmitted++;
      log.debug(
        { destination: destination.name, attribute: name },
        'Number message attribute is not a number: left out',
      );
    });
    this.#publisher = new SnsPublisher(destination);
    log.debug(
      {
        destination: destination.name,
        topicArn: destination.topicArn,
        region: destination.region,
        endpoint: destination.endpoint,
        fifo: destination.fifo,
      },
      'SNS sink ready',
    );
  }

  async send(events: readonly KongEvent[], signal: AbortSignal): Promise<SendResult> {
    const { calls, rejected } = this.#builder.build(events);
    const failures: EntryFailure[] = [...rejected];
    for (let c = 0; c < calls.length; c++) {
      const call = calls[c];
      let result: PublishBatchCommandOutput;
      try {
        result = await this.#publisher.publishBatch(
          call.map((r) => r.entry),
          signal,
        );
      } catch (e) {
        const err =
          e instanceof SinkError ? e : new SinkError(String(e), { retryable: true, code: 'KLR_SNS_ERROR', cause: e });
        // The usual case, one call and nothing rejected up front: the whole batch failed.
        if (calls.length === 1 && failures.length === 0) throw err;
        for (const r of call)
          failures.push({
            index: r.index,
            retryable: err.retryable,
            reason: err.message,
            retryAfterMs: err.retryAfterMs,
          });
        // Later calls are not attempted (keeps FIFO order, spares a failing endpoint); they are
        // retried with the rest, never dead-lettered for an error they did not get.
        for (const later of calls.slice(c + 1)) {
          for (const r of later)
            failures.push({
              index: r.index,
              retryable: true,
              reason: `not sent: an earlier PublishBatch call of this batch failed: ${err.message}`,
            });
        }
        break;
      }
      const answered = new Set<string>();
      for (const ok of result.Successful ?? []) if (ok.Id !== undefined) answered.add(ok.Id);
      for (const failed of result.Failed ?? []) {
        const r = failed.Id === undefined ? undefined : call[Number(failed.Id)];
        if (r === undefined || answered.has(failed.Id as string)) continue;
        answered.add(failed.Id as string);
        failures.push({ index: r.index, ...entryFailure(failed) });
      }
      // SNS answers for every entry; one it did not mention is in an unknown state: send it again.
      for (let i = 0; i < call.length; i++) {
        if (!answered.has(String(i)))
          failures.push({
            index: call[i].index,
            retryable: true,
            reason: 'SNS did not report this entry as published or failed',
          });
      }
    }
    return { failures };
  }

  async close(): Promise<void> {
    this.#publisher.close();
  }
}

export function createSnsSink(destination: SnsDestination, log: Logger, stats?: DestinationStats): Sink {
  return new SnsSink(destination, log, stats);
}
