/**
 * The daemon: sources → pipeline → destinations, the admin listener, reload and shutdown.
 * Shutdown is one idempotent function: stop intake, drain within shutdown_timeout, write
 * checkpoints, close.
 */
import { formatDiagnostic } from './config/diagnostics.ts';
import { loadConfigFile } from './config/load.ts';
import type { ResolvedConfig, ResolvedSource } from './config/resolve.ts';
import { AdminServer } from './admin/server.ts';
import { DEAD_LETTERS_DISCARDED, DeadLetterWriter } from './delivery/dead-letter.ts';
import { boundHeapGrowth } from './delivery/heap-growth.ts';
import { Pipeline } from './delivery/pipeline.ts';
import { createSink } from './sinks/index.ts';
import { createSource } from './sources/index.ts';
import type { Source } from './sources/source.ts';
import type { Logger } from './telemetry/log.ts';
import { RelayMetrics } from './telemetry/metrics.ts';
import { RUNTIME, VERSION } from './version.ts';

export type RelayState = 'starting' | 'running' | 'stopping' | 'stopped';

export class Relay {
  #config: ResolvedConfig;
  readonly metrics = new RelayMetrics(VERSION, RUNTIME);
  readonly #log: Logger;
  readonly #pipeline: Pipeline;
  readonly #sources: Source[];
  readonly #sourceDeadLetters: DeadLetterWriter[] = [];
  #admin: AdminServer | null = null;
  #state: RelayState = 'starting';
  #stopping: Promise<void> | null = null;
  #resolveStopped: () => void = () => {};
  readonly #stopped = new Promise<void>((resolve) => {
    this.#resolveStopped = resolve;
  });

  constructor(config: ResolvedConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#pipeline = new Pipeline(config, (d) => createSink(d, log), this.metrics, log);
    this.#sources = config.sources.map((s) => this.#createSource(s));
  }

  get state(): RelayState {
    return this.#state;
  }
  get config(): ResolvedConfig {
    return this.#config;
  }
  get pipeline(): Pipeline {
    return this.#pipeline;
  }
  get sources(): readonly Source[] {
    return this.#sources;
  }

  #createSource(s: ResolvedSource): Source {
    const stats = this.metrics.source(s.name);
    const deadLetters = new DeadLetterWriter(s.deadLetter, (discard) => {
      stats.deadLettersDiscarded += discard.records;
      this.#log.error({ source: s.name, ...discard }, DEAD_LETTERS_DISCARDED);
    });
    this.#sourceDeadLetters.push(deadLetters);
    return createSource(s, {
      pipeline: this.#pipeline,
      stats,
      log: this.#log.child({ source: s.name }),
      stateDir: this.#config.stateDir,
      deadLetters,
    });
  }

  /** Start the admin listener and every source; rejects (after cleaning up) if one cannot start. */
  async start(): Promise<void> {
    const heapGrowth = boundHeapGrowth();
    if (this.#config.admin !== null) {
      this.#admin = new AdminServer(this.#config.admin.listen, this, this.#log);
      await this.#admin.start();
    }
    try {
      await Promise.all(this.#sources.map((s) => s.start()));
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.#state = 'running';
    this.#log.info(
      {
        version: VERSION,
        runtime: RUNTIME,
        config: this.#config.file,
        sources: this.#sources.map((s) => s.name),
        destinations: this.#pipeline.destinationNames,
        admin: this.#admin?.address ?? null,
        heapGrowth,
      },
      'kong-log-relay running',
    );
  }

  /** Ready: running and every source can take entries. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.#state !== 'running') reasons.push(`relay is ${this.#state}`);
    for (const s of this.#sources) if (!s.ready) reasons.push(`source ${s.name} is not ready`);
    return { ready: reasons.length === 0, reasons };
  }

  status(): Record<string, unknown> {
    return {
      version: VERSION,
      runtime: RUNTIME,
      state: this.#state,
      config: this.#config.file,
      admin: this.#admin?.address ?? null,
      blocked_by: this.#pipeline.blockingDestinations(),
      sources: Object.fromEntries(this.#sources.map((s) => [s.name, { ready: s.ready, ...s.status() }])),
      destinations: Object.fromEntries(
        this.#pipeline.status().map((d) => [d.name, { ...d, ...this.#destinationLimits(d.name) }]),
      ),
    };
  }

  /** A destination's configured bounds, for `top`'s fill bars. */
  #destinationLimits(name: string): { bufferLimit?: { events: number; bytes: number }; concurrency?: number } {
    const d = this.#config.destinations.find((x) => x.name === name);
    if (d === undefined) return {};
    const { buffer, concurrency } = d.delivery;
    return { bufferLimit: { events: buffer.maxEvents, bytes: buffer.maxBytes }, concurrency };
  }

  /**
   * Reload the config file: on any error keep running the old config and log every problem;
   * else switch rules and workspaces at once, start new destinations, drain removed ones.
   * Sources are not restarted: changing them needs a restart (logged).
   */
  reload(): boolean {
    const { config, diagnostics } = loadConfigFile(this.#config.file);
    for (const d of diagnostics)
      (d.severity === 'error' ? this.#log.error.bind(this.#log) : this.#log.warn.bind(this.#log))(
        { code: d.code },
        formatDiagnostic(d),
      );
    if (config === null) {
      this.metrics.reloads.failure = (this.metrics.reloads.failure ?? 0) + 1;
      this.#log.error(
        { errors: diagnostics.filter((d) => d.severity === 'error').length },
        'config reload failed: still running the previous config',
      );
      return false;
    }
    const changedSources = sourceChanges(this.#config, config);
    if (changedSources.length > 0)
      this.#log.warn(
        { sources: changedSources },
        'source settings changed: they apply after a restart; the running sources are kept',
      );
    const kept = { ...config, sources: this.#config.sources };
    this.#pipeline.reload(kept, () => Date.now() + kept.shutdownTimeoutMs);
    this.#config = kept;
    this.metrics.reloads.success = (this.metrics.reloads.success ?? 0) + 1;
    this.#log.info(
      { destinations: this.#pipeline.destinationNames, rules: config.routing.rules.length },
      'config reloaded',
    );
    return true;
  }

  /** Stop intake, drain until shutdown_timeout, write checkpoints, close. Idempotent. */
  stop(): Promise<void> {
    if (this.#stopping === null) {
      this.#stopping = this.#stop();
      this.#stopping.then(this.#resolveStopped, this.#resolveStopped);
    }
    return this.#stopping;
  }

  /** Resolves once stop() (from a signal or a caller) has finished. */
  whenStopped(): Promise<void> {
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    this.#state = 'stopping';
    const deadline = Date.now() + this.#config.shutdownTimeoutMs;
    this.#log.info({ timeoutMs: this.#config.shutdownTimeoutMs }, 'shutting down: intake stopped, draining buffers');
    await Promise.allSettled(this.#sources.map((s) => s.stopIntake()));
    await this.#pipeline.drain(deadline);
    await Promise.allSettled(this.#sources.map((s) => s.close()));
    await Promise.allSettled(this.#sourceDeadLetters.map((d) => d.close()));
    await this.#admin?.close();
    this.#state = 'stopped';
    this.#log.info('stopped');
  }
}

function sourceChanges(before: ResolvedConfig, after: ResolvedConfig): string[] {
  const names = new Set([...before.sources, ...after.sources].map((s) => s.name));
  const key = (c: ResolvedConfig, n: string): string => JSON.stringify(c.sources.find((s) => s.name === n) ?? null);
  return [...names].filter((n) => key(before, n) !== key(after, n));
}
