/** The sink of a destination, by its type. */
import type { ResolvedDestination } from '../config/resolve.ts';
import type { Logger } from '../telemetry/log.ts';
import type { DestinationStats } from '../telemetry/metrics.ts';
import type { Sink } from './sink.ts';
import { createSnsSink } from './sns/index.ts';
import { createWebhookSink } from './webhook/index.ts';

/** `stats`: the destination's counters (SNS counts attributes it leaves out). */
export function createSink(destination: ResolvedDestination, log: Logger, stats?: DestinationStats): Sink {
  switch (destination.type) {
    case 'sns':
      return createSnsSink(destination, log, stats);
    case 'webhook':
      return createWebhookSink(destination, log);
  }
}
