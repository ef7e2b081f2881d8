/**
 * What a source hands its entries to (the pipeline, as the sources see it): ingest an entry,
 * and ask whether to hold back. Sources depend on this interface only, never on the pipeline.
 */
import type { ByteString } from '../event/byte-string.ts';
import type { JsonSyntaxError } from '../event/json-scan.ts';
import type { EventDecoder, KongEvent } from '../event/kong-event.ts';
import type { SourceStats } from '../telemetry/metrics.ts';
import type { AckGroup } from './ack.ts';

/** The routed event, or why the entry is not a JSON object (the source dead-letters it by its policy). */
export type IngestResult = KongEvent | JsonSyntaxError;

export interface PipelineIntake {
  /** Decode and route one entry (its byte string: see byte-string.ts); the event is then owned by its destinations. */
  ingest(raw: ByteString, group: AckGroup | null, source: SourceStats, receivedAt?: number): IngestResult;
  /** The decoder of the current config: a source may decode entries itself (see ingestDecoded). */
  readonly decoder: EventDecoder;
  /** ingest() of an entry the source has decoded with `decoder`. */
  ingestDecoded(event: KongEvent, group: AckGroup | null, source: SourceStats, receivedAt?: number): IngestResult;
  /** True while a full `block` buffer holds the sources back. */
  readonly blocked: boolean;
  /** Names of the destinations holding the sources back (logs, /status). */
  blockingDestinations(): string[];
  /** Resolves once no destination blocks. */
  whenUnblocked(): Promise<void>;
}
