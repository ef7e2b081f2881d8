/**
 * The test layers: `npm run test:unit` runs the fast in-process tests (the relay's modules against
 * real files and loopback servers, a few quick CLI runs), `npm test` runs every test file.
 * Test files not listed in SYSTEM_TESTS are unit tests: a new file that starts the daemon as a
 * child process, runs for long or stresses the machine belongs to the list.
 *
 *   node dist/test/support/run-tests.js unit|all [node --test options…]
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

/** Whole-daemon (child process), CLI, packaging, runtime and long-running tests. */
const SYSTEM_TESTS = new Set([
  'daemon-lifecycle',
  'deno-runtime',
  'file-large',
  'heap-growth',
  'kong-traffic',
  'match-command',
  'packaging',
  'replay-command',
  'tap-command',
]);
const isSystemTest = (name: string): boolean => SYSTEM_TESTS.has(name) || name.startsWith('reliability-');

const TEST_DIR = path.resolve(import.meta.dirname, '..');

function testFiles(layer: 'unit' | 'all'): string[] {
  return readdirSync(TEST_DIR)
    .filter((f) => f.endsWith('.test.js'))
    .filter((f) => layer === 'all' || !isSystemTest(f.slice(0, -'.test.js'.length)))
    .sort()
    .map((f) => path.join(TEST_DIR, f));
}

const [layer, ...options] = process.argv.slice(2);
if (layer !== 'unit' && layer !== 'all') {
  process.stderr.write('usage: run-tests.js unit|all [node --test options…]\n');
  process.exit(2);
}
const run = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...options, ...testFiles(layer)], {
  stdio: 'inherit',
});
process.exit(run.status ?? 1);
