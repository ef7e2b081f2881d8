/**
 * Micro-benchmark: the JS RegExp (backtracking) vs RuleRegex (re2js, linear time) on the rule
 * patterns and request paths of ordinary traffic, and on the hostile paths of issue 14.
 *
 *   npm run build && node dist/bench/rule-regex.bench.js [--quick]
 *
 * Rounds are interleaved (RegExp, RuleRegex, RegExp, …) after a warm-up; the median is printed in
 * ns per test() call. The hostile rows run once each (RegExp only up to a size it survives).
 */
import { RuleRegex } from '../src/route/rule-regex.ts';

const RULES = [
  String.raw`^/profile/\d+$`,
  '/avatar$',
  String.raw`^/api/v\d+/orders/[0-9]+/items$`,
  '^/(users|accounts)/[^/]+/settings',
  '^/v1/(?<tenant>[a-z0-9-]+)/events$',
];
const PATHS = [
  '/profile/12345',
  '/profile/12345/avatar',
  '/api/v1/orders/1042/items',
  '/users/0f9c2b1e-7d3a-4c55-9b1e-2a7d3c4b5e6f/settings',
  '/v1/acme-corp/events',
  '/status',
  '/api/v2/catalog/search',
  '/static/js/app.4f3c2b1a.js',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(test: (p: string) => boolean, iterations: number): number {
  let hits = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) if (test(PATHS[i % PATHS.length])) hits++;
  const ns = Number(process.hrtime.bigint() - started);
  if (hits < 0) throw new Error('unreachable');
  return ns / iterations;
}

function main(): void {
  const quick = process.argv.includes('--quick');
  const iterations = quick ? 50_000 : 400_000;
  const rounds = quick ? 3 : 7;
  process.stdout.write(`rule regex matching, ns per test() call (median of ${rounds} rounds of ${iterations})\n\n`);
  process.stdout.write('| pattern | RegExp | RuleRegex (re2js) | ratio |\n| --- | ---: | ---: | ---: |\n');
  for (const source of RULES) {
    const native = new RegExp(source);
    const linear = RuleRegex.compile(source);
    if (typeof linear === 'string') throw new Error(linear);
    const runNative = (p: string): boolean => native.test(p);
    const runLinear = (p: string): boolean => linear.test(p);
    time(runNative, iterations);
    time(runLinear, iterations);
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      a.push(time(runNative, iterations));
      b.push(time(runLinear, iterations));
    }
    const [na, nb] = [median(a), median(b)];
    process.stdout.write(`| \`${source}\` | ${na.toFixed(0)} | ${nb.toFixed(0)} | ${(nb / na).toFixed(1)}× |\n`);
  }

  process.stdout.write(
    '\nhostile paths, ms for one test() call\n\n| pattern | path | RegExp | RuleRegex (re2js) |\n| --- | --- | ---: | ---: |\n',
  );
  const hostile: [string, string, string, boolean][] = [
    [String.raw`^/api/(\d|\w|_)*/items$`, '/api/ + 24 digits', `/api/${'1'.repeat(24)}`, true],
    [String.raw`^/api/(\d|\w|_)*/items$`, '/api/ + 40 digits', `/api/${'1'.repeat(40)}`, false],
    ['^/v1/(.*)/(.*)/(.*)/items$', '/v1 + 2 KB of "/"', `/v1${'/'.repeat(2048)}`, true],
  ];
  for (const [source, label, value, runNative] of hostile) {
    const linear = RuleRegex.compile(source);
    if (typeof linear === 'string') throw new Error(linear);
    let nativeMs = 'not run (hours)';
    if (runNative) {
      const started = performance.now();
      new RegExp(source).test(value);
      nativeMs = (performance.now() - started).toFixed(1);
    }
    const started = performance.now();
    linear.test(value);
    const linearMs = (performance.now() - started).toFixed(2);
    process.stdout.write(`| \`${source}\` | ${label} | ${nativeMs} | ${linearMs} |\n`);
  }
}

main();
