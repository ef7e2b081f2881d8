/**
 * `replay -c FILE PATH… [--to DEST] [--dry-run]`: send dead-lettered entries again, through the
 * same buffers, retries and dead-letter handling as the daemon. A PATH is a dead-letter file, a
 * directory (its `dead-letter-*.ndjson` files, in subfolders too, except `replayed/`), or a glob.
 * Records of a destination go back to it (or to --to); records of a source (invalid entries,
 * fixed by hand) are routed by the rules.
 *
 * Idempotent: once every entry of a file is delivered or dead-lettered again (into a new
 * dead-letter file), the file moves to `replayed/` beside it, so a second `replay` of the same
 * directory sends nothing twice. A run stopped half-way leaves the file where it was: running it
 * again re-sends its entries (at least once). Exit 0 when everything was delivered, 1 when some
 * were dead-lettered again or skipped, 2 on a usage error.
 */
import { open, readdir, rename, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import type { ResolvedConfig } from '../config/resolve.ts';
import { AckGroup } from '../core/ack.ts';
import { isDeadLetterFile } from '../core/dead-letter.ts';
import { Pipeline } from '../delivery/pipeline.ts';
import { byteStringOf } from '../event/byte-string.ts';
import { JsonSyntaxError } from '../event/json-scan.ts';
import { buildRouting } from '../delivery/routing.ts';
import { createSink } from '../sinks/index.ts';
import { createLogger } from '../telemetry/log.ts';
import { RelayMetrics } from '../telemetry/metrics.ts';
import { RUNTIME } from '../runtime.ts';
import { VERSION } from '../version.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

/** The folder, beside a replayed file, that it moves into. */
export const REPLAYED_DIR = 'replayed';

export interface ReplayOptions {
  readonly to: string | undefined;
  readonly dryRun: boolean;
}

/** One record of a dead-letter file, as replay needs it. */
interface ReplayRecord {
  readonly line: number;
  /** The line is not a JSON object (not a record at all). */
  readonly invalid: boolean;
  /** The entry's JSON text; undefined when the record has none. */
  readonly event: string | undefined;
  readonly destination: string | undefined;
}

export async function replayCommand(
  configFile: string,
  inputs: readonly string[],
  options: ReplayOptions,
): Promise<number> {
  const { config, diagnostics } = loadConfigFile(configFile);
  if (config === null) {
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return EXIT_INVALID_CONFIG;
  }
  const names = config.destinations.map((d) => d.name);
  if (options.to !== undefined && !names.includes(options.to)) {
    process.stderr.write(
      `kong-log-relay replay: --to ${options.to}: no such destination (have: ${names.join(', ')})\n`,
    );
    return 2;
  }
  const files: string[] = [];
  for (const input of inputs) {
    const found = await expandInput(input);
    if (typeof found === 'string') {
      process.stderr.write(`kong-log-relay replay: ${found}\n`);
      return 2;
    }
    for (const f of found) if (!files.includes(f)) files.push(f);
  }
  if (files.length === 0) {
    process.stderr.write(`kong-log-relay replay: no dead-letter files in ${inputs.join(', ')}: nothing to replay\n`);
    return 0;
  }
  return options.dryRun ? dryRun(config, files, options) : send(config, files, options);
}

/** --dry-run: one JSON line per record on stdout (file, line, destinations, entry); nothing is sent or moved. */
async function dryRun(config: ResolvedConfig, files: readonly string[], options: ReplayOptions): Promise<number> {
  const { decoder, router } = buildRouting(config);
  const names = config.destinations.map((d) => d.name);
  let skipped = 0;
  for (const file of files) {
    for await (const r of readRecords(file, 0)) {
      const problem = checkRecord(r, options, names);
      if (problem !== null) {
        skipped++;
        process.stderr.write(`kong-log-relay replay: ${file}:${r.line}: ${problem}, skipped\n`);
        continue;
      }
      const text = r.event as string;
      const target = options.to ?? r.destination;
      let to: string[];
      if (target !== undefined) to = [target];
      else {
        const event = decoder.decode(byteStringOf(text));
        if (event instanceof JsonSyntaxError) {
          skipped++;
          process.stderr.write(`kong-log-relay replay: ${file}:${r.line}: ${notAnObject(event)}, skipped\n`);
          continue;
        }
        to = [...router.explain(event).destinations].sort();
      }
      process.stdout.write(
        `{"file":${JSON.stringify(file)},"line":${r.line},"to":${JSON.stringify(to)},"event":${text}}\n`,
      );
    }
  }
  return skipped > 0 ? 1 : 0;
}

async function send(config: ResolvedConfig, files: readonly string[], options: ReplayOptions): Promise<number> {
  // Entries that fail again go to a dead-letter file of this run's own, never into one a running
  // daemon is appending to.
  const own: ResolvedConfig = {
    ...config,
    destinations: config.destinations.map((d) => ({
      ...d,
      delivery: { ...d.delivery, deadLetter: { ...d.delivery.deadLetter, appendToNewest: false } },
    })),
  };
  const names = config.destinations.map((d) => d.name);
  const log = createLogger({ level: 'warn', format: config.log.format });
  const metrics = new RelayMetrics(VERSION, RUNTIME);
  const pipeline = new Pipeline(own, (d) => createSink(d, log), metrics, log);
  const stats = metrics.source('replay');
  const progress = new Progress(process.stderr);
  let sent = 0;
  let skipped = 0;
  const warn = (message: string): void => {
    progress.clear();
    process.stderr.write(`kong-log-relay replay: ${message}\n`);
  };
  const timer = setInterval(() => progress.update(sent, metrics), 500);
  try {
    for (const file of files) {
      // Read to the end, wait until every entry is settled, and read again whatever a daemon
      // appended meanwhile: the file moves only once nothing in it is left unsent.
      let offset = 0;
      for (;;) {
        const group = new AckGroup(false);
        const reader = readRecords(file, offset);
        for await (const r of reader) {
          const problem = checkRecord(r, options, names);
          if (problem !== null) {
            skipped++;
            warn(`${file}, line ${r.line}: ${problem}, skipped`);
            continue;
          }
          const raw = byteStringOf(r.event as string);
          const target = options.to ?? r.destination;
          const result =
            target === undefined ? pipeline.ingest(raw, group, stats) : pipeline.ingestTo(target, raw, group, stats);
          if (result instanceof JsonSyntaxError) {
            skipped++;
            warn(`${file}, line ${r.line}: ${notAnObject(result)}, skipped`);
            continue;
          }
          sent++;
          if (pipeline.blocked) await pipeline.whenUnblocked();
          progress.update(sent, metrics);
        }
        group.seal();
        await group.whenDone();
        const end = reader.end();
        if (end.torn && (await stat(file)).size <= end.seen)
          warn(
            `${file}, line ${end.line}: incomplete last record (torn by a crash or a full disk while it was written; its entries were never acknowledged), ignored`,
          );
        if ((await stat(file)).size <= end.seen) break;
        offset = end.offset;
      }
      if (path.basename(path.dirname(file)) !== REPLAYED_DIR) await moveToReplayed(file);
    }
  } catch (e) {
    warn(`${(e as Error).message}`);
    clearInterval(timer);
    await pipeline.drain(Date.now() + config.shutdownTimeoutMs);
    return 1;
  }
  clearInterval(timer);
  await pipeline.drain(Date.now() + config.shutdownTimeoutMs);
  const totals = progress.totals(metrics);
  progress.done(
    `replayed ${sent} entries: ${totals.delivered} delivered, ${totals.deadLettered} dead-lettered again, ${skipped} skipped`,
  );
  return totals.deadLettered > 0 || skipped > 0 ? 1 : 0;
}

/** Why a record cannot be sent, or null. */
function checkRecord(r: ReplayRecord, options: ReplayOptions, names: readonly string[]): string | null {
  if (r.invalid) return 'not a dead-letter record (invalid JSON)';
  if (r.event === undefined) return 'record has no event';
  const target = options.to ?? r.destination;
  if (target !== undefined && !names.includes(target))
    return `destination "${target}" is not in this config (use --to)`;
  return null;
}

function notAnObject(e: JsonSyntaxError): string {
  return `the entry is still not a JSON object (${e.message})`;
}

/** Files, directories (recursively, without `replayed/`) and globs → dead-letter files; a string is an error. */
async function expandInput(input: string): Promise<string[] | string> {
  const full = path.resolve(input);
  const info = await stat(full).catch(() => null);
  if (info?.isFile()) return [full];
  if (info?.isDirectory()) return (await walk(full)).filter((f) => isDeadLetterFile(path.basename(f)));
  const scan = picomatch.scan(full);
  if (!scan.isGlob) return `cannot read ${input}: no such file or directory`;
  const isMatch = picomatch(full, { dot: true });
  return (await walk(scan.base)).filter((f) => isMatch(f));
}

/** Every file below a directory, sorted, without `replayed/` folders. */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== REPLAYED_DIR) out.push(...(await walk(full)));
    } else if (e.isFile()) out.push(full);
  }
  return out;
}

async function moveToReplayed(file: string): Promise<void> {
  const dir = path.join(path.dirname(file), REPLAYED_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const base = path.basename(file);
  let target = path.join(dir, base);
  for (let n = 1; (await stat(target).catch(() => null)) !== null; n++) target = path.join(dir, `${n}-${base}`);
  await rename(file, target);
}

interface ReadEnd {
  /** Where the last whole line ended. */
  readonly offset: number;
  readonly line: number;
  /** The file ends in a record without its newline (torn by a crash, or still being written). */
  readonly torn: boolean;
  /** Bytes of the file seen, the torn part included. */
  readonly seen: number;
}

/** Records of a file from a byte offset: each whole, non-blank line parsed. */
function readRecords(file: string, from: number): AsyncIterable<ReplayRecord> & { end(): ReadEnd } {
  let end: ReadEnd = { offset: from, line: 0, torn: false, seen: from };
  async function* lines(): AsyncGenerator<ReplayRecord> {
    const handle = await open(file, 'r');
    try {
      let pending = Buffer.alloc(0);
      let offset = from;
      let line = 0;
      const chunk = Buffer.allocUnsafe(1 << 16);
      for (;;) {
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, offset + pending.length);
        if (bytesRead === 0) break;
        pending = Buffer.concat([pending, chunk.subarray(0, bytesRead)]);
        let start = 0;
        for (let nl = pending.indexOf(0x0a); nl !== -1; nl = pending.indexOf(0x0a, start)) {
          const text = pending.toString('utf8', start, nl);
          start = nl + 1;
          line++;
          if (text.trim() !== '') yield parseRecord(text, line);
        }
        offset += start;
        pending = pending.subarray(start);
      }
      end = { offset, line: line + 1, torn: pending.toString('utf8').trim() !== '', seen: offset + pending.length };
    } finally {
      await handle.close();
    }
  }
  return Object.assign(lines(), { end: () => end });
}

/**
 * A record line. The entry is taken as its original text where the daemon wrote it (the last
 * member, `"event":TEXT}`: byte for byte as it arrived); records edited by hand are parsed.
 */
function parseRecord(text: string, line: number): ReplayRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { line, invalid: true, event: undefined, destination: undefined };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { line, invalid: true, event: undefined, destination: undefined };
  const r = parsed as { event?: unknown; raw?: unknown; destination?: unknown };
  const destination = typeof r.destination === 'string' ? r.destination : undefined;
  let event: string | undefined;
  if (r.event !== undefined) {
    // JSON.stringify escapes every quote inside strings, so the first `,"event":` is the member itself.
    const at = text.indexOf(',"event":');
    const original = at === -1 ? '' : text.slice(at + ',"event":'.length, text.trimEnd().length - 1);
    event = isSameJson(original, r.event) ? original : JSON.stringify(r.event);
  } else if (typeof r.raw === 'string') event = r.raw;
  return { line, invalid: false, event, destination };
}

function isSameJson(text: string, value: unknown): boolean {
  try {
    return JSON.stringify(JSON.parse(text)) === JSON.stringify(value);
  } catch {
    return false;
  }
}

/** One self-rewriting status line on a TTY; plain lines elsewhere only at the end. */
class Progress {
  readonly #out: NodeJS.WriteStream;
  #lastDraw = 0;
  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  totals(metrics: RelayMetrics): { delivered: number; deadLettered: number } {
    let delivered = 0,
      deadLettered = 0;
    for (const d of metrics.destinations.values()) {
      delivered += d.delivered;
      deadLettered += Object.values(d.deadLettered).reduce((a, b) => a + b, 0);
    }
    return { delivered, deadLettered };
  }

  update(sent: number, metrics: RelayMetrics): void {
    if (!this.#out.isTTY || Date.now() - this.#lastDraw < 200) return;
    this.#lastDraw = Date.now();
    const t = this.totals(metrics);
    this.#out.write(`\r\x1b[2Kreplay: ${sent} read, ${t.delivered} delivered, ${t.deadLettered} dead-lettered`);
  }

  clear(): void {
    if (this.#out.isTTY) this.#out.write('\r\x1b[2K');
  }
  done(message: string): void {
    this.clear();
    this.#out.write(`${message}\n`);
  }
}
