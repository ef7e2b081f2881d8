/**
 * Read a request body straight from the Node request stream, counting bytes as they arrive
 * (after gunzip when the body is gzip-encoded), and stop at the limit: an oversize body or a
 * gzip bomb costs at most `limit` bytes plus one chunk, never the whole upload. Each chunk kept
 * is reserved in the source's BodyBudget; reading stops when the budget has no room for it.
 */
import type { IncomingMessage } from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';
import type { BodyBudget } from './body-budget.ts';

/** Every result says how many bytes it `reserved` in the budget: the caller releases exactly those. */
export type BodyResult =
  | { readonly kind: 'body'; readonly bytes: Buffer; readonly reserved: number }
  | { readonly kind: 'too_large'; readonly received: number; readonly reserved: number }
  /** The gzip stream is broken; `head` is the start of the compressed bytes, for the dead letter. */
  | { readonly kind: 'bad_gzip'; readonly error: string; readonly head: Buffer; readonly reserved: number }
  /** The client went away or the server cut it off (request timeout): nothing to answer. */
  | { readonly kind: 'aborted'; readonly reserved: number }
  /** The budget had no room for the next chunk: reading stopped (the request is refused, Kong retries it). */
  | { readonly kind: 'over_budget'; readonly reserved: number };

/**
 * Collect the body. `limit` applies to the decoded bytes. With gzip, up to `keepCompressed`
 * bytes of the compressed input are kept so that a broken stream can be dead-lettered; they are
 * reserved in the budget too (stalled uploads of empty deflate blocks, which decode to nothing,
 * held up to 768 KiB each outside it).
 */
export function readBody(
  incoming: IncomingMessage,
  limit: number,
  gzip: boolean,
  budget: BodyBudget,
  keepCompressed = 0,
): Promise<BodyResult> {
  return gzip ? readGzip(incoming, limit, budget, keepCompressed) : readPlain(incoming, limit, budget);
}

/**
 * The decoded chunks of one body, each counted against `limit` and reserved in the budget as it
 * is kept: `reserved` is always what the caller must release.
 */
class KeptChunks {
  readonly #chunks: Buffer[] = [];
  readonly #limit: number;
  readonly #budget: BodyBudget;
  /** Bytes kept, each reserved in the budget. */
  reserved = 0;

  constructor(limit: number, budget: BodyBudget) {
    this.#limit = limit;
    this.#budget = budget;
  }

  /** Keep `chunk`; null, or (nothing kept) why reading must stop. */
  keep(chunk: Buffer): BodyResult | null {
    const received = this.reserved + chunk.length;
    if (received > this.#limit) return { kind: 'too_large', received, reserved: this.reserved };
    if (!this.#budget.reserve(chunk.length)) return { kind: 'over_budget', reserved: this.reserved };
    this.reserved = received;
    this.#chunks.push(chunk);
    return null;
  }

  /** The whole body, once its stream has ended. */
  body(): BodyResult {
    const chunks = this.#chunks;
    return {
      kind: 'body',
      bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.reserved),
      reserved: this.reserved,
    };
  }
}

function readPlain(incoming: IncomingMessage, limit: number, budget: BodyBudget): Promise<BodyResult> {
  return new Promise((resolve) => {
    const kept = new KeptChunks(limit, budget);
    let settled = false;
    const finish = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onAbort);
      incoming.off('close', onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      const stop = kept.keep(chunk);
      if (stop !== null) {
        incoming.pause();
        finish(stop);
      }
    };
    const onEnd = (): void => finish(kept.body());
    const onAbort = (): void => finish({ kind: 'aborted', reserved: kept.reserved });
    // 'close' also follows a normal 'end'; by then we have settled.
    const onClose = (): void => {
      if (!incoming.readableEnded) onAbort();
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onAbort);
    incoming.on('close', onClose);
  });
}

function readGzip(
  incoming: IncomingMessage,
  limit: number,
  budget: BodyBudget,
  keepCompressed: number,
): Promise<BodyResult> {
  return new Promise((resolve) => {
    const gunzip: Gunzip = createGunzip();
    const decoded = new KeptChunks(limit, budget);
    const compressed: Buffer[] = [];
    /** Compressed bytes kept (for the dead letter), each reserved in the budget. */
    let kept = 0;
    let settled = false;
    const finish = (decodedResult: BodyResult): void => {
      if (settled) return;
      settled = true;
      const result = { ...decodedResult, reserved: decodedResult.reserved + kept };
      incoming.off('data', onCompressed);
      incoming.off('error', onAbort);
      incoming.off('close', onClose);
      incoming.unpipe(gunzip);
      if (result.kind !== 'body') {
        incoming.pause();
        gunzip.destroy();
      }
      resolve(result);
    };
    const onCompressed = (chunk: Buffer): void => {
      if (kept >= keepCompressed || settled) return;
      const part = chunk.length > keepCompressed - kept ? chunk.subarray(0, keepCompressed - kept) : chunk;
      if (!budget.reserve(part.length)) {
        finish({ kind: 'over_budget', reserved: decoded.reserved });
        return;
      }
      // A copy: a slice would keep the whole socket chunk alive.
      compressed.push(part === chunk ? chunk : Buffer.from(part));
      kept += part.length;
    };
    const onAbort = (): void => finish({ kind: 'aborted', reserved: decoded.reserved });
    const onClose = (): void => {
      if (!incoming.readableEnded) onAbort();
    };
    gunzip.on('data', (chunk: Buffer) => {
      // Output already decoded when we stopped is not kept, so not reserved.
      if (settled) return;
      const stop = decoded.keep(chunk);
      if (stop !== null) finish(stop);
    });
    gunzip.on('end', () => finish(decoded.body()));
    gunzip.on('error', (e: Error) => {
      finish({ kind: 'bad_gzip', error: e.message, head: Buffer.concat(compressed, kept), reserved: decoded.reserved });
    });
    incoming.on('data', onCompressed);
    incoming.on('error', onAbort);
    incoming.on('close', onClose);
    incoming.pipe(gunzip);
  });
}
