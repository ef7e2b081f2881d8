/**
 * A load client that behaves like Kong's http-log plugin with max_batch_size > 1: it POSTs
 * JSON arrays of entries, a few batches at a time, and sends a batch again (same body, with
 * doubling delays) on any answer >= 300 or network error, until it gets a 2xx.
 */
import { Agent, request } from 'undici';

export interface ClientBatch {
  readonly index: number;
  readonly ids: readonly string[];
  readonly body: string;
  /** Requests sent for this batch (a 2xx ends them). */
  attempts: number;
  acked: boolean;
}

export interface KongHttpClientOptions {
  /** Full URL of the http source, e.g. http://127.0.0.1:9876/kong */
  readonly url: string;
  readonly authorization?: string;
  readonly batchSize: number;
  /** Batches in flight at once (Kong: one queue per nginx worker). */
  readonly concurrency: number;
  /** Cap of the doubling retry delay (Kong's max_retry_delay, shortened for tests). */
  readonly maxRetryDelayMs?: number;
}

export class KongHttpLogClient {
  readonly batches: ClientBatch[];
  /** Answers by status ("error" for network errors). */
  readonly answers: Record<string, number> = {};
  readonly #options: KongHttpClientOptions;
  readonly #agent: Agent;
  #next = 0;
  #acked = 0;
  #stopped = false;

  constructor(entries: readonly { id: string; text: string }[], options: KongHttpClientOptions) {
    this.#options = options;
    this.batches = [];
    for (let i = 0; i < entries.length; i += options.batchSize) {
      const slice = entries.slice(i, i + options.batchSize);
      this.batches.push({
        index: this.batches.length,
        ids: slice.map((e) => e.id),
        body: `[${slice.map((e) => e.text).join(',')}]`,
        attempts: 0,
        acked: false,
      });
    }
    this.#agent = new Agent({
      connections: options.concurrency,
      keepAliveTimeout: 4_000,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      connect: { timeout: 5_000 },
    });
  }

  /** Batches answered 2xx so far. */
  get acked(): number {
    return this.#acked;
  }

  /** Send every batch until each got a 2xx (or stop() was called). */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.#options.concurrency }, () => this.#worker()));
  }

  stop(): void {
    this.#stopped = true;
  }

  async close(): Promise<void> {
    this.#stopped = true;
    await this.#agent.destroy();
  }

  /** The batch an entry id was sent in. */
  batchOf(id: string): ClientBatch | undefined {
    return this.batches.find((b) => b.ids.includes(id));
  }

  async #worker(): Promise<void> {
    while (!this.#stopped && this.#next < this.batches.length) {
      const batch = this.batches[this.#next++];
      let delay = 10;
      while (!this.#stopped) {
        batch.attempts++;
        const status = await this.#post(batch.body);
        this.answers[status] = (this.answers[status] ?? 0) + 1;
        if (typeof status === 'number' && status >= 200 && status < 300) {
          batch.acked = true;
          this.#acked++;
          break;
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.#options.maxRetryDelayMs ?? 250);
      }
    }
  }

  async #post(body: string): Promise<number | 'error'> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.#options.authorization !== undefined) headers.authorization = this.#options.authorization;
    try {
      const r = await request(this.#options.url, { method: 'POST', headers, body, dispatcher: this.#agent });
      await r.body.dump();
      return r.statusCode;
    } catch {
      return 'error';
    }
  }
}
