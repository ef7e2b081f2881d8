/**
 * The test layers: `npm run test:unit` runs the fast in-process tests (the relay's modules against
 * real files, loopback servers and the in-process SNS emulator), `npm test` runs every test file.
 * Test files not listed in SYSTEM_TESTS are unit tests: a new file that starts the daemon or the
 * CLI as a child process, runs for long or stresses the machine belongs to the list; a single
 * such test in a file of unit tests takes `FULL_LAYER_ONLY` (./layer.ts) as its options instead.
 * The unit layer runs in two processes, each running its half of the files in itself: unit test
 * files share a process, so they close what they open and leave no global state behind (mock
 * timers through the test context, as ./virtual-clock.ts does). After the run the slowest
 * files are listed with their time, so a file that makes the unit layer slow is easy to find.
 *
 *   node dist/test/support/run-tests.js unit|all
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { UNIT_LAYER_ENV } from './layer.ts';

/** Whole-daemon and CLI (child process), packaging, runtime, stress and long-running tests. */
const SYSTEM_TESTS = new Set([
  'config-duration-bounds',
  'config-unit-tests',
  'daemon-lifecycle',
  'deno-runtime',
  'disk-buffer',
  'file-large',
  'file-many-files',
  'grafana-prometheus',
  'heap-growth',
  'http-after-connection-flood',
  'http-gzip-budget',
  'http-unauthenticated-flood',
  'install-script',
  'kong-admin-changes',
  'kong-admin-validate',
  'kong-traffic',
  'match-command',
  'packaging',
  'payload-validate-match',
  'reload-handover',
  'replay-command',
  'secrets-never-leave',
  'tap-command',
  'top-command',
]);
const isSystemTest = (name: string): boolean =>
  SYSTEM_TESTS.has(name) || name.startsWith('reliability-') || name.startsWith('first-hour-');

const TEST_DIR = path.resolve(import.meta.dirname, '..');
const SLOWEST_SHOWN = 12;

function testFiles(layer: 'unit' | 'all'): string[] {
  return readdirSync(TEST_DIR)
    .filter((f) => f.endsWith('.test.js'))
    .filter((f) => layer === 'all' || !isSystemTest(f.slice(0, -'.test.js'.length)))
    .sort()
    .map((f) => path.join(TEST_DIR, f));
}

/** The unit layer runs in this many processes, each taking every UNIT_PARTS-th file. */
const UNIT_PARTS = 2;

/** Run the unit layer's parts side by side; print each part's output when it ends. */
async function runUnitParts(): Promise<number> {
  const parts = Array.from({ length: UNIT_PARTS }, (_, k) => {
    const child = spawn(process.execPath, [import.meta.filename, 'unit', `${k}/${UNIT_PARTS}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => output.push(b));
    child.stderr.on('data', (b: Buffer) => output.push(b));
    return new Promise<number>((resolve) =>
      child.on('close', (code) => {
        process.stdout.write(Buffer.concat(output));
        resolve(code ?? 1);
      }),
    );
  });
  return Math.max(...(await Promise.all(parts)));
}

/**
 * Run the files in this process through node:test's run(). The unit layer's part runs its files
 * in this one process, one test at a time (isolation none): loading each file in a process of its
 * own cost more CPU than its tests did. The full layer keeps a process per file.
 */
function runFiles(files: readonly string[], isolation: 'none' | 'process'): void {
  const tests = run({ files: [...files], ...(isolation === 'none' ? { isolation } : { concurrency: 2 }) });
  /** Per file: the time of its top-level tests and suites. */
  const fileTimes = new Map<string, number>();
  const countTime = (test: { nesting: number; file?: string; details: { duration_ms: number } }): void => {
    if (test.nesting !== 0 || test.file === undefined) return;
    const file = path.basename(test.file);
    fileTimes.set(file, (fileTimes.get(file) ?? 0) + test.details.duration_ms);
  };
  tests.on('test:pass', countTime);
  tests.on('test:fail', (test) => {
    countTime(test);
    process.exitCode = 1;
  });
  tests.on('test:summary', (summary) => {
    if (!summary.success) process.exitCode = 1;
  });
  tests.on('end', () => {
    const slowest = [...fileTimes].sort((a, b) => b[1] - a[1]).slice(0, SLOWEST_SHOWN);
    const lines = slowest.map(([file, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${file}`);
    process.stderr.write(`slowest test files (time of their tests):\n${lines.join('\n')}\n`);
  });
  tests.compose(spec).pipe(process.stdout);
}

const [layer, part] = process.argv.slice(2);
if (layer !== 'unit' && layer !== 'all') {
  process.stderr.write('usage: run-tests.js unit|all\n');
  process.exit(2);
}
process.env[UNIT_LAYER_ENV] = layer;
if (layer === 'all') runFiles(testFiles(layer), 'process');
else if (part === undefined) process.exitCode = await runUnitParts();
else {
  const [k, n] = part.split('/').map(Number);
  runFiles(
    testFiles(layer).filter((_, i) => i % n === k),
    'none',
  );
}
