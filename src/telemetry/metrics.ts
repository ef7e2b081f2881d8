/**
 * Prometheus metrics (`kong_log_relay_` prefix). Stages count into plain per-source and
 * per-destination stats objects (counting costs an add on the hot path); prom-client
 * reads them at scrape time. Label values taken from entries (workspaces) are capped.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { memoryLimitBytes } from './memory-limit.ts';

export const METRIC_PREFIX = 'kong_log_relay_';
export const MAX_WORKSPACE_LABELS = 100;

export type Counts = Record<string, number>;

export class SourceStats {
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
}

export class DestinationStats {
  routed = 0;
  delivered = 0;
  retries = 0;
  /** Dead-letter records deleted by retention. */
  discarded = 0;
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

export class RelayMetrics {
  readonly registry = new Registry();
  readonly sources = new Map<string, SourceStats>();
  readonly destinations = new Map<string, DestinationStats>();
  readonly gauges = new Map<string, () => DestinationGauges>();
  readonly ruleMatches: Counts = {};
  readonly workspaceEvents: Counts = {};
  readonly reloads: Counts = {};
  readonly batchSize: Histogram<'destination'>;
  readonly deliveryLatency: Histogram<'destination'>;
  readonly eventAge: Histogram<'destination'>;

  constructor(version: string, runtime: string) {
    const registers = [this.registry];
    const p = METRIC_PREFIX;
    const counter = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (c: Counter<L>) => void,
    ): void => {
      new Counter<L>({
        name: `${p}${name}`,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill(this);
        },
      });
    };
    const gauge = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      fill: (g: Gauge<L>) => void,
    ): void => {
      new Gauge<L>({
        name: `${p}${name}`,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          fill(this);
        },
      });
    };
    const perSource =
      (pick: (s: SourceStats) => number) =>
      (c: Counter<'source'>): void => {
        for (const [source, s] of this.sources) c.inc({ source }, pick(s));
      };
    const perSourceBy =
      (pick: (s: SourceStats) => Counts, label: 'reason' | 'status') =>
      (c: Counter<'source' | typeof label>): void => {
        for (const [source, s] of this.sources)
          for (const [k, n] of Object.entries(pick(s)))
            c.inc({ source, [label]: k } as Record<'source' | typeof label, string>, n);
      };
    const perDest =
      (pick: (s: DestinationStats) => number) =>
      (c: Counter<'destination'>): void => {
        for (const [destination, s] of this.destinations) c.inc({ destination }, pick(s));
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
      perSource((s) => s.bytesRead),
    );
    counter(
      'file_bytes_abandoned_total',
      'Bytes left unread in files that were given up (deleted or rotated away before they were read); for a file truncated in place a lower bound.',
      ['source'],
      perSource((s) => s.bytesAbandoned),
    );
    counter(
      'files_not_found_total',
      'Log files in the checkpoint not found again after a restart (moved out of their directory, compressed or deleted while the relay was stopped): what they held after the checkpoint was not read.',
      ['source'],
      perSource((s) => s.filesNotFound),
    );
    counter(
      'checkpoint_write_errors_total',
      'Checkpoint writes that failed (the checkpoint stays where it was).',
      ['source'],
      perSource((s) => s.checkpointErrors),
    );
    counter(
      'source_paused_seconds_total',
      'Time a source spent paused by backpressure.',
      ['source'],
      perSource((s) => s.pausedMs / 1000),
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
      'destination_blocking',
      '1 while a full block buffer of this destination holds its sources back.',
      ['destination'],
      perGauge((g) => (g.blocking ? 1 : 0)),
    );
    counter('rule_matches_total', 'Entries each rule matched.', ['rule'], (c) => {
      for (const [rule, n] of Object.entries(this.ruleMatches)) c.inc({ rule }, n);
    });
    counter(
      'workspace_events_total',
      `Entries per Kong workspace (at most ${MAX_WORKSPACE_LABELS} names, then "other").`,
      ['workspace'],
      (c) => {
        for (const [workspace, n] of Object.entries(this.workspaceEvents)) c.inc({ workspace }, n);
      },
    );
    counter('config_reloads_total', 'Config reloads, by result.', ['result'], (c) => {
      for (const [result, n] of Object.entries(this.reloads)) c.inc({ result }, n);
    });
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

  source(name: string): SourceStats {
    let s = this.sources.get(name);
    if (s === undefined) {
      s = new SourceStats();
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
    if (counts[key] !== undefined) counts[key]++;
    else if (Object.keys(counts).length < MAX_WORKSPACE_LABELS) counts[key] = 1;
    else bump(counts, 'other');
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
