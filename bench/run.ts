/**
 * `npm run bench`: runs the benchmark cases, each in its own child process (the relay's CPU
 * time and peak RSS are its own; receivers and load clients run in a peer process on the other
 * core), interleaving the JSON.parse baseline right before each pipeline, prints a table and
 * writes bench/results.md.
 *
 *   npm run bench                       every case
 *   npm run bench -- p1 p2b             selected cases (baselines are added as needed)
 *   npm run bench -- --quick            smaller input, shorter runs, one round (~40 s)
 *   npm run bench -- --rounds 3         rounds of each pair (baseline, case); the best of each is kept
 *   npm run bench -- p1 --profile       also write a CPU profile of each timed part and summarize it
 *   npm run bench -- --no-pin           do not pin processes to cores (no taskset)
 *   npm run bench -- --no-write         do not rewrite bench/results.md
 *   npm run bench -- p1 --deno          run the relay's cases under Deno (baselines stay on Node)
 *   npm run bench -- p1 p2 p2b overload --compare /tmp/before
 *                                       also run another build's cases (a checkout with `npm ci`
 *                                       done), interleaved; writes the "Before/after" section
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CaseParams, CaseResult } from './case-support.ts';
import { COMPARE_SECTION, renderComparison, sectionOf, withSection } from './compare.ts';
import { cacheDir, ensureInput, type BenchInput, type KeyOrder } from './input.ts';
import { DENO, RELAY_CPU, startScript, type ScriptRuntime } from './peer-protocol.ts';
import { formatProfile } from './profile-summary.ts';
import { renderResults, type Row } from './report.ts';

export type CaseName = 'p1' | 'syslog-ng' | 'p1-deno' | 'p1r' | 'p1d' | 'p2' | 'p2b' | 'p3' | 'overload' | 'files';
const CASES: readonly CaseName[] = ['p1', 'syslog-ng', 'p1-deno', 'p1r', 'p1d', 'p2', 'p2b', 'p3', 'overload', 'files'];
/** The cases `--compare` runs in both builds. */
const COMPARED = new Set(['p1', 'p2', 'p2b', 'overload-block', 'overload-drop_newest']);

interface Settings {
  readonly cases: readonly CaseName[];
  readonly quick: boolean;
  readonly rounds: number;
  readonly pin: boolean;
  readonly profileDir: string | undefined;
  readonly write: boolean;
  /** The runtime of the relay's cases (baselines and the peer always run on Node). */
  readonly relayRuntime: ScriptRuntime['kind'];
  /** Another build (a checkout with dist/) whose cases run beside this one's (`--compare DIR`). */
  readonly compareDir: string | undefined;
}

function parseArgs(argv: readonly string[]): Settings {
  const cases: CaseName[] = [];
  let quick = false;
  let pin = true;
  let profile = false;
  let write = true;
  let deno = false;
  let rounds: number | undefined;
  let compareDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') quick = true;
    else if (a === '--rounds') rounds = Math.max(1, Number(argv[++i]) || 1);
    else if (a === '--no-pin') pin = false;
    else if (a === '--profile') profile = true;
    else if (a === '--no-write') write = false;
    else if (a === '--deno') deno = true;
    else if (a === '--compare') compareDir = path.resolve(argv[++i] ?? '.');
    else if ((CASES as readonly string[]).includes(a)) cases.push(a as CaseName);
    else
      throw new Error(
        `unknown argument ${a}: expected cases (${CASES.join(', ')}) or --quick, --rounds N, --profile, --no-pin, --no-write, --deno, --compare DIR`,
      );
  }
  if (pin && spawnSync('taskset', ['-c', '0', 'true']).status !== 0) {
    process.stderr.write('taskset is not available: processes are not pinned to cores\n');
    pin = false;
  }
  if (compareDir !== undefined && !existsSync(path.join(compareDir, 'dist/bench/p1-file-webhook.js')))
    throw new Error(`--compare ${compareDir}: no dist/bench/p1-file-webhook.js there (npm ci and build it first)`);
  const profileDir = profile ? path.join(cacheDir(), 'profiles') : undefined;
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true });
  return {
    cases: cases.length === 0 ? CASES : cases,
    quick,
    pin,
    profileDir,
    rounds: rounds ?? (quick || profile ? 1 : 2),
    write: write && !deno && (compareDir !== undefined || cases.length === 0 || cases.length === CASES.length),
    relayRuntime: deno ? 'deno' : 'node',
    compareDir,
  };
}

/** Run one case script in its own process (pinned to the relay's core) and wait for its result. */
function runScript(script: string, params: CaseParams, runtime: ScriptRuntime): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = startScript(script, [JSON.stringify(params)], params.pin ? RELAY_CPU : null, runtime);
    child.on('error', reject);
    let result: CaseResult | null = null;
    child.on('message', (m: { result?: CaseResult }) => {
      if (m.result !== undefined) result = m.result;
    });
    child.on('exit', (code) => {
      if (result !== null) resolve(result);
      else reject(new Error(`${script} exited with ${code} without a result`));
    });
  });
}

interface Step {
  readonly key: string;
  readonly script: string;
  readonly options: Record<string, string | number | boolean>;
  /** Which input file (default: stable, what Kong writes). */
  readonly input?: KeyOrder;
  /** Runs under Deno whatever the run's runtime (p1-deno). */
  readonly deno?: boolean;
  /** The script of another build (`--compare`): its absolute path. */
  readonly scriptPath?: string;
}

/**
 * The groups of a run, in order: each pipeline with the baseline it is compared with, run right
 * before it. A group's steps are repeated `rounds` times in turn (b1, p1, b1, p1, …).
 */
function plan(s: Settings): Step[][] {
  const q = s.quick;
  const baseline1: Step = { key: 'b1', script: 'baseline.js', options: { mode: 'parse' } };
  const baseline1Random: Step = { key: 'b1r', script: 'baseline.js', options: { mode: 'parse' }, input: 'random' };
  const groups: Step[][] = [[{ key: 'b2', script: 'baseline.js', options: { mode: 'split' } }]];
  const oneEntry = { perRequest: 1, entries: q ? 10_000 : 30_000, connections: 8 };
  const p1: Step = { key: 'p1', script: 'p1-file-webhook.js', options: {} };
  const has = (c: CaseName): boolean => s.cases.includes(c);
  // p1 with both baselines, and the peer (syslog-ng) and p1 under Deno compared with it in the same round.
  if (has('p1') || has('syslog-ng') || has('p1-deno')) {
    groups.push([
      baseline1,
      baseline1Random,
      ...(has('syslog-ng') ? [{ key: 'syslog-ng', script: 'syslog-ng.js', options: {} }] : []),
      p1,
      ...(has('p1-deno') && s.relayRuntime === 'node' ? [{ ...p1, key: 'p1-deno', deno: true }] : []),
    ]);
  }
  for (const c of s.cases) {
    switch (c) {
      case 'p1r':
        // Redaction's cost: p1 without and with it, run in turn.
        groups.push([p1, { key: 'p1r', script: 'p1-file-webhook.js', options: { redact: true } }]);
        break;
      case 'p1d':
        // Compared with the memory-buffered p1 measured right before it, round by round.
        groups.push([baseline1, p1, { key: 'p1d', script: 'p1-file-webhook.js', options: { buffer: 'disk' } }]);
        break;
      case 'p2':
        groups.push([
          baseline1,
          baseline1Random,
          { key: 'p2', script: 'p2-http-webhook.js', options: { perRequest: 100, connections: 4 } },
        ]);
        break;
      case 'p2b':
        groups.push([
          { key: 'bare', script: 'http-bare.js', options: oneEntry },
          { key: 'p2b', script: 'p2-http-webhook.js', options: oneEntry },
        ]);
        break;
      case 'p3':
        groups.push([baseline1, { key: 'p3', script: 'p3-file-sns.js', options: { entries: q ? 5_000 : 20_000 } }]);
        break;
      case 'overload':
        // The default (heap growth bounded by `run`) and V8's own growth (heap_growth: v8).
        for (const heapGrowth of ['bounded', 'v8']) {
          for (const policy of ['block', 'drop_newest']) {
            groups.push([
              {
                key: `overload-${policy}${heapGrowth === 'v8' ? '-v8' : ''}`,
                script: 'overload.js',
                options: { policy, seconds: q ? 4 : 8, heapGrowth },
              },
            ]);
          }
        }
        break;
      case 'files':
        groups.push([
          { key: 'files', script: 'many-files.js', options: { files: 5_000, liveEntries: q ? 10_000 : 30_000 } },
        ]);
        break;
      default:
        break;
    }
  }
  if (!groups.some((g) => g.some((x) => x.key === 'b1'))) groups.push([baseline1]);
  if (s.compareDir === undefined) return groups;
  const compared = new Set<string>();
  return groups.map((g) => withOtherBuild(g, s.compareDir as string, compared));
}

/**
 * `--compare DIR`: each compared case of the other build runs right before this build's, in the
 * first group that has it (p1 also runs beside p1r and p1d: once is enough).
 */
function withOtherBuild(group: readonly Step[], dir: string, compared: Set<string>): Step[] {
  return group.flatMap((step) => {
    if (!COMPARED.has(step.key) || step.deno === true || compared.has(step.key)) return [step];
    compared.add(step.key);
    return [{ ...step, key: `${step.key}@before`, scriptPath: path.join(dir, 'dist/bench', step.script) }, step];
  });
}

/** The best round (most entries/s; for overload, the one with the highest peak RSS: the worst case). */
function best(results: readonly CaseResult[], key: string): CaseResult {
  const rate = (r: CaseResult): number => r.entries / r.ms;
  return results.reduce((a, b) => {
    if (key.startsWith('overload')) return b.maxRssMb > a.maxRssMb ? b : a;
    if (a.complete !== b.complete) return a.complete ? a : b;
    return rate(b) > rate(a) ? b : a;
  });
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const inputs: Record<KeyOrder, BenchInput> = {
    stable: ensureInput({ entries: settings.quick ? 50_000 : 200_000, seed: 7, keyOrder: 'stable' }, generating),
    random: ensureInput({ entries: settings.quick ? 50_000 : 200_000, seed: 7, keyOrder: 'random' }, generating),
  };
  const input = inputs.stable;
  process.stdout.write(
    `input: ${input.entries} Kong 3.7 entries, ${(input.bytes / 2 ** 20).toFixed(0)} MiB (${Math.round(input.bytes / input.entries)} B/entry), ${input.file} (and ${inputs.random.file})\n`,
  );
  const rows: Row[] = [];
  for (const group of plan(settings)) {
    const rounds =
      group.some((x) => x.key.startsWith('overload')) && settings.compareDir === undefined ? 1 : settings.rounds;
    const results = group.map((): CaseResult[] => []);
    for (let round = 0; round < rounds; round++) {
      for (const [i, step] of group.entries()) {
        const params: CaseParams = {
          input: inputs[step.input ?? 'stable'],
          pin: settings.pin,
          options: step.options,
          profileDir: settings.profileDir,
        };
        process.stdout.write(`  running ${step.key}${rounds > 1 ? ` (round ${round + 1}/${rounds})` : ''}… `);
        const runtime: ScriptRuntime =
          step.deno === true ? { kind: 'deno' } : isBaseline(step) ? { kind: 'node' } : { kind: settings.relayRuntime };
        const ran = await runScript(step.scriptPath ?? step.script, params, runtime);
        const result = step.deno === true ? { ...ran, name: `${ran.name}, the relay under Deno` } : ran;
        results[i].push(result);
        const skipped = result.extra?.skipped;
        process.stdout.write(
          typeof skipped === 'string'
            ? `skipped: ${skipped}\n`
            : `${Math.round(result.entries / (result.ms / 1000))} entries/s${result.complete ? '' : ' (INCOMPLETE)'}\n`,
        );
        if (settings.profileDir !== undefined && !step.key.startsWith('b')) {
          process.stdout.write(
            `${formatProfile(path.join(settings.profileDir, `${profileName(step)}.cpuprofile`), 25)}\n`,
          );
        }
      }
    }
    group.forEach((step, i) =>
      rows.push({ key: step.key, result: best(results[i], step.key), rounds: results[i].length, all: results[i] }),
    );
  }
  const report = renderResults(rows, {
    pinned: settings.pin,
    quick: settings.quick,
    rounds: settings.rounds,
    input,
    seconds: (Date.now() - started) / 1000,
    relayRuntime: settings.relayRuntime === 'deno' ? denoVersion() : undefined,
    denoVersion: rows.some((r) => r.key === 'p1-deno') ? denoVersion() : undefined,
  });
  const comparison =
    settings.compareDir === undefined ? undefined : renderComparison(rows, settings.compareDir, new Date());
  process.stdout.write(`\n${report.table}\n${comparison === undefined ? '' : `\n${comparison}\n`}`);
  if (settings.write) {
    const file = path.join(import.meta.dirname, '../../bench/results.md');
    const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const fullRun = settings.cases.length === CASES.length;
    // A full run writes the file anew and keeps the last comparison; a comparison of some cases
    // only replaces its section.
    const base = fullRun ? report.markdown : previous;
    writeFileSync(file, withSection(base, COMPARE_SECTION, comparison ?? sectionOf(previous)));
    // Formatted as `npm run lint` expects (aligned tables), so a run leaves no lint error behind.
    spawnSync(path.join(import.meta.dirname, '../../node_modules/.bin/biome'), ['format', '--write', file]);
    process.stdout.write(`\nwritten: bench/results.md\n`);
  }
}

function generating(file: string): void {
  process.stdout.write(`generating the input once (cached for later runs): ${file}\n`);
}

function denoVersion(): string {
  const out = spawnSync(DENO, ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return /^deno \S+/.exec(out)?.[0].replace('deno', 'Deno') ?? 'Deno';
}

/** The reference loops (b1, b2, bare) are Node's, whatever runs the relay. */
function isBaseline(step: Step): boolean {
  return step.script === 'baseline.js' || step.script === 'http-bare.js';
}

/** The profile file a case writes (another build's case writes under the same key). */
function profileName(step: Step): string {
  if (step.key === 'bare') return 'http-bare';
  return step.key.replace(/@before$/, '');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
