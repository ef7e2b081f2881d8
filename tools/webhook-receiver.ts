/**
 * A real local webhook endpoint that records what arrives: used by the demo, the tests and the
 * benchmarks. It can be told to fail (status, Retry-After, stall, reset) to play a broken
 * destination.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { JsonSyntaxError, scanArrayElements } from '../src/event/json-scan.ts';

export interface ReceivedRequest {
  readonly path: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as sent (before gunzip). */
  readonly raw: Buffer;
  /** Entry texts, exactly as they appeared in the body. */
  readonly entries: readonly string[];
}

/** What to do with a request; null/undefined: accept with 200. */
export type ReceiverFault =
  | { readonly status: number; readonly retryAfter?: string; readonly body?: string }
  | { readonly stallMs: number }
  /** Park the request until release() (a destination that hangs, then recovers). */
  | { readonly hold: true }
  | { readonly reset: true };

export interface WebhookReceiverOptions {
  readonly host?: string;
  readonly port?: number;
  /** Keep each request (headers, raw body, entries); off for benchmarks, which only count. */
  readonly record?: boolean;
}

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Entries accepted (answered 2xx) per path. */
  readonly accepted = new Map<string, number>();
  /** Decide per request how to answer; default accepts everything. */
  fault: ((req: IncomingMessage, attempt: number) => ReceiverFault | null | undefined) | null = null;
  readonly #server: Server;
  readonly #record: boolean;
  readonly #sockets = new Set<Socket>();
  #held: (() => void)[] = [];
  #attempts = 0;
  #url = '';

  private constructor(record: boolean) {
    this.#record = record;
    this.#server = createServer((req, res) => {
      this.#handle(req, res);
    });
    this.#server.keepAliveTimeout = 30_000;
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(options: WebhookReceiverOptions = {}): Promise<WebhookReceiver> {
    const r = new WebhookReceiver(options.record ?? true);
    await new Promise<void>((resolve, reject) => {
      r.#server.once('error', reject);
      r.#server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const { port } = r.#server.address() as AddressInfo;
    r.#url = `http://127.0.0.1:${port}`;
    return r;
  }

  /** Base URL, e.g. http://127.0.0.1:40123 */
  get url(): string {
    return this.#url;
  }

  /** Every accepted entry text for a path (or all paths). */
  entries(path?: string): string[] {
    return this.requests.filter((r) => path === undefined || r.path === path).flatMap((r) => r.entries);
  }

  count(path?: string): number {
    if (path !== undefined) return this.accepted.get(path) ?? 0;
    let n = 0;
    for (const v of this.accepted.values()) n += v;
    return n;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const attempt = ++this.#attempts;
    const fault = this.fault?.(req, attempt) ?? null;
    if (fault !== null && 'reset' in fault) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fault !== null && 'hold' in fault) {
        this.#held.push(() => {
          if (!res.destroyed) this.#accept(req, res, chunks);
        });
        return;
      }
      if (fault !== null && 'stallMs' in fault) {
        setTimeout(() => {
          if (!res.destroyed) this.#accept(req, res, chunks);
        }, fault.stallMs).unref();
        return;
      }
      if (fault !== null && 'status' in fault) {
        res.writeHead(fault.status, fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {});
        res.end(fault.body ?? `status ${fault.status}`);
        return;
      }
      this.#accept(req, res, chunks);
    });
  }

  #accept(req: IncomingMessage, res: ServerResponse, chunks: Buffer[]): void {
    const path = (req.url ?? '/').split('?')[0];
    if (
      !this.#record &&
      req.headers['content-encoding'] === undefined &&
      String(req.headers['content-type'] ?? '').includes('ndjson')
    ) {
      // Counting only (benchmarks): decoding hundreds of MB/s into strings (or even joining the
      // chunks) just to count lines would make the receiver the bottleneck of the relay it measures.
      this.accepted.set(path, (this.accepted.get(path) ?? 0) + countLines(chunks));
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    const raw = Buffer.concat(chunks);
    let body: string;
    try {
      body = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
    } catch {
      res.writeHead(400).end('bad gzip');
      return;
    }
    const entries = splitBody(body, String(req.headers['content-type'] ?? ''));
    if (entries === null) {
      res.writeHead(400).end('bad body');
      return;
    }
    this.accepted.set(path, (this.accepted.get(path) ?? 0) + entries.length);
    if (this.#record) this.requests.push({ path, method: req.method ?? '', headers: req.headers, raw, entries });
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  }

  /** Accept every parked request now (and stop parking new ones unless `fault` says so again). */
  release(): void {
    const held = this.#held;
    this.#held = [];
    for (const h of held) h();
  }

  /** Requests parked by a `hold` fault. */
  get heldCount(): number {
    return this.#held.length;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** Split a webhook body into entry texts: JSON array, NDJSON, or one JSON entry. */
function splitBody(body: string, contentType: string): string[] | null {
  if (contentType.includes('ndjson')) return body.split('\n').filter((l) => l.trim() !== '');
  if (body.trimStart().startsWith('[')) {
    const spans = scanArrayElements(body);
    if (spans instanceof JsonSyntaxError) return null;
    const out: string[] = [];
    for (let i = 0; i < spans.length; i += 2) out.push(body.slice(spans[i], spans[i + 1]));
    return out;
  }
  return [body];
}

/** Lines of an NDJSON body with something besides ASCII whitespace (what splitBody keeps), counted on the bytes. */
function countLines(chunks: readonly Buffer[]): number {
  let count = 0;
  let blank = true;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === 0x0a) {
        if (!blank) count++;
        blank = true;
      } else if (blank && c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0b && c !== 0x0c) {
        blank = false;
        // The rest of the line cannot make it blank again: jump to its end.
        const nl = chunk.indexOf(0x0a, i + 1);
        if (nl < 0) break;
        i = nl - 1;
      }
    }
  }
  return blank ? count : count + 1;
}
