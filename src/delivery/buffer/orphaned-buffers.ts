/**
 * Disk buffers nobody reads: a destination renamed or removed (or switched to a memory buffer)
 * leaves its directory under state_dir/buffer with entries still owed. They are never deleted
 * silently: each is logged as an error and counted (disk_buffer_orphaned_bytes) until the
 * destination is configured with a disk buffer again, which delivers them.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { diskBufferDir } from '../../config/buffer-settings.ts';
import type { ResolvedConfig } from '../../config/resolve.ts';
import type { Logger } from '../../telemetry/log.ts';

export function reportOrphanedBuffers(config: ResolvedConfig, counts: Map<string, number>, log: Logger): void {
  const root = diskBufferDir(config.stateDir, '');
  const inUse = new Set(
    config.destinations.flatMap((d) =>
      d.delivery.buffer.type === 'disk' ? [path.basename(d.delivery.buffer.dir)] : [],
    ),
  );
  counts.clear();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return;
  }
  for (const name of names) {
    if (inUse.has(name)) continue;
    const dir = path.join(root, name);
    const destination = decodeName(name);
    let bytes = 0;
    try {
      for (const f of readdirSync(dir)) if (f.endsWith('.seg')) bytes += statSync(path.join(dir, f)).size;
    } catch {
      continue;
    }
    if (bytes === 0) continue;
    counts.set(destination, bytes);
    log.error(
      { destination, dir, bytes },
      'a disk buffer holds entries of a destination that is not configured with a disk buffer (renamed or removed?): they stay there and are delivered once a destination of that name has buffer type disk again',
    );
  }
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}
