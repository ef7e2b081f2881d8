/**
 * Micro-benchmark: JSON.parse vs scanObject on realistic Kong 3.x log entries.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/json-scan.bench.js [--quick]
 *   deno run --allow-read --allow-env bench/json-scan.bench.ts [--quick]
 *
 * Entries are ~2.3 KB, encoded like Kong's lua-cjson (every "/" escaped as "\/").
 * Runs are interleaved (parse, scan, parse, scan, ...) after a warm-up; the median of the
 * rounds is printed in ns/entry.
 */
import { pathToFileURL } from 'node:url';
import {
  FieldPlan,
  decodeString,
  decodeValue,
  scanArrayElements,
  scanObject,
  scanUsesWasm,
  setScanBackend,
  type JsonPath,
} from '../src/event/json-scan.ts';
import { byteStringOf } from '../src/event/byte-string.ts';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
const STATUSES = [200, 201, 204, 301, 404, 500];

function hexId(seed: number): string {
  let x = (seed * 2654435761) >>> 0;
  let s = '';
  for (let i = 0; i < 32; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += '0123456789abcdef'[x >>> 28];
    if (i === 7 || i === 11 || i === 15 || i === 19) s += '-';
  }
  return s;
}

/** A realistic Kong 3.x (file-log / http-log) entry. */
export function kongEntry(i: number): Record<string, unknown> {
  const ws = hexId(i % 3);
  const path = `/api/v1/orders/${1000 + i}/items`;
  const qs = `limit=${i % 50}&offset=${i * 3}&sort=created_at`;
  return {
    request: {
      id: hexId(i * 11 + 1).replace(/-/g, ''),
      method: METHODS[i % METHODS.length],
      uri: `${path}?${qs}`,
      url: `https://api.example.com:8443${path}?${qs}`,
      size: 612 + (i % 97),
      querystring: { limit: String(i % 50), offset: String(i * 3), sort: 'created_at' },
      headers: {
        host: 'api.example.com:8443',
        'user-agent':
          'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
        accept: 'application/json, text/plain, */*',
        'accept-encoding': 'gzip, deflate, br',
        'accept-language': 'en-US,en;q=0.9',
        authorization: 'REDACTED',
        'content-type': 'application/json',
        'x-request-id': hexId(i * 11 + 2),
        'x-forwarded-for': '203.0.113.7, 10.0.0.12',
        'x-forwarded-proto': 'https',
        'x-real-ip': '203.0.113.7',
        connection: 'keep-alive',
        'cache-control': 'no-cache',
        referer: 'https://app.example.com/dashboard/orders',
        'content-length': '128',
      },
    },
    upstream_uri: `${path}?${qs}`,
    upstream_status: String(STATUSES[i % STATUSES.length]),
    response: {
      status: STATUSES[i % STATUSES.length],
      size: 1543 + (i % 13),
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'content-length': '1128',
        connection: 'keep-alive',
        date: 'Tue, 19 Nov 2024 10:12:13 GMT',
        server: 'nginx/1.25.3',
        'x-kong-upstream-latency': String(10 + (i % 7)),
        'x-kong-proxy-latency': '1',
        via: '1.1 kong/3.8.0',
      },
    },
    tries: [
      {
        balancer_start: 1732011133101 + i,
        balancer_start_ns: 1.7320111331015e18,
        ip: '10.0.3.17',
        port: 8080,
        balancer_latency: 0,
      },
    ],
    client_ip: '203.0.113.7',
    started_at: 1732011133100 + i,
    source: 'upstream',
    workspace: ws,
    workspace_name: i % 3 === 0 ? 'default' : `team-${i % 3}`,
    latencies: { request: 14 + (i % 9), kong: 2, proxy: 12 + (i % 9), receive: 0 },
    authenticated_entity: { id: hexId(i + 4), consumer_id: hexId(i + 5) },
    route: {
      id: hexId(6),
      name: 'orders-route',
      paths: ['/api/v1/orders'],
      protocols: ['http', 'https'],
      strip_path: false,
      preserve_host: false,
      https_redirect_status_code: 426,
      created_at: 1731000000,
      updated_at: 1731000500,
      ws_id: ws,
      service: { id: hexId(7) },
    },
    service: {
      id: hexId(7),
      name: 'orders-svc',
      host: 'orders.internal',
      port: 8080,
      protocol: 'http',
      path: '/',
      retries: 5,
      read_timeout: 60000,
      enabled: true,
      ws_id: ws,
    },
    consumer: { id: hexId(i + 5), username: `customer-${i % 100}`, custom_id: null, created_at: 1731000000 },
  };
}

/** Kong's lua-cjson escapes every "/" as "\/". */
export function cjsonEncode(v: unknown): string {
  return JSON.stringify(v).replace(/\//g, '\\/');
}

export const BENCH_PATHS: JsonPath[] = [
  ['request', 'method'],
  ['request', 'uri'],
  ['request', 'url'],
  ['request', 'size'],
  ['request', 'headers', 'host'],
  ['request', 'headers', 'user-agent'],
  ['request', 'headers', 'x-request-id'],
  ['request', 'querystring'],
  ['response', 'status'],
  ['response', 'size'],
  ['response', 'headers', 'content-type'],
  ['workspace_name'],
  ['workspace'],
  ['route', 'name'],
  ['route', 'id'],
  ['service', 'name'],
  ['service', 'host'],
  ['consumer', 'username'],
  ['latencies', 'request'],
  ['latencies', 'proxy'],
  ['tries', 0, 'ip'],
  ['started_at'],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

let sink = 0;

interface Group {
  title: string;
  /** the run the others are compared with */
  baseline: string;
  runs: Record<string, () => void>;
}

/** Warm up, then time the runs of a group interleaved; print median ns/entry per run. */
function runGroup(g: Group, perRun: number, reps: number, rounds: number): void {
  const names = Object.keys(g.runs);
  const results: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let w = 0; w < 3; w++) for (const n of names) for (let r = 0; r < Math.ceil(reps / 3); r++) g.runs[n]();
  for (let round = 0; round < rounds; round++) {
    for (const n of names) {
      const t0 = process.hrtime.bigint();
      for (let r = 0; r < reps; r++) g.runs[n]();
      results[n].push(Number(process.hrtime.bigint() - t0) / (reps * perRun));
    }
  }
  const base = median(results[g.baseline]);
  console.log(`\n${g.title}`);
  for (const n of names) {
    const m = median(results[n]);
    console.log(
      `  ${n.padEnd(34)} ${m.toFixed(0).padStart(6)} ns/entry  (min ${Math.min(...results[n])
        .toFixed(0)
        .padStart(6)})  ${(base / m).toFixed(2)}x`,
    );
  }
}

function main(): void {
  const quick = process.argv.includes('--quick');
  const COUNT = 64;
  const texts: string[] = [];
  for (let i = 0; i < COUNT; i++) texts.push(cjsonEncode(kongEntry(i)));
  const avgLen = texts.reduce((a, t) => a + t.length, 0) / COUNT;
  const plan = new FieldPlan(BENCH_PATHS);
  const spans = plan.newSpans();
  // sanity check
  for (const t of texts) {
    const err = scanObject(t, plan, spans);
    if (err !== null) throw err;
    const parsed = JSON.parse(t) as { request: { method: string } };
    if (decodeString(t, spans[0], spans[1]) !== parsed.request.method) throw new Error('bench sanity check failed');
  }
  const reps = quick ? 200 : 1000; // batches of COUNT entries per timed run
  const rounds = quick ? 5 : 11;
  const deno = (globalThis as { Deno?: { version: { deno: string; v8: string } } }).Deno;
  const runtime = deno !== undefined ? `deno ${deno.version.deno} (v8 ${deno.version.v8})` : `node ${process.version}`;
  console.log(
    `${runtime}, ${COUNT} distinct Kong entries, avg ${avgLen.toFixed(0)} chars, plan of ${plan.size} paths, ` +
      `wasm kernel: ${scanUsesWasm()}`,
  );

  const parseAll = (ts: readonly string[]) => (): void => {
    for (let k = 0; k < ts.length; k++) sink += (JSON.parse(ts[k]) as { started_at: number }).started_at & 1;
  };
  const scanAll = (ts: readonly string[]) => (): void => {
    for (let k = 0; k < ts.length; k++) if (scanObject(ts[k], plan, spans) === null) sink += spans[1] & 1;
  };
  runGroup(
    {
      title: 'compact lua-cjson entries (ASCII, every / escaped)',
      baseline: 'JSON.parse',
      runs: {
        'JSON.parse': parseAll(texts),
        scanObject: scanAll(texts),
        'scanObject + decode 4 fields': () => {
          for (let k = 0; k < COUNT; k++) {
            const t = texts[k];
            if (scanObject(t, plan, spans) !== null) continue;
            const m = decodeString(t, spans[0], spans[1]);
            const u = decodeString(t, spans[2], spans[3]);
            const st = decodeValue(t, spans[16], spans[17]);
            const w = decodeString(t, spans[22], spans[23]);
            sink += (m?.length ?? 0) + (u?.length ?? 0) + (typeof st === 'number' ? st : 0) + (w?.length ?? 0);
          }
        },
        'scanObject, pure-JS backend': () => {
          const prev = setScanBackend('js');
          scanAll(texts)();
          setScanBackend(prev);
        },
      },
    },
    COUNT,
    reps,
    rounds,
  );

  if (quick) return;
  const nonAscii = texts.map((t) => t.replace('customer-', 'kund\u00e9-').replace('Chrome', 'Chrôme 😀'));
  const chunk = texts.join('\n') + '\n';
  const offsets: number[] = [];
  for (let k = 0, at = 0; k < COUNT; k++) {
    offsets.push(at, at + texts[k].length + 1);
    at += texts[k].length + 1;
  }
  const pretty = texts.map((t) => JSON.stringify(JSON.parse(t), null, 2));
  const nonAsciiBytes = nonAscii.map((t) => byteStringOf(t));
  const bytesPlan = new FieldPlan(BENCH_PATHS, { bytes: true });
  runGroup(
    {
      title: 'the same entries with non-ASCII header values',
      baseline: 'JSON.parse',
      runs: {
        'JSON.parse': parseAll(nonAscii),
        'scanObject of the byte strings (what the relay scans)': () => {
          for (let k = 0; k < COUNT; k++)
            if (scanObject(nonAsciiBytes[k], bytesPlan, spans) === null) sink += spans[1] & 1;
        },
        'scanObject of the texts (replay, demo: a JS copy loop)': scanAll(nonAscii),
      },
    },
    COUNT,
    reps,
    rounds,
  );
  runGroup(
    {
      title: 'lines of a 64-entry NDJSON chunk, scanned in place with start/end',
      baseline: 'JSON.parse(slice)',
      runs: {
        'JSON.parse(slice)': () => {
          for (let k = 0; k < COUNT; k++) {
            sink +=
              (JSON.parse(chunk.slice(offsets[2 * k], offsets[2 * k + 1])) as { started_at: number }).started_at & 1;
          }
        },
        'scanObject(chunk, start, end)': () => {
          for (let k = 0; k < COUNT; k++) {
            if (scanObject(chunk, plan, spans, offsets[2 * k], offsets[2 * k + 1]) === null) sink += spans[1] & 1;
          }
        },
      },
    },
    COUNT,
    reps,
    rounds,
  );
  const body = '[' + texts.join(',') + ']';
  runGroup(
    {
      title: 'an HTTP body with a JSON array of the 64 entries (per entry)',
      baseline: 'JSON.parse(body)',
      runs: {
        'JSON.parse(body)': () => {
          sink += (JSON.parse(body) as unknown[]).length;
        },
        'scanArrayElements + scanObject each': () => {
          const els = scanArrayElements(body);
          if (els instanceof Error) throw els;
          for (let k = 0; k < els.length; k += 2) {
            if (scanObject(body, plan, spans, els[k], els[k + 1]) === null) sink += spans[1] & 1;
          }
        },
      },
    },
    COUNT,
    reps,
    rounds,
  );
  runGroup(
    {
      title: 'pretty-printed entries (2-space indent)',
      baseline: 'JSON.parse',
      runs: { 'JSON.parse': parseAll(pretty), scanObject: scanAll(pretty) },
    },
    COUNT,
    reps / 2,
    rounds,
  );
  if (sink === 42) console.log('');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
