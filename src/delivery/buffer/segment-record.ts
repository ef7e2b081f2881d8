/**
 * The record format of disk buffer segments (after Vector's disk_v2: length-delimited records
 * with a checksum, so that a torn or corrupted tail is detected, not delivered):
 *
 *   u32 payload length | u32 crc32(payload) | u32 crc32(the 8 bytes before) | payload
 *   payload = f64 receivedAt (ms since epoch) | the entry's bytes
 *
 * All little-endian. The header's own checksum tells a damaged length from a damaged payload:
 * a damaged payload costs that record only; a damaged header makes the reader search for the
 * next intact record.
 */
import { Buffer } from 'node:buffer';
import { crc32 } from 'node:zlib';
import { type ByteString, writeByteString } from '../../event/byte-string.ts';

export const HEADER_BYTES = 12;
const STAMP_BYTES = 8;
/** Longer than any entry the sources accept (max_line_bytes, max_body_bytes are far below). */
export const MAX_PAYLOAD_BYTES = 256 * 1024 * 1024;

export function recordBytes(raw: ByteString): number {
  return HEADER_BYTES + STAMP_BYTES + raw.length;
}

/** One record, ready to be written. */
export function encodeRecord(raw: ByteString, receivedAt: number): Buffer {
  const out = Buffer.allocUnsafe(recordBytes(raw));
  out.writeDoubleLE(receivedAt, HEADER_BYTES);
  writeByteString(out, HEADER_BYTES + STAMP_BYTES, raw);
  const payloadLength = out.length - HEADER_BYTES;
  out.writeUInt32LE(payloadLength, 0);
  out.writeUInt32LE(crc32(out.subarray(HEADER_BYTES)), 4);
  out.writeUInt32LE(crc32(out.subarray(0, 8)), 8);
  return out;
}

export type ParsedRecord =
  | { readonly kind: 'record'; readonly raw: ByteString; readonly receivedAt: number; readonly end: number }
  /** Not all of it is in `buf` (read more, or at the end of the file: a torn tail). */
  | { readonly kind: 'partial' }
  /** Intact header, damaged payload: skip to `end`. */
  | { readonly kind: 'bad_payload'; readonly end: number }
  /** Damaged header: the length cannot be trusted. */
  | { readonly kind: 'bad_header' };

/** The record starting at `at` in `buf` (bytes up to `limit`). */
export function parseRecord(buf: Buffer, at: number, limit: number): ParsedRecord {
  if (limit - at < HEADER_BYTES) return { kind: 'partial' };
  const length = buf.readUInt32LE(at);
  if (
    crc32(buf.subarray(at, at + 8)) !== buf.readUInt32LE(at + 8) ||
    length < STAMP_BYTES ||
    length > MAX_PAYLOAD_BYTES
  )
    return { kind: 'bad_header' };
  const end = at + HEADER_BYTES + length;
  if (end > limit) return { kind: 'partial' };
  const payload = buf.subarray(at + HEADER_BYTES, end);
  if (crc32(payload) !== buf.readUInt32LE(at + 4)) return { kind: 'bad_payload', end };
  return {
    kind: 'record',
    receivedAt: payload.readDoubleLE(0),
    raw: buf.toString('latin1', at + HEADER_BYTES + STAMP_BYTES, end) as ByteString,
    end,
  };
}

/** The offset of the next intact header after a damaged one at `from` (or -1 when none is before `limit`). */
export function nextIntactHeader(buf: Buffer, from: number, limit: number): number {
  for (let at = from + 1; at + HEADER_BYTES <= limit; at++) {
    const length = buf.readUInt32LE(at);
    if (
      length >= STAMP_BYTES &&
      length <= MAX_PAYLOAD_BYTES &&
      crc32(buf.subarray(at, at + 8)) === buf.readUInt32LE(at + 8)
    )
      return at;
  }
  return -1;
}
