/**
 * Entries travel through the relay as byte strings: the entry's UTF-8 bytes, one character per
 * byte (U+0000–U+00FF), which is what `Buffer#toString('latin1')` makes of them.
 *
 * Why not the decoded text: decoding is a validating UTF-8 pass, and one non-ASCII character
 * (every seventh generated Kong entry has one) makes the whole entry a two-byte string, which
 * the scanner must narrow and every sink must encode again (~2 ns a character). A byte string is
 * one byte per character whatever it holds: reading it from a file, loading it into the scanner
 * and writing it into a request body (`Buffer#write(raw, 'latin1')`) are plain copies, its
 * length is its size in bytes, and scan offsets are byte offsets. The decoded text is made only
 * where a string is the product: template values, SNS messages, dead letters.
 *
 * A byte string always holds valid UTF-8: bytes that are not are replaced by U+FFFD on the way
 * in, as decoding them would have done.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { LATIN1_WRITE_IS_COPY } from '../runtime.ts';

/** A string that is a byte string (typed apart so that a text cannot be passed for one). */
export type ByteString = string & { readonly __byteString: true };

/** The byte string of a text. */
export function byteStringOf(text: string): ByteString {
  return Buffer.from(text, 'utf8').toString('latin1') as ByteString;
}

/** The text a byte string encodes. */
export function textOf(raw: ByteString): string {
  return Buffer.from(raw, 'latin1').toString('utf8');
}

/**
 * The byte string of bytes[start, end) of UTF-8 input; bytes that are not valid UTF-8 become
 * U+FFFD (as decoding would). `valid`: the caller has checked a range holding this one.
 */
export function byteStringOfUtf8(bytes: Buffer, start: number, end: number, valid = false): ByteString {
  if (valid || isUtf8(bytes.subarray(start, end))) return bytes.toString('latin1', start, end) as ByteString;
  return byteStringOf(bytes.toString('utf8', start, end));
}

const encoder = new TextEncoder();

/**
 * Write the bytes of a byte string (or of an ASCII text) into `out` at `at`, which has room for
 * them; returns how many were written (its length). The one way entries become bytes again:
 * request bodies and the scanner's memory.
 */
export function writeByteString(out: Uint8Array, at: number, raw: ByteString | string): number {
  const n = raw.length;
  if (LATIN1_WRITE_IS_COPY && out instanceof Buffer) return out.write(raw, at, 'latin1');
  // A character above U+007F takes two bytes in UTF-8: it does not fit, and read falls short.
  const { read, written } = encoder.encodeInto(raw, out.subarray(at, at + n));
  if (read !== n || written !== n) for (let i = 0; i < n; i++) out[at + i] = raw.charCodeAt(i);
  return n;
}
