/**
 * Prometheus metrics (`kong_log_relay_` prefix). Stages count into plain per-source and
 * per-destination stats objects (counting costs an add on the hot path); prom-client
 * reads them at scrape time. Label values taken from entries (workspaces) are capped.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { KongAdminStats, registerKongAdminMetrics } from './kong-admin-metrics.ts';
import { readAtScrape } from './read-at-scrape.ts';
import { memoryLimitBytes } from './memory-limit.ts';

export const METRIC_PREFIX = 'kong_log_relay_';
export const MAX_WORKSPACE_LABELS = 100;

export type Counts = Record<string, number>;

export class SourceStats {
  /** The source's name in the config (`sources:`). */
  readonly name: string;
  /** The source's type (`file`, `http`, …): file-only series are left out for other sources. */
  readonly kind: string;
  received = 0;
  unrouted = 0;
  bytesRead = 0;
  bytesAbandoned = 0;
  filesNotFound = 0;
  checkpointErrors = 0;
  /** Records of this source's dead-letter files deleted by retention. */
  deadLettersDiscarded = 0;
  pausedMs = 0;
  readonly invalid: Counts = {};
  readonly httpRequests: Counts = {};
  /** http sources: requests refused before they were taken, by reason (besides httpRequests by status). */
  readonly httpRefused: Counts = {};
  /** http sources: reads the request body bytes held now (set by the source); null for other sources. */
  httpInflightBodyBytes: (() => number) | null = null;

  constructor(name: string, kind: string) {
    this.name = name;
    this.kind = kind;
  }
}

export class DestinationStats {
  routed = 0;
  delivered = 0;
  retries = 0;
  /** Dead-letter records deleted by retention. */
  discarded = 0;
  /** Entries suppressed by unique/snooze dedupe (acknowledged as done). */
  suppressed = 0;
  /** SNS message attributes left out: a Number attribute whose value is not a number. */
  attributesOmitted = 0;
  /** Unix time in seconds of the last batch the destination accepted; 0 before the first. */
  lastSuccessSeconds = 0;
  readonly dropped: Counts = {};
  readonly deadLettered: Counts = {};
}

/** Live gauges a destination reports at scrape time. */
export interface DestinationGauges {
  readonly bufferedEvents: number;
  readonly bufferedBytes: number;
  readonly inFlight: number;
  readonly blocking: boolean;
}

export function bump(counts: Counts, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Make these keys' series exist at 0 before anything happened (`increase()` alerts need them). */
export function seedCounts(counts: Counts, keys: readonly string[]): void {
  for (const key of keys) counts[key] ??= 0;
}

export class RelayMetrics {
  readonly registry = new Registry();
  readonly sources = new Map<string, SourceStats>();
  readonly destinations = new Map<string, DestinationStats>();
  readonly gauges = new Map<string, () => DestinationGauges>();
  /** Keyed by rule and workspace names, which come from the config and from entries: Maps, never objects. */
  readonly ruleMatches = new Map<string, number>();
  readonly workspaceEvents = new Map<string, number>();
  readonly reloads: Counts = {};
  /** Bytes in disk buffers of destinations no longer configured with one (renamed, removed), by directory name. */
  readonly orphanedBufferBytes = new Map<string, number>();
  /** Taps (`kong-log-relay tap`): open now, and entries dropped because a tap client read too slowly. */
  readonly taps = { open: 0, dropped: 0 };
  readonly kongAdmin = new KongAdminStats();
  readonly batchSize: Histogram<'destination'>;
  readonly deliveryLatency: Histogram<'destination'>;
  readonly eventAge: Histogram<'destination'>;

  constructor(version: string, runtime: string) {
    const registers = [this.registry];
    const p = METRIC_PREFIX;
    // Process and runtime metrics (CPU, memory, heap, event-loop lag, GC, handles) under their
    // standard prom-client names (process_*, nodejs_*), which existing dashboards and alerts use.
    collectDefaultMetrics({ register: this.registry });
    const counter = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (c: Counter<L>) => void,
    ): void => {
      new Counter<L>(readAtScrape(`${p}${name}`, help, labelNames, registers, fill));
    };
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (g: Gauge<L>) => void,
    ): void => {
      new Gauge<L>(readAtScrape(`${p}${name}`, help, labelNames, registers, fill));
    };
    /** One series per source or destination (`label`), its value picked from the stats. */
    const perEach =
      <S, L extends 'source' | 'destination'>(
        stats: ReadonlyMap<string, S>,
        label: L,
        pick: (s: S) => number,
        only: (s: S) => boolean = () => true,
      ) =>
      (c: Counter<L>): void => {
        for (const [name, s] of stats) if (only(s)) c.inc({ [label]: name } as Record<L, string>, pick(s));
      };
    const perSource = (pick: (s: SourceStats) => number) => perEach(this.sources, 'source', pick);
    const perFileSource = (pick: (s: SourceStats) => number) =>
      perEach(this.sources, 'source', pick, (s) => s.kind === 'file');
    const perDest = (pick: (s: DestinationStats) => number) => perEach(this.destinations, 'destination', pick);
    const perSourceBy =
      (pick: (s: SourceStats) => Counts, label: 'reason' | 'status') =>
      (c: Counter<'source' | typeof label>): void => {
        for (const [source, s] of this.sources)
          for (const [k, n] of Object.entries(pick(s)))
            c.inc({ source, [label]: k } as Record<'source' | typeof label, string>, n);
      };
    const perDestBy =
      (pick: (s: DestinationStats) => Counts) =>
      (c: Counter<'destination' | 'reason'>): void => {
        for (const [destination, s] of this.destinations)
          for (const [reason, n] of Object.entries(pick(s))) c.inc({ destination, reason }, n);
      };
    const perGauge =
      (pick: (g: DestinationGauges) => number) =>
      (g: Gauge<'destination'>): void => {
        for (const [destination, read] of this.gauges) g.set({ destination }, pick(read()));
      };

    counter(
      'events_received_total',
      'Kong entries read or received, per source.',
      ['source'],
      perSource((s) => s.received),
    );
    counter(
      'events_invalid_total',
      'Entries that were not valid Kong JSON entries (dead-lettered at the source), by reason.',
      ['source', 'reason'],
      perSourceBy((s) => s.invalid, 'reason'),
    );
    counter(
      'events_unrouted_total',
      'Entries that no rule or workspace sent anywhere.',
      ['source'],
      perSource((s) => s.unrouted),
    );
    counter(
      'file_bytes_read_total',
      'Bytes read from log files.',
      ['source'],
      perFileSource((s) => s.bytesRead),
    );
    counter(
      'file_bytes_abandoned_total',
      'Bytes left unread in files that were given up (deleted or rotated away before they were read); for a file truncated in place a lower bound.',
      ['source'],
      perFileSource((s) => s.bytesAbandoned),
    );
    counter(
      'files_not_found_total',
      'Log files in the checkpoint not found again after a restart (moved out of their directory, compressed or deleted while the relay was stopped): what they held after the checkpoint was not read.',
      ['source'],
      perFileSource((s) => s.filesNotFound),
    );
    counter(
      'checkpoint_write_errors_total',
      'Checkpoint writes that failed (the checkpoint stays where it was).',
      ['source'],
      perFileSource((s) => s.checkpointErrors),
    );
    counter(
      'source_paused_seconds_total',
      'Time a source spent paused by backpressure.',
      ['source'],
      perFileSource((s) => s.pausedMs / 1000),
    );
    counter(
      'http_requests_total',
      'Requests to HTTP sources, by answer status.',
      ['source', 'status'],
      perSourceBy((s) => s.httpRequests, 'status'),
    );
    counter(
      'http_requests_refused_total',
      'Requests to HTTP sources refused before their entries were taken, by reason (max_inflight_body_bytes: too many body bytes in flight, answered 503).',
      ['source', 'reason'],
      perSourceBy((s) => s.httpRefused, 'reason'),
    );
    gauge(
      'http_inflight_body_bytes',
      'Request body bytes (after gunzip) an HTTP source holds while receiving and taking them; at most max_inflight_body_bytes.',
      ['source'],
      (g) => {
        for (const [source, s] of this.sources)
          if (s.httpInflightBodyBytes !== null) g.set({ source }, s.httpInflightBodyBytes());
      },
    );
    counter(
      'events_routed_total',
      'Entries routed to a destination.',
      ['destination'],
      perDest((s) => s.routed),
    );
    counter(
      'events_delivered_total',
      'Entries a destination accepted.',
      ['destination'],
      perDest((s) => s.delivered),
    );
    counter(
      'delivery_retries_total',
      'Entries sent again after a retryable failure.',
      ['destination'],
      perDest((s) => s.retries),
    );
    counter(
      'dead_letters_discarded_total',
      "Dead-letter records deleted by retention (dead_letter.max_total_bytes or max_files), with the files that held them; a source's own dead letters (invalid entries) are labelled source instead of destination.",
      ['destination', 'source'],
      (c) => {
        for (const [destination, s] of this.destinations) c.inc({ destination, source: '' }, s.discarded);
        for (const [source, s] of this.sources) c.inc({ destination: '', source }, s.deadLettersDiscarded);
      },
    );
    counter(
      'events_suppressed_total',
      "Entries suppressed by a destination's unique/snooze dedupe (acknowledged, not sent).",
      ['destination'],
      perDest((s) => s.suppressed),
    );
    counter(
      'message_attributes_omitted_total',
      "SNS message attributes left out because a Number attribute's value was not a number.",
      ['destination'],
      perDest((s) => s.attributesOmitted),
    );
    counter(
      'events_dropped_total',
      'Entries dropped by a drop_newest/drop_oldest buffer, by reason.',
      ['destination', 'reason'],
      perDestBy((s) => s.dropped),
    );
    counter(
      'events_dead_lettered_total',
      'Entries written to a dead-letter file, by reason.',
      ['destination', 'reason'],
      perDestBy((s) => s.deadLettered),
    );
    gauge(
      'buffer_events',
      'Entries waiting in a destination buffer.',
      ['destination'],
      perGauge((g) => g.bufferedEvents),
    );
    gauge(
      'buffer_bytes',
      'Bytes waiting in a destination buffer.',
      ['destination'],
      perGauge((g) => g.bufferedBytes),
    );
    gauge(
      'in_flight_batches',
      'Batches being sent or waiting to be retried.',
      ['destination'],
      perGauge((g) => g.inFlight),
    );
    gauge(
      'last_success_timestamp_seconds',
      'Unix time of the last batch a destination accepted (0: none yet).',
      ['destination'],
      (g) => {
        for (const [destination, s] of this.destinations) g.set({ destination }, s.lastSuccessSeconds);
      },
    );
    gauge(
      'destination_blocking',
      '1 while a full block buffer of this destination holds its sources back.',
      ['destination'],
      perGauge((g) => (g.blocking ? 1 : 0)),
    );
    gauge(
      'disk_buffer_orphaned_bytes',
      'Bytes left in the disk buffer of a destination that is no longer configured with one (renamed or removed).',
      ['destination'],
      (g) => {
        for (const [destination, n] of this.orphanedBufferBytes) g.set({ destination }, n);
      },
    );
    counter('rule_matches_total', 'Entries each rule matched.', ['rule'], (c) => {
      for (const [rule, n] of this.ruleMatches) c.inc({ rule }, n);
    });
    counter(
      'workspace_events_total',
      `Entries per Kong workspace (at most ${MAX_WORKSPACE_LABELS} names, then "other").`,
      ['workspace'],
      (c) => {
        for (const [workspace, n] of this.workspaceEvents) c.inc({ workspace }, n);
      },
    );
    gauge('taps_open', 'Open taps (kong-log-relay tap clients).', [], (g) => g.set(this.taps.open));
    counter(
      'tap_entries_dropped_total',
      'Entries a tap client missed because it read slower than the relay routed (the relay did not slow down).',
      [],
      (c) => c.inc(this.taps.dropped),
    );
    counter('config_reloads_total', 'Config reloads, by result.', ['result'], (c) => {
      for (const [result, n] of Object.entries(this.reloads)) c.inc({ result }, n);
    });
    registerKongAdminMetrics(this.registry, p, this.kongAdmin);
    new Gauge({
      name: `${p}build_info`,
      help: 'Version and runtime of the relay.',
      labelNames: ['version', 'runtime'],
      registers,
    }).set({ version, runtime }, 1);
    new Gauge({
      name: `${p}memory_limit_bytes`,
      help: "The memory the relay may use: its cgroup's limit (container or systemd MemoryMax), or the machine's memory.",
      registers,
    }).set(memoryLimitBytes());
    this.batchSize = new Histogram({
      name: `${p}batch_size_events`,
      help: 'Entries per batch sent.',
      labelNames: ['destination'],
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      registers,
    });
    this.deliveryLatency = new Histogram({
      name: `${p}delivery_duration_seconds`,
      help: 'Duration of one send to a destination.',
      labelNames: ['destination'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.eventAge = new Histogram({
      name: `${p}event_latency_seconds`,
      help: 'From intake to delivery, oldest entry of each batch.',
      labelNames: ['destination'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
  }

  source(name: string, kind = 'other'): SourceStats {
    let s = this.sources.get(name);
    if (s === undefined) {
      s = new SourceStats(name, kind);
      this.sources.set(name, s);
    }
    return s;
  }

  destination(name: string): DestinationStats {
    let s = this.destinations.get(name);
    if (s === undefined) {
      s = new DestinationStats();
      this.destinations.set(name, s);
    }
    return s;
  }

  countWorkspace(workspace: string | null): void {
    const key = workspace ?? '(none)';
    const counts = this.workspaceEvents;
    const n = counts.get(key);
    if (n !== undefined) counts.set(key, n + 1);
    else if (counts.size < MAX_WORKSPACE_LABELS) counts.set(key, 1);
    else counts.set('other', (counts.get('other') ?? 0) + 1);
  }

  /** The exposition text; prom-client writes NaN (event-loop lag between two quick scrapes) as "Nan". */
  async text(): Promise<string> {
    return (await this.registry.metrics()).replace(/ Nan$/gm, ' NaN');
  }
}
