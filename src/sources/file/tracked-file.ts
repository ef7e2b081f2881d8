/**
 * One log file being tailed: its identity (device + inode + fingerprint of the first bytes),
 * the open descriptor it is read through (which keeps working after a rename or deletion),
 * and its offsets: how far it has been read, and how far every entry read has been
 * acknowledged (the checkpoint).
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { RingQueue } from '../../core/queue.ts';

/** The fingerprint covers the first bytes of a file, up to this many (recorded once they exist). */
export const FINGERPRINT_BYTES = 256;

/** Device + inode as one map key. */
export function identityKey(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}

export interface Fingerprint {
  /** sha256 (hex, first 32 digits) of the first `bytes` bytes; '' when the file is empty. */
  readonly hash: string;
  readonly bytes: number;
}

/** Hash the first `bytes` bytes of an open file; null when the file is shorter than that now. */
export async function fingerprintOf(handle: FileHandle, bytes: number): Promise<Fingerprint | null> {
  if (bytes === 0) return { hash: '', bytes: 0 };
  const buffer = Buffer.allocUnsafe(bytes);
  let got = 0;
  while (got < bytes) {
    const { bytesRead } = await handle.read(buffer, got, bytes - got, got);
    if (bytesRead === 0) return null;
    got += bytesRead;
  }
  return { hash: createHash('sha256').update(buffer).digest('hex').slice(0, 32), bytes };
}

/**
 * Acknowledged offset of one file. Read chunks complete out of order (different
 * destinations, retries); the checkpoint may only move to the end of the longest prefix of
 * completed chunks. One tracker per "epoch": a truncated file starts a new one, so late
 * completions of chunks read before the truncation cannot move the new offset.
 */
export class CommitTracker {
  #committed: number;
  readonly #pending = new RingQueue<PendingChunk>(16);
  readonly #onAdvance: () => void;

  constructor(committed: number, onAdvance: () => void) {
    this.#committed = committed;
    this.#onAdvance = onAdvance;
  }

  get committed(): number {
    return this.#committed;
  }
  get pending(): number {
    return this.#pending.length;
  }

  /** A chunk ending at `end` was handed over; call the returned function when it completes. */
  add(end: number): () => void {
    const chunk: PendingChunk = { end, done: false };
    this.#pending.push(chunk);
    return () => {
      chunk.done = true;
      this.#advance();
    };
  }

  #advance(): void {
    const before = this.#committed;
    for (let head = this.#pending.peek(); head?.done; head = this.#pending.peek()) {
      this.#pending.shift();
      this.#committed = head.end;
    }
    if (this.#committed !== before) this.#onAdvance();
  }
}

interface PendingChunk {
  readonly end: number;
  done: boolean;
}

/** An over-long line being skipped: only its start and a bounded prefix (for the dead letter) are kept. */
export interface SkippedLine {
  readonly start: number;
  prefix: Buffer;
}

export class TrackedFile {
  /** Current path; after a rotation the path it had (or its new name, when found). */
  path: string;
  readonly dev: number;
  readonly ino: number;
  readonly key: string;
  fingerprint: Fingerprint;
  /** Null while closed: given up, or parked (idle beyond the open-file cap, or a rotated file idle for rotate_wait). */
  handle: FileHandle | null;
  /** Last size seen (fstat or read). */
  size: number;
  /**
   * Size when the first bytes were last found to match the fingerprint: growth past it (also
   * growth only a read has seen) has the fingerprint checked at the next poll.
   */
  startCheckedSize: number;
  /** Everything before this offset was handed over (a line boundary). */
  readOffset: number;
  /** Bytes up to here were looked at; [readOffset, scanEnd) is a partial line (or the skipped part of an over-long one). */
  scanEnd: number;
  /** How much to read from readOffset next (grows while one line does not fit). */
  readSize: number;
  skip: SkippedLine | null = null;
  commits: CommitTracker;
  /** Offset in the last checkpoint written to disk (-1: none yet). */
  writtenOffset = -1;
  /** When its path stopped pointing to it (renamed, deleted, replaced); null while it is the file at `path`. */
  detachedAt: number | null = null;
  /** Still written to after it was rotated (Kong file-log without `reopen: true`). */
  following = false;
  lastGrowthAt: number;
  /** Given up (descriptor closed, no longer looked at); kept only until its last chunks are acknowledged. */
  retired = false;
  /** After a read error: not read again before this time (ms since epoch). */
  retryAt = 0;
  readonly #onAdvance: () => void;

  constructor(init: {
    path: string;
    dev: number;
    ino: number;
    handle: FileHandle;
    size: number;
    fingerprint: Fingerprint;
    offset: number;
    readSize: number;
    onAdvance: () => void;
  }) {
    this.path = init.path;
    this.dev = init.dev;
    this.ino = init.ino;
    this.key = identityKey(init.dev, init.ino);
    this.handle = init.handle;
    this.size = init.size;
    this.startCheckedSize = init.size;
    this.fingerprint = init.fingerprint;
    this.readOffset = init.offset;
    this.scanEnd = init.offset;
    this.readSize = init.readSize;
    this.#onAdvance = init.onAdvance;
    this.commits = new CommitTracker(init.offset, init.onAdvance);
    this.lastGrowthAt = Date.now();
  }

  /** Unread bytes exist (more than the partial line already looked at); a closed descriptor is opened again to read them. */
  get hasWork(): boolean {
    return !this.retired && this.size > this.scanEnd;
  }

  /** Everything there is has been read (a partial last line may remain). */
  get drained(): boolean {
    return this.size <= this.scanEnd;
  }

  get rotated(): boolean {
    return this.detachedAt !== null;
  }

  /** Every line read has been acknowledged. */
  get settled(): boolean {
    return this.commits.pending === 0 && this.commits.committed === this.readOffset;
  }

  /** Record a size seen by fstat or a read; true when the file grew. */
  observeSize(size: number, now: number): boolean {
    if (size <= this.size) return false;
    this.size = size;
    this.lastGrowthAt = now;
    return true;
  }

  /** Start over at offset 0 (the file was truncated in place): a new acknowledgement epoch. */
  restartAtZero(readSize: number): void {
    this.readOffset = 0;
    this.scanEnd = 0;
    this.skip = null;
    this.readSize = readSize;
    this.commits = new CommitTracker(0, this.#onAdvance);
    this.#onAdvance();
  }

  /** Fingerprint not yet complete and more bytes exist: recompute it. */
  async extendFingerprint(): Promise<void> {
    const want = Math.min(this.size, FINGERPRINT_BYTES);
    if (this.handle === null || want <= this.fingerprint.bytes) return;
    const fp = await fingerprintOf(this.handle, want);
    if (fp !== null) this.fingerprint = fp;
  }

  /** The first bytes still are what they were (false: rewritten in place, e.g. truncated and refilled). */
  async sameStart(): Promise<boolean> {
    if (this.handle === null || this.fingerprint.bytes === 0) return true;
    const fp = await fingerprintOf(this.handle, this.fingerprint.bytes);
    return fp !== null && fp.hash === this.fingerprint.hash;
  }

  async closeHandle(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    await h?.close().catch(() => undefined);
  }
}
