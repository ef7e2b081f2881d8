/** A file source over a real pipeline into a RecordingSink, in a temp dir, for the file-*.test.ts files. */
import { appendFileSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { DeadLetterWriter } from '../../src/core/dead-letter.ts';
import type { FileSource as FileSourceConfig } from '../../src/config/resolve.ts';
import type { Sink } from '../../src/sinks/sink.ts';
import { FileSource } from '../../src/sources/file/file-source.ts';
import { createLogger } from '../../src/telemetry/log.ts';
import type { SourceStats } from '../../src/telemetry/metrics.ts';
import { configFromYaml, tempDir, testPipeline, type TestPipeline } from './pipeline.ts';
import { RecordingSink } from './recording-sink.ts';

export interface TailOptions {
  /** Glob patterns relative to `logDir`. */
  readonly patterns?: readonly string[];
  readonly startAt?: 'end' | 'beginning';
  readonly rotateWait?: string;
  readonly maxLineBytes?: string;
  /** Delivery settings of the destination (YAML indented by 4), instead of one batch at a time of up to 200. */
  readonly delivery?: string;
  readonly stateDir?: string;
  /** poll_interval; 50ms unless told (a long one: nothing but reads looks at the files). */
  readonly pollInterval?: string;
  readonly followSymlinks?: boolean;
}

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [key: string]: unknown;
}

export class TailRun {
  readonly source: FileSource;
  readonly sink: Sink;
  readonly test: TestPipeline;
  readonly stats: SourceStats;
  readonly config: FileSourceConfig;
  readonly deadLetters: DeadLetterWriter;
  readonly logs: LogLine[];

  constructor(init: {
    source: FileSource;
    sink: Sink;
    test: TestPipeline;
    stats: SourceStats;
    config: FileSourceConfig;
    deadLetters: DeadLetterWriter;
    logs: LogLine[];
  }) {
    this.source = init.source;
    this.sink = init.sink;
    this.test = init.test;
    this.stats = init.stats;
    this.config = init.config;
    this.deadLetters = init.deadLetters;
    this.logs = init.logs;
  }

  get recorded(): string[] {
    return (this.sink as RecordingSink).texts;
  }

  /** What the daemon does at shutdown: stop reading, drain (bounded), write the checkpoint, close. */
  async stop(drainMs = 5_000): Promise<void> {
    // A stalled RecordingSink ignores the abort signal: never leave one stalled (a failed assertion) or the drain hangs.
    if (this.sink instanceof RecordingSink) this.sink.resume();
    await this.source.stopIntake();
    await this.test.pipeline.drain(Date.now() + drainMs);
    await this.source.close();
    await this.deadLetters.close();
  }

  files(): FileStatus[] {
    return this.source.status().files as FileStatus[];
  }

  logged(fragment: string): LogLine[] {
    return this.logs.filter((l) => l.msg.includes(fragment));
  }
}

export interface FileStatus {
  readonly path: string;
  readonly size: number;
  readonly readOffset: number;
  readonly ackedOffset: number;
  readonly checkpointOffset: number | null;
  readonly rotated: boolean;
  readonly following: boolean;
  readonly closed: boolean;
}

export interface TailDirs {
  readonly root: string;
  readonly logDir: string;
  readonly stateDir: string;
}

export function tailDirs(): TailDirs {
  const root = tempDir('klr-file-');
  const logDir = path.join(root, 'logs');
  mkdirSync(logDir);
  return { root, logDir, stateDir: path.join(root, 'state') };
}

export async function startTail(
  dirs: TailDirs,
  options: TailOptions = {},
  sink: Sink = new RecordingSink(),
): Promise<TailRun> {
  const patterns = (options.patterns ?? ['*.log']).map((p) => JSON.stringify(path.join(dirs.logDir, p)));
  const yaml = `
state_dir: ${JSON.stringify(options.stateDir ?? dirs.stateDir)}
admin: false
# The source is checked byte for byte with generated entries, which carry credentials (redaction has its own tests).
redact: false
sources:
  logs:
    type: file
    paths: [${patterns.join(', ')}]
    start_at: ${options.startAt ?? 'beginning'}
    rotate_wait: ${options.rotateWait ?? '300ms'}
    max_line_bytes: ${options.maxLineBytes ?? '1MiB'}
    poll_interval: ${options.pollInterval ?? '50ms'}
    follow_symlinks: ${options.followSymlinks ?? false}
destinations:
  recorder:
    type: webhook
    url: http://127.0.0.1:9/unused
${options.delivery ?? '    concurrency: 1\n    batch: { max_events: 200, max_wait: 20ms }'}
workspaces:
  "*": { to: [recorder] }
`;
  const config = configFromYaml(yaml, dirs.root);
  const test = testPipeline(config, { recorder: sink });
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l !== '') logs.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json' }, stream);
  const sourceConfig = config.sources[0] as FileSourceConfig;
  const deadLetters = new DeadLetterWriter(sourceConfig.deadLetter, () => undefined);
  const stats = test.metrics.source(sourceConfig.name, sourceConfig.type);
  const source = new FileSource(sourceConfig, {
    pipeline: test.pipeline,
    stats,
    log,
    stateDir: config.stateDir,
    deadLetters,
  });
  await source.start();
  return new TailRun({ source, sink, test, stats, config: sourceConfig, deadLetters, logs });
}

/** The first run of a restart test: start, wait until `count` lines are recorded, stop (the checkpoint is written). */
export async function runUntilRecorded(dirs: TailDirs, count: number, options: TailOptions = {}): Promise<TailRun> {
  const run = await startTail(dirs, options);
  await waitFor(`the first ${count} lines`, () => run.recorded.length >= count);
  await run.stop();
  return run;
}

/** Poll until `check` is true; fail with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves after `ms`: only for "nothing more happens" windows, never to wait for something. */
export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Kong-like JSON lines with a sequence number `seq` (from..to-1), each ending in "\n". */
export function jsonLines(from: number, to: number, tag = 'a'): string {
  let out = '';
  for (let i = from; i < to; i++)
    out += `{"seq":${i},"tag":"${tag}","request":{"method":"GET","uri":"\\/items\\/${i}"},"response":{"status":200}}\n`;
  return out;
}

export function append(file: string, text: string): void {
  appendFileSync(file, text);
}

/** The seq numbers of recorded entries, in arrival order. */
export function seqs(texts: readonly string[]): number[] {
  return texts.map((t) => (JSON.parse(t) as { seq: number }).seq);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

export function readCheckpoint(
  stateDir: string,
  source = 'logs',
): { files: { path: string; offset: number; size: number; rotated: boolean }[] } | null {
  try {
    return JSON.parse(readFileSync(path.join(stateDir, 'checkpoints', `${source}.json`), 'utf8')) as {
      files: { path: string; offset: number; size: number; rotated: boolean }[];
    };
  } catch {
    return null;
  }
}

/** Every record of the source's dead-letter files. */
export function deadLetterRecords(dir: string): Record<string, unknown>[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.flatMap((n) =>
    readFileSync(path.join(dir, n), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  );
}
