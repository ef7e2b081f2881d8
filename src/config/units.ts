/** Durations (`200ms`, `1m`) and sizes (`256KiB`) as the config writes them, and their parsers. */

export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
export const SIZE_PATTERN = /^(\d+(?:\.\d+)?)(B|KB|KiB|MB|MiB|GB|GiB)?$/;

const DURATION_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SIZE_BYTES: Readonly<Record<string, number>> = {
  B: 1,
  KB: 1000,
  KiB: 1024,
  MB: 1_000_000,
  MiB: 1024 ** 2,
  GB: 1_000_000_000,
  GiB: 1024 ** 3,
};

/** Milliseconds of a duration string; the schema has already checked its form. */
export function parseDuration(text: string): number {
  const m = DURATION_PATTERN.exec(text);
  if (m === null) throw new TypeError(`not a duration: ${text}`);
  return Math.round(Number(m[1]) * DURATION_MS[m[2]]);
}

/** Bytes of a size string; the schema has already checked its form. */
export function parseSize(text: string): number {
  const m = SIZE_PATTERN.exec(text);
  if (m === null) throw new TypeError(`not a size: ${text}`);
  return Math.floor(Number(m[1]) * SIZE_BYTES[m[2] ?? 'B']);
}
