/**
 * A destination's buffer settings, resolved: memory (the default) or a durable disk buffer under
 * `state_dir/buffer/<destination>` (see src/delivery/buffer/disk-buffer.ts).
 */
import path from 'node:path';
import type { ConfigPath, Diagnostic } from './diagnostics.ts';
import type { DestinationConfig, ParsedConfig } from './schema.ts';
import { parseDuration, parseSize } from './units.ts';

export type WhenFull = 'block' | 'drop_newest' | 'drop_oldest';

export interface MemoryBufferSettings {
  readonly type: 'memory';
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly whenFull: WhenFull;
}

export interface DiskBufferSettings {
  readonly type: 'disk';
  /** Where its segment files and reader position live. */
  readonly dir: string;
  readonly maxBytes: number;
  readonly whenFull: WhenFull;
  readonly fsync: 'interval' | 'always';
  readonly fsyncIntervalMs: number;
}

export type BufferSettings = MemoryBufferSettings | DiskBufferSettings;

const MEMORY = { max_events: 100_000, max_bytes: '16MiB', when_full: 'block' } as const;
const DISK = { max_bytes: '1GiB', fsync: 'interval', fsync_interval: '500ms' } as const;

/** The directory of a destination's disk buffer; the name is percent-encoded (a "/" or ".." in it stays one directory). */
export function diskBufferDir(stateDir: string, destination: string): string {
  return path.join(
    stateDir,
    'buffer',
    encodeURIComponent(destination).replace(/^\.\.?$/, (dots) => '%2E'.repeat(dots.length)),
  );
}

export function resolveBuffer(
  d: DestinationConfig,
  parsed: ParsedConfig,
  stateDir: string,
  name: string,
  diagnostics: Diagnostic[],
): BufferSettings {
  const given = { ...parsed.defaults?.buffer, ...d.buffer };
  const b = { ...MEMORY, ...given };
  if (b.type !== 'disk')
    return { type: 'memory', maxEvents: b.max_events, maxBytes: parseSize(b.max_bytes), whenFull: b.when_full };
  const at: ConfigPath = ['destinations', name, 'buffer', 'when_full'];
  if (b.when_full === 'drop_oldest')
    diagnostics.push({
      severity: 'error',
      code: 'KLR_CONFIG_INVALID',
      path: d.buffer?.when_full === undefined ? ['defaults', 'buffer', 'when_full'] : at,
      message: 'a disk buffer supports when_full: block or drop_newest (the oldest entries are on disk, not dropped)',
    });
  return {
    type: 'disk',
    dir: diskBufferDir(stateDir, name),
    maxBytes: parseSize(given.max_bytes ?? DISK.max_bytes),
    whenFull: b.when_full,
    fsync: given.fsync ?? DISK.fsync,
    fsyncIntervalMs: parseDuration(given.fsync_interval ?? DISK.fsync_interval),
  };
}
