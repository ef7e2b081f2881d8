/**
 * Baselines, in their own process like every case: the bare Node loop a relay is compared with.
 *   parse: read the file in 64 KiB chunks, split on "\n", JSON.parse every line (baseline 1)
 *   split: the same without JSON.parse: each line still becomes a string (baseline 2)
 * Nothing is routed or sent; these bound what any JS pipeline can do on one core.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { measure, peakRssMb, runCase, type CaseResult } from './case-support.ts';

const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** Read `file` and call `line` for every line; returns the number of lines. */
function eachLine(file: string, line: (buffer: Buffer, start: number, end: number) => void): number {
  const fd = openSync(file, 'r');
  let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  let carried = 0;
  let lines = 0;
  try {
    for (;;) {
      if (carried === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, carried);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, carried, buffer.length - carried, null);
      if (n === 0) break;
      const end = carried + n;
      let start = 0;
      for (let nl = buffer.indexOf(NEWLINE, start); nl >= 0 && nl < end; nl = buffer.indexOf(NEWLINE, start)) {
        line(buffer, start, nl);
        lines++;
        start = nl + 1;
      }
      carried = end - start;
      buffer.copy(buffer, 0, start, end);
    }
  } finally {
    closeSync(fd);
  }
  return lines;
}

runCase(async ({ input, options, profileDir }): Promise<CaseResult> => {
  const mode = options.mode === 'split' ? 'split' : 'parse';
  let sink = 0;
  const m = await measure(`baseline-${mode}`, profileDir);
  const lines =
    mode === 'parse'
      ? eachLine(input.file, (b, s, e) => {
          sink += (JSON.parse(b.toString('utf8', s, e)) as object) === null ? 0 : 1;
        })
      : eachLine(input.file, (b, s, e) => {
          sink += b.toString('utf8', s, e).length > 0 ? 1 : 0;
        });
  const { ms, cpuMs } = await m.stop();
  return {
    name:
      mode === 'parse'
        ? `baseline 1: read + split + JSON.parse (${input.keyOrder} key order)`
        : 'baseline 2: read + split',
    entries: lines,
    bytes: input.bytes,
    ms,
    cpuMs,
    maxRssMb: peakRssMb(),
    complete: lines === input.entries && sink === lines,
  };
});
