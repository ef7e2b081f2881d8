/**
 * Rows of the reliability suite and docs/reliability.md, which is generated from them by
 * `npm run report:reliability` (never by `npm test`: tests do not rewrite tracked files).
 *
 * Each test file records one row per scenario and prints the rows in its after() hook; when
 * RELIABILITY_REPORT_ENV names a file (the script sets it), it also renders them into it.
 * The document carries its rows as JSON in a trailing comment, so a run of only some files (or
 * some tests) replaces only the rows it measured and keeps the others, with the date they were
 * measured (delete the document to start afresh). Files run in parallel processes, so the
 * read-merge-write is done under a lock directory.
 */
import { mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

/** The environment variable naming the document to render the rows into (unset: rows are only printed). */
export const RELIABILITY_REPORT_ENV = 'KLR_RELIABILITY_REPORT';
/** The order of the table: guarantees under crashes and outages first, hostile input last. */
const FILE_ORDER = [
  'reliability-crash',
  'reliability-outage',
  'reliability-dead-letter',
  'reliability-rotation',
  'reliability-disk',
  'reliability-hostile-http',
  'reliability-hostile-files',
  'reliability-config-fuzz',
];
const ROWS_START = '<!-- reliability-rows';
const ROWS_END = '-->';
/** A lock older than this was left by a killed process. */
const STALE_LOCK_MS = 30_000;

export interface RowNumbers {
  /** Entries the generator wrote or posted (unique ids). */
  sent: number;
  /** Deliveries owed: each sent entry once per destination it routes to. */
  expected: number;
  /** Deliveries that arrived (unique id per destination). */
  received: number;
  /** Extra copies beyond the first. */
  duplicated: number;
  /** Owed deliveries that never arrived. */
  lost: number;
}

export interface ReportRow extends RowNumbers {
  readonly file: string;
  readonly scenario: string;
  load: string;
  faults: string;
  /** What else was checked or seen (429s, pauses, dead letters, memory). */
  notes: string;
  result: 'pass' | 'FAIL';
  measuredAt: string;
  /** The scenario shows a loss the design accepts (and makes visible); rendered next to the count. */
  lossByDesign?: boolean;
}

export class ScenarioRow {
  readonly #row: ReportRow;

  constructor(row: ReportRow) {
    this.#row = row;
  }

  /** Takes the counts out of `numbers` (an Accounting has more fields, which are not reported). */
  set(numbers: Partial<RowNumbers>): this {
    for (const key of ['sent', 'expected', 'received', 'duplicated', 'lost'] as const) {
      const n = numbers[key];
      if (n !== undefined) this.#row[key] = n;
    }
    return this;
  }
  note(text: string): this {
    this.#row.notes = this.#row.notes === '' ? text : `${this.#row.notes}; ${text}`;
    return this;
  }
  describe(load: string, faults: string): this {
    this.#row.load = load;
    this.#row.faults = faults;
    return this;
  }
  /** The scenario demonstrates a loss the design accepts and makes visible (not a guarantee being broken). */
  lossByDesign(): this {
    this.#row.lossByDesign = true;
    return this;
  }
  /** Call as the last line of the test: a row never marked passes is rendered as FAIL. */
  pass(): void {
    this.#row.result = 'pass';
  }
  get data(): ReportRow {
    return this.#row;
  }
}

/**
 * The report of one test file: `row()` per scenario; the document is rendered after the
 * file's tests ran (also when some failed).
 */
export function reliabilityReport(file: string): {
  row: (scenario: string, load?: string, faults?: string) => ScenarioRow;
} {
  const rows: ScenarioRow[] = [];
  after(() => {
    const target = process.env[RELIABILITY_REPORT_ENV];
    try {
      if (target !== undefined && target !== '')
        renderReport(
          rows.map((r) => r.data),
          path.resolve(target),
        );
    } catch (e) {
      // A read-only checkout must not fail the suite: the numbers are in the test output too.
      process.stderr.write(`reliability report not written: ${(e as Error).message}\n`);
    }
    for (const r of rows) process.stderr.write(`reliability: ${JSON.stringify(r.data)}\n`);
  });
  return {
    row: (scenario, load = '', faults = '') => {
      const r = new ScenarioRow({
        file,
        scenario,
        load,
        faults,
        notes: '',
        result: 'FAIL',
        measuredAt: new Date().toISOString(),
        sent: 0,
        expected: 0,
        received: 0,
        duplicated: 0,
        lost: 0,
      });
      rows.push(r);
      return r;
    },
  };
}

/** Merge `rows` (replacing earlier rows of the same file and scenario) into the document and write it. */
export function renderReport(rows: readonly ReportRow[], target: string): void {
  if (rows.length === 0) return;
  const key = (r: ReportRow): string => `${r.file}\n${r.scenario}`;
  withLock(`${target}.lock`, () => {
    const fresh = new Set(rows.map(key));
    const kept = readRows(target).filter((r) => !fresh.has(key(r)));
    // Files in FILE_ORDER (others after, by name); within a file, scenarios in the order its tests run.
    const rank = (f: string): string =>
      `${String(FILE_ORDER.indexOf(f) < 0 ? FILE_ORDER.length : FILE_ORDER.indexOf(f)).padStart(3, '0')}${f}`;
    const all = [...kept, ...rows].sort(
      (a, b) => rank(a.file).localeCompare(rank(b.file)) || a.measuredAt.localeCompare(b.measuredAt),
    );
    const temp = `${target}.tmp-${process.pid}`;
    writeFileSync(temp, formatReport(all));
    renameSync(temp, target);
  });
}

export function readRows(target: string): ReportRow[] {
  let text: string;
  try {
    text = readFileSync(target, 'utf8');
  } catch {
    return [];
  }
  const start = text.indexOf(ROWS_START);
  if (start < 0) return [];
  const end = text.indexOf(ROWS_END, start);
  const body = text.slice(start + ROWS_START.length, end < 0 ? undefined : end);
  const rows: ReportRow[] = [];
  for (const line of body.split('\n')) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line) as ReportRow);
    } catch {
      /* a hand-edited line: dropped, the next run writes it again */
    }
  }
  return rows;
}

export function formatReport(rows: readonly ReportRow[]): string {
  const cell = (s: string | number): string => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const lines = [
    '# Reliability and security',
    '',
    'Generated by `npm run report:reliability` (runs `test/reliability-*.test.ts`); do not edit by hand.',
    'Each scenario starts the real daemon as a child process with real files, real local HTTP',
    'servers and the in-process SNS emulator (fauxqs), injects the faults listed, and checks that',
    'every entry id the generator wrote arrives at every destination it routes to, at least once.',
    '',
    '*Sent*: entries written or posted (unique ids). *Owed*: deliveries owed (an entry routed to',
    'two destinations counts twice). *Received*: owed deliveries that arrived. *Duplicated*: extra',
    'copies (at-least-once allows them; each scenario bounds them by what was in flight).',
    '*Lost*: owed deliveries that never arrived; "(by design)" marks a scenario that shows a loss the',
    'design accepts and makes visible (copytruncate empties lines the relay has not read yet).',
    '',
    '| Scenario | Load | Faults injected | Sent | Owed | Received | Duplicated | Lost | Result | Notes |',
    '|---|---|---|---:|---:|---:|---:|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${cell(r.scenario)} | ${cell(r.load)} | ${cell(r.faults)} | ${r.sent} | ${r.expected} | ${r.received} | ${r.duplicated} | ${r.lost}${r.lossByDesign === true && r.lost > 0 ? ' (by design)' : ''} | ${r.result} | ${cell(r.notes)} |`,
    ),
    '',
    `Last measured on Node ${process.version}, ${availableParallelism()} CPUs:`,
    '',
    ...[...new Set(rows.map((r) => r.file))].map(
      (f) =>
        `- \`test/${f}.test.ts\`: ${
          rows
            .filter((r) => r.file === f)
            .map((r) => r.measuredAt)
            .sort()
            .at(-1) ?? ''
        }`,
    ),
    '',
    // One JSON row per line; ">" escaped so that no row can end the comment.
    ROWS_START,
    ...rows.map((r) => JSON.stringify(r).replace(/>/g, '\\u003e')),
    ROWS_END,
    '',
  ];
  return lines.join('\n');
}

function withLock(lock: string, fn: () => void): void {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = Date.now() - (statSafe(lock) ?? Date.now());
      if (age > STALE_LOCK_MS) {
        rmdirSync(lock);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`lock ${lock} held too long`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  try {
    fn();
  } finally {
    rmdirSync(lock);
  }
}

function statSafe(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
