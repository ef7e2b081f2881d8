/**
 * The hand-off from sources to destinations: decode → route → enqueue at each routed
 * destination, with one acknowledgement ticket per event. Sources ask `blocked` before
 * reading more (backpressure) and learn from `whenUnblocked()` when to go on.
 */
import type { ResolvedConfig, ResolvedDestination } from '../config/resolve.ts';
import { Ticket, type AckGroup } from '../core/ack.ts';
import type { IngestResult, PipelineIntake } from '../core/pipeline-intake.ts';
import type { ByteString } from '../event/byte-string.ts';
import type { EventDecoder, KongEvent } from '../event/kong-event.ts';
import { JsonSyntaxError } from '../event/json-scan.ts';
import { buildRouting, type Routing } from './routing.ts';
import type { Sink } from '../sinks/sink.ts';
import type { Logger } from '../telemetry/log.ts';
import type { RelayMetrics, SourceStats } from '../telemetry/metrics.ts';
import { Destination, type DestinationStatus } from './destination.ts';

/** Builds the sink of a destination (SNS client, webhook pool). */
export type SinkFactory = (destination: ResolvedDestination) => Sink;

export class Pipeline implements PipelineIntake {
  #routing: Routing;
  /** Indexed like the router's destination list. */
  #destinations: Destination[];
  readonly #retired = new Set<Destination>();
  readonly #metrics: RelayMetrics;
  readonly #log: Logger;
  readonly #sinkFactory: SinkFactory;
  #blockingCount = 0;
  #unblockWaiters: (() => void)[] = [];
  #countWorkspaces: boolean;

  constructor(config: ResolvedConfig, sinkFactory: SinkFactory, metrics: RelayMetrics, log: Logger) {
    this.#metrics = metrics;
    this.#log = log;
    this.#sinkFactory = sinkFactory;
    this.#routing = buildRouting(config, metrics.ruleMatches);
    this.#destinations = config.destinations.map((d) => this.#createDestination(d));
    this.#countWorkspaces = config.routing.workspaces.size > 0;
  }

  #createDestination(d: ResolvedDestination): Destination {
    return new Destination(d, this.#sinkFactory(d), this.#metrics, this.#log, {
      onBlockingChange: () => this.#recountBlocking(),
    });
  }

  /**
   * Decode and route one entry (its byte string: see byte-string.ts); the event is then owned by
   * its destinations. An entry that is not a JSON object comes back as the error: the source
   * dead-letters it by its policy.
   */
  ingest(raw: ByteString, group: AckGroup | null, source: SourceStats, receivedAt = Date.now()): IngestResult {
    source.received++;
    const event = this.#routing.decoder.decode(raw);
    if (event instanceof JsonSyntaxError) return event;
    return this.#route(event, group, source, receivedAt);
  }

  /** The decoder of the current config: a source may decode entries itself (see ingestDecoded). */
  get decoder(): EventDecoder {
    return this.#routing.decoder;
  }

  /**
   * ingest() of an entry the source has decoded with `decoder` (an HTTP array scanned once for
   * splitting and decoding). Decoded again if the config was reloaded since: rules of the new
   * config may need fields the old decoder did not extract.
   */
  ingestDecoded(event: KongEvent, group: AckGroup | null, source: SourceStats, receivedAt = Date.now()): IngestResult {
    if (!event.decodedBy(this.#routing.decoder)) return this.ingest(event.raw, group, source, receivedAt);
    source.received++;
    return this.#route(event, group, source, receivedAt);
  }

  #route(event: KongEvent, group: AckGroup | null, source: SourceStats, receivedAt: number): KongEvent {
    const routes = this.#routing.router.route(event);
    if (this.#countWorkspaces) this.#metrics.countWorkspace(event.workspace);
    if (routes.length === 0) {
      source.unrouted++;
      return event;
    }
    const ticket = new Ticket(event, routes.length, group, receivedAt);
    const destinations = this.#destinations;
    for (let i = 0; i < routes.length; i++) destinations[routes[i]].enqueue(ticket);
    return event;
  }

  /** Decode one entry and hand it to one named destination, bypassing rules (replay). */
  ingestTo(destination: string, raw: ByteString, group: AckGroup | null, source: SourceStats): IngestResult {
    const target = this.#destinations.find((d) => d.name === destination);
    if (target === undefined) throw new Error(`unknown destination "${destination}"`);
    source.received++;
    const event = this.#routing.decoder.decode(raw);
    if (event instanceof JsonSyntaxError) return event;
    target.enqueue(new Ticket(event, 1, group, Date.now()));
    return event;
  }

  /** True while a full `block` buffer holds the sources back. */
  get blocked(): boolean {
    return this.#blockingCount > 0;
  }

  /** Names of the destinations holding the sources back (logs, /status). */
  blockingDestinations(): string[] {
    return this.#destinations.filter((d) => d.blocking).map((d) => d.name);
  }

  /** Resolves once no destination blocks. */
  whenUnblocked(): Promise<void> {
    if (this.#blockingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.#unblockWaiters.push(resolve));
  }

  #recountBlocking(): void {
    this.#blockingCount = this.#destinations.reduce((n, d) => n + (d.blocking ? 1 : 0), 0);
    if (this.#blockingCount === 0) this.#wakeSources();
  }

  #wakeSources(): void {
    const waiters = this.#unblockWaiters;
    this.#unblockWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Apply a new config: rules and workspaces switch at once; destinations whose settings are
   * unchanged keep their buffers; new ones start; removed or changed ones stop taking events and
   * drain in the background (nothing lost, nothing sent twice).
   */
  reload(config: ResolvedConfig, drainDeadline: () => number): void {
    const old = new Map(this.#destinations.map((d) => [d.name, d]));
    const next = config.destinations.map((d) => {
      const existing = old.get(d.name);
      if (existing !== undefined && sameSettings(existing.config, d)) {
        old.delete(d.name);
        return existing;
      }
      return this.#createDestination(d);
    });
    this.#routing = buildRouting(config, this.#metrics.ruleMatches);
    this.#destinations = next;
    this.#countWorkspaces = config.routing.workspaces.size > 0;
    for (const d of old.values()) {
      this.#retired.add(d);
      void d
        .drain(drainDeadline())
        .then(() => d.close())
        .finally(() => this.#retired.delete(d));
    }
    this.#recountBlocking();
  }

  /** Flush every destination until the deadline, then close them (shutdown). */
  async drain(deadline: number): Promise<void> {
    const all = [...this.#destinations, ...this.#retired];
    await Promise.allSettled(all.map((d) => d.drain(deadline)));
    await Promise.allSettled(all.map((d) => d.close()));
    this.#wakeSources();
  }

  status(): DestinationStatus[] {
    return this.#destinations.map((d) => d.status());
  }

  get destinationNames(): readonly string[] {
    return this.#routing.router.destinations;
  }
}

function sameSettings(a: ResolvedDestination, b: ResolvedDestination): boolean {
  return JSON.stringify(a, templateSource) === JSON.stringify(b, templateSource);
}

function templateSource(_key: string, value: unknown): unknown {
  return value !== null && typeof value === 'object' && 'source' in value && 'paths' in value
    ? (value as { source: string }).source
    : value;
}
