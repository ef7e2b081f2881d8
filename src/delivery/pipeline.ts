/**
 * The hand-off from sources to destinations: decode → route → enqueue at each routed
 * destination, with one acknowledgement ticket per event. Sources ask `blocked` before
 * reading more (backpressure) and learn from `whenUnblocked()` when to go on.
 */
import type { ResolvedConfig, ResolvedDestination } from '../config/resolve.ts';
import { Ticket, type AckGroup } from '../core/ack.ts';
import type { IngestResult, PipelineIntake } from '../core/pipeline-intake.ts';
import type { ByteString } from '../event/byte-string.ts';
import type { EventDecoder, KongEvent, WorkspaceLookup } from '../event/kong-event.ts';
import { JsonSyntaxError } from '../event/json-scan.ts';
import { buildRouting, type Routing } from './routing.ts';
import { Redactors, Shaper } from '../shape/shaper.ts';
import type { Sink } from '../sinks/sink.ts';
import type { Logger } from '../telemetry/log.ts';
import type { RelayMetrics, SourceStats } from '../telemetry/metrics.ts';
import { reportOrphanedBuffers } from './buffer/orphaned-buffers.ts';
import { Destination, type DestinationStatus } from './destination.ts';
import { TapHub, TappedEntry } from './tap.ts';

/** Builds the sink of a destination (SNS client, webhook pool). */
export type SinkFactory = (destination: ResolvedDestination) => Sink;

export class Pipeline implements PipelineIntake {
  #routing: Routing;
  /** Indexed like the router's destination list. */
  #destinations: Destination[];
  /** The shape stage of each destination, indexed like #destinations (kept with it across reloads: dedupe state). */
  #shapers: Shaper[];
  readonly #shaperOf = new WeakMap<Destination, Shaper>();
  readonly #redactors = new Redactors();
  readonly #retired = new Set<Destination>();
  /** Live copies of routed entries for `tap` clients (the admin listener's /tap). */
  readonly taps: TapHub;
  readonly #metrics: RelayMetrics;
  readonly #log: Logger;
  readonly #sinkFactory: SinkFactory;
  #blockingCount = 0;
  #unblockWaiters: (() => void)[] = [];
  #countWorkspaces: boolean;
  readonly #liveWorkspaces: WorkspaceLookup | undefined;

  /** `liveWorkspaces`: workspace names read from the Kong Admin API (ids the config does not map). */
  constructor(
    config: ResolvedConfig,
    sinkFactory: SinkFactory,
    metrics: RelayMetrics,
    log: Logger,
    liveWorkspaces?: WorkspaceLookup,
  ) {
    this.#liveWorkspaces = liveWorkspaces;
    this.#metrics = metrics;
    this.taps = new TapHub(metrics.taps);
    this.#log = log;
    this.#sinkFactory = sinkFactory;
    this.#routing = buildRouting(config, metrics.ruleMatches, liveWorkspaces);
    this.#destinations = config.destinations.map((d) => this.#createDestination(d));
    this.#shapers = this.#destinations.map((d) => this.#shaperOf.get(d) as Shaper);
    this.#countWorkspaces = config.routing.workspaces.size > 0;
    reportOrphanedBuffers(config, metrics.orphanedBufferBytes, log);
  }

  #createDestination(d: ResolvedDestination, predecessor?: Destination): Destination {
    const shaper = new Shaper(d.shape, this.#redactors);
    const hooks = {
      onBlockingChange: () => this.#recountBlocking(),
      // A disk buffer keeps the (redacted) entry, not the destination's body: read back, it is
      // decoded by the current config and shaped again (dedupe already ran when it was enqueued).
      decode: (raw: ByteString) => {
        const event = this.#routing.decoder.decode(raw);
        if (event instanceof JsonSyntaxError) return null;
        const { router } = this.#routing;
        return shaper.preview(
          event,
          shaper.needsCaptures ? router.captures(event, router.destinations.indexOf(d.name)) : null,
        );
      },
    };
    const destination = new Destination(d, this.#sinkFactory(d), this.#metrics, this.#log, hooks, predecessor);
    this.#shaperOf.set(destination, shaper);
    return destination;
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
    if (this.taps.active) {
      const sent = routes.map((index) => this.#shapeAndEnqueue(index, ticket, receivedAt));
      this.taps.publish(new TappedEntry(event, source.name, receivedAt, this.#routing.router, routes, sent));
      return event;
    }
    for (let i = 0; i < routes.length; i++) this.#shapeAndEnqueue(routes[i], ticket, receivedAt);
    return event;
  }

  /**
   * The shape stage: the destination gets the entry as it sends it, or nothing when dedupe
   * suppresses it. Returns what it got (null: suppressed).
   */
  #shapeAndEnqueue(index: number, ticket: Ticket, now: number): KongEvent | null {
    const event = ticket.event;
    const shaper = this.#shapers[index];
    const captures = shaper.needsCaptures ? this.#routing.router.captures(event, index) : null;
    const shaped = shaper.shape(event, captures, now);
    const destination = this.#destinations[index];
    if (shaped === null) {
      this.#metrics.destination(destination.name).suppressed++;
      ticket.settle();
      return null;
    }
    destination.enqueue(shaped === event ? ticket : ticket.carrying(shaped));
    return shaped;
  }

  /** An entry as the destination named would send it (redacted, shaped), without dedupe: match, tap. */
  preview(event: KongEvent, destination: string): KongEvent | undefined {
    const index = this.#destinations.findIndex((d) => d.name === destination);
    if (index < 0) return undefined;
    const shaper = this.#shapers[index];
    return shaper.preview(event, shaper.needsCaptures ? this.#routing.router.captures(event, index) : null);
  }

  /** Decode one entry and hand it to one named destination, bypassing rules (replay). */
  ingestTo(destination: string, raw: ByteString, group: AckGroup | null, source: SourceStats): IngestResult {
    const index = this.#destinations.findIndex((d) => d.name === destination);
    if (index < 0) throw new Error(`unknown destination "${destination}"`);
    source.received++;
    const event = this.#routing.decoder.decode(raw);
    if (event instanceof JsonSyntaxError) return event;
    const now = Date.now();
    this.#shapeAndEnqueue(index, new Ticket(event, 1, group, now), now);
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
   * unchanged keep their buffers; new ones start; a changed one hands its buffered and in-flight
   * entries (with their tickets) to its successor (nothing lost, nothing sent twice); a removed
   * one drains in the background until the deadline, then dead-letters what is left (a disk
   * buffer keeps it on disk). A disk buffer changed to memory drains like a removed one.
   */
  reload(config: ResolvedConfig, drainDeadline: () => number): void {
    const old = new Map(this.#destinations.map((d) => [d.name, d]));
    const handOvers: [Destination, Destination][] = [];
    const next = config.destinations.map((d) => {
      const existing = old.get(d.name);
      if (existing === undefined) return this.#createDestination(d);
      if (sameSettings(existing.config, d)) {
        old.delete(d.name);
        return existing;
      }
      const successor = this.#createDestination(d, existing);
      if (!existing.handsOverDiskBuffer || existing.sharesBufferWith(successor)) {
        old.delete(d.name);
        handOvers.push([existing, successor]);
      }
      return successor;
    });
    this.#routing = buildRouting(config, this.#metrics.ruleMatches, this.#liveWorkspaces);
    this.#destinations = next;
    this.#shapers = next.map((d) => this.#shaperOf.get(d) as Shaper);
    this.#countWorkspaces = config.routing.workspaces.size > 0;
    for (const [d, successor] of handOvers) this.#retire(d, d.handOver(successor));
    for (const d of old.values()) this.#retire(d, d.drain(drainDeadline(), false));
    this.#recountBlocking();
    reportOrphanedBuffers(config, this.#metrics.orphanedBufferBytes, this.#log);
  }

  #retire(d: Destination, stopped: Promise<void>): void {
    this.#retired.add(d);
    void stopped.then(() => d.close()).finally(() => this.#retired.delete(d));
  }

  /** Flush every destination until the deadline, then close them (shutdown). */
  async drain(deadline: number): Promise<void> {
    this.taps.endAll('shutdown');
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
