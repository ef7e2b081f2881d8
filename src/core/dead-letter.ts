/**
 * Dead-letter files: NDJSON, one record per entry, with why and how often it was tried.
 * The entry is embedded as its original JSON text (`event`), or as a string (`raw`) when
 * it is not valid JSON. Files rotate at max_file_bytes; past max_files the oldest is
 * deleted, and that is counted and logged.
 */
import { mkdirSync } from 'node:fs';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
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

/** Where dead letters go and how much of them is kept (the `dead_letter` settings). */
export interface DeadLetterFiles {
  readonly dir: string;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
}

export const DEAD_LETTER_PREFIX = 'dead-letter-';

export class DeadLetterWriter {
  readonly dir: string;
  readonly #settings: DeadLetterFiles;
  readonly #onDiscard: (file: string, bytes: number) => void;
  #file: FileHandle | null = null;
  #fileName = '';
  #fileBytes = 0;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(settings: DeadLetterFiles, onDiscard: (file: string, bytes: number) => void) {
    this.dir = settings.dir;
    this.#settings = settings;
    this.#onDiscard = onDiscard;
  }

  /** The file being written now ('' before the first write). */
  get currentFile(): string {
    return this.#fileName;
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
    if (this.#file === null || (this.#fileBytes > 0 && this.#fileBytes + bytes > this.#settings.maxFileBytes))
      await this.#rotate();
    const file = this.#file as FileHandle;
    try {
      await file.appendFile(text);
      await file.datasync();
      this.#fileBytes += bytes;
    } catch (e) {
      // The append may have left part of a record (disk full mid-write). Cut the file back to its
      // last whole record and keep writing to it: starting a new file per failed try would leave
      // that torn line behind, and each empty new file would count against max_files and rotate
      // real dead letters away while the disk stays full. Only a file that cannot be cut is given up.
      const cut = await file.truncate(this.#fileBytes).then(
        () => true,
        () => false,
      );
      if (!cut) await this.#closeFile();
      throw e;
    }
  }

  async #rotate(): Promise<void> {
    await this.#closeFile();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let name = path.join(this.dir, `${DEAD_LETTER_PREFIX}${stamp}.ndjson`);
    for (let n = 1; await exists(name); n++) name = path.join(this.dir, `${DEAD_LETTER_PREFIX}${stamp}-${n}.ndjson`);
    this.#file = await open(name, 'a', 0o600);
    this.#fileName = name;
    this.#fileBytes = 0;
    await this.#prune();
  }

  async #prune(): Promise<void> {
    const files = (await readdir(this.dir))
      .filter((f) => f.startsWith(DEAD_LETTER_PREFIX) && f.endsWith('.ndjson'))
      .sort();
    for (const f of files.slice(0, Math.max(0, files.length - this.#settings.maxFiles))) {
      const full = path.join(this.dir, f);
      const handle = await open(full, 'r').catch(() => null);
      const size = handle === null ? 0 : (await handle.stat()).size;
      await handle?.close();
      await rm(full, { force: true });
      this.#onDiscard(full, size);
    }
  }

  async #closeFile(): Promise<void> {
    const f = this.#file;
    this.#file = null;
    await f?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#chain;
    await this.#closeFile();
  }
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

async function exists(file: string): Promise<boolean> {
  const h = await open(file, 'r').catch(() => null);
  await h?.close();
  return h !== null;
}
