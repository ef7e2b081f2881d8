/**
 * The daemon: sources → pipeline → destinations, the admin listener, reload and shutdown.
 * Shutdown is one idempotent function: stop intake, drain within shutdown_timeout, write
 * checkpoints, close.
 */
import { formatDiagnostic } from './config/diagnostics.ts';
import { loadConfigFile, locateDiagnostics } from './config/load.ts';
import type { ResolvedConfig, ResolvedSource } from './config/resolve.ts';
import { AdminServer } from './admin/server.ts';
import type { TapOpener } from './admin/tap-stream.ts';
import { DEAD_LETTERS_DISCARDED, DeadLetterWriter } from './core/dead-letter.ts';
import { Pipeline } from './delivery/pipeline.ts';
import { checkConfigAgainstKong } from './kong-admin/config-check.ts';
import { KongAdminConnection } from './kong-admin/connection.ts';
import type { KongWorkspace } from './kong-admin/workspace-directory.ts';
import { createSink } from './sinks/index.ts';
import { snsCredentialProblems } from './sinks/sns/credentials.ts';
import { createSource } from './sources/index.ts';
import type { Source } from './sources/source.ts';
import type { Logger } from './telemetry/log.ts';
import { RelayMetrics } from './telemetry/metrics.ts';
import { PeriodicCheck } from './util/periodic-check.ts';
import { StateDirectoryError, stateDirectories, stateDirectoryProblems } from './commands/state-dirs.ts';
import { RUNTIME } from './runtime.ts';
import { VERSION } from './version.ts';

export type RelayState = 'starting' | 'running' | 'stopping' | 'stopped';

export class Relay {
  #config: ResolvedConfig;
  readonly metrics = new RelayMetrics(VERSION, RUNTIME);
  readonly #log: Logger;
  readonly #pipeline: Pipeline;
  readonly #sources: Source[];
  readonly #sourceDeadLetters: DeadLetterWriter[] = [];
  /** The Kong Admin API (`kong_admin:`): workspace names for the decoder, kong_admin sources. */
  readonly #kongAdmin: KongAdminConnection | null;
  #admin: AdminServer | null = null;
  /** Can state_dir and the dead-letter directories be written (checked at start, then every 10 s)? */
  readonly #stateDirs = new PeriodicCheck(() => stateDirectoryProblems(stateDirectories(this.#config)), 10_000);
  /** Do the SNS destinations have AWS credentials (at start, then every minute)? */
  readonly #credentials = new PeriodicCheck(() => snsCredentialProblems(this.#config.destinations), 60_000);
  #state: RelayState = 'starting';
  #stopping: Promise<void> | null = null;
  #resolveStopped: () => void = () => {};
  readonly #stopped = new Promise<void>((resolve) => {
    this.#resolveStopped = resolve;
  });

  constructor(config: ResolvedConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#kongAdmin =
      config.kongAdmin === null ? null : new KongAdminConnection(config.kongAdmin, this.metrics.kongAdmin, log);
    this.#pipeline = new Pipeline(
      config,
      (d) => createSink(d, log, this.metrics.destination(d.name)),
      this.metrics,
      log,
      this.#kongAdmin?.directory,
    );
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
    const stats = this.metrics.source(s.name, s.type);
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
      kongAdmin: this.#kongAdmin,
    });
  }

  /**
   * Start the admin listener and every source; rejects (after cleaning up) if one cannot start,
   * with a StateDirectoryError (before anything starts) when state cannot be written.
   */
  async start(): Promise<void> {
    const unwritable = await this.#stateDirs.run();
    if (unwritable.length > 0) {
      await this.stop();
      throw new StateDirectoryError(unwritable);
    }
    const credentials = this.#credentials.run();
    if (this.#config.admin !== null) {
      this.#admin = new AdminServer(this.#config.admin, this, this.#log);
      await this.#admin.start();
    }
    this.#kongAdmin?.start((listed) => this.#checkAgainstKong(listed));
    try {
      await Promise.all(this.#sources.map((s) => s.start()));
    } catch (e) {
      await this.stop();
      throw e;
    }
    for (const problem of await credentials) this.#log.warn(problem);
    this.#stateDirs.start((now) => this.#logProblems('state directory', now));
    this.#credentials.start((now) => this.#logProblems('SNS credentials', now));
    this.#state = 'running';
    this.#log.info(
      {
        version: VERSION,
        runtime: RUNTIME,
        config: this.#config.file,
        sources: this.#sources.map((s) => s.name),
        destinations: this.#pipeline.destinationNames,
        admin: this.#admin?.address ?? null,
      },
      'kong-log-relay running',
    );
  }

  /** Start-up check against the live gateway, as warnings: names in the config Kong does not have. */
  async #checkAgainstKong(listed: readonly KongWorkspace[] | 'oss'): Promise<void> {
    if (this.#kongAdmin === null) return;
    const found = await checkConfigAgainstKong(this.#config, this.#kongAdmin.client, listed, 'warning');
    for (const d of locateDiagnostics(this.#config.file, found)) this.#log.warn({ code: d.code }, formatDiagnostic(d));
  }

  #logProblems(what: string, problems: readonly string[]): void {
    if (problems.length === 0) this.#log.info(`${what}: the problem is gone`);
    for (const problem of problems) this.#log.error(problem);
  }

  /** Ready: running, every source can take entries, state can be written, SNS destinations have credentials. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.#state !== 'running') reasons.push(`relay is ${this.#state}`);
    for (const s of this.#sources) if (!s.ready) reasons.push(`source ${s.name} is not ready`);
    reasons.push(...this.#stateDirs.problems, ...this.#credentials.problems);
    return { ready: reasons.length === 0, reasons };
  }

  /** GET /tap: a live copy of the routed entries, for names this relay has (see src/delivery/tap.ts). */
  readonly openTap: TapOpener = ({ filter, limit, maxQueuedBytes }) => {
    const known: [string, readonly string[], readonly string[]][] = [
      ['destination', filter.destinations, this.#pipeline.destinationNames],
      ['rule', filter.rules, this.#config.routing.rules.map((r) => r.name)],
      ['source', filter.sources, this.#sources.map((s) => s.name)],
    ];
    for (const [what, asked, have] of known)
      for (const name of asked)
        if (!have.includes(name)) return `unknown ${what} "${name}": this relay has ${have.join(', ') || 'none'}`;
    return this.#pipeline.taps.open(filter, { limit, maxQueuedBytes });
  };

  status(): Record<string, unknown> {
    return {
      version: VERSION,
      runtime: RUNTIME,
      state: this.#state,
      config: this.#config.file,
      admin: this.#admin?.address ?? null,
      taps: this.#pipeline.taps.count,
      blocked_by: this.#pipeline.blockingDestinations(),
      sources: Object.fromEntries(this.#sources.map((s) => [s.name, { ready: s.ready, ...s.status() }])),
      destinations: Object.fromEntries(
        this.#pipeline.status().map((d) => [d.name, { ...d, ...this.#destinationLimits(d.name) }]),
      ),
      kong_admin:
        this.#kongAdmin === null ? null : { url: this.#kongAdmin.client.display, ...this.metrics.kongAdmin.status() },
    };
  }

  /** A destination's configured bounds, for `top`'s fill bars. */
  #destinationLimits(name: string): { bufferLimit?: { events: number; bytes: number }; concurrency?: number } {
    const d = this.#config.destinations.find((x) => x.name === name);
    if (d === undefined) return {};
    const { buffer, concurrency } = d.delivery;
    // A disk buffer has no event bound: its fill is by bytes.
    const events = buffer.type === 'memory' ? buffer.maxEvents : 0;
    return { bufferLimit: { events, bytes: buffer.maxBytes }, concurrency };
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
    if (JSON.stringify(config.kongAdmin) !== JSON.stringify(this.#config.kongAdmin))
      this.#log.warn('kong_admin settings changed: they apply after a restart');
    const kept = { ...config, sources: this.#config.sources, kongAdmin: this.#config.kongAdmin };
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
    this.#stateDirs.stop();
    this.#credentials.stop();
    const deadline = Date.now() + this.#config.shutdownTimeoutMs;
    this.#log.info({ timeoutMs: this.#config.shutdownTimeoutMs }, 'shutting down: intake stopped, draining buffers');
    await Promise.allSettled(this.#sources.map((s) => s.stopIntake()));
    await this.#pipeline.drain(deadline);
    await Promise.allSettled(this.#sources.map((s) => s.close()));
    await Promise.allSettled(this.#sourceDeadLetters.map((d) => d.close()));
    await this.#kongAdmin?.stop();
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
