/**
 * The webhook sink through the real pipeline against real node:http servers on 127.0.0.1:
 * bodies byte for byte per encoding, gzip, headers, Standard Webhooks signatures, and what
 * is retried, what is dead-lettered, and what never leaks.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type net from 'node:net';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, it } from 'node:test';
import { Pipeline } from '../src/delivery/pipeline.ts';
import { createSink } from '../src/sinks/index.ts';
import { createLogger } from '../src/telemetry/log.ts';
import { RelayMetrics } from '../src/telemetry/metrics.ts';
import { configFromYaml, readDeadLetters, relayEntries, tempDir } from './support/pipeline.ts';
import { VirtualClock } from './support/virtual-clock.ts';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly at: number;
}

/** What the receiver does with request number `n` (from 0). */
type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'reset' | 'stall';

/** A webhook receiver that records every request and answers as told. */
class Receiver {
  readonly requests: Received[] = [];
  readonly #server: http.Server;
  readonly #sockets = new Set<net.Socket>();
  #reply: (n: number, r: Received) => Reply;

  private constructor(reply: (n: number, r: Received) => Reply) {
    this.#reply = reply;
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const received: Received = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks),
          at: Date.now(),
        };
        const n = this.requests.push(received) - 1;
        const reply = this.#reply(n, received);
        if (reply === 'reset') {
          req.socket.destroy();
          return;
        }
        if (reply === 'stall') return;
        res.writeHead(reply.status, reply.headers).end(reply.body ?? '');
      });
    });
    this.#server.on('connection', (s: net.Socket) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(reply: (n: number, r: Received) => Reply = () => ({ status: 200 })): Promise<Receiver> {
    const r = new Receiver(reply);
    await new Promise<void>((resolve) => r.#server.listen(0, '127.0.0.1', resolve));
    servers.push(r);
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

const servers: Receiver[] = [];
const pipelines: Pipeline[] = [];
afterEach(async () => {
  await Promise.all(pipelines.splice(0).map((p) => p.drain(Date.now() + 1_000)));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A Kong entry as lua-cjson writes it: "/" escaped, raw UTF-8, exponent numbers, odd spacing kept. */
function kongEntry(n: number): string {
  return `{"request":{"method":"PUT","uri":"\\/profile\\/${n}?x=1","headers":{"host":"api.example.com"}},"response":{"status":200},"started_at":1.7267838395395e+12,"note":"café ☕ \\u00e9 #${n}","workspace_name":"default"}`;
}
const entries = (count: number, from = 0): string[] => Array.from({ length: count }, (_, i) => kongEntry(from + i));

interface Setup {
  readonly pipeline: Pipeline;
  readonly dir: string;
  readonly logs: () => string;
}

/** A pipeline whose every entry goes to each destination given (YAML bodies by name), logging at debug into a buffer. */
function setup(destinations: Record<string, string>): Setup {
  const dir = tempDir();
  const yaml = Object.entries(destinations)
    .map(([name, body]) => `  ${name}:\n${body.trim().replace(/^\s*/gm, '    ')}`)
    .join('\n');
  const config = configFromYaml(
    `
sources: { t: { type: file, paths: ["${dir}/never/*.log"] } }
rules: [ { name: all, to: [${Object.keys(destinations).join(', ')}] } ]
destinations:
${yaml}
state_dir: ${dir}
admin: false
`,
    dir,
    { HOOK_TOKEN: 'Bearer from-env-123' },
  );
  let logText = '';
  const sinkLog = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText += chunk.toString('utf8');
      cb();
    },
  });
  const log = createLogger({ level: 'debug', format: 'json' }, sinkLog);
  const pipeline = new Pipeline(config, (d) => createSink(d, log), new RelayMetrics('test', 'node'), log);
  pipelines.push(pipeline);
  return { pipeline, dir, logs: () => logText };
}

/** Batches of exactly `max_events` (long max_wait), fast retries. */
const batching = (maxEvents: number): string => `batch: { max_events: ${maxEvents}, max_wait: 2s }
retry: { initial_delay: 10ms, max_delay: 5s, max_elapsed: 10s }
concurrency: 1`;

describe('webhook sink: what is sent', () => {
  it('json_array: one request per batch, "[" + entries joined by "," + "]", byte for byte', async () => {
    const rx = await Receiver.start();
    const s = setup({
      hook: `type: webhook\nurl: ${rx.url}/in\nencoding: json_array\nmethod: PUT\nheaders: { Authorization: "\${HOOK_TOKEN}", X-Team: payments }\n${batching(3)}`,
    });
    const texts = entries(6);
    await relayEntries(s.pipeline, texts);
    assert.equal(rx.requests.length, 2);
    assert.equal(rx.requests[0].body.toString('utf8'), `[${texts.slice(0, 3).join(',')}]`);
    assert.equal(rx.requests[1].body.toString('utf8'), `[${texts.slice(3).join(',')}]`);
    const h = rx.requests[0].headers;
    assert.equal(rx.requests[0].method, 'PUT');
    assert.equal(rx.requests[0].url, '/in');
    assert.equal(h['content-type'], 'application/json');
    assert.equal(h.authorization, 'Bearer from-env-123', 'configured headers, environment interpolated');
    assert.equal(h['x-team'], 'payments');
    assert.match(h['user-agent'] ?? '', /^kong-log-relay\//);
    assert.equal(h['webhook-signature'], undefined, 'no signature without a secret');
    assert.doesNotMatch(s.logs(), /from-env-123/, 'headers are never logged');
  });

  it('ndjson: entries one per line, newline-terminated; json: one request per entry', async () => {
    const nd = await Receiver.start();
    const one = await Receiver.start();
    const s = setup({
      nd: `type: webhook\nurl: ${nd.url}/nd\nencoding: ndjson\n${batching(4)}`,
      one: `type: webhook\nurl: ${one.url}/one\nencoding: json\n${batching(4)}`,
    });
    const texts = entries(4);
    await relayEntries(s.pipeline, texts);
    assert.equal(nd.requests.length, 1);
    assert.equal(nd.requests[0].body.toString('utf8'), `${texts.join('\n')}\n`);
    assert.equal(nd.requests[0].headers['content-type'], 'application/x-ndjson');
    assert.deepEqual(
      one.requests.map((r) => r.body.toString('utf8')),
      texts,
      'one request per entry, in order',
    );
    assert.equal(one.requests[0].headers['content-type'], 'application/json');
  });

  it('gzip: Content-Encoding gzip, the body inflates to the exact payload', async () => {
    const rx = await Receiver.start();
    const s = setup({ hook: `type: webhook\nurl: ${rx.url}/gz\nencoding: ndjson\ngzip: true\n${batching(3)}` });
    const texts = entries(3);
    await relayEntries(s.pipeline, texts);
    assert.equal(rx.requests[0].headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(rx.requests[0].body).toString('utf8'), `${texts.join('\n')}\n`);
  });

  it('Standard Webhooks signature verifies with an independent HMAC, for whsec_ and raw secrets, gzipped or not', async () => {
    const key = Buffer.from('a-32-byte-signing-key-for-tests!');
    const whsec = await Receiver.start();
    const raw = await Receiver.start();
    const s = setup({
      whsec: `type: webhook\nurl: ${whsec.url}/s\nsigning: { secret: "whsec_${key.toString('base64')}" }\ngzip: true\n${batching(2)}`,
      raw: `type: webhook\nurl: ${raw.url}/s\nencoding: json\nsigning: { secret: "plain text secret" }\n${batching(2)}`,
    });
    const before = Math.floor(Date.now() / 1000);
    await relayEntries(s.pipeline, entries(2));
    const verify = (r: Received, secretKey: Buffer, payload: Buffer): void => {
      const id = String(r.headers['webhook-id']);
      const ts = String(r.headers['webhook-timestamp']);
      assert.match(id, /^msg_[A-Za-z0-9_-]+$/);
      assert.ok(
        Number(ts) >= before && Number(ts) <= Math.floor(Date.now() / 1000),
        'timestamp is unix seconds of the attempt',
      );
      const expected = createHmac('sha256', secretKey)
        .update(Buffer.concat([Buffer.from(`${id}.${ts}.`), payload]))
        .digest();
      const sigs = String(r.headers['webhook-signature'])
        .split(' ')
        .filter((x) => x.startsWith('v1,'))
        .map((x) => Buffer.from(x.slice(3), 'base64'));
      assert.ok(
        sigs.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected)),
        'a v1 signature matches',
      );
    };
    // Signed over the payload before compression.
    verify(whsec.requests[0], key, gunzipSync(whsec.requests[0].body));
    for (const r of raw.requests) verify(r, Buffer.from('plain text secret'), r.body);
    assert.notEqual(
      raw.requests[0].headers['webhook-id'],
      raw.requests[1].headers['webhook-id'],
      'a new id per message',
    );
  });
});

describe('webhook sink: failures', () => {
  it('500 then recovery: delivered on the retry with the same webhook-id; entries repeat only because of that retry', async () => {
    const rx = await Receiver.start((n) => (n === 0 ? { status: 500, body: 'upstream exploded' } : { status: 204 }));
    const s = setup({ hook: `type: webhook\nurl: ${rx.url}/in\nsigning: { secret: s3cret }\n${batching(3)}` });
    const texts = entries(3);
    await relayEntries(s.pipeline, texts);
    assert.equal(rx.requests.length, 2, 'one failed attempt, one retry');
    assert.equal(rx.requests[1].body.toString(), `[${texts.join(',')}]`);
    assert.equal(rx.requests[1].headers['webhook-id'], rx.requests[0].headers['webhook-id'], 'stable across retries');
    assert.deepEqual(readDeadLetters(s.dir, 'hook'), []);
    assert.equal(s.pipeline.status()[0].delivered, 3);
  });

  it('429 with Retry-After: the next attempt waits at least that long', async (t) => {
    const clock = new VirtualClock(t);
    const rx = await Receiver.start((n) =>
      n === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const s = setup({ hook: `type: webhook\nurl: ${rx.url}/in\n${batching(2)}` });
    const settled = relayEntries(s.pipeline, entries(2));
    await clock.until(() => s.pipeline.status()[0].retries > 0, 'the 429 answered and a retry planned');
    // Without Retry-After the backoff here is under 10ms; the server asked for 1s.
    clock.advance(999);
    await clock.settle();
    assert.equal(rx.requests.length, 1, 'no retry before Retry-After has passed');
    clock.advance(1);
    await settled;
    assert.equal(rx.requests.length, 2);
    assert.equal(rx.requests[1].at - rx.requests[0].at, 1_000);
  });

  it('400: dead-lettered at once with status and response snippet; other destinations unaffected', async () => {
    const bad = await Receiver.start(() => ({
      status: 400,
      body: `{"error":"bad\nrequest",\t"detail":"${'x'.repeat(500)}"}`,
    }));
    const good = await Receiver.start();
    const s = setup({
      bad: `type: webhook\nurl: ${bad.url}/in\n${batching(2)}`,
      good: `type: webhook\nurl: ${good.url}/in\n${batching(2)}`,
    });
    const texts = entries(2);
    await relayEntries(s.pipeline, texts);
    assert.equal(bad.requests.length, 1, 'no retry');
    assert.equal(good.requests.length, 1);
    assert.equal(good.requests[0].body.toString(), `[${texts.join(',')}]`);
    const dead = readDeadLetters(s.dir, 'bad');
    assert.deepEqual(
      dead.map((d) => d.event),
      texts.map((t) => JSON.parse(t)),
    );
    assert.equal(dead[0].attempts, 1);
    assert.match(dead[0].reason, /^HTTP 400 from http:\/\/127\.0\.0\.1:\d+\/in: \{"error":"bad request", "detail":"x+/);
    assert.ok(dead[0].reason.length < 300, 'snippet is short');
    assert.deepEqual(readDeadLetters(s.dir, 'good'), []);
  });

  it('json encoding: a rejected entry is dead-lettered alone, the others are delivered', async () => {
    const rx = await Receiver.start((_, r) => (r.body.toString().includes('#1"') ? { status: 422 } : { status: 200 }));
    const s = setup({ hook: `type: webhook\nurl: ${rx.url}/in\nencoding: json\n${batching(3)}` });
    const texts = entries(3);
    await relayEntries(s.pipeline, texts);
    assert.deepEqual(
      readDeadLetters(s.dir, 'hook').map((d) => d.event),
      [JSON.parse(texts[1])],
    );
    assert.equal(s.pipeline.status()[0].delivered, 2);
  });

  it('connection reset by the server: retried, then delivered', async () => {
    const rx = await Receiver.start((n) => (n === 0 ? 'reset' : { status: 200 }));
    const s = setup({ hook: `type: webhook\nurl: ${rx.url}/in\n${batching(2)}` });
    const texts = entries(2);
    await relayEntries(s.pipeline, texts);
    assert.equal(rx.requests.length, 2);
    assert.equal(rx.requests[1].body.toString(), `[${texts.join(',')}]`);
    assert.equal(s.pipeline.status()[0].retries, 2);
  });

  it('a server that stalls past the timeout: the attempt is abandoned and retried', async (t) => {
    const clock = new VirtualClock(t);
    const rx = await Receiver.start((n) => (n === 0 ? 'stall' : { status: 200 }));
    const s = setup({ hook: `type: webhook\nurl: ${rx.url}/in\ntimeout: 300ms\n${batching(2)}` });
    const settled = relayEntries(s.pipeline, entries(2));
    await clock.until(() => rx.requests.length === 1, 'the first request');
    clock.advance(299);
    await clock.settle();
    assert.equal(s.pipeline.status()[0].retries, 0, 'not abandoned before the timeout');
    clock.advance(1);
    await clock.advanceUntil(() => rx.requests.length === 2, 10, 'the retry');
    await settled;
    assert.equal(s.pipeline.status()[0].delivered, 2);
    assert.match(s.pipeline.status()[0].lastError?.message ?? '', /timed out after 300ms/);
  });

  it('shutdown while a request hangs: the request is cancelled and its entries dead-lettered, not lost', async () => {
    const rx = await Receiver.start(() => 'stall');
    const s = setup({ hook: `type: webhook\nurl: ${rx.url}/in\ntimeout: 60s\n${batching(2)}` });
    const settled = relayEntries(s.pipeline, entries(2));
    for (let i = 0; i < 1000 && rx.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await s.pipeline.drain(Date.now() + 100);
    await settled;
    const dead = readDeadLetters(s.dir, 'hook');
    assert.equal(dead.length, 2);
    assert.match(dead[0].reason, /shutdown before delivery .*cancelled \(shutdown\)/);
  });

  it('endpoint down: retried until max_elapsed, then dead-lettered with the network error', async (t) => {
    const clock = new VirtualClock(t);
    const rx = await Receiver.start();
    const url = rx.url;
    await rx.close();
    const s = setup({
      hook: `type: webhook\nurl: ${url}/in\nbatch: { max_events: 1, max_wait: 10ms }\nretry: { initial_delay: 10ms, max_delay: 50ms, max_elapsed: 300ms }`,
    });
    const started = Date.now();
    let settled = false;
    void relayEntries(s.pipeline, entries(1)).then(() => {
      settled = true;
    });
    await clock.advanceUntil(() => settled, 10, 'the entry dead-lettered');
    assert.ok(Date.now() - started >= 250, 'retried for about max_elapsed before giving up');
    const dead = readDeadLetters(s.dir, 'hook');
    assert.equal(dead.length, 1);
    assert.ok(dead[0].attempts > 1);
    assert.match(dead[0].reason, /retries exhausted .*ECONNREFUSED/);
  });

  it('a token in the URL (query or userinfo) never appears in dead letters or logs; userinfo becomes Basic auth', async () => {
    const rx = await Receiver.start((_, r) => ({
      status: 403,
      body: `token ${new URL(r.url, 'http://x').searchParams.get('token')} is not valid for ${r.url}`,
    }));
    const port = new URL(rx.url).port;
    const s = setup({
      hook: `type: webhook\nurl: "http://relay:pa55w0rd-x@127.0.0.1:${port}/hook/in?token=TOPSECRET-42&tenant=acme"\n${batching(1)}`,
    });
    await relayEntries(s.pipeline, entries(1));
    assert.equal(rx.requests[0].url, '/hook/in?token=TOPSECRET-42&tenant=acme', 'the query string is sent');
    assert.equal(rx.requests[0].headers.authorization, `Basic ${Buffer.from('relay:pa55w0rd-x').toString('base64')}`);
    const dead = readDeadLetters(s.dir, 'hook');
    assert.equal(dead.length, 1);
    assert.match(
      dead[0].reason,
      new RegExp(`^HTTP 403 from http://127\\.0\\.0\\.1:${port}/hook/in: token \\[redacted\\] is not valid`),
    );
    const everything = JSON.stringify(dead) + s.logs() + JSON.stringify(s.pipeline.status());
    assert.ok(s.logs().includes(`http://127.0.0.1:${port}/hook/in`), 'the safe URL is logged');
    for (const secret of ['TOPSECRET-42', 'pa55w0rd-x', 'cmVsYXk6cGE1NXcwcmQteA'])
      assert.ok(!everything.includes(secret), `${secret} leaked`);
  });
});
