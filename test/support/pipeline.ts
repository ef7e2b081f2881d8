/** Build a real Pipeline from YAML text for tests, with the sinks the test gives. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigText } from '../../src/config/load.ts';
import { formatDiagnostic } from '../../src/config/diagnostics.ts';
import type { ResolvedConfig } from '../../src/config/resolve.ts';
import { Pipeline } from '../../src/delivery/pipeline.ts';
import type { Sink } from '../../src/sinks/sink.ts';
import { createLogger, type Logger } from '../../src/telemetry/log.ts';
import { RelayMetrics } from '../../src/telemetry/metrics.ts';

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
