/** The Kong Admin API's state for /metrics and /status: up, last successful poll, entities, changes, errors. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Counts } from './metrics.ts';
import { readAtScrape } from './read-at-scrape.ts';

export class KongAdminStats {
  /** Whether the `kong_admin:` block is set (no Admin API metrics otherwise). */
  configured = false;
  /** 1 after a successful request, 0 after a failed one; null before the first. */
  up: 0 | 1 | null = null;
  /** ms since epoch of the last successful poll. */
  lastSuccessMs: number | null = null;
  lastError: string | null = null;
  polls = 0;
  /** Entities seen at the last poll of each collection, per collection. */
  readonly entities: Counts = {};
  /** Change events emitted, by "collection operation". */
  readonly changes: Counts = {};
  /** Failed requests or polls, by reason (unreachable, unauthorized, status, invalid, snapshot). */
  readonly errors: Counts = {};

  countChange(entity: string, operation: string): void {
    const key = `${entity} ${operation}`;
    this.changes[key] = (this.changes[key] ?? 0) + 1;
  }

  /** JSON for /status. */
  status(): Record<string, unknown> {
    return {
      up: this.up === 1,
      last_success: this.lastSuccessMs === null ? null : new Date(this.lastSuccessMs).toISOString(),
      last_error: this.lastError,
      polls: this.polls,
      entities: { ...this.entities },
      changes: { ...this.changes },
      errors: { ...this.errors },
    };
  }
}

export function registerKongAdminMetrics(registry: Registry, prefix: string, stats: KongAdminStats): void {
  const registers = [registry];
  new Gauge(
    readAtScrape(
      `${prefix}kong_admin_up`,
      '1 when the last request to the Kong Admin API succeeded, 0 when it failed (unreachable, 401/403, errors).',
      [],
      registers,
      (g: Gauge) => {
        if (stats.configured) g.set(stats.up ?? 0);
      },
    ),
  );
  new Gauge(
    readAtScrape(
      `${prefix}kong_admin_last_success_timestamp_seconds`,
      'When the Kong Admin API was last polled successfully (Unix time).',
      [],
      registers,
      (g: Gauge) => {
        if (stats.lastSuccessMs !== null) g.set(stats.lastSuccessMs / 1000);
      },
    ),
  );
  new Gauge(
    readAtScrape(
      `${prefix}kong_admin_entities`,
      'Entities seen at the last poll, per Admin API collection (all watched workspaces).',
      ['entity'],
      registers,
      (g: Gauge<'entity'>) => {
        for (const [entity, n] of Object.entries(stats.entities)) g.set({ entity }, n);
      },
    ),
  );
  new Counter(
    readAtScrape(
      `${prefix}kong_admin_changes_total`,
      'Entity change events emitted by kong_admin sources, per collection and operation.',
      ['entity', 'operation'],
      registers,
      (c: Counter<'entity' | 'operation'>) => {
        for (const [key, n] of Object.entries(stats.changes)) {
          const [entity, operation] = key.split(' ');
          c.inc({ entity, operation }, n);
        }
      },
    ),
  );
  new Counter(
    readAtScrape(
      `${prefix}kong_admin_errors_total`,
      'Failed Kong Admin API requests and snapshot writes, by reason.',
      ['reason'],
      registers,
      (c: Counter<'reason'>) => {
        for (const [reason, n] of Object.entries(stats.errors)) c.inc({ reason }, n);
      },
    ),
  );
}
