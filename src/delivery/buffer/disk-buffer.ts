/**
 * A durable buffer (after Vector's disk_v2): every entry is appended as a checksummed record
 * (segment-record.ts) to numbered segment files under `state_dir/buffer/<destination>`; a reader
 * position (reader-position.ts) moves only over records the destination has acknowledged
 * (delivered or dead-lettered), and fully acknowledged segments are deleted. After kill -9 the
 * next start reads again from that position: at least once, nothing lost.
 *
 *   segments:  [ 0000000007.seg | 0000000008.seg | 0000000009.seg ]   ← written at the end
 *                     ^ acknowledged       ^ read (records before it are in memory or in flight)
 *
 * A window of records is kept in memory for batches to take: new entries join it directly while
 * nothing older waits on disk; beyond it they are only on disk and read back as it empties.
 * The source's acknowledgement (file checkpoint, `ack: delivered` answer) is given once the
 * record is written (and, with `fsync: always`, synced): that is what the disk buffer is for.
 */
import type { Buffer } from 'node:buffer';
import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { Buffer as NodeBuffer } from 'node:buffer';
import path from 'node:path';
import type { DiskBufferSettings } from '../../config/buffer-settings.ts';
import type { ByteString } from '../../event/byte-string.ts';
import type { KongEvent } from '../../event/kong-event.ts';
import type { Logger } from '../../telemetry/log.ts';
import { RateLimitedLog } from '../../telemetry/log.ts';
import { errorText } from '../../util/errors.ts';
import { Ticket } from '../../core/ack.ts';
import { RingQueue } from '../../core/queue.ts';
import type { EntryBuffer } from './entry-buffer.ts';
import { ReaderPositionFile } from './reader-position.ts';
import { encodeRecord, HEADER_BYTES, nextIntactHeader, parseRecord } from './segment-record.ts';

const SEGMENT = /^(\d{10})\.seg$/;
const MAX_SEGMENT_BYTES = 128 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 1024 * 1024;
const READ_CHUNK_BYTES = 1024 * 1024;
const WRITE_RETRY_MS = 1_000;

export interface DiskBufferHooks {
  /** The event of a record read back (decoded by the current config); null when it is not an entry. */
  readonly decode: (raw: ByteString) => KongEvent | null;
  /** Damaged records or a torn tail were skipped (already logged). */
  readonly onCorrupt: (records: number) => void;
  /** Entries that could not be written before close (disk full or failing; already logged). */
  readonly onUnwritable: (records: number) => void;
}

/** How much of the buffer is kept in memory, ready for batches. */
export interface MemoryWindow {
  readonly events: number;
  readonly bytes: number;
}

/** A record between reader and acknowledged position; `acked` once its ticket settled. */
interface Mark {
  readonly segment: number;
  readonly end: number;
  readonly size: number;
  acked: boolean;
}

/** An entry of the disk buffer: settling it acknowledges its record. */
class RecordTicket extends Ticket {
  readonly #mark: Mark;
  readonly #owner: DiskBuffer;
  constructor(event: KongEvent, receivedAt: number, mark: Mark, owner: DiskBuffer) {
    super(event, 1, null, receivedAt);
    this.#mark = mark;
    this.#owner = owner;
  }
  override settle(): void {
    super.settle();
    this.#mark.acked = true;
    this.#owner.acknowledged();
  }
  override get replayable(): boolean {
    return true;
  }
  ownedBy(buffer: DiskBuffer): boolean {
    return this.#owner === buffer;
  }
}

export class DiskBuffer implements EntryBuffer {
  readonly durable = true;
  readonly dir: string;
  #settings: DiskBufferSettings;
  readonly #window: MemoryWindow;
  readonly #hooks: DiskBufferHooks;
  readonly #log: Logger;
  readonly #limited: RateLimitedLog;
  readonly #position: ReaderPositionFile;
  readonly #segmentBytes: number;

  /** Segment ids on disk, oldest first, and the sizes of the finished ones. */
  readonly #segments: number[] = [];
  readonly #sizes = new Map<number, number>();
  #writeId: number;
  #writeFd: number;
  /** Bytes of the write segment, including records not yet written. */
  #writeSize = 0;
  #writtenSize = 0;
  #pending: Buffer[] = [];
  /** Source tickets to settle once their records are written (and synced with fsync: always). */
  #awaitingWrite: Ticket[] = [];
  #flushQueued = false;
  #writeFailing = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #unsynced = false;
  #syncTimer: NodeJS.Timeout | undefined;

  #readId: number;
  #readOffset: number;
  #readFd = -1;
  #readFdId = -1;
  readonly #chunk = NodeBuffer.allocUnsafe(READ_CHUNK_BYTES);

  readonly #queue = new RingQueue<Ticket>();
  #queueBytes = 0;
  readonly #marks = new RingQueue<Mark>();
  #diskOnly = 0;
  #heldBytes = 0;
  #positionDirty = false;
  #closed = false;

  constructor(settings: DiskBufferSettings, window: MemoryWindow, hooks: DiskBufferHooks, log: Logger) {
    this.dir = settings.dir;
    this.#settings = settings;
    this.#window = window;
    this.#hooks = hooks;
    this.#log = log;
    this.#limited = new RateLimitedLog(log);
    this.#segmentBytes = Math.max(MIN_SEGMENT_BYTES, Math.min(MAX_SEGMENT_BYTES, Math.floor(settings.maxBytes / 8)));
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.dir).sort()) {
      const m = SEGMENT.exec(f);
      if (m === null) continue;
      const id = Number(m[1]);
      this.#segments.push(id);
      this.#sizes.set(id, statSync(this.#segmentFile(id)).size);
    }
    this.#position = new ReaderPositionFile(path.join(this.dir, 'reader.pos'));
    const acked = this.#position.read() ?? { segment: this.#segments[0] ?? 0, offset: 0 };
    while (this.#segments.length > 0 && (this.#segments[0] as number) < acked.segment) this.#deleteOldest();
    const first = this.#segments[0];
    this.#readId = first ?? 0;
    this.#readOffset = first === acked.segment ? acked.offset : 0;
    for (const id of this.#segments) this.#heldBytes += this.#sizes.get(id) ?? 0;
    this.#heldBytes = Math.max(0, this.#heldBytes - this.#readOffset);
    this.#writeId = (this.#segments.at(-1) ?? 0) + 1;
    this.#writeFd = this.#openSegment(this.#writeId);
    if (first === undefined) this.#readId = this.#writeId;
    if (this.#heldBytes > 0)
      this.#log.info(
        { dir: this.dir, bytes: this.#heldBytes },
        'disk buffer: delivering entries kept from before the restart',
      );
    this.#armSync();
    this.#position.write({ segment: this.#readId, offset: this.#readOffset });
    this.#refill();
  }

  get length(): number {
    return this.#queue.length;
  }
  get bytes(): number {
    return this.#queueBytes;
  }
  get heldEvents(): number {
    return this.#queue.length + this.#diskOnly;
  }
  get heldBytes(): number {
    return this.#heldBytes;
  }
  get full(): boolean {
    return this.#writeFailing || this.#heldBytes >= this.#settings.maxBytes;
  }

  /** A reload changed max_bytes, when_full or fsync of the same directory. */
  reconfigure(settings: DiskBufferSettings): void {
    this.#settings = settings;
    clearInterval(this.#syncTimer);
    this.#armSync();
  }

  push(ticket: Ticket): void {
    // The entry (redacted), not the destination's shaped body: read back, it is decoded and shaped
    // again (hooks.decode), so templates that read the entry's fields still find them.
    const raw = ticket.event.entry;
    const record = encodeRecord(raw, ticket.receivedAt);
    if (this.#writeSize > 0 && this.#writeSize + record.length > this.#segmentBytes) this.#rotate();
    const start = this.#writeSize;
    this.#pending.push(record);
    this.#writeSize += record.length;
    this.#heldBytes += record.length;
    this.#awaitingWrite.push(ticket);
    const caughtUp = this.#readId === this.#writeId && this.#readOffset === start;
    if (caughtUp && this.#queue.length < this.#window.events && this.#queueBytes < this.#window.bytes) {
      this.#readOffset = this.#writeSize;
      this.#keep(ticket.event, ticket.receivedAt, this.#writeId, this.#writeSize, record.length);
    } else this.#diskOnly++;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
  }

  adopt(ticket: Ticket): void {
    if (ticket instanceof RecordTicket && ticket.ownedBy(this)) {
      this.#queue.push(ticket);
      this.#queueBytes += ticket.event.raw.length;
    } else this.push(ticket);
  }

  peek(): Ticket | undefined {
    if (this.#queue.length === 0) this.#refill();
    return this.#queue.peek();
  }

  shift(): Ticket | undefined {
    if (this.#queue.length === 0) this.#refill();
    const t = this.#queue.shift();
    if (t === undefined) return undefined;
    this.#queueBytes -= t.event.raw.length;
    if (this.#diskOnly > 0 && this.#queue.length < this.#window.events / 2) this.#refill();
    return t;
  }

  drain(): Ticket[] {
    this.#queueBytes = 0;
    return this.#queue.drain();
  }

  /** @internal a RecordTicket settled: move the acknowledged position over every settled record in order. */
  acknowledged(): void {
    let moved = false;
    for (let m = this.#marks.peek(); m?.acked === true; m = this.#marks.peek()) {
      this.#marks.shift();
      this.#heldBytes -= m.size;
      moved = true;
      while (this.#segments.length > 0 && (this.#segments[0] as number) < m.segment) this.#deleteOldest();
    }
    if (moved && !this.#positionDirty && !this.#closed) {
      this.#positionDirty = true;
      setImmediate(() => {
        // close() wrote the last position and closed the file.
        if (!this.#closed) this.#writePosition();
      });
    }
  }

  close(): void {
    if (this.#closed) return;
    clearTimeout(this.#retryTimer);
    this.#writeFailing = false;
    this.#flush();
    if (this.#pending.length > 0) {
      this.#log.error(
        { dir: this.dir, entries: this.#pending.length },
        'disk buffer: entries could not be written before exit (disk full or failing) and are lost',
      );
      this.#hooks.onUnwritable(this.#pending.length);
    }
    this.#sync();
    this.#closed = true;
    this.#writePosition();
    clearInterval(this.#syncTimer);
    clearTimeout(this.#retryTimer);
    closeSync(this.#writeFd);
    if (this.#readFd >= 0) closeSync(this.#readFd);
    this.#position.close();
  }

  #keep(event: KongEvent, receivedAt: number, segment: number, end: number, size: number): void {
    const mark: Mark = { segment, end, size, acked: false };
    this.#marks.push(mark);
    this.#queue.push(new RecordTicket(event, receivedAt, mark, this));
    this.#queueBytes += event.raw.length;
  }

  /** A region that is not an entry (damaged, torn, not JSON): acknowledged at once, so the position moves over it. */
  #skip(segment: number, end: number, size: number): void {
    this.#marks.push({ segment, end, size, acked: true });
    this.acknowledged();
  }

  #writePosition(): void {
    this.#positionDirty = false;
    const head = this.#marks.peek();
    const at =
      head === undefined
        ? { segment: this.#readId, offset: this.#readOffset }
        : { segment: head.segment, offset: head.end - head.size };
    try {
      this.#position.write(at);
    } catch (e) {
      this.#limited.error(
        'position',
        { dir: this.dir, err: errorText(e) },
        'disk buffer: cannot write the reader position (entries may be sent again after a restart)',
      );
    }
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#closed || this.#writeFailing || this.#pending.length === 0) return;
    const pending = this.#pending;
    try {
      // One system call for everything a hand-over queued; a short write goes on from where it stopped.
      const total = this.#writeSize - this.#writtenSize;
      let done = writevSync(this.#writeFd, pending, this.#writtenSize);
      if (done < total) {
        const rest = NodeBuffer.concat(pending);
        while (done < total) done += writeSync(this.#writeFd, rest, done, total - done, this.#writtenSize + done);
      }
      this.#writtenSize = this.#writeSize;
      if (this.#settings.fsync === 'always') fdatasyncSync(this.#writeFd);
      else this.#unsynced = true;
    } catch (e) {
      // Disk full or failing: cut off what this flush wrote, keep its records in memory and try
      // again; meanwhile the buffer counts as full (sources are held back or drop by when_full).
      try {
        ftruncateSync(this.#writeFd, this.#writtenSize);
      } catch {}
      this.#writeFailing = true;
      this.#limited.error(
        'write',
        { dir: this.dir, err: errorText(e) },
        'disk buffer: cannot write; holding entries in memory and retrying',
      );
      this.#retryTimer = setTimeout(() => {
        this.#writeFailing = false;
        this.#flush();
      }, WRITE_RETRY_MS);
      this.#retryTimer.unref();
      return;
    }
    this.#pending = [];
    const written = this.#awaitingWrite;
    this.#awaitingWrite = [];
    for (const t of written) t.settle();
  }

  #sync(): void {
    if (!this.#unsynced) return;
    this.#unsynced = false;
    try {
      fdatasyncSync(this.#writeFd);
    } catch (e) {
      this.#limited.error('sync', { dir: this.dir, err: errorText(e) }, 'disk buffer: fsync failed');
    }
  }

  #armSync(): void {
    if (this.#settings.fsync !== 'interval') return;
    this.#syncTimer = setInterval(() => this.#sync(), this.#settings.fsyncIntervalMs);
    this.#syncTimer.unref();
  }

  #rotate(): void {
    this.#flush();
    if (this.#writeFailing) return;
    this.#unsynced = true;
    this.#sync();
    closeSync(this.#writeFd);
    this.#sizes.set(this.#writeId, this.#writeSize);
    const caughtUp = this.#readId === this.#writeId && this.#readOffset === this.#writeSize;
    this.#writeId++;
    this.#writeFd = this.#openSegment(this.#writeId);
    this.#writeSize = 0;
    this.#writtenSize = 0;
    if (caughtUp) {
      this.#readId = this.#writeId;
      this.#readOffset = 0;
      this.#skip(this.#writeId, 0, 0);
    }
  }

  #openSegment(id: number): number {
    const fd = openSync(this.#segmentFile(id), 'wx', 0o600);
    this.#segments.push(id);
    try {
      const dirFd = openSync(this.dir, 'r');
      fdatasyncSync(dirFd);
      closeSync(dirFd);
    } catch {}
    return fd;
  }

  #segmentFile(id: number): string {
    return path.join(this.dir, `${String(id).padStart(10, '0')}.seg`);
  }

  #deleteOldest(): void {
    const id = this.#segments.shift() as number;
    this.#sizes.delete(id);
    if (this.#readFdId === id) {
      closeSync(this.#readFd);
      this.#readFd = -1;
      this.#readFdId = -1;
    }
    try {
      unlinkSync(this.#segmentFile(id));
    } catch (e) {
      this.#log.warn(
        { dir: this.dir, segment: id, err: errorText(e) },
        'disk buffer: cannot delete a delivered segment',
      );
    }
  }

  /** Read records from disk into the memory window until it is full or the reader meets the writer. */
  #refill(): void {
    if (this.#closed) return;
    if (this.#pending.length > 0) this.#flush();
    while (this.#queue.length < this.#window.events && this.#queueBytes < this.#window.bytes) {
      const writing = this.#readId === this.#writeId;
      const size = writing ? this.#writtenSize : (this.#sizes.get(this.#readId) ?? 0);
      if (this.#readOffset >= size) {
        if (writing) return;
        const next = this.#segments.find((id) => id > this.#readId) ?? this.#writeId;
        this.#readId = next;
        this.#readOffset = 0;
        this.#skip(next, 0, 0);
        continue;
      }
      this.#readChunk(size, writing);
    }
  }

  #readChunk(size: number, writing: boolean): void {
    if (this.#readFdId !== this.#readId) {
      if (this.#readFd >= 0) closeSync(this.#readFd);
      this.#readFd = openSync(this.#segmentFile(this.#readId), 'r');
      this.#readFdId = this.#readId;
    }
    let buf = this.#chunk;
    let n = readSync(this.#readFd, buf, 0, Math.min(buf.length, size - this.#readOffset), this.#readOffset);
    let at = 0;
    for (;;) {
      const r = parseRecord(buf, at, n);
      if (r.kind === 'record') {
        const event = this.#hooks.decode(r.raw);
        const recordSize = r.end - at;
        this.#readOffset += recordSize;
        if (this.#diskOnly > 0) this.#diskOnly--;
        if (event === null)
          this.#corrupt(this.#readId, this.#readOffset, recordSize, 1, 'a record is not a Kong entry');
        else this.#keep(event, r.receivedAt, this.#readId, this.#readOffset, recordSize);
        at = r.end;
        if (this.#queue.length >= this.#window.events || this.#queueBytes >= this.#window.bytes) return;
        continue;
      }
      if (r.kind === 'bad_payload') {
        this.#readOffset += r.end - at;
        if (this.#diskOnly > 0) this.#diskOnly--;
        this.#corrupt(this.#readId, this.#readOffset, r.end - at, 1, 'checksum mismatch: a damaged record was skipped');
        at = r.end;
        continue;
      }
      const left = size - this.#readOffset;
      if (r.kind === 'partial') {
        if (at > 0) return; // read on from the next record
        const need = n >= HEADER_BYTES ? HEADER_BYTES + buf.readUInt32LE(0) : HEADER_BYTES;
        if (need <= left && need > buf.length) {
          buf = NodeBuffer.allocUnsafe(need);
          n = readSync(this.#readFd, buf, 0, need, this.#readOffset);
          continue;
        }
        if (writing) return; // the writer is still appending (cannot happen: reads stop at written bytes)
        this.#readOffset += left;
        this.#corrupt(this.#readId, this.#readOffset, left, 1, 'torn tail (a crash or a full disk mid-write): skipped');
        return;
      }
      // bad_header: search for the next intact record; what lies between is lost.
      const next = nextIntactHeader(buf, at, n);
      const skipped = next < 0 ? (n === left ? n - at : Math.max(1, n - at - HEADER_BYTES)) : next - at;
      this.#readOffset += skipped;
      this.#corrupt(
        this.#readId,
        this.#readOffset,
        skipped,
        1,
        'damaged record header: skipped to the next intact record',
      );
      if (next < 0) return;
      at = next;
    }
  }

  #corrupt(segment: number, end: number, bytes: number, records: number, what: string): void {
    this.#log.error({ dir: this.dir, segment, offset: end - bytes, bytes }, `disk buffer: ${what}`);
    this.#hooks.onCorrupt(records);
    this.#skip(segment, end, bytes);
  }
}
