/**
 * The benchmark input: realistic Kong 3.7 file-log lines (~2.3 KB, lua-cjson encoded) from the
 * seeded KongTrafficGenerator, in a stable or a random key order (two files, the same entries), written once to a cache file under os.tmpdir() and reused by every
 * run and every case (generation runs at ~117k entries/s, so it is never part of a timed run).
 * Beside it a small JSON file says how many entries each bench destination must receive,
 * computed from the generator's own metadata (an oracle independent of the relay's routing),
 * and an index (per entry: which routes it takes and its length) gives the same for the first
 * n entries, which the http cases send.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KongTrafficGenerator } from '../tools/kong-traffic.ts';
import { BENCH_ROUTES, PROFILE_PATH, type BenchRoute } from './config.ts';

/** Bumped when the generated content or the meta format changes (old cache files are ignored). */
const FORMAT = 3;

/** Route flags of one entry in the index file. */
const ROUTE_FLAGS: Readonly<Record<BenchRoute, number>> = { global: 1, payments: 2, search: 4, profile: 8 };

/**
 * `stable`: every entry's top level (and request, response, latencies, tries) in one key order,
 * as one Kong worker writes them; `random`: a new order per entry (JSON.parse's worst case). The
 * same entries either way.
 */
export type KeyOrder = 'stable' | 'random';

export interface InputSpec {
  readonly entries: number;
  readonly seed: number;
  readonly keyOrder: KeyOrder;
}

export interface BenchInput {
  readonly file: string;
  readonly entries: number;
  readonly bytes: number;
  readonly keyOrder: KeyOrder;
  /** Entries each webhook path (see config.ts) must receive when the whole file goes through. */
  readonly expected: Readonly<Record<BenchRoute, number>>;
}

export function cacheDir(): string {
  return path.join(tmpdir(), 'kong-log-relay-bench');
}

/** The cached input file for `spec`, generated first when it does not exist yet. */
export function ensureInput(spec: InputSpec, onGenerate?: (file: string) => void): BenchInput {
  const dir = cacheDir();
  const file = path.join(dir, `kong-3.7-seed${spec.seed}-${spec.entries}-${spec.keyOrder}-v${FORMAT}.ndjson`);
  const metaFile = `${file}.meta.json`;
  if (existsSync(file) && existsSync(metaFile) && existsSync(`${file}.index`)) {
    const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as BenchInput;
    if (statSync(file).size === meta.bytes) return meta;
  }
  onGenerate?.(file);
  mkdirSync(dir, { recursive: true });
  const expected: Record<BenchRoute, number> = { global: 0, payments: 0, search: 0, profile: 0 };
  // [0, n): route flags per entry; then n little-endian uint32: each entry's UTF-8 length.
  const index = Buffer.alloc(spec.entries * 5);
  const generator = new KongTrafficGenerator({ seed: spec.seed, kongVersion: '3.7', keyOrder: spec.keyOrder });
  const partial = `${file}.${process.pid}.tmp`;
  const fd = openSync(partial, 'w');
  let bytes = 0;
  let chunk: string[] = [];
  const flush = (): void => {
    const text = `${chunk.join('\n')}\n`;
    bytes += writeSync(fd, text);
    chunk = [];
  };
  for (let i = 0; i < spec.entries; i++) {
    const e = generator.next();
    let flags = ROUTE_FLAGS.global;
    if (e.workspace === 'payments') flags |= ROUTE_FLAGS.payments;
    if (e.workspace === 'search') flags |= ROUTE_FLAGS.search;
    if (
      (e.method === 'PUT' || e.method === 'PATCH') &&
      PROFILE_PATH.test(e.path ?? '') &&
      !/\/avatar$/.test(e.path ?? '') &&
      e.status !== undefined &&
      e.status >= 200 &&
      e.status < 300
    )
      flags |= ROUTE_FLAGS.profile;
    for (const route of BENCH_ROUTES) if ((flags & ROUTE_FLAGS[route]) !== 0) expected[route]++;
    index[i] = flags;
    index.writeUInt32LE(Buffer.byteLength(e.text), spec.entries + 4 * i);
    chunk.push(e.text);
    if (chunk.length === 1000) flush();
  }
  if (chunk.length > 0) flush();
  closeSync(fd);
  writeFileSync(`${file}.index`, index);
  renameSync(partial, file);
  const meta: BenchInput = { file, entries: spec.entries, bytes, keyOrder: spec.keyOrder, expected };
  writeFileSync(metaFile, JSON.stringify(meta));
  return meta;
}

/** The first `limit` entry texts of the input (for load clients that build request bodies). */
export function readEntries(input: BenchInput, limit: number): string[] {
  const { bytes } = expectedFor(input, limit);
  const count = Math.min(limit, input.entries);
  // Only the prefix that is needed: entry bytes plus one newline each.
  const buffer = Buffer.allocUnsafe(bytes + count);
  const fd = openSync(input.file, 'r');
  try {
    for (let got = 0; got < buffer.length; ) {
      const n = readSync(fd, buffer, got, buffer.length - got, got);
      if (n === 0) break;
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  const out: string[] = [];
  for (let start = 0; out.length < count; ) {
    const nl = buffer.indexOf(0x0a, start);
    if (nl < 0) break;
    out.push(buffer.toString('utf8', start, nl));
    start = nl + 1;
  }
  return out;
}

/** What the first `entries` entries must give at the receiver, and their bytes (entry texts only). */
export function expectedFor(input: BenchInput, entries: number): { counts: Record<BenchRoute, number>; bytes: number } {
  if (entries >= input.entries) return { counts: { ...input.expected }, bytes: input.bytes - input.entries };
  const index = readFileSync(`${input.file}.index`);
  const counts: Record<BenchRoute, number> = { global: 0, payments: 0, search: 0, profile: 0 };
  let bytes = 0;
  for (let i = 0; i < entries; i++) {
    for (const route of BENCH_ROUTES) if ((index[i] & ROUTE_FLAGS[route]) !== 0) counts[route]++;
    bytes += index.readUInt32LE(input.entries + 4 * i);
  }
  return { counts, bytes };
}
