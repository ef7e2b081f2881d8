/** Shared setup of the http source tests: a real HttpSource, a real Pipeline, RecordingSinks, real HTTP. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { DeadLetterWriter } from '../../src/core/dead-letter.ts';
import { kongEntries } from '../../tools/kong-traffic.ts';
import type { HttpSource as HttpSourceConfig } from '../../src/config/resolve.ts';
import { HttpSource } from '../../src/sources/http/http-source.ts';
import { createLogger } from '../../src/telemetry/log.ts';
import type { SourceStats } from '../../src/telemetry/metrics.ts';
import { configFromYaml, tempDir, testPipeline, type TestPipeline } from './pipeline.ts';
import { RecordingSink } from './recording-sink.ts';

export const TOKEN = 'test-token-0123456789';

export interface HarnessOptions {
  /** Keys of the http source config (YAML names), merged over the defaults below. */
  readonly source?: Record<string, unknown>;
  /** Keys of the destination config (batch, buffer, …). */
  readonly destination?: Record<string, unknown>;
  readonly maxConnections?: number;
}

export interface Harness {
  readonly source: HttpSource;
  readonly sink: RecordingSink;
  readonly test: TestPipeline;
  readonly stats: SourceStats;
  readonly config: HttpSourceConfig;
  /** http://127.0.0.1:PORT/kong (TCP) or the path for a unix socket. */
  readonly url: string;
  /** Everything the logger wrote (to check that no secret is logged). */
  readonly logText: () => string;
  readonly deadLetters: () => DeadLetter[];
  readonly post: (body: RequestBody, options?: PostOptions) => Promise<Answer>;
  /** The TCP port (not for unix sockets). */
  readonly port: number;
  readonly close: () => Promise<void>;
}

/** A string, bytes, or chunks sent as they come (chunked transfer encoding). */
export type RequestBody = string | Buffer | AsyncIterable<Buffer>;

export interface DeadLetter {
  readonly source: string;
  readonly reason: string;
  readonly raw: string;
  readonly context: { readonly index: number; readonly remote: string; readonly [key: string]: unknown };
}

export interface PostOptions {
  readonly method?: 'POST' | 'PUT' | 'PATCH' | 'GET' | 'DELETE';
  readonly path?: string;
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
  /** Authorization header; default "Bearer TOKEN"; null sends none. */
  readonly authorization?: string | null;
  readonly dispatcher?: Dispatcher;
}

export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: () => Report;
}

export interface Report {
  readonly accepted: number;
  readonly dead_lettered: number;
  readonly errors: readonly { readonly index: number; readonly error: string }[];
  readonly error?: string;
  readonly accepted_types?: readonly string[];
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = tempDir('klr-http-');
  const yaml = JSON.stringify({
    state_dir: dir,
    admin: false,
    // The source is checked byte for byte with generated entries, which carry credentials
    // (redaction has its own tests).
    redact: false,
    sources: {
      kong_http: { type: 'http', listen: '127.0.0.1:0', path: '/kong', auth: { bearer: TOKEN }, ...options.source },
    },
    workspaces: { '*': { to: ['recorder'] } },
    destinations: {
      recorder: {
        type: 'webhook',
        url: 'http://127.0.0.1:9/unused',
        batch: { max_events: 1000, max_wait: '5ms' },
        ...options.destination,
      },
    },
  });
  const config = configFromYaml(yaml, dir);
  const sink = new RecordingSink();
  const test = testPipeline(config, { recorder: sink });
  const sourceConfig = config.sources[0];
  if (sourceConfig.type !== 'http') throw new Error('expected an http source');
  let logged = '';
  const log = createLogger(
    { level: 'debug', format: 'json' },
    new Writable({
      write(chunk, _enc, done) {
        logged += String(chunk);
        done();
      },
    }),
  );
  const stats = test.metrics.source(sourceConfig.name);
  const deadLetterWriter = new DeadLetterWriter(sourceConfig.deadLetter, () => undefined);
  const source = new HttpSource(
    sourceConfig,
    { pipeline: test.pipeline, stats, log, stateDir: dir, deadLetters: deadLetterWriter },
    { maxConnections: options.maxConnections },
  );
  await source.start();
  const address = source.address();
  const unix = address.startsWith('unix:');
  const url = unix ? 'http://localhost' : `http://${address}`;
  const unixAgent = unix ? new Agent({ connect: { socketPath: address.slice('unix:'.length) } }) : undefined;

  const post = async (body: RequestBody, o: PostOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.contentType !== null) headers['content-type'] = o.contentType ?? 'application/json';
    if (o.authorization !== null) headers.authorization = o.authorization ?? `Bearer ${TOKEN}`;
    const res = await request(`${url}${o.path ?? '/kong'}`, {
      method: o.method ?? 'POST',
      headers,
      body:
        o.method === 'GET' ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : Readable.from(body),
      dispatcher: o.dispatcher ?? unixAgent,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Report };
  };

  const deadLetters = (): DeadLetter[] => {
    let files: string[];
    try {
      files = readdirSync(sourceConfig.deadLetter.dir).sort();
    } catch {
      return [];
    }
    return files.flatMap((f) =>
      readFileSync(path.join(sourceConfig.deadLetter.dir, f), 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as DeadLetter),
    );
  };

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    sink.resume();
    await source.stopIntake();
    await test.pipeline.drain(Date.now() + 2_000);
    await source.close();
    await deadLetterWriter.close();
    await unixAgent?.close();
  };
  const port = unix ? 0 : Number(address.slice(address.lastIndexOf(':') + 1));
  return {
    source,
    sink,
    test,
    stats,
    config: sourceConfig,
    url,
    port,
    logText: () => logged,
    deadLetters,
    post,
    close,
  };
}

/** Kong-shaped entries (lua-cjson text), deterministic per seed. */
export function kongTexts(count: number, seed = 1): string[] {
  return [...kongEntries({ seed }, count)].map((e) => e.text);
}

/** Poll until `check` holds; fails after `timeoutMs` with `what`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
