/**
 * Replace a file atomically: temp file, fsync, rename, fsync of the directory, so a crash leaves
 * the old or the new content, never half of one. Rejects when the disk refuses (the old file is
 * then intact).
 */
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.tmp-${process.pid}`;
  try {
    const handle = await open(temp, 'w', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (e) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw e;
  }
  // Make the rename itself durable; some platforms cannot open a directory, which is fine.
  const dirHandle = await open(dir, 'r').catch(() => null);
  await dirHandle?.sync().catch(() => undefined);
  await dirHandle?.close().catch(() => undefined);
}
