/**
 * The results of a run as a text table (stdout) and as bench/results.md: figures per case,
 * ratios to the baseline measured right before it in the same run, and the targets.
 */
import os from 'node:os';
import type { CaseResult } from './case-support.ts';
import type { BenchInput } from './input.ts';

/** One case: the best of its rounds. */
export interface Row {
  readonly key: string;
  readonly result: CaseResult;
  readonly rounds: number;
}

export interface RunInfo {
  readonly pinned: boolean;
  readonly quick: boolean;
  readonly rounds: number;
  readonly input: BenchInput;
  readonly seconds: number;
  /** The relay's cases ran on this runtime instead of Node (`--deno`), e.g. "Deno 2.5.6". */
  readonly relayRuntime?: string;
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

function ratio(a: number, b: number | undefined): number | undefined {
  return b === undefined || b === 0 ? undefined : a / b;
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function targetOf(
  key: string,
  r: CaseResult,
  vsBaseline: number | undefined,
  vsBare: number | undefined,
): Target | undefined {
  const done = r.complete ? '' : ' (incomplete)';
  switch (key) {
    case 'p1':
      return { text: `≥ 2.5× b1${done}`, met: r.complete && (vsBaseline ?? 0) >= 2.5 };
    case 'p2':
      return { text: `≥ 1.5× b1${done}`, met: r.complete && (vsBaseline ?? 0) >= 1.5 };
    case 'p2b':
      return { text: `≥ 0.7× bare req/s${done}`, met: r.complete && (vsBare ?? 0) >= 0.7 };
    case 'files': {
      const idle = Number(r.extra?.idleCpuPct ?? Number.NaN);
      return { text: `all in seconds, idle CPU < 5%${done}`, met: r.complete && r.ms < 10_000 && idle < 5 };
    }
    case 'overload-block':
      return { text: 'RSS < 200 MB, reading paused', met: r.maxRssMb < 200 && r.complete };
    case 'overload-drop_newest':
      return { text: 'RSS < 200 MB, drops counted', met: r.maxRssMb < 200 && r.complete };
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
  'vs b1',
  'vs bare',
  'target',
  'met',
];

function throughputLines(rows: readonly Row[]): Line[] {
  const lines: Line[] = [];
  rows.forEach((row, i) => {
    if (row.key.startsWith('overload')) return;
    const r = row.result;
    const b1 = row.key === 'b1' ? undefined : (before(rows, i, 'b1') ?? rows.find((x) => x.key === 'b1')?.result);
    const bare = row.key === 'p2b' ? before(rows, i, 'bare') : undefined;
    const vsBaseline = row.key.startsWith('b')
      ? undefined
      : ratio(perSec(r), b1 === undefined ? undefined : perSec(b1));
    const vsBare = bare === undefined ? undefined : ratio(requestsPerSec(r), requestsPerSec(bare));
    const target = targetOf(row.key, r, vsBaseline, vsBare);
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
        vsBaseline === undefined ? '–' : `${fmt(vsBaseline, 2)}×`,
        vsBare === undefined ? '–' : `${fmt(vsBare, 2)}×`,
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
      const target = targetOf(row.key, r, undefined, undefined);
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
    info.relayRuntime === undefined ? '' : `; the relay's cases on ${info.relayRuntime}, baselines on Node`;
  const setup =
    `${info.pinned ? 'relay (and baselines) pinned to core 0, receiver and load clients to core 1 (taskset)' : 'not pinned'}${runtime}; ` +
    `best of ${info.rounds} round${info.rounds === 1 ? '' : 's'} of each (baseline, case) pair, run in turn${info.quick ? '; --quick' : ''}`;
  const inputLine = `${fmt(info.input.entries)} Kong 3.7 entries (KongTrafficGenerator, seed 7), ${fmt(info.input.bytes / MiB)} MiB, ${fmt(info.input.bytes / info.input.entries)} B/entry`;

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
    '"vs b1" is entries/s divided by baseline 1 (read + split + JSON.parse) measured right before the case in the same run; "vs bare" is requests/s divided by the bare node:http server measured right before 2b.',
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
