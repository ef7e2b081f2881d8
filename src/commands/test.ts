/**
 * `test -c FILE [--tests FILE…] [--junit OUT]`: the config's unit tests (`tests:`), run through
 * the same decoding, routing and shape stage (redaction, fields, payload templates, dedupe) as
 * the daemon, without any network. Prints a pass/fail report;
 * exit 0 when every case passed, 1 when one failed, 2 when the config or a tests file is invalid.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { formatDiagnostic } from '../config/diagnostics.ts';
import { loadConfigFile } from '../config/load.ts';
import type { ResolvedConfig } from '../config/resolve.ts';
import { type ConfigTestCase, configTests } from '../config/tests-schema.ts';
import { type ByteString, byteStringOf } from '../event/byte-string.ts';
import { isProblem, splitLogFile } from '../event/entries.ts';
import { JsonSyntaxError } from '../event/json-scan.ts';
import { buildRouting } from '../delivery/routing.ts';
import type { KongEvent } from '../event/kong-event.ts';
import { PayloadPreview } from './match-payload.ts';
import { EXIT_INVALID_CONFIG } from './validate.ts';

export interface TestOptions {
  readonly tests: readonly string[];
  readonly junit: string | undefined;
}

/** A case with where it came from (the config, or a tests file). */
interface LoadedCase {
  readonly test: ConfigTestCase;
  readonly file: string;
}

interface CaseResult {
  readonly name: string;
  readonly file: string;
  readonly failures: readonly string[];
  readonly ms: number;
}

export async function testCommand(configFile: string, options: TestOptions): Promise<number> {
  const { config, diagnostics } = loadConfigFile(configFile);
  if (config === null) {
    for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return EXIT_INVALID_CONFIG;
  }
  const cases: LoadedCase[] = config.tests.map((test) => ({ test, file: config.file }));
  for (const file of options.tests) {
    const loaded = loadTestsFile(file);
    if (typeof loaded === 'string') {
      process.stderr.write(`${loaded}\n`);
      return EXIT_INVALID_CONFIG;
    }
    cases.push(...loaded);
  }
  if (cases.length === 0) {
    process.stderr.write(
      `kong-log-relay test: ${configFile} has no tests: add a tests: section (see config/example.yaml) or name files with --tests\n`,
    );
    return 1;
  }
  const run = new CaseRunner(config);
  const results = cases.map((c) => run.run(c));
  const out: string[] = [`kong-log-relay test: ${path.relative(process.cwd(), config.file) || config.file}`];
  for (const r of results) {
    out.push(`  ${r.failures.length === 0 ? 'ok  ' : 'FAIL'} ${r.name}`);
    for (const f of r.failures) out.push(`         ${f}`);
  }
  const failed = results.filter((r) => r.failures.length > 0).length;
  out.push(`${results.length} tests: ${results.length - failed} passed, ${failed} failed`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (options.junit !== undefined) writeFileSync(options.junit, junitXml(results));
  return failed > 0 ? 1 : 0;
}

/** A tests file: `tests: [...]` or a bare list; a string is the error. */
function loadTestsFile(file: string): LoadedCase[] | string {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    return `${file}: ${(e as Error).message}`;
  }
  const list = Array.isArray(doc) ? doc : (doc as { tests?: unknown } | null)?.tests;
  const parsed = configTests.safeParse(list);
  if (!parsed.success)
    return parsed.error.issues
      .map(
        (i) =>
          `${file}: tests${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`,
      )
      .join('\n');
  return parsed.data.map((test) => ({ test, file: path.resolve(file) }));
}

class CaseRunner {
  readonly #config: ResolvedConfig;
  readonly #routing: ReturnType<typeof buildRouting>;
  readonly #names: ReadonlySet<string>;

  constructor(config: ResolvedConfig) {
    this.#config = config;
    this.#routing = buildRouting(config);
    this.#names = new Set(config.destinations.map((d) => d.name));
  }

  run({ test, file }: LoadedCase): CaseResult {
    const started = performance.now();
    const failures: string[] = [];
    const expect = test.expect;
    for (const name of [
      ...(expect.to ?? []),
      ...(expect.not_to ?? []),
      ...(expect.destinations ?? []),
      ...Object.keys(expect.payload ?? {}),
    ])
      if (!this.#names.has(name)) failures.push(`expect names destination "${name}", which the config does not have`);
    const entries = this.#entries(test, file, failures);
    // The shape stage of each destination, fresh for each case: dedupe windows span its entries only.
    const preview = new PayloadPreview(this.#config, this.#routing.router);
    entries.forEach((text, i) => {
      const tag = entries.length > 1 ? `entry ${i + 1}: ` : '';
      for (const f of this.#check(text, expect, preview)) failures.push(tag + f);
    });
    return { name: test.name, file, failures, ms: performance.now() - started };
  }

  /** The case's entries, as the sources hand them over (UTF-8 byte strings). */
  #entries(test: ConfigTestCase, file: string, failures: string[]): ByteString[] {
    if (test.input !== undefined)
      return (Array.isArray(test.input) ? test.input : [test.input]).map((e) => byteStringOf(JSON.stringify(e)));
    const input = path.resolve(path.dirname(file), test.input_file as string);
    let text: string;
    try {
      text = readFileSync(input, 'utf8');
    } catch (e) {
      failures.push(`cannot read input_file ${input}: ${(e as Error).message}`);
      return [];
    }
    const out: ByteString[] = [];
    for (const entry of splitLogFile(text)) {
      if (isProblem(entry)) failures.push(`${input}: entry ${entry.index + 1}: ${entry.error}`);
      else out.push(entry.raw);
    }
    if (out.length === 0 && failures.length === 0) failures.push(`${input} holds no entries`);
    return out;
  }

  #check(raw: ByteString, expect: ConfigTestCase['expect'], preview: PayloadPreview): string[] {
    const { decoder, router } = this.#routing;
    const event = decoder.decode(raw);
    if (event instanceof JsonSyntaxError) return [`the entry is not a JSON object: ${event.message}`];
    const why = router.explain(event);
    const reached = new Set(why.destinations);
    const seen = `reached: ${describe(why.destinations)}; rules: ${describe(why.rules)}; workspace: ${why.workspace ?? 'none'}`;
    const failures: string[] = [];
    for (const d of expect.to ?? []) if (!reached.has(d)) failures.push(`expected to reach ${d}; ${seen}`);
    for (const d of expect.not_to ?? []) if (reached.has(d)) failures.push(`expected not to reach ${d}; ${seen}`);
    if (expect.destinations !== undefined && !sameSet(expect.destinations, why.destinations))
      failures.push(`expected to reach exactly ${describe(expect.destinations)}; ${seen}`);
    if (expect.rules !== undefined && !sameSet(expect.rules, why.rules))
      failures.push(`expected to match exactly the rules ${describe(expect.rules)}; ${seen}`);
    // Every reached destination shapes the entry, as in the daemon (dedupe state moves on).
    const sent = new Map<string, KongEvent | null>();
    for (const name of why.destinations) sent.set(name, preview.shaped(event, name));
    for (const [destination, fields] of Object.entries(expect.payload ?? {})) {
      const shaped = sent.get(destination);
      if (shaped === undefined) {
        failures.push(`expected a payload for ${destination}, but the entry does not reach it; ${seen}`);
        continue;
      }
      if (shaped === null) {
        failures.push(`expected a payload for ${destination}, but its unique window suppressed the entry`);
        continue;
      }
      const payload = JSON.parse(shaped.text) as unknown;
      for (const [field, want] of Object.entries(fields)) {
        const got = valueAt(payload, field);
        if (JSON.stringify(got) !== JSON.stringify(want))
          failures.push(
            `${destination} payload ${field}: expected ${JSON.stringify(want)}, got ${got === undefined ? '(missing)' : JSON.stringify(got)}`,
          );
      }
    }
    return failures;
  }
}

/** The value at a dotted JSON path (array elements by index); own properties only. */
function valueAt(value: unknown, field: string): unknown {
  let at = value;
  for (const key of field.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(b);
  return a.length === set.size && a.every((x) => set.has(x));
}

function describe(names: readonly string[]): string {
  return names.length === 0 ? 'none' : [...names].sort().join(', ');
}

function junitXml(results: readonly CaseResult[]): string {
  const failed = results.filter((r) => r.failures.length > 0).length;
  const seconds = (ms: number): string => (ms / 1000).toFixed(3);
  const total = results.reduce((n, r) => n + r.ms, 0);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="kong-log-relay" tests="${results.length}" failures="${failed}" time="${seconds(total)}">`,
    `  <testsuite name="kong-log-relay config tests" tests="${results.length}" failures="${failed}" errors="0" skipped="0" time="${seconds(total)}">`,
  ];
  for (const r of results) {
    const head = `    <testcase name="${xml(r.name)}" classname="${xml(path.basename(r.file))}" time="${seconds(r.ms)}"`;
    if (r.failures.length === 0) lines.push(`${head}/>`);
    else
      lines.push(
        `${head}>`,
        `      <failure message="${xml(r.failures[0])}">${xml(r.failures.join('\n'))}</failure>`,
        '    </testcase>',
      );
  }
  lines.push('  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}

function xml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}
