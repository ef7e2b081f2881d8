/**
 * Read a request body straight from the Node request stream, counting bytes as they arrive
 * (after gunzip when the body is gzip-encoded), and stop at the limit: an oversize body or a
 * gzip bomb costs at most `limit` bytes plus one chunk, never the whole upload.
 */
import type { IncomingMessage } from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';

export type BodyResult =
  | { readonly kind: 'body'; readonly bytes: Buffer }
  | { readonly kind: 'too_large'; readonly received: number }
  /** The gzip stream is broken; `head` is the start of the compressed bytes, for the dead letter. */
  | { readonly kind: 'bad_gzip'; readonly error: string; readonly head: Buffer }
  /** The client went away or the server cut it off (request timeout): nothing to answer. */
  | { readonly kind: 'aborted' };

const ABORTED: BodyResult = Object.freeze({ kind: 'aborted' });

/**
 * Collect the body. `limit` applies to the decoded bytes. With gzip, up to `keepCompressed`
 * bytes of the compressed input are kept so that a broken stream can be dead-lettered.
 */
export function readBody(incoming: IncomingMessage, limit: number, gzip: boolean, keepCompressed = 0): Promise<BodyResult> {
  return gzip ? readGzip(incoming, limit, keepCompressed) : readPlain(incoming, limit);
}

function readPlain(incoming: IncomingMessage, limit: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
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
      size += chunk.length;
      if (size > limit) { incoming.pause(); finish({ kind: 'too_large', received: size }); return; }
      chunks.push(chunk);
    };
    const onEnd = (): void => finish({ kind: 'body', bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) });
    const onAbort = (): void => finish(ABORTED);
    // 'close' also follows a normal 'end'; by then we have settled.
    const onClose = (): void => { if (!incoming.readableEnded) finish(ABORTED); };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onAbort);
    incoming.on('close', onClose);
  });
}

function readGzip(incoming: IncomingMessage, limit: number, keepCompressed: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const gunzip: Gunzip = createGunzip();
    const chunks: Buffer[] = [];
    const compressed: Buffer[] = [];
    let kept = 0;
    let size = 0;
    let settled = false;
    const finish = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      incoming.off('data', onCompressed);
      incoming.off('error', onAbort);
      incoming.off('close', onClose);
      incoming.unpipe(gunzip);
      if (result.kind !== 'body') { incoming.pause(); gunzip.destroy(); }
      resolve(result);
    };
    const onCompressed = (chunk: Buffer): void => {
      if (kept >= keepCompressed) return;
      compressed.push(chunk);
      kept += chunk.length;
    };
    const onAbort = (): void => finish(ABORTED);
    const onClose = (): void => { if (!incoming.readableEnded) finish(ABORTED); };
    gunzip.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) { finish({ kind: 'too_large', received: size }); return; }
      chunks.push(chunk);
    });
    gunzip.on('end', () => finish({ kind: 'body', bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size) }));
    gunzip.on('error', (e: Error) => {
      const head = Buffer.concat(compressed, kept);
      finish({ kind: 'bad_gzip', error: e.message, head: head.length > keepCompressed ? head.subarray(0, keepCompressed) : head });
    });
    incoming.on('data', onCompressed);
    incoming.on('error', onAbort);
    incoming.on('close', onClose);
    incoming.pipe(gunzip);
  });
}
