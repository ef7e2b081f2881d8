/**
 * Fuzzed configs never crash `validate`: structure-aware mutations of the shipped configs
 * (wrong types, missing and unknown keys, odd durations, sizes, regexes, templates, ${VAR}
 * references, swapped subtrees, deep nesting) plus text damage (alias bombs, duplicate keys,
 * tabs, BOM, NUL, truncation). In-process over many cases, and through the CLI for a sample:
 * exit 0 or 2, never a stack trace, every problem one located line `FILE:LINE:COL: error KLR_…`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { formatDiagnostic } from '../src/config/diagnostics.ts';
import { loadConfigText } from '../src/config/load.ts';
import { mutatedYaml } from './support/config-mutator.ts';
import { MAIN } from './support/daemon.ts';
import { Fleet } from './support/reliability-harness.ts';
import { reliabilityReport } from './support/reliability-report.ts';
import { SeededRandom } from './support/seeded-random.ts';

const report = reliabilityReport('reliability-config-fuzz');
const fleet = new Fleet();
const ROOT = path.resolve(import.meta.dirname, '../..');
const BASES = ['example.yaml', 'publish-sns.yaml', 'workspaces.yaml', 'demo.yaml'].map(
  (f) => parse(readFileSync(path.join(ROOT, 'config', f), 'utf8')) as Parameters<typeof mutatedYaml>[0],
);
/** The variables the shipped configs use, so that unmutated parts validate. */
const ENV: Record<string, string> = {
  RELAY_TOKEN: 'token',
  RELAY_ADMIN_TOKEN: 'admin-token-0123456789',
  RELAY_PASSWORD: 'password',
  AUDIT_SECRET: 'secret',
  GLOBAL_SIGNING_SECRET: 'secret',
  PAYMENTS_TOKEN: 'token',
  PAYMENTS_WS_ID: '6e2a8d4c-1f7b-4b3e-9a5d-2c8e7f1b0a94',
  PROFILE_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:profile',
  GLOBAL_WEBHOOK_URL: 'https://audit.example/ingest',
  PAYMENTS_WEBHOOK_URL: 'https://payments.example/kong',
  SEARCH_WEBHOOK_URL: 'https://search.example/kong',
};
const IN_PROCESS_CASES = 1000;
const CLI_CASES = 32;
const LINE = /^(.+):(\d+):(\d+): (error|warning) (KLR_CONFIG_[A-Z_]+): .+$/;
/** The plain-language hint a problem may have on the line under it. */
const HINT = /^ {2}hint: \S.*$/;

function cases(seed: number, n: number): string[] {
  const random = new SeededRandom(seed);
  return Array.from({ length: n }, () => mutatedYaml(random.pick(BASES), random));
}

/** Run the CLI; resolves with exit code, signal, output. Killed after 30 s (a hang is a failure). */
function validate(
  file: string,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MAIN, 'validate', '-c', file], {
    env: { ...process.env, ...ENV },
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  return new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe('reliability: fuzzed configs', () => {
  it(`${IN_PROCESS_CASES} mutated configs: loading never throws, every failure is a located error on one line`, () => {
    const row = report.row('config fuzz: in-process load');
    const problems: string[] = [];
    let valid = 0;
    let invalid = 0;
    for (const [i, text] of cases(0xf022, IN_PROCESS_CASES).entries()) {
      try {
        const r = loadConfigText(text, '/etc/kong-log-relay/fuzz.yaml', ENV);
        if (r.config === null) invalid++;
        else valid++;
        if (r.config === null && !r.diagnostics.some((d) => d.severity === 'error'))
          problems.push(`case ${i}: invalid without an error`);
        for (const d of r.diagnostics) {
          // One located line per problem, and at most one plain-language hint line under it.
          const [line, hint, ...more] = formatDiagnostic(d).split('\n');
          if (more.length > 0 || (hint !== undefined && !HINT.test(hint)))
            problems.push(
              `case ${i}: more than a located line and a hint: ${JSON.stringify(formatDiagnostic(d).slice(0, 200))}`,
            );
          if (!LINE.test(line) || (d.line ?? 0) < 1 || (d.col ?? 0) < 1)
            problems.push(`case ${i}: not one located line: ${JSON.stringify(line.slice(0, 200))}`);
        }
      } catch (e) {
        problems.push(`case ${i}: threw ${(e as Error).stack?.split('\n').slice(0, 3).join(' | ')}`);
      }
    }
    row
      .describe(
        `${IN_PROCESS_CASES} structure-aware mutations of the 4 shipped configs (the entry columns count configs)`,
        'wrong types, missing/unknown/renamed keys, odd durations, sizes, regexes, templates, ${VAR}s, swapped and duplicated subtrees, deep nesting; text damage: alias bomb, duplicate keys, tabs, BOM, NUL, CRLF, truncation',
      )
      .set({
        sent: IN_PROCESS_CASES,
        expected: IN_PROCESS_CASES,
        received: IN_PROCESS_CASES - problems.length,
        lost: problems.length,
      })
      .note(
        `${invalid} rejected with located errors, ${valid} still valid; ${problems.length} crashes or unlocated errors`,
      );
    assert.deepEqual(problems.slice(0, 20), []);
    assert.ok(invalid > IN_PROCESS_CASES / 2, 'the mutations mostly break the config');
    row.pass();
  });

  it(`${CLI_CASES} mutated configs through \`kong-log-relay validate\`: exit 0 or 2, no stack trace, located errors and a summary`, async () => {
    const row = report.row('config fuzz: validate CLI');
    const dir = fleet.dir('klr-rel-config-fuzz-');
    const texts = cases(0xc11, CLI_CASES);
    const problems: string[] = [];
    const exits: Record<string, number> = {};
    // Two at a time: one per core.
    for (let i = 0; i < texts.length; i += 2) {
      await Promise.all(
        texts.slice(i, i + 2).map(async (text, k) => {
          const n = i + k;
          const file = path.join(dir, `case-${n}.yaml`);
          writeFileSync(file, text);
          const r = await validate(file);
          exits[String(r.code ?? r.signal)] = (exits[String(r.code ?? r.signal)] ?? 0) + 1;
          const say = (what: string): void => {
            problems.push(`case ${n} (${file}): ${what}`);
          };
          if (r.code !== 0 && r.code !== 2) say(`exit ${r.code ?? r.signal}: ${r.stderr.slice(0, 300)}`);
          if (
            /\n\s+at .+:\d+:\d+\)?$/m.test(r.stderr) ||
            /TypeError|RangeError|ReferenceError|Maximum call stack/.test(r.stderr)
          )
            say(`stack trace: ${r.stderr.slice(0, 300)}`);
          const lines = r.stderr.split('\n').filter((l) => l !== '' && !HINT.test(l));
          const summary = lines.filter((l) => l.startsWith(`${file}: invalid: `));
          const located = lines.filter((l) => LINE.test(l) && l.startsWith(`${file}:`));
          if (located.length + summary.length !== lines.length)
            say(
              `lines that are neither located problems nor the summary: ${JSON.stringify(lines.filter((l) => !LINE.test(l) && !l.startsWith(`${file}: invalid: `)).slice(0, 3))}`,
            );
          if (r.code === 2 && (summary.length !== 1 || !located.some((l) => / error KLR_/.test(l))))
            say('exit 2 without located errors and one summary line');
          if (r.code === 0 && !/: valid: /.test(r.stdout)) say(`exit 0 without the summary: ${r.stdout}`);
        }),
      );
    }
    row
      .describe(
        `${CLI_CASES} mutated configs, each a \`validate -c\` child process (the entry columns count configs)`,
        'the same mutations as in-process, other seed',
      )
      .set({ sent: CLI_CASES, expected: CLI_CASES, received: CLI_CASES - problems.length, lost: problems.length })
      .note(
        `exits: ${Object.entries(exits)
          .map(([c, n]) => `${c}×${n}`)
          .join(', ')}`,
      );
    assert.deepEqual(problems, []);
    row.pass();
  });
});
