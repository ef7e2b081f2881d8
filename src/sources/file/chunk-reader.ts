/**
 * The hot path of the file source: read one chunk of a file at its offset (positional read on
 * the open descriptor, see positional-read.ts), split it on 0x0a, hand each complete line to the
 * pipeline under one acknowledgement group per chunk, and dead-letter the lines that are too
 * long or not JSON objects. A partial last line is not consumed: the next read starts at its
 * first byte, so nothing is carried between reads and every offset is a line boundary. Each
 * read also takes the byte before its offset, which must still be the newline that ended the
 * line before: a file truncated and refilled past the offset (copytruncate) is then never read
 * mid-line.
 */
import { isUtf8 } from 'node:buffer';
import { byteStringOfUtf8, textOf, type ByteString } from '../../event/byte-string.ts';
import { sleep } from '../../util/sleep.ts';
import { PositionalReader } from './positional-read.ts';
import type { DeadLetterRecord, DeadLetterWriter } from '../../core/dead-letter.ts';
import { AckGroup } from '../../core/ack.ts';
import type { PipelineIntake } from '../../core/pipeline-intake.ts';
import { JsonSyntaxError } from '../../event/json-scan.ts';
import type { RateLimitedLog } from '../../telemetry/log.ts';
import { bump, type SourceStats } from '../../telemetry/metrics.ts';
import { errorText } from '../../util/errors.ts';
import type { TrackedFile } from './tracked-file.ts';

/** One read; bounds the memory of a source and the entries handed over between backpressure checks. */
export const CHUNK_BYTES = 64 * 1024;
/**
 * Reads of a backlog grow up to this while the pipeline takes what they hold: each read goes
 * through libuv's thread pool and costs tens of µs of hand-off besides the copy (~5% of the file
 * → webhook bench at 64 KiB; larger reads no longer fit the CPU cache and were slower again).
 * Under backpressure reads are CHUNK_BYTES.
 */
export const BACKLOG_CHUNK_BYTES = 256 * 1024;
/** Dead letters keep at most this much of an over-long line. */
export const RAW_PREFIX_BYTES = 64 * 1024;
/** Wait before writing to a dead-letter directory that refused again. */
const DEAD_LETTER_RETRY_MS = 1_000;

/** `read()` result: the byte before the offset is no longer a newline (the file was rewritten in place); nothing was read. */
export const NOT_AT_LINE_START = -1;

export const INVALID_JSON = 'invalid_json';
export const LINE_TOO_LONG = 'line_too_long';
/** Every reason a line is counted invalid (their series exist from the start). */
export const INVALID_LINE_REASONS = [INVALID_JSON, LINE_TOO_LONG] as const;

const NEWLINE = 0x0a;
const CR = 0x0d;
const OPEN_BRACE = 0x7b;

export interface ChunkReaderOptions {
  readonly sourceName: string;
  readonly maxLineBytes: number;
  readonly pipeline: PipelineIntake;
  readonly stats: SourceStats;
  readonly limited: RateLimitedLog;
  readonly deadLetters: DeadLetterWriter;
  /** Aborted at close: dead-letter writes stop retrying (their lines stay unacknowledged). */
  readonly signal: AbortSignal;
}

export class ChunkReader {
  readonly #o: ChunkReaderOptions;
  /** Reused for every read up to BACKLOG_CHUNK_BYTES (grown on first need), plus the byte before the offset. */
  #buffer = Buffer.allocUnsafe(CHUNK_BYTES + 1);
  readonly #reader = new PositionalReader();
  readonly #writes = new Set<Promise<void>>();

  constructor(options: ChunkReaderOptions) {
    this.#o = options;
  }

  /**
   * Read and hand over one chunk of `file`; resolves with the bytes read (0: the file is shorter
   * than thought; NOT_AT_LINE_START: it was rewritten in place, nothing was handed over).
   */
  async read(file: TrackedFile): Promise<number> {
    const handle = file.handle;
    if (handle === null) return 0;
    const skipping = file.skip;
    const pos = skipping !== null ? file.scanEnd : file.readOffset;
    const want = skipping !== null ? CHUNK_BYTES : file.readSize;
    // The byte before a line start comes with the same read (no extra syscall); a skip goes on mid-line.
    const lead = skipping === null && pos > 0 ? 1 : 0;
    const need = want + lead;
    if (need > this.#buffer.length && need <= BACKLOG_CHUNK_BYTES + 1)
      this.#buffer = Buffer.allocUnsafe(BACKLOG_CHUNK_BYTES + 1);
    const buffer = need <= this.#buffer.length ? this.#buffer : Buffer.allocUnsafe(need);
    const got = await this.#reader.read(handle, buffer, need, pos - lead);
    if (lead === 1 && got > 0 && buffer[0] !== NEWLINE) return NOT_AT_LINE_START;
    const bytesRead = got - lead;
    if (bytesRead <= 0) return 0;
    const data = buffer.subarray(lead, got);
    const end = pos + bytesRead;
    if (end > file.scanEnd) this.#o.stats.bytesRead += end - file.scanEnd;
    file.observeSize(end, Date.now());

    let start = 0;
    const dead: DeadLetterRecord[] = [];
    if (skipping !== null) {
      const nl = data.indexOf(NEWLINE);
      const lineEnd = nl < 0 ? bytesRead : nl > 0 && data[nl - 1] === CR ? nl - 1 : nl;
      if (skipping.prefix.length < RAW_PREFIX_BYTES) {
        skipping.prefix = Buffer.concat([
          skipping.prefix,
          data.subarray(0, Math.min(lineEnd, RAW_PREFIX_BYTES - skipping.prefix.length)),
        ]);
      }
      if (nl < 0) {
        file.scanEnd = end;
        return bytesRead;
      }
      dead.push(this.#tooLong(file, skipping.start, pos + lineEnd - skipping.start, skipping.prefix.toString('utf8')));
      file.skip = null;
      start = nl + 1;
    }

    let finish: (() => void) | undefined;
    const group = new AckGroup(true, () => finish?.());
    const consumed = this.#lines(file, data, start, pos, group, dead);

    const tail = bytesRead - consumed;
    file.scanEnd = end;
    if (tail > this.#o.maxLineBytes) {
      // Copied: the read buffer is reused. At most 64 KiB is kept, however long the line grows.
      file.skip = {
        start: pos + consumed,
        prefix: Buffer.from(data.subarray(consumed, consumed + Math.min(tail, RAW_PREFIX_BYTES))),
      };
    } else if (tail > 0 && consumed === 0 && bytesRead === want) {
      // One line fills the whole read: read more of it at once next time (up to max_line_bytes + 1, which proves it too long).
      file.readSize = Math.max(CHUNK_BYTES, Math.min(want * 2, this.#o.maxLineBytes + 1));
    } else if (consumed > 0) {
      // A full read means a backlog: read more at once next time, unless the pipeline is full.
      const backlog = bytesRead === want && !this.#o.pipeline.blocked;
      file.readSize = backlog ? Math.min(Math.max(want, CHUNK_BYTES) * 2, BACKLOG_CHUNK_BYTES) : CHUNK_BYTES;
    }
    if (consumed > start || skipping !== null) {
      file.readOffset = pos + consumed;
      finish = file.commits.add(file.readOffset);
      if (dead.length > 0) this.#deadLetter(group, dead);
      group.seal();
    }
    return bytesRead;
  }

  /** Hand over every complete line of data[start..]; returns the index after the last newline. */
  #lines(
    file: TrackedFile,
    data: Buffer,
    start: number,
    pos: number,
    group: AckGroup,
    dead: DeadLetterRecord[],
  ): number {
    const { pipeline, stats, maxLineBytes } = this.#o;
    // One UTF-8 check of all the complete lines (a fast SIMD pass): each line is then valid too.
    const last = data.lastIndexOf(NEWLINE);
    const valid = last > start && isUtf8(data.subarray(start, last));
    let lineStart = start;
    for (let nl = data.indexOf(NEWLINE, lineStart); nl >= 0; nl = data.indexOf(NEWLINE, lineStart)) {
      const lineEnd = nl > lineStart && data[nl - 1] === CR ? nl - 1 : nl;
      const length = lineEnd - lineStart;
      if (length > maxLineBytes) {
        dead.push(
          this.#tooLong(
            file,
            pos + lineStart,
            length,
            data.toString('utf8', lineStart, Math.min(lineEnd, lineStart + RAW_PREFIX_BYTES)),
          ),
        );
      } else if (length > 0 && (data[lineStart] === OPEN_BRACE || !isBlank(data, lineStart, lineEnd))) {
        const raw = byteStringOfUtf8(data, lineStart, lineEnd, valid);
        const result = pipeline.ingest(raw, group, stats);
        if (result instanceof JsonSyntaxError) dead.push(this.#notJson(file, pos + lineStart, raw, result));
      }
      lineStart = nl + 1;
    }
    return lineStart;
  }

  #tooLong(file: TrackedFile, offset: number, length: number, prefix: string): DeadLetterRecord {
    bump(this.#o.stats.invalid, LINE_TOO_LONG);
    this.#o.limited.warn(
      LINE_TOO_LONG,
      { file: file.path, offset, bytes: length, maxLineBytes: this.#o.maxLineBytes },
      'line longer than max_line_bytes: skipped and written (its first 64 KiB) to the dead-letter file',
    );
    return {
      source: this.#o.sourceName,
      reason: LINE_TOO_LONG,
      attempts: 0,
      raw: prefix,
      context: { file: file.path, offset, bytes: length },
    };
  }

  #notJson(file: TrackedFile, offset: number, raw: ByteString, error: JsonSyntaxError): DeadLetterRecord {
    bump(this.#o.stats.invalid, INVALID_JSON);
    // The line may hold credentials: its position is logged, never its content.
    this.#o.limited.warn(
      INVALID_JSON,
      { file: file.path, offset, bytes: raw.length, position: error.position },
      'line is not a JSON object: written to the dead-letter file',
    );
    return {
      source: this.#o.sourceName,
      reason: INVALID_JSON,
      attempts: 0,
      raw: textOf(raw),
      context: { file: file.path, offset, error: error.message },
    };
  }

  /** The group (and so the checkpoint) waits until the records are on disk. */
  #deadLetter(group: AckGroup, records: DeadLetterRecord[]): void {
    group.hold();
    const write = this.#writeUntilDone(records).then((written) => {
      if (written) group.release();
    });
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }

  async #writeUntilDone(records: DeadLetterRecord[]): Promise<boolean> {
    const { deadLetters, limited, signal } = this.#o;
    for (;;) {
      try {
        await deadLetters.write(records);
        return true;
      } catch (e) {
        limited.error(
          'dead-letter-write',
          { dir: deadLetters.dir, err: errorText(e), lines: records.length },
          'cannot write the source dead-letter file: the checkpoint stays before these lines and the write is retried',
        );
        if (!(await sleep(DEAD_LETTER_RETRY_MS, signal))) return false;
      }
    }
  }

  /** Wait for dead-letter writes in flight (after the signal aborted they end at once). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#writes]);
  }
}

function isBlank(data: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = data[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}
