/**
 * The disk buffer's acknowledged position (segment id + byte offset: everything before it was
 * delivered or dead-lettered), kept apart from the data as Vector's disk_v2 keeps its ledger.
 * Two 24-byte slots written in turn, each with a sequence number and a checksum: a write torn by
 * a crash leaves the other slot intact. A position that lags only makes entries be sent again
 * after a crash (at least once), never lost, so it is written often but never synced.
 */
import { Buffer } from 'node:buffer';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

const SLOT = 24;

export interface Position {
  readonly segment: number;
  readonly offset: number;
}

export class ReaderPositionFile {
  readonly #fd: number;
  #sequence = 0;
  readonly #slot = Buffer.alloc(SLOT);

  constructor(file: string) {
    this.#fd = openSync(file, 'a+');
    closeSync(this.#fd);
    this.#fd = openSync(file, 'r+');
  }

  /** The last position written, or null for a new (or unreadable) file. */
  read(): Position | null {
    const both = Buffer.alloc(2 * SLOT);
    const n = readSync(this.#fd, both, 0, both.length, 0);
    let best: { sequence: number; position: Position } | null = null;
    for (let at = 0; at + SLOT <= n; at += SLOT) {
      const slot = both.subarray(at, at + SLOT);
      if (crc32(slot.subarray(0, 20)) !== slot.readUInt32LE(20)) continue;
      const sequence = slot.readDoubleLE(0);
      if (best === null || sequence > best.sequence)
        best = { sequence, position: { segment: slot.readUInt32LE(8), offset: slot.readDoubleLE(12) } };
    }
    if (best !== null) this.#sequence = best.sequence;
    return best?.position ?? null;
  }

  write(position: Position): void {
    this.#sequence++;
    const slot = this.#slot;
    slot.writeDoubleLE(this.#sequence, 0);
    slot.writeUInt32LE(position.segment, 8);
    slot.writeDoubleLE(position.offset, 12);
    slot.writeUInt32LE(crc32(slot.subarray(0, 20)), 20);
    writeSync(this.#fd, slot, 0, SLOT, (this.#sequence % 2) * SLOT);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
