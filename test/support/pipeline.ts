/** Build a real Pipeline from YAML text for tests, feed it entries and read its dead letters. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigText } from '../../src/config/load.ts';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import type { ResolvedConfig } from '../../src/config/resolve.ts';
import { Pipeline } from '../../src/delivery/pipeline.ts';
import type { Sink } from '../../src/sinks/sink.ts';
import { createLogger, type Logger } from '../../src/telemetry/log.ts';
import { RelayMetrics, type SourceStats } from '../../src/telemetry/metrics.ts';
import { AckGroup } from '../../src/core/ack.ts';
import { byteStringOf } from '../../src/event/byte-string.ts';

const made: string[] = [];
process.once('exit', () => {
  if (process.env.KLR_KEEP === '1') return;
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temp dir, removed when the test process exits (KLR_KEEP=1 keeps it). */
export function tempDir(prefix = 'klr-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** A logger that writes nothing (set KLR_TEST_LOG=1 to see logs). */
export function quietLogger(): Logger {
  return createLogger({ level: process.env.KLR_TEST_LOG === '1' ? 'debug' : 'silent', format: 'json' }, process.stderr);
}

/** Load YAML (relative paths resolve against `dir`) or throw with every diagnostic. */
export function configFromYaml(
  yaml: string,
  dir: string = tempDir(),
  env: Record<string, string> = {},
): ResolvedConfig {
  const result = loadConfigText(yaml, path.join(dir, 'config.yaml'), env);
  if (result.config === null) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'));
  return result.config;
}

export interface TestPipeline {
  readonly config: ResolvedConfig;
  readonly pipeline: Pipeline;
  readonly metrics: RelayMetrics;
  readonly log: Logger;
}

export function testPipeline(config: ResolvedConfig, sinks: Readonly<Record<string, Sink>>): TestPipeline {
  const metrics = new RelayMetrics('test', 'node');
  const log = quietLogger();
  const pipeline = new Pipeline(
    config,
    (d) => {
      const sink = sinks[d.name];
      if (sink === undefined) throw new Error(`test gave no sink for destination ${d.name}`);
      return sink;
    },
    metrics,
    log,
  );
  return { config, pipeline, metrics, log };
}

/**
 * Ingest each text as its own acknowledgement group; resolves once every one is delivered,
 * suppressed or dead-lettered everywhere, and fails after `timeoutMs` with the pipeline's status.
 */
export async function relayEntries(
  pipeline: Pipeline,
  texts: readonly string[],
  { source = new RelayMetrics('test', 'node').source('t'), timeoutMs = 15_000 }: RelayOptions = {},
): Promise<void> {
  const done = texts.map((text) => {
    const group = new AckGroup(false);
    const result = pipeline.ingest(byteStringOf(text), group, source);
    if (result instanceof Error) throw result;
    group.seal();
    return group.whenDone();
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`entries not settled within ${timeoutMs}ms: ${JSON.stringify(pipeline.status())}`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([Promise.all(done), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface RelayOptions {
  /** The source the entries are counted for (default: one of a metrics registry of its own). */
  readonly source?: SourceStats;
  readonly timeoutMs?: number;
}

/** One line of a destination's dead-letter files (`<dir>/dead-letter/<destination>/*.ndjson`). */
export interface DeadLetterLine {
  readonly destination: string;
  readonly reason: string;
  readonly attempts: number;
  readonly first_attempt?: string;
  readonly last_attempt?: string;
  readonly event?: unknown;
  readonly raw?: string;
}

/** Every dead letter of a destination under `stateDir`, file by file in name order. */
export function readDeadLetters(stateDir: string, destination: string): DeadLetterLine[] {
  const d = path.join(stateDir, 'dead-letter', destination);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .sort()
    .flatMap((f) =>
      readFileSync(path.join(d, f), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as DeadLetterLine),
    );
}
