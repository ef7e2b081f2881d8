/**
 * Dead-letter files: NDJSON, one record per entry, with why and how often it was tried.
 * The entry is embedded as its original JSON text (`event`), or as a string (`raw`) when
 * it is not valid JSON.
 *
 * What an operator relies on (each a test in test/dead-letter-files.test.ts):
 * - A record, once written, stays where `replay` finds it: a restart appends to the newest file
 *   (no new file per start), and a file or directory removed while running is created again by
 *   the next record (records never go to an unlinked inode).
 * - Files rotate at `max_file_bytes`; retention is by the bytes of all files together
 *   (`max_total_bytes`, and optionally `max_files`): the oldest whole files go first, never the
 *   one being written, and every record deleted so is counted and logged as an error.
 */
import { mkdirSync } from 'node:fs';
import { type FileHandle, open, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export interface DeadLetterRecord {
  /** Destination or source name. */
  readonly destination?: string;
  readonly source?: string;
  readonly reason: string;
  readonly attempts: number;
  readonly firstAttempt?: number;
  readonly lastAttempt?: number;
  /** Original entry text when it is a JSON value, embedded as-is. */
  readonly event?: string;
  /** Anything that is not valid JSON, embedded as a string. */
  readonly raw?: string;
  /** Extra context: file name and offset, HTTP entry index. */
  readonly context?: Readonly<Record<string, string | number>>;
}

/**
 * Where dead letters go and how much of them is kept: the `dead_letter` settings (config's
 * DeadLetterSettings), as the writer needs them.
 */
export interface DeadLetterFiles {
  readonly dir: string;
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxFiles: number | undefined;
  /** The daemon continues the newest file after a restart; `replay` writes a file of its own. */
  readonly appendToNewest: boolean;
}

/** What retention deleted: one whole file, with the records it held. */
export interface DeadLetterDiscard {
  readonly file: string;
  readonly records: number;
  readonly bytes: number;
}

/** The error logged with each file retention deletes. */
export const DEAD_LETTERS_DISCARDED =
  'dead-letter retention deleted the oldest file and the records in it (over dead_letter.max_total_bytes or max_files): replay dead letters sooner, or raise the limit';

export const DEAD_LETTER_PREFIX = 'dead-letter-';
export const DEAD_LETTER_SUFFIX = '.ndjson';

/** Whether a file name is one of ours (what `replay DIR` and retention consider). */
export function isDeadLetterFile(name: string): boolean {
  return name.startsWith(DEAD_LETTER_PREFIX) && name.endsWith(DEAD_LETTER_SUFFIX);
}

interface OpenFile {
  readonly handle: FileHandle;
  readonly name: string;
  readonly dev: number;
  readonly ino: number;
  bytes: number;
}

export class DeadLetterWriter {
  readonly dir: string;
  readonly #settings: DeadLetterFiles;
  readonly #onDiscard: (discard: DeadLetterDiscard) => void;
  #file: OpenFile | null = null;
  /** Whether the newest existing file may be continued (only when this writer opens its first file). */
  #resume: boolean;
  /** All files' bytes as of the last prune plus what was written since (Infinity: not yet counted). */
  #knownTotalBytes = Number.POSITIVE_INFINITY;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(settings: DeadLetterFiles, onDiscard: (discard: DeadLetterDiscard) => void) {
    this.dir = settings.dir;
    this.#settings = settings;
    this.#onDiscard = onDiscard;
    this.#resume = settings.appendToNewest;
  }

  /** The file being written now ('' before the first write). */
  get currentFile(): string {
    return this.#file?.name ?? '';
  }

  /** Append records and fsync; rejects (nothing is settled) when the disk refuses. Writes are serialized. */
  write(records: readonly DeadLetterRecord[]): Promise<void> {
    const run = this.#chain.then(() => this.#write(records));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #write(records: readonly DeadLetterRecord[]): Promise<void> {
    if (records.length === 0) return;
    const text = records.map(formatRecord).join('');
    const bytes = Buffer.byteLength(text);
    let file = await this.#current();
    let opened = file.bytes === 0;
    if (file.bytes > 0 && file.bytes + bytes > this.#settings.maxFileBytes) {
      file = await this.#openNew();
      opened = true;
    }
    try {
      await file.handle.appendFile(text);
      await file.handle.datasync();
      file.bytes += bytes;
      this.#knownTotalBytes += bytes;
    } catch (e) {
      // The append may have left part of a record (disk full mid-write). Cut the file back to its
      // last whole record and keep writing to it: starting a new file per failed try would leave
      // that torn line behind, and each empty new file would count against retention and delete
      // real dead letters while the disk stays full. Only a file that cannot be cut is given up.
      const cut = await file.handle.truncate(file.bytes).then(
        () => true,
        () => false,
      );
      if (!cut) await this.#closeFile();
      throw e;
    }
    // Listing the directory once per new file, or when the running total says it may be over.
    if (opened || this.#knownTotalBytes > this.#settings.maxTotalBytes) await this.#prune();
  }

  /** The file to append to: still the one at its path (else a new one), opened on first use. */
  async #current(): Promise<OpenFile> {
    const file = this.#file;
    if (file !== null) {
      const now = await stat(file.name).catch(() => null);
      if (now !== null && now.dev === file.dev && now.ino === file.ino) return file;
      // Removed or replaced (by hand, or moved away by `replay`): what goes to the old inode
      // would vanish with it, so the next record starts a new file (and the directory again).
      await this.#closeFile();
    }
    if (this.#resume) {
      this.#resume = false;
      const newest = await this.#openNewest();
      if (newest !== null) return newest;
    }
    return this.#openNew();
  }

  /** Continue the newest file after a restart, when it has room and ends with a whole record. */
  async #openNewest(): Promise<OpenFile | null> {
    const names = await listDeadLetterFiles(this.dir);
    const newest = names.at(-1);
    if (newest === undefined) return null;
    const name = path.join(this.dir, newest);
    const handle = await open(name, 'a+', 0o600).catch(() => null);
    if (handle === null) return null;
    const info = await handle.stat();
    const last = Buffer.alloc(1);
    if (info.size > 0) await handle.read(last, 0, 1, info.size - 1);
    if (info.size >= this.#settings.maxFileBytes || (info.size > 0 && last[0] !== 0x0a)) {
      await handle.close();
      return null;
    }
    this.#file = { handle, name, dev: info.dev, ino: info.ino, bytes: info.size };
    return this.#file;
  }

  async #openNew(): Promise<OpenFile> {
    await this.#closeFile();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let name = path.join(this.dir, `${DEAD_LETTER_PREFIX}${stamp}${DEAD_LETTER_SUFFIX}`);
    for (let n = 1; await exists(name); n++)
      name = path.join(this.dir, `${DEAD_LETTER_PREFIX}${stamp}-${n}${DEAD_LETTER_SUFFIX}`);
    const handle = await open(name, 'a', 0o600);
    const info = await handle.stat();
    this.#file = { handle, name, dev: info.dev, ino: info.ino, bytes: 0 };
    return this.#file;
  }

  /** Delete the oldest files while all of them together are over max_total_bytes (or max_files). */
  async #prune(): Promise<void> {
    const { maxTotalBytes, maxFiles } = this.#settings;
    const names = await listDeadLetterFiles(this.dir);
    const files: { name: string; size: number }[] = [];
    let total = 0;
    for (const f of names) {
      const full = path.join(this.dir, f);
      const size = (await stat(full).catch(() => null))?.size ?? 0;
      files.push({ name: full, size });
      total += size;
    }
    let count = files.length;
    for (const f of files) {
      if (total <= maxTotalBytes && (maxFiles === undefined || count <= maxFiles)) break;
      if (f.name === this.#file?.name) continue;
      const records = await countRecords(f.name);
      await rm(f.name, { force: true });
      total -= f.size;
      count--;
      this.#onDiscard({ file: f.name, records, bytes: f.size });
    }
    this.#knownTotalBytes = total;
  }

  async #closeFile(): Promise<void> {
    const f = this.#file;
    this.#file = null;
    await f?.handle.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#closeFile();
  }
}

/** Our files in a directory, oldest first (names sort by their timestamp); none when it does not exist. */
export async function listDeadLetterFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter(isDeadLetterFile).sort();
}

/** One NDJSON line; the event text is embedded without re-serializing it. */
export function formatRecord(r: DeadLetterRecord): string {
  const head: Record<string, unknown> = { time: new Date().toISOString() };
  if (r.destination !== undefined) head.destination = r.destination;
  if (r.source !== undefined) head.source = r.source;
  head.reason = r.reason;
  head.attempts = r.attempts;
  if (r.firstAttempt !== undefined) head.first_attempt = new Date(r.firstAttempt).toISOString();
  if (r.lastAttempt !== undefined) head.last_attempt = new Date(r.lastAttempt).toISOString();
  if (r.context !== undefined) head.context = r.context;
  if (r.raw !== undefined) head.raw = r.raw;
  const json = JSON.stringify(head);
  // Kong entries are single-line JSON; one with a raw newline inside would break NDJSON, so it is embedded as a string instead.
  if (r.event === undefined) return `${json}\n`;
  if (r.event.includes('\n') || r.event.includes('\r'))
    return `${json.slice(0, -1)},"raw":${JSON.stringify(r.event)}}\n`;
  return `${json.slice(0, -1)},"event":${r.event}}\n`;
}

/** Records in a file: its newline count (each record is one line). */
async function countRecords(file: string): Promise<number> {
  const handle = await open(file, 'r').catch(() => null);
  if (handle === null) return 0;
  let lines = 0;
  try {
    const chunk = Buffer.allocUnsafe(1 << 16);
    for (let pos = 0; ; ) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) return lines;
      for (let i = chunk.indexOf(0x0a, 0); i !== -1 && i < bytesRead; i = chunk.indexOf(0x0a, i + 1)) lines++;
      pos += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

async function exists(file: string): Promise<boolean> {
  return (await stat(file).catch(() => null)) !== null;
}
