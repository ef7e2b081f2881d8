/** Webhook sink: batches go out over one keep-alive undici pool per destination. */
import { Pool, type Dispatcher } from 'undici';
import type { WebhookDestination } from '../../config/resolve.ts';
import type { KongEvent } from '../../event/kong-event.ts';
import type { Logger } from '../../telemetry/log.ts';
import { requestSignal } from '../request-signal.ts';
import { DELIVERED, SinkError, type EntryFailure, type SendResult, type Sink } from '../sink.ts';
import { WebhookRequestBuilder, type WebhookPayload } from './request-builder.ts';
import { errorFailure, statusFailure, type RequestFailure } from './retry.ts';
import { WebhookTarget } from './target.ts';

/** How much of an error response is read for the reason (the rest is discarded). */
const SNIPPET_READ_BYTES = 1024;
/** An error response longer than this is not drained: its connection is closed instead. */
const MAX_DRAIN_BYTES = 64 * 1024;

export class WebhookSink implements Sink {
  readonly #destination: WebhookDestination;
  readonly #target: WebhookTarget;
  readonly #builder: WebhookRequestBuilder;
  readonly #pool: Pool;
  readonly #timeoutMs: number;

  constructor(destination: WebhookDestination, log: Logger) {
    this.#destination = destination;
    this.#target = new WebhookTarget(destination.url);
    this.#builder = new WebhookRequestBuilder(destination, this.#target);
    this.#timeoutMs = destination.delivery.timeoutMs;
    // One connection per batch in flight; the per-request abort below also bounds connecting
    // and time spent queued, these bound each phase on the socket.
    this.#pool = new Pool(this.#target.origin, {
      connections: destination.delivery.concurrency,
      connectTimeout: this.#timeoutMs,
      headersTimeout: this.#timeoutMs,
      bodyTimeout: this.#timeoutMs,
    });
    log.debug(
      {
        destination: destination.name,
        url: this.#target.display,
        encoding: destination.encoding,
        gzip: destination.gzip,
        signed: destination.signing?.scheme ?? false,
      },
      'webhook sink ready',
    );
  }

  async send(events: readonly KongEvent[], signal: AbortSignal): Promise<SendResult> {
    const payloads = this.#builder.payloads(events);
    if (this.#destination.encoding !== 'json') {
      const failure = await this.#post(payloads[0], signal);
      if (failure === undefined) return DELIVERED;
      throw new SinkError(failure.reason, {
        retryable: failure.retryable,
        code: failure.code,
        retryAfterMs: failure.retryAfterMs,
      });
    }
    return { failures: await this.#postEach(payloads, signal) };
  }

  /**
   * `json`: one request per entry, one after the other (a batch uses one connection, like the
   * other encodings). A rejected entry (4xx) does not stop the rest; an unavailable endpoint
   * (5xx, 429, network, timeout) does: the remaining entries wait for the retry instead of
   * each paying the same timeout.
   */
  async #postEach(payloads: readonly WebhookPayload[], signal: AbortSignal): Promise<EntryFailure[]> {
    const failures: EntryFailure[] = [];
    for (let k = 0; k < payloads.length; k++) {
      const failure = await this.#post(payloads[k], signal);
      if (failure === undefined) continue;
      failures.push({
        index: payloads[k].indices[0],
        retryable: failure.retryable,
        reason: failure.reason,
        retryAfterMs: failure.retryAfterMs,
      });
      if (!failure.retryable) continue;
      for (const rest of payloads.slice(k + 1)) {
        failures.push({
          index: rest.indices[0],
          retryable: true,
          reason: `not sent: ${failure.reason}`,
          retryAfterMs: failure.retryAfterMs,
        });
      }
      break;
    }
    return failures;
  }

  /** One request; undefined when delivered (2xx). */
  async #post(payload: WebhookPayload, signal: AbortSignal): Promise<RequestFailure | undefined> {
    const { body, headers } = await this.#builder.request(payload);
    const request = requestSignal(signal, this.#timeoutMs);
    try {
      const response = await this.#pool.request({
        path: this.#target.requestPath,
        method: this.#destination.method,
        headers,
        body,
        signal: request.signal,
      });
      if (response.statusCode >= 200 && response.statusCode < 300) {
        // Read the body to the end so the connection goes back to the pool.
        await response.body.dump({ limit: MAX_DRAIN_BYTES });
        // Only now, and only after a success, may the body's buffer carry another batch: a 2xx
        // answer comes after the receiver has read the whole body, so no byte of it is still
        // queued for the socket (undici resolves once written to the socket, not once sent). A
        // receiver that answered 2xx before reading all of it would only see the same length of
        // this destination's next batch in the part it had not read. Failed attempts leave their
        // buffer to the GC: an error may come while bytes are still queued.
        this.#builder.release(payload);
        return undefined;
      }
      const text = await readSnippet(response.body);
      return statusFailure(this.#target, response.statusCode, response.headers['retry-after'], text);
    } catch (e) {
      return errorFailure(this.#target, e, {
        timedOut: request.timedOut(),
        timeoutMs: this.#timeoutMs,
        aborted: signal.aborted,
      });
    } finally {
      request.done();
    }
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/** The start of a response body as text; the rest is read and discarded, or the connection closed if it is large. */
async function readSnippet(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (kept < SNIPPET_READ_BYTES) {
        chunks.push(chunk);
        kept += chunk.length;
      }
      if (total > MAX_DRAIN_BYTES) break; // Leaving the loop destroys the body and its socket.
    }
  } catch {
    // The status already says what happened; a body cut short only shortens the snippet.
  }
  return Buffer.concat(chunks).subarray(0, SNIPPET_READ_BYTES).toString('utf8');
}

export function createWebhookSink(destination: WebhookDestination, log: Logger): Sink {
  return new WebhookSink(destination, log);
}
