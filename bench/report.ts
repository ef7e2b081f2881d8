/**
 * The results of a run as a text table (stdout) and as bench/results.md: figures per case,
 * ratios to the baseline measured right before it in the same run, and the issue's targets.
 */
import os from 'node:os';
import type { CaseResult } from './case-support.ts';
import type { BenchInput } from './input.ts';

/** One case: the best of its rounds. */
export interface Row {
  readonly key: string;
  readonly result: CaseResult;
  readonly rounds: number;
  /** Every round's result (the spread between them is reported). */
  readonly all?: readonly CaseResult[];
}

export interface RunInfo {
  readonly pinned: boolean;
  readonly quick: boolean;
  readonly rounds: number;
  readonly input: BenchInput;
  readonly seconds: number;
  /** The relay's cases ran on this runtime instead of Node (`--deno`), e.g. "Deno 2.5.6". */
  readonly relayRuntime?: string;
  /** The Deno that ran p1-deno, e.g. "Deno 2.5.6". */
  readonly denoVersion?: string;
}

interface Target {
  readonly text: string;
  readonly met: boolean;
}

const MiB = 2 ** 20;

function perSec(r: CaseResult): number {
  return r.entries / (r.ms / 1000);
}
function requestsPerSec(r: CaseResult): number {
  return (r.requests ?? r.entries) / (r.ms / 1000);
}

/** The last row with `key` before index `i`. */
function before(rows: readonly Row[], i: number, key: string): CaseResult | undefined {
  for (let j = i - 1; j >= 0; j--) if (rows[j].key === key) return rows[j].result;
  return undefined;
}

/** (best − worst) / best of the rounds' entries/s, in %; undefined with one round. */
function spreadPct(row: Row): number | undefined {
  const rates = (row.all ?? []).filter((r) => r.complete && r.ms > 0).map(perSec);
  if (rates.length < 2) return undefined;
  const hi = Math.max(...rates);
  return ((hi - Math.min(...rates)) / hi) * 100;
}

function skipped(r: CaseResult): string | undefined {
  const reason = r.extra?.skipped;
  return typeof reason === 'string' ? reason : undefined;
}

function ratio(a: number, b: number | undefined): number | undefined {
  return b === undefined || b === 0 ? undefined : a / b;
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The ratios a row is judged by (undefined where they do not apply or were not measured). */
interface Ratios {
  /** To the stable-order baseline 1 run before it. */
  readonly b1?: number;
  readonly bare?: number;
  readonly p1?: number;
  readonly syslogNg?: number;
}

function targetOf(key: string, r: CaseResult, x: Ratios): Target | undefined {
  const done = r.complete ? '' : ' (incomplete)';
  const cpuPerEntry = (r.cpuMs * 1000) / r.entries;
  switch (key) {
    case 'p1r':
      return {
        text: `≥ 0.85× p1 entries/s (${x.p1 === undefined ? '–' : `${fmt(x.p1, 2)}×`})${done}`,
        met: r.complete && (x.p1 ?? 0) >= 0.85,
      };
    case 'p1': {
      const peer = x.syslogNg === undefined ? ' (syslog-ng not measured)' : '';
      return {
        text: `≥ 3× b1, ≤ 7 µs/entry, ≥ 10× syslog-ng${peer}${done}`,
        met: r.complete && (x.b1 ?? 0) >= 3 && cpuPerEntry <= 7 && (x.syslogNg ?? Number.POSITIVE_INFINITY) >= 10,
      };
    }
    case 'p1-deno':
      return { text: `≥ 0.8× Node p1${done}`, met: r.complete && (x.p1 ?? 0) >= 0.8 };
    case 'p1d':
      return {
        text: `≥ 0.5× p1 (${fmt(x.p1, 2)}× measured)${done}`,
        met: r.complete && (x.p1 ?? 0) >= 0.5,
      };
    case 'p2':
      return { text: `≥ 2.5× b1${done}`, met: r.complete && (x.b1 ?? 0) >= 2.5 };
    case 'p2b':
      return { text: `≥ 1.0× bare req/s${done}`, met: r.complete && (x.bare ?? 0) >= 1.0 };
    case 'files': {
      const idle = Number(r.extra?.idleCpuPct ?? Number.NaN);
      return { text: `all in seconds, idle CPU < 5%${done}`, met: r.complete && r.ms < 10_000 && idle < 5 };
    }
    case 'overload-block':
      return { text: 'RSS < 200 MB, reading paused', met: r.maxRssMb < 200 && r.complete };
    case 'overload-drop_newest':
      return { text: 'RSS < 200 MB, drops counted', met: r.maxRssMb < 200 && r.complete };
    case 'overload-block-v8':
      return { text: 'RSS < 150 MB, reading paused', met: r.maxRssMb < 150 && r.complete };
    case 'overload-drop_newest-v8':
      return { text: 'RSS < 150 MB, drops counted', met: r.maxRssMb < 150 && r.complete };
    default:
      return undefined;
  }
}

interface Line {
  readonly key: string;
  readonly name: string;
  readonly cells: readonly string[];
  readonly target: Target | undefined;
}

const HEADER = [
  'case',
  'entries',
  'entries/s',
  'MiB/s',
  'req/s',
  'CPU s',
  'CPU µs/entry',
  'peak RSS MB',
  'spread',
  'vs b1',
  'vs b1 random',
  'vs other',
  'target',
  'met',
];

function throughputLines(rows: readonly Row[]): Line[] {
  const lines: Line[] = [];
  rows.forEach((row, i) => {
    if (row.key.startsWith('overload')) return;
    const r = row.result;
    const reason = skipped(r);
    if (reason !== undefined) {
      const cells = HEADER.slice(1).map(() => '–');
      cells[cells.length - 2] = `skipped: ${reason}`;
      cells[cells.length - 1] = '';
      lines.push({ key: row.key, name: r.name, target: undefined, cells });
      return;
    }
    const rateOf = (key: string): number | undefined => {
      const other = before(rows, i, key);
      return other === undefined || skipped(other) !== undefined ? undefined : perSec(other);
    };
    const isBaseline = row.key === 'b1' || row.key === 'b1r' || row.key === 'b2' || row.key === 'bare';
    const firstB1 = rows.find((x) => x.key === 'b1')?.result;
    const b1 = isBaseline ? undefined : (rateOf('b1') ?? (firstB1 === undefined ? undefined : perSec(firstB1)));
    const b1Random = isBaseline ? undefined : rateOf('b1r');
    const bare = row.key === 'p2b' ? before(rows, i, 'bare') : undefined;
    const x: Ratios = {
      b1: ratio(perSec(r), b1),
      bare: bare === undefined ? undefined : ratio(requestsPerSec(r), requestsPerSec(bare)),
      p1: ['p1r', 'p1d', 'p1-deno'].includes(row.key) ? ratio(perSec(r), rateOf('p1')) : undefined,
      syslogNg: row.key === 'p1' ? ratio(perSec(r), rateOf('syslog-ng')) : undefined,
    };
    const other =
      x.bare !== undefined
        ? `${fmt(x.bare, 2)}× bare`
        : x.syslogNg !== undefined
          ? `${fmt(x.syslogNg, 1)}× syslog-ng`
          : x.p1 !== undefined
            ? `${fmt(x.p1, 2)}× ${row.key === 'p1-deno' ? 'Node p1' : 'p1'}`
            : '–';
    const target = targetOf(row.key, r, x);
    const spread = spreadPct(row);
    lines.push({
      key: row.key,
      name: r.name,
      target,
      cells: [
        fmt(r.entries),
        fmt(perSec(r)),
        fmt(r.bytes / MiB / (r.ms / 1000), 1),
        r.requests === undefined ? '–' : fmt(requestsPerSec(r)),
        fmt(r.cpuMs / 1000, 2),
        fmt((r.cpuMs * 1000) / r.entries, 1),
        fmt(r.maxRssMb),
        spread === undefined ? '–' : `${fmt(spread, 0)}%`,
        x.b1 === undefined ? '–' : `${fmt(x.b1, 2)}×`,
        b1Random === undefined ? '–' : `${fmt(ratio(perSec(r), b1Random), 2)}×`,
        other,
        target?.text ?? '',
        target === undefined ? '' : target.met ? 'yes' : 'NO',
      ],
    });
  });
  return lines;
}

const OVERLOAD_HEADER = [
  'case',
  'read/s',
  'slow drain/s',
  'overload',
  'paused s',
  'dropped',
  'peak buffered',
  'peak RSS MB',
  'target',
  'met',
];

function overloadLines(rows: readonly Row[]): Line[] {
  return rows
    .filter((r) => r.key.startsWith('overload'))
    .map((row) => {
      const r = row.result;
      const x = r.extra ?? {};
      const target = targetOf(row.key, r, {});
      return {
        key: row.key,
        name: r.name,
        target,
        cells: [
          fmt(Number(x.readPerSec)),
          fmt(Number(x.deliveredPerSec)),
          `${fmt(Number(x.overload), 1)}×`,
          `${fmt(Number(x.pausedSec), 1)}${x.paused === true ? ' (paused at end)' : ''}`,
          fmt(Number(x.dropped)),
          `${fmt(Number(x.peakBufferedEvents))} entries, ${fmt(Number(x.peakBufferedMiB), 1)} MiB`,
          fmt(r.maxRssMb),
          target?.text ?? '',
          target === undefined ? '' : target.met ? 'yes' : 'NO',
        ],
      };
    });
}

function textTable(header: readonly string[], lines: readonly Line[]): string {
  const rows = [header, ...lines.map((l) => [l.key, ...l.cells])];
  const widths = header.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '))
    .join('\n');
}

function markdownTable(header: readonly string[], lines: readonly Line[]): string {
  const out = [`| ${header.join(' | ')} |`, `|${header.map((_, c) => (c === 0 ? '---' : '---:')).join('|')}|`];
  for (const l of lines) out.push(`| **${l.key}** ${l.name} | ${l.cells.join(' | ')} |`);
  return out.join('\n');
}

function legend(lines: readonly Line[]): string {
  return lines.map((l) => `  ${l.key.padEnd(22)} ${l.name}`).join('\n');
}

export function renderResults(rows: readonly Row[], info: RunInfo): { table: string; markdown: string } {
  const throughput = throughputLines(rows);
  const overload = overloadLines(rows);
  const notes = rows.flatMap((r) => (r.result.notes ?? []).map((n) => `${r.key}: ${n}`));
  const cpu = os.cpus();
  const machine = `${cpu[0]?.model ?? 'unknown cpu'} (${cpu.length} cores), ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
  const runtime =
    (info.relayRuntime === undefined ? '' : `; the relay's cases on ${info.relayRuntime}, baselines on Node`) +
    (info.denoVersion === undefined ? '' : `; p1-deno: p1's relay on ${info.denoVersion}`);
  const setup =
    `${info.pinned ? 'relay (and baselines) pinned to core 0, receiver and load clients to core 1 (taskset)' : 'not pinned'}${runtime}; ` +
    `best of ${info.rounds} round${info.rounds === 1 ? '' : 's'} of each (baseline, case) pair, run in turn${info.quick ? '; --quick' : ''}`;
  const inputLine = `${fmt(info.input.entries)} Kong 3.7 entries (KongTrafficGenerator, seed 7), ${fmt(info.input.bytes / MiB)} MiB, ${fmt(info.input.bytes / info.input.entries)} B/entry; every relay case and syslog-ng read the stable-order file (one top-level key order, as one Kong worker writes), b1r the same entries in a random key order per entry`;

  const table = [
    textTable(HEADER, throughput),
    '',
    legend(throughput),
    '',
    textTable(OVERLOAD_HEADER, overload),
    '',
    legend(overload),
    ...(notes.length > 0 ? ['', 'notes:', ...notes.map((n) => `  ${n}`)] : []),
    '',
    `${machine}; ${setup}; run took ${fmt(info.seconds)} s`,
  ].join('\n');

  const markdown = [
    '# Benchmark results',
    '',
    'Generated by `npm run bench` (bench/run.ts); do not edit by hand. How to read it: bench/README.md.',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Machine: ${machine}`,
    `- Setup: ${setup}`,
    `- Input: ${inputLine}`,
    `- Run time: ${fmt(info.seconds)} s`,
    '',
    '## Throughput (end to end: every entry counted at the receiver)',
    '',
    markdownTable(HEADER, throughput),
    '',
    '"vs b1" is entries/s divided by baseline 1 (read + split + JSON.parse) on the stable-order input, measured right before the case in the same run (the targets are against it); "vs b1 random" divides by baseline 1 on the same entries in a random key order per entry (JSON.parse\'s worst case, the ratio older results quote). "vs other": requests/s over the bare node:http server (p2b), entries/s over syslog-ng doing p1\'s job with 2 webhooks (p1), over p1 on Node (p1-deno) or over p1 (p1r, p1d), each measured in the same round. "spread": (best − worst) / best entries/s over the rounds.',
    '',
    '## Overload (one slow destination, default buffers)',
    '',
    '"read/s": entries the file source read per second (with drop_newest until the whole input was read); "slow drain/s": entries the slow webhook took per second; "overload": their ratio (with block, reading is held back to about the drain rate: the ratio shows that it paused).',
    '',
    markdownTable(OVERLOAD_HEADER, overload),
    ...(notes.length > 0 ? ['', '## Notes', '', ...notes.map((n) => `- ${n}`)] : []),
    '',
  ].join('\n');
  return { table, markdown };
}
