/** The sink of a destination, by its type. */
import type { ResolvedDestination } from '../config/resolve.ts';
import type { Logger } from '../telemetry/log.ts';
import type { Sink } from './sink.ts';
import { createSnsSink } from './sns/index.ts';
import { createWebhookSink } from './webhook/index.ts';

export function createSink(destination: ResolvedDestination, log: Logger): Sink {
  switch (destination.type) {
    case 'sns':
      return createSnsSink(destination, log);
    case 'webhook':
      return createWebhookSink(destination, log);
  }
}
