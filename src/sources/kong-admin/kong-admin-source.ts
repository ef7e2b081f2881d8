/**
 * Source `type: kong_admin`: polls the Admin API collections of each watched workspace, diffs
 * them against the snapshot and hands one JSON event per entity change to the pipeline (the
 * same intake as log entries, so rules, workspaces, templates and delivery treat them alike).
 *
 * Acknowledgement: the events of a poll form one ack group; the snapshot advances (atomic write)
 * only once every one of them is delivered or dead-lettered, and the next poll waits for that.
 * A crash or a stop before then leaves the old snapshot, so the next start emits those changes
 * again (at least once), and never the ones already acknowledged. At the very first start (no
 * snapshot) the existing entities are recorded without events (unless emit_existing).
 */
import type { KongAdminSource as KongAdminSourceConfig } from '../../config/resolve.ts';
import { AckGroup } from '../../core/ack.ts';
import { byteStringOf } from '../../event/byte-string.ts';
import { JsonSyntaxError } from '../../event/json-scan.ts';
import { type CollectionResult, KongAdminError } from '../../kong-admin/client.ts';
import type { KongAdminConnection } from '../../kong-admin/connection.ts';
import { OSS_WORKSPACE } from '../../kong-admin/config-check.ts';
import type { KongAdminStats } from '../../telemetry/kong-admin-metrics.ts';
import { errorText } from '../../util/errors.ts';
import { sleep } from '../../util/sleep.ts';
import type { Source, SourceContext } from '../source.ts';
import { deleteAll, diffCollection, type EntityChange, type WorkspaceRef } from './entity-diff.ts';
import { type Snapshot, type SnapshotPart, SnapshotStore } from './snapshot-store.ts';

/** The snapshot key of the `workspaces` collection, which belongs to no workspace. */
const GLOBAL = '*';

interface Target extends WorkspaceRef {
  /** Snapshot key: the workspace id, or "default" on Kong OSS. */
  readonly key: string;
  /** Path prefix of its collections: "/<name>", or "" on Kong OSS (no workspace paths). */
  readonly prefix: string;
}

export class KongAdminSource implements Source {
  readonly name: string;
  readonly #config: KongAdminSourceConfig;
  readonly #context: SourceContext;
  readonly #admin: KongAdminConnection;
  readonly #stats: KongAdminStats;
  readonly #store: SnapshotStore;
  readonly #abort = new AbortController();
  /** The acknowledged snapshot; null until loaded, or at the first start. */
  #snapshot: Snapshot | null = null;
  #firstStart = false;
  /** A poll's events handed over, and the snapshot to write once they are acknowledged. */
  #pending: { readonly group: AckGroup; readonly next: Snapshot } | null = null;
  #loop: Promise<void> | null = null;
  #ready = false;
  #emitted = 0;
  #polls = 0;
  #lastPoll: { time: string; changes: number; failed: number } | null = null;
  #lastSnapshotError: string | null = null;
  /** Collection path → its last error, so a lasting failure is logged once, not every poll. */
  readonly #collectionErrors = new Map<string, string>();

  constructor(config: KongAdminSourceConfig, context: SourceContext, admin: KongAdminConnection) {
    this.name = config.name;
    this.#config = config;
    this.#context = context;
    this.#admin = admin;
    this.#stats = admin.stats;
    this.#store = new SnapshotStore(context.stateDir, config.name);
  }

  get ready(): boolean {
    return this.#ready;
  }

  async start(): Promise<void> {
    const loaded = await this.#store.load();
    if (loaded.kind === 'loaded') this.#snapshot = loaded.state;
    else {
      this.#firstStart = true;
      if (loaded.kind === 'unreadable')
        this.#context.log.error(
          { file: this.#store.file, reason: loaded.reason },
          'kong_admin snapshot unreadable: starting from the current state (changes made while stopped are not emitted)',
        );
    }
    this.#loop = this.#run();
  }

  /**
   * Poll until stopped. Ready once the first poll was tried: by then the baseline of a first start
   * is recorded, so changes made after /readyz says ready are all emitted.
   */
  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    do {
      try {
        await this.#poll(signal);
      } catch (e) {
        this.#admin.failed(e);
      }
      if (!signal.aborted) this.#ready = true;
    } while (await sleep(this.#admin.settings.pollIntervalMs, signal));
  }

  async #poll(signal: AbortSignal): Promise<void> {
    const listed = await this.#admin.refreshWorkspaces();
    if (listed === null || signal.aborted) return;
    const before = this.#snapshot ?? { workspaces: {}, parts: {} };
    const firstStart = this.#firstStart;
    const at = new Date().toISOString();
    const targets: Target[] =
      listed === 'oss'
        ? [{ key: OSS_WORKSPACE, id: null, name: OSS_WORKSPACE, prefix: '' }]
        : listed
            .filter((w) => this.#config.workspaces === null || this.#config.workspaces.includes(w.name))
            .map((w) => ({ key: w.id, id: w.id, name: w.name, prefix: `/${encodeURIComponent(w.name)}` }));
    const workspaces: Record<string, string> = { ...before.workspaces };
    const parts: Record<string, SnapshotPart> = { ...before.parts };
    const changes: EntityChange[] = [];
    let failed = 0;
    const counts: Record<string, number> = {};

    const visit = async (entity: string, ws: Target | null): Promise<void> => {
      const key = `${ws?.key ?? GLOBAL} ${entity}`;
      const path = ws === null ? `/${entity}` : `${ws.prefix}/${entity}`;
      let list: CollectionResult;
      try {
        list = await this.#admin.client.list(path, signal);
      } catch (e) {
        if (signal.aborted) return;
        failed++;
        this.#collectionFailed(path, e);
        return;
      }
      this.#collectionErrors.delete(path);
      if (list === null) return; // not on this node (rbac/roles on OSS): nothing to watch
      const old = parts[key] ?? null;
      // A part never recorded: at the first start or for a newly watched collection, a silent
      // baseline; in a workspace created since the last poll, every entity is new.
      const newWorkspace = ws !== null && !firstStart && !(ws.key in before.workspaces);
      const emitCreates = firstStart ? this.#config.emitExisting : old !== null || newWorkspace;
      const diff = diffCollection(entity, ws ?? { id: null, name: '' }, list, old, emitCreates, at);
      parts[key] = diff.part;
      changes.push(...diff.changes);
      counts[entity] = (counts[entity] ?? 0) + list.length;
    };

    for (const entity of this.#config.entities) {
      if (entity === 'workspaces') {
        if (listed !== 'oss') await visit(entity, null);
        continue;
      }
      for (const ws of targets) await visit(entity, ws);
    }
    for (const ws of targets) workspaces[ws.key] = ws.name;
    // Workspaces Kong no longer lists: their entities are gone (Kong empties a workspace before deleting it).
    if (listed !== 'oss') {
      const present = new Set(listed.map((w) => w.id));
      for (const [key, name] of Object.entries(before.workspaces)) {
        if (present.has(key) || key === OSS_WORKSPACE) continue;
        for (const partKey of Object.keys(parts)) {
          if (!partKey.startsWith(`${key} `)) continue;
          changes.push(...deleteAll(partKey.slice(key.length + 1), { id: key, name }, parts[partKey], at));
          delete parts[partKey];
        }
        delete workspaces[key];
      }
    }
    for (const [entity, n] of Object.entries(counts)) this.#stats.entities[entity] = n;
    this.#firstStart = false;
    const next: Snapshot = { workspaces, parts };
    this.#lastPoll = { time: at, changes: changes.length, failed };
    this.#polls++;
    const dirty =
      changes.length > 0 || firstStart || !sameKeys(before.parts, parts) || !sameKeys(before.workspaces, workspaces);
    if (dirty) await this.#handOver(changes, next, signal);
    else this.#snapshot = next;
  }

  /**
   * One collection could not be read (a token without permission for rbac/roles, a 500): counted,
   * logged when its error changes; its part of the snapshot stays as it was, so nothing is emitted
   * for it until it can be read again. The Admin API's up/down state is the workspace poll's.
   */
  #collectionFailed(path: string, e: unknown): void {
    const message = errorText(e);
    const reason = e instanceof KongAdminError ? e.reason : 'error';
    this.#stats.errors[reason] = (this.#stats.errors[reason] ?? 0) + 1;
    if (this.#collectionErrors.get(path) === message) return;
    this.#collectionErrors.set(path, message);
    this.#context.log.warn({ collection: path }, `${message}; this collection is skipped until it can be read`);
  }

  /** Ingest the changes as one ack group; once it completes, write the snapshot. */
  async #handOver(changes: readonly EntityChange[], next: Snapshot, signal: AbortSignal): Promise<void> {
    const { pipeline, stats, log } = this.#context;
    const group = new AckGroup(true);
    this.#pending = { group, next };
    for (const change of changes) {
      while (pipeline.blocked && !signal.aborted) await pipeline.whenUnblocked();
      if (signal.aborted) break;
      const result = pipeline.ingest(byteStringOf(JSON.stringify(change)), group, stats);
      if (result instanceof JsonSyntaxError) {
        log.error({ entity: change.entity, id: change.id, err: result.message }, 'entity change not ingested (bug)');
        continue;
      }
      this.#emitted++;
      this.#stats.countChange(change.entity, change.operation);
    }
    if (signal.aborted) return; // the rest is emitted again after the restart
    this.#ready = true;
    group.seal();
    const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([group.whenDone(), stopped]);
    if (group.done) await this.#commit();
    if (changes.length > 0) log.info({ changes: changes.length, delivered: group.done }, 'Kong entity changes emitted');
  }

  /** Write the pending snapshot (its events are acknowledged); a failed write is retried at the next poll. */
  async #commit(): Promise<void> {
    const pending = this.#pending;
    if (pending === null || !pending.group.done) return;
    this.#snapshot = pending.next;
    this.#pending = null;
    try {
      await this.#store.write(pending.next);
      this.#lastSnapshotError = null;
    } catch (e) {
      this.#lastSnapshotError = errorText(e);
      this.#stats.errors.snapshot = (this.#stats.errors.snapshot ?? 0) + 1;
      this.#context.log.error(
        { file: this.#store.file, err: this.#lastSnapshotError },
        'kong_admin snapshot not written: a restart now would emit these changes again',
      );
    }
  }

  async stopIntake(): Promise<void> {
    this.#ready = false;
    this.#abort.abort();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    // Acknowledged while the pipeline drained: keep it.
    await this.#commit();
  }

  status(): Record<string, unknown> {
    return {
      type: 'kong_admin',
      entities: this.#config.entities,
      polls: this.#polls,
      emitted: this.#emitted,
      last_poll: this.#lastPoll,
      waiting_for_delivery: this.#pending !== null && !this.#pending.group.done,
      collection_errors: Object.fromEntries(this.#collectionErrors),
      snapshot: { file: this.#store.file, last_error: this.#lastSnapshotError },
    };
  }
}

function sameKeys(a: object, b: object): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k));
}
