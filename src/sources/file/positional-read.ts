/**
 * How the file source reads a chunk: synchronously while reads are fast, through the thread
 * pool after one was slow.
 *
 * Why: Kong's log is read while it is written, so its pages are in the page cache and a 256 KiB
 * read is a ~50 µs copy. Through the thread pool (`FileHandle#read`) the same read also costs a
 * hand-off to a worker thread and back and two context switches; with the relay on one core,
 * measured side by side in the file → webhook bench, synchronous reads gave ~5% more entries/s
 * and steadier runs. Before each synchronous read the loop yields to I/O (`setImmediate`), so
 * sockets, timers and the http source get their turn between chunks, as with awaited reads.
 *
 * But a synchronous read blocks the event loop for as long as it takes: on a cold cache, a busy
 * disk or a network file system that could be milliseconds or seconds, during which nothing
 * else (deliveries, health checks) runs. So a read that took longer than SLOW_READ_MS switches
 * this reader to the thread pool for ASYNC_AFTER_SLOW_MS (plus as long as that read took), then
 * it tries synchronous reads again: at most one slow read blocks the loop per period.
 */
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/** A synchronous read slower than this sends the reader to the thread pool for a while. */
export const SLOW_READ_MS = 2;
/** How long reads go through the thread pool after a slow one. */
export const ASYNC_AFTER_SLOW_MS = 1_000;

/** When to read synchronously: the policy alone, apart from the reads (tested on its own). */
export class ReadModePolicy {
  #asyncUntil = Number.NEGATIVE_INFINITY;

  /** Whether a read starting at `now` (ms, performance.now()) may be synchronous. */
  syncAt(now: number): boolean {
    return now >= this.#asyncUntil;
  }

  /** A synchronous read started at `start` took `tookMs`. */
  observe(start: number, tookMs: number): void {
    if (tookMs > SLOW_READ_MS) this.#asyncUntil = start + tookMs + ASYNC_AFTER_SLOW_MS;
  }
}

export class PositionalReader {
  readonly #policy = new ReadModePolicy();

  /** Read up to `length` bytes at `position` into buffer[0..]; resolves with the bytes read. */
  async read(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<number> {
    if (!this.#policy.syncAt(performance.now())) return (await handle.read(buffer, 0, length, position)).bytesRead;
    await new Promise<void>((resolve) => setImmediate(resolve));
    const start = performance.now();
    const bytesRead = readSync(handle.fd, buffer, 0, length, position);
    this.#policy.observe(start, performance.now() - start);
    return bytesRead;
  }
}
