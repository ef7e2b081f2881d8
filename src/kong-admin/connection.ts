/**
 * The relay's link to the Kong Admin API: one client, the workspace directory it keeps fresh
 * (GET /workspaces every poll_interval), and the up/down state for logs, /status and /metrics.
 * A failure is logged when the state changes (not on every poll) and never stops the relay:
 * log entries keep flowing with the workspace names last known.
 */
import type { KongAdminSettings } from '../config/kong-admin-resolve.ts';
import type { Logger } from '../telemetry/log.ts';
import type { KongAdminStats } from '../telemetry/kong-admin-metrics.ts';
import { errorText } from '../util/errors.ts';
import { sleep } from '../util/sleep.ts';
import { KongAdminClient, KongAdminError } from './client.ts';
import { type KongWorkspace, WorkspaceDirectory } from './workspace-directory.ts';

export class KongAdminConnection {
  readonly client: KongAdminClient;
  readonly directory = new WorkspaceDirectory();
  readonly settings: KongAdminSettings;
  readonly stats: KongAdminStats;
  readonly #log: Logger;
  readonly #abort = new AbortController();
  #loop: Promise<void> | null = null;

  constructor(settings: KongAdminSettings, stats: KongAdminStats, log: Logger) {
    this.settings = settings;
    this.client = new KongAdminClient(settings);
    this.stats = stats;
    stats.configured = true;
    this.#log = log.child({ kongAdmin: this.client.display });
  }

  /** Refresh workspaces every poll_interval; `onFirst` runs once, after the first successful refresh. */
  start(onFirst?: (workspaces: readonly KongWorkspace[] | 'oss') => Promise<void>): void {
    this.#loop = (async () => {
      let first = onFirst;
      do {
        const listed = await this.refreshWorkspaces();
        if (listed !== null && first !== undefined) {
          const run = first;
          first = undefined;
          await run(listed).catch((e: unknown) => this.failed(e));
        }
      } while (await sleep(this.settings.pollIntervalMs, this.#abort.signal));
    })();
  }

  /** Read the workspaces once: what was listed ('oss' for Kong OSS), or null when it failed (logged). */
  async refreshWorkspaces(): Promise<readonly KongWorkspace[] | 'oss' | null> {
    try {
      const listed = await this.client.workspaces(this.#abort.signal);
      if (listed === 'oss') this.directory.setOss();
      else this.directory.replace(listed);
      this.succeeded();
      return listed;
    } catch (e) {
      this.failed(e);
      return null;
    }
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** A poll went through: up again (logged once when it was down). */
  succeeded(): void {
    const s = this.stats;
    if (s.up !== 1)
      this.#log.info(
        { workspaces: this.directory.oss ? ['default (Kong OSS)'] : this.directory.workspaces.map((w) => w.name) },
        'Kong Admin API reachable',
      );
    s.up = 1;
    s.lastError = null;
    s.lastSuccessMs = Date.now();
    s.polls++;
  }

  /** A request failed: counted, logged when the state or the reason changes. Never throws. */
  failed(e: unknown): void {
    if (this.#abort.signal.aborted) return;
    const s = this.stats;
    const reason = e instanceof KongAdminError ? e.reason : 'error';
    s.errors[reason] = (s.errors[reason] ?? 0) + 1;
    const message = errorText(e);
    if (s.up !== 0 || s.lastError !== message)
      this.#log.error(
        { code: e instanceof KongAdminError ? e.code : undefined },
        `${message}; log entries keep flowing (workspace names as last known), retrying every ${this.settings.pollIntervalMs} ms`,
      );
    s.up = 0;
    s.lastError = message;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.client.close();
  }
}
