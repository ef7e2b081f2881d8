/** What every source implements, and what it is given to hand entries over. */
import type { DeadLetterWriter } from '../core/dead-letter.ts';
import type { PipelineIntake } from '../core/pipeline-intake.ts';
import type { KongAdminConnection } from '../kong-admin/connection.ts';
import type { Logger } from '../telemetry/log.ts';
import type { SourceStats } from '../telemetry/metrics.ts';

export interface SourceContext {
  /** Where entries go (the pipeline, seen through its intake): ingest per entry; `blocked` / `whenUnblocked()` for backpressure. */
  readonly pipeline: PipelineIntake;
  readonly stats: SourceStats;
  readonly log: Logger;
  /** Where this source keeps state (checkpoints): `<state_dir>`. */
  readonly stateDir: string;
  /** The source's dead-letter file: invalid entries, over-long lines. */
  readonly deadLetters: DeadLetterWriter;
  /** The Kong Admin API (kong_admin sources); null without a `kong_admin:` block. */
  readonly kongAdmin?: KongAdminConnection | null;
}

export interface Source {
  readonly name: string;
  /** Start reading or listening; resolves once it does (a listen error rejects). */
  start(): Promise<void>;
  /** Stop taking new entries (HTTP answers 503, files stop being read). Idempotent. */
  stopIntake(): Promise<void>;
  /** After the pipeline has drained: write final state (checkpoints) and release everything. */
  close(): Promise<void>;
  /** False while it cannot take entries (starting, a file it cannot read, stopped). */
  readonly ready: boolean;
  /** JSON for /status: files and offsets, listen address, counts. */
  status(): Record<string, unknown>;
}
