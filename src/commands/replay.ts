/**
 * `replay -c FILE DEAD_LETTER_FILE [--to DEST]`: send dead-lettered entries again, through
 * the same buffers, retries and dead-letter handling as the daemon. Records of a destination go
 * back to it (or to --to); records of a source (invalid entries, fixed by hand) are routed by
 * the rules. Exit 0 when everything was delivered, 1 when some were dead-lettered again.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import { AckGroup } from '../core/ack.ts';
import { Pipeline } from '../delivery/pipeline.ts';
import { byteStringOf } from '../event/byte-string.ts';
import { FieldPlan, decodeString, scanObject } from '../event/json-scan.ts';
import { createSink } from '../sinks/index.ts';
import { createLogger } from '../telemetry/log.ts';
import { RelayMetrics } from '../telemetry/metrics.ts';
import { RUNTIME } from '../runtime.ts';
import { VERSION } from '../version.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

const RECORD_PLAN = new FieldPlan([['event'], ['raw'], ['destination'], ['source']]);

export interface ReplayOptions {
  readonly to: string | undefined;
}

export async function replayCommand(
  configFile: string,
  deadLetterFile: string,
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
  const log = createLogger({ level: 'warn', format: config.log.format });
  const metrics = new RelayMetrics(VERSION, RUNTIME);
  const pipeline = new Pipeline(config, (d) => createSink(d, log), metrics, log);
  const stats = metrics.source('replay');
  const progress = new Progress(process.stderr);
  const group = new AckGroup(false, undefined);
  const spans = new Int32Array(RECORD_PLAN.size * 2);
  let read = 0,
    skipped = 0,
    sent = 0;

  const lines = createInterface({ input: createReadStream(deadLetterFile, { encoding: 'utf8' }), crlfDelay: Infinity });
  // An invalid line is reported once the next one is read: the last line of a file that does not
  // end in a newline is a record torn by a crash mid-write, whose entries were never acknowledged
  // (so they were written again, re-read or retried by Kong): it is noted, not counted as skipped.
  let invalidLine = 0;
  const reportInvalid = (): void => {
    if (invalidLine > 0) {
      skipped++;
      warn(`line ${invalidLine}: not a dead-letter record (invalid JSON), skipped`);
      invalidLine = 0;
    }
  };
  try {
    for await (const line of lines) {
      if (line.trim() === '') continue;
      read++;
      reportInvalid();
      if (scanObject(line, RECORD_PLAN, spans) !== null) {
        invalidLine = read;
        continue;
      }
      const eventText =
        spans[0] >= 0
          ? line.slice(spans[0], spans[1])
          : spans[2] >= 0
            ? decodeString(line, spans[2], spans[3])
            : undefined;
      if (eventText === undefined) {
        skipped++;
        warn(`line ${read}: record has no event, skipped`);
        continue;
      }
      const recorded = spans[4] >= 0 ? decodeString(line, spans[4], spans[5]) : undefined;
      const target = options.to ?? recorded;
      if (target !== undefined && !names.includes(target)) {
        skipped++;
        warn(`line ${read}: destination "${target}" is not in this config (use --to), skipped`);
        continue;
      }
      const raw = byteStringOf(eventText);
      const result =
        target === undefined ? pipeline.ingest(raw, group, stats) : pipeline.ingestTo(target, raw, group, stats);
      if (result instanceof Error) {
        skipped++;
        warn(`line ${read}: the entry is still not a JSON object (${result.message}), skipped`);
        continue;
      }
      sent++;
      if (pipeline.blocked) await pipeline.whenUnblocked();
      progress.update(sent, metrics);
    }
  } catch (e) {
    process.stderr.write(`kong-log-relay replay: cannot read ${deadLetterFile}: ${(e as Error).message}\n`);
    await pipeline.drain(Date.now() + config.shutdownTimeoutMs);
    return 1;
  }
  if (invalidLine > 0 && !(await endsWithNewline(deadLetterFile))) {
    warn(
      `line ${invalidLine}: incomplete last record (torn by a crash or a full disk while it was written; its entries were never acknowledged), ignored`,
    );
    invalidLine = 0;
  }
  reportInvalid();
  group.seal();
  const timer = setInterval(() => progress.update(sent, metrics), 500);
  await group.whenDone();
  clearInterval(timer);
  await pipeline.drain(Date.now() + config.shutdownTimeoutMs);
  const totals = progress.totals(metrics);
  progress.done(
    `replayed ${sent} entries: ${totals.delivered} delivered, ${totals.deadLettered} dead-lettered again, ${skipped} skipped`,
  );
  return totals.deadLettered > 0 || skipped > 0 ? 1 : 0;

  function warn(message: string): void {
    progress.clear();
    process.stderr.write(`kong-log-relay replay: ${message}\n`);
  }
}

async function endsWithNewline(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    await handle.close();
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
