/** The buffer a destination's settings ask for, or the disk buffer its predecessor hands over at reload. */
import type { ResolvedDestination } from '../../config/resolve.ts';
import type { ByteString } from '../../event/byte-string.ts';
import type { KongEvent } from '../../event/kong-event.ts';
import type { Logger } from '../../telemetry/log.ts';
import { bump, type DestinationStats } from '../../telemetry/metrics.ts';
import { DiskBuffer } from './disk-buffer.ts';
import type { EntryBuffer } from './entry-buffer.ts';
import { MemoryBuffer } from './memory-buffer.ts';

export interface DestinationBufferHooks {
  /** Decode an entry read back from a disk buffer with the current config (null: not an entry). */
  readonly decode: (raw: ByteString) => KongEvent | null;
}

/** Entries a disk buffer keeps in memory at least (as much as a default memory buffer): every batch in flight twice over. */
const MIN_WINDOW_EVENTS = 1_000;
const MIN_WINDOW_BYTES = 16 * 1024 * 1024;

export function openBuffer(
  config: ResolvedDestination,
  predecessor: EntryBuffer | undefined,
  hooks: DestinationBufferHooks,
  stats: DestinationStats,
  log: Logger,
): EntryBuffer {
  const settings = config.delivery.buffer;
  if (settings.type === 'memory') return new MemoryBuffer(settings);
  if (predecessor instanceof DiskBuffer && predecessor.dir === settings.dir) {
    predecessor.reconfigure(settings);
    return predecessor;
  }
  const { batch, concurrency } = config.delivery;
  const window = {
    events: Math.max(MIN_WINDOW_EVENTS, 2 * batch.maxEvents * concurrency),
    bytes: Math.max(MIN_WINDOW_BYTES, 2 * batch.maxBytes * concurrency),
  };
  return new DiskBuffer(
    settings,
    window,
    {
      decode: hooks.decode,
      onCorrupt: (records) => bump(stats.dropped, 'disk_buffer_corrupt', records),
      onUnwritable: (records) => bump(stats.dropped, 'disk_buffer_unwritable', records),
    },
    log,
  );
}
