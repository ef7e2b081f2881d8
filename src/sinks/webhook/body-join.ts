/**
 * Join entries into one request body: their byte strings (see event/byte-string.ts) copied one
 * after the other into one buffer, taken from a destination's small pool of body buffers.
 *
 * Why byte strings: an entry's length is its size in bytes, so the body's size is known before
 * a byte is written, and writing an entry is a copy (`writeByteString`); encoding
 * texts instead ran at ~0.4 GB/s for a rope of a megabyte and at ~0.5 GB/s for entries with one
 * non-ASCII character (two-byte strings), the largest single cost of the file → webhook bench.
 *
 * Why a pool: a batch body is about a megabyte (max_bytes), allocated outside the V8 heap and
 * freed only once a garbage collection finds its Buffer dead. At hundreds of batches a second
 * that churn kept tens of megabytes of dead bodies resident (and fragmented malloc's heap); a
 * destination reuses the body of a delivered batch for its next one instead.
 */
import { Buffer } from 'node:buffer';
import { writeByteString, type ByteString } from '../../event/byte-string.ts';

/** Pooled buffers are allocated in multiples of this, so that a body a little larger than the last one still fits. */
const POOLED_STEP = 64 * 1024;

/**
 * Free body buffers of one destination. A buffer comes back (`give`) once its request has
 * settled and nothing reads it any more; `take` reuses one that is large enough. It keeps at
 * most `max` free buffers: batches in flight hold their own, and the next batch starts as soon
 * as one settles, so one or two free buffers are all a busy destination reuses; an idle one
 * keeps no more than that.
 */
export class BodyBuffers {
  readonly #free: ArrayBuffer[] = [];
  readonly #max: number;

  constructor(max = 2) {
    this.#max = max;
  }

  /** A buffer of at least `size` bytes (its own memory: never a slice of Node's shared pool). */
  take(size: number): Buffer {
    for (let free = this.#free.pop(); free !== undefined; free = this.#free.pop()) {
      if (free.byteLength >= size) return Buffer.from(free);
    }
    return Buffer.allocUnsafeSlow(Math.ceil(size / POOLED_STEP) * POOLED_STEP);
  }

  /** `body` (a buffer from `take`, or a part of one) is no longer read by anything: reuse its memory. */
  give(body: Uint8Array): void {
    if (this.#free.length < this.#max && body.buffer instanceof ArrayBuffer) this.#free.push(body.buffer);
  }

  /** Free buffers held (tests). */
  get size(): number {
    return this.#free.length;
  }
}

/**
 * The bytes of `open + raws.join(separator) + close`; `open`, `separator` and `close` are ASCII.
 * With `buffers`, the body is written into a buffer from that pool (give it back when done).
 */
export function joinBody(
  raws: readonly ByteString[],
  open: string,
  separator: string,
  close: string,
  buffers?: BodyBuffers,
): Buffer {
  let size = open.length + close.length + separator.length * Math.max(0, raws.length - 1);
  for (let i = 0; i < raws.length; i++) size += raws[i].length;
  const out = buffers === undefined ? Buffer.allocUnsafe(size) : buffers.take(size);
  let at = writeByteString(out, 0, open);
  for (let i = 0; i < raws.length; i++) {
    if (i > 0) at += writeByteString(out, at, separator);
    at += writeByteString(out, at, raws[i]);
  }
  at += writeByteString(out, at, close);
  return out.subarray(0, at);
}
