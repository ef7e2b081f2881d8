/**
 * Shared pieces of the reliability suite: cleanup of everything a test starts, a log writer
 * that knows where each entry lies in its file, readers for checkpoints and dead-letter files,
 * and the delivery accounting that each scenario asserts and reports.
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { WebhookReceiver } from '../../tools/webhook-receiver.ts';
import { Daemon, waitFor } from './daemon.ts';
import { idOf } from './kong.ts';
import { tempDir } from './pipeline.ts';
import { SnsEmulator } from '../../tools/sns-emulator.ts';

/** Everything a test file starts, stopped in after(): daemons are SIGKILLed. */
export class Fleet {
  readonly daemons: Daemon[] = [];
  readonly receivers: WebhookReceiver[] = [];
  readonly cleanups: (() => Promise<void> | void)[] = [];

  constructor() {
    after(async () => {
      for (const d of this.daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
      await Promise.allSettled(this.daemons.map((d) => d.exited));
      await Promise.allSettled(this.receivers.map((r) => r.close()));
      for (const c of this.cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
    });
  }

  async daemon(dir: string, config: string, env: Record<string, string> = {}): Promise<Daemon> {
    const d = await Daemon.start(dir, config, env);
    this.daemons.push(d);
    return d;
  }

  async receiver(): Promise<WebhookReceiver> {
    const r = await WebhookReceiver.start();
    this.receivers.push(r);
    return r;
  }

  async sns(): Promise<SnsEmulator> {
    const e = await SnsEmulator.start();
    this.cleanups.push(() => e.close());
    return e;
  }

  onCleanup(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** A temporary directory, removed after the file's tests (kept with KLR_KEEP=1, to look at after a failure). */
  dir(prefix: string): string {
    const dir = tempDir(prefix);
    if (process.env.KLR_KEEP !== '1') this.cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  /** A temporary directory (see dir) with an empty Kong log at logs/kong.log. */
  kongLogDir(prefix: string): { dir: string; logFile: string } {
    const dir = this.dir(prefix);
    mkdirSync(path.join(dir, 'logs'));
    const logFile = path.join(dir, 'logs', 'kong.log');
    writeFileSync(logFile, '');
    return { dir, logFile };
  }
}

/** SIGKILL and wait until the process is gone. */
export async function kill9(d: Daemon): Promise<void> {
  if (d.proc.exitCode === null && d.proc.signalCode === null) d.proc.kill('SIGKILL');
  await d.exited;
}

/** Resident memory of a process in bytes (Linux /proc); undefined elsewhere. */
export function rssBytes(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Wait until `count()` has not changed for a few polls (e.g. a receiver after the sender died). */
export async function settled(count: () => number | Promise<number>, what: string): Promise<void> {
  let last = -1;
  let same = 0;
  await waitFor(
    async () => {
      const now = await count();
      same = now === last ? same + 1 : 0;
      last = now;
      return same >= 4;
    },
    30_000,
    what,
  );
}

/** Appends entries to a log file, remembering the byte offset where each one starts. */
export class LogWriter {
  readonly file: string;
  readonly offsets = new Map<string, number>();
  #size: number;

  constructor(file: string) {
    this.file = file;
    this.#size = existsSync(file) ? statSync(file).size : 0;
  }

  /** Bytes written to the file at the path since it was last empty. */
  get size(): number {
    return this.#size;
  }

  /** The file at the path is empty again: truncated in place, or replaced by a new one. */
  startOver(): void {
    this.#size = 0;
  }

  /** One appendFileSync (open, write, close: like file-log with `reopen: true`). */
  append(entries: readonly { id: string; text: string }[]): void {
    let text = '';
    for (const e of entries) {
      this.offsets.set(e.id, this.#size + Buffer.byteLength(text));
      text += `${e.text}\n`;
    }
    appendFileSync(this.file, text);
    this.#size += Buffer.byteLength(text);
  }

  /** Append in slices of `slice` entries, yielding `pauseMs` between them (a steady writer). */
  async appendSteadily(
    entries: readonly { id: string; text: string }[],
    slice: number,
    pauseMs: number,
  ): Promise<void> {
    for (let i = 0; i < entries.length; i += slice) {
      this.append(entries.slice(i, i + slice));
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  }
}

export interface CheckpointFileEntry {
  path: string;
  ino: number;
  offset: number;
  size: number;
}

/** The checkpoint file of a file source as written on disk (empty when there is none). */
export function readCheckpoint(stateDir: string, source: string): CheckpointFileEntry[] {
  try {
    const parsed = JSON.parse(readFileSync(path.join(stateDir, 'checkpoints', `${source}.json`), 'utf8')) as {
      files: CheckpointFileEntry[];
    };
    return parsed.files;
  } catch {
    return [];
  }
}

export interface DeadLetterLine {
  readonly destination?: string;
  readonly source?: string;
  readonly reason: string;
  readonly attempts: number;
  readonly event?: unknown;
  readonly raw?: string;
  readonly context?: Record<string, unknown>;
  /** The line as written. */
  readonly text: string;
  readonly file: string;
}

/** The reason given to a dead-letter line that is not JSON. */
export const UNPARSABLE = '(line is not JSON)';
/**
 * The reason given to the last line of a file that does not end in a newline: a record torn by a
 * kill -9 mid-write (its entries were never acknowledged; replay ignores it).
 */
export const TORN_TAIL = '(torn last record)';

/** Every dead-letter record under `<stateDir>/dead-letter/<sub>` (all of them without `sub`). */
export function deadLetters(stateDir: string, sub?: string): DeadLetterLine[] {
  const root = path.join(stateDir, 'dead-letter');
  if (!existsSync(root)) return [];
  const dirs = sub === undefined ? readdirSync(root) : [sub];
  const out: DeadLetterLine[] = [];
  for (const d of dirs) {
    const dir = path.join(root, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      const file = path.join(dir, f);
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (line === '') return;
        let record: Omit<DeadLetterLine, 'text' | 'file'>;
        try {
          record = JSON.parse(line) as Omit<DeadLetterLine, 'text' | 'file'>;
        } catch {
          record = { reason: i === lines.length - 1 ? TORN_TAIL : UNPARSABLE, attempts: 0 };
        }
        out.push({ ...record, text: line, file });
      });
    }
  }
  return out;
}

/** The ids found in entry texts; texts without a generator id are returned apart. */
export function idsIn(texts: readonly string[]): { counts: Map<string, number>; foreign: string[] } {
  const counts = new Map<string, number>();
  const foreign: string[] = [];
  for (const t of texts) {
    let id: string;
    try {
      id = idOf(t);
    } catch {
      foreign.push(t);
      continue;
    }
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return { counts, foreign };
}

export interface DestinationTally {
  readonly name: string;
  /** Ids owed to this destination. */
  readonly owed: readonly string[];
  /** Entry texts that arrived there. */
  readonly arrived: readonly string[];
}

export interface Accounting {
  sent: number;
  expected: number;
  received: number;
  duplicated: number;
  lost: number;
  /** Per destination: owed ids that never arrived (first few), ids that arrived but were never owed. */
  readonly missing: Record<string, string[]>;
  readonly unexpected: Record<string, string[]>;
  /** Per destination: id → copies, for ids that arrived more than once. */
  readonly duplicates: Record<string, Map<string, number>>;
}

/** Compare what each destination was owed with what arrived. */
export function account(sent: number, destinations: readonly DestinationTally[]): Accounting {
  const result: Accounting = {
    sent,
    expected: 0,
    received: 0,
    duplicated: 0,
    lost: 0,
    missing: {},
    unexpected: {},
    duplicates: {},
  };
  for (const d of destinations) {
    const { counts, foreign } = idsIn(d.arrived);
    const owed = new Set(d.owed);
    result.expected += owed.size;
    const missing: string[] = [];
    const dups = new Map<string, number>();
    for (const id of owed) {
      const n = counts.get(id) ?? 0;
      if (n === 0) missing.push(id);
      else {
        result.received++;
        if (n > 1) {
          dups.set(id, n);
          result.duplicated += n - 1;
        }
      }
    }
    result.lost += missing.length;
    result.missing[d.name] = missing;
    result.unexpected[d.name] = [
      ...[...counts.keys()].filter((id) => !owed.has(id)),
      ...foreign.map((t) => `(no id) ${t.slice(0, 80)}`),
    ];
    result.duplicates[d.name] = dups;
  }
  return result;
}

/** Wait until every owed id arrived at every destination (`arrived()` is read on each poll). */
export async function waitForAll(
  destinations: () => readonly DestinationTally[] | Promise<readonly DestinationTally[]>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  await waitFor(
    async () => {
      for (const d of await destinations()) {
        const { counts } = idsIn(d.arrived);
        for (const id of d.owed) if (!counts.has(id)) return false;
      }
      return true;
    },
    timeoutMs,
    what,
  );
}

export const MiB = 1024 * 1024;
