/**
 * Clients that misbehave on purpose, for the hostile-input tests: raw bytes on a socket (paths
 * exactly as written, malformed HTTP), slow senders, floods of idle connections, and payloads
 * that are expensive to take (gzip bombs, deep nesting).
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { type Agent, request } from 'undici';

export interface RawAnswer {
  /** Status of the first response line, or 0 when the server closed without answering. */
  readonly status: number;
  readonly text: string;
}

/**
 * Write `parts` to a new connection (waiting `gapMs` between them: a slow client), then read
 * until the server closes it. Resolves once the server has answered and closed, or cut it off.
 */
export function rawExchange(
  port: number,
  parts: readonly (string | Buffer)[],
  gapMs = 0,
  timeoutMs = 30_000,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server did not close the connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m === null ? 0 : Number(m[1]), text });
    });
    socket.on('connect', async () => {
      for (const p of parts) {
        if (closed) return;
        socket.write(p);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

/** A complete HTTP/1.1 request as text, closing the connection after the answer. */
export function rawRequest(method: string, path: string, headers: Record<string, string>, body = ''): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== '' && !Object.keys(headers).some((k) => k.toLowerCase() === 'transfer-encoding'))
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Open `count` connections that send nothing (in waves of 200, each connected before the next, so
 * that the listen backlog never overflows: a connection lost there looks open to the client for
 * minutes); resolves with how many the server closed within `timeoutMs`.
 */
export async function idleConnections(
  port: number,
  count: number,
  timeoutMs: number,
): Promise<{ closedByServer: number; destroy: () => void }> {
  const sockets: net.Socket[] = [];
  let closedByServer = 0;
  let open = count;
  let allClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    allClosed = resolve;
  });
  const deadline = Date.now() + timeoutMs;
  for (let wave = 0; wave < count; wave += 200) {
    const connected: Promise<unknown>[] = [];
    for (let i = wave; i < Math.min(count, wave + 200); i++) {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      s.resume(); // read what comes (a 408), so that the end of the connection is seen
      s.on('close', () => {
        closedByServer++;
        if (--open === 0) allClosed();
      });
      connected.push(
        new Promise((r) => {
          s.once('connect', r);
          s.once('close', r);
        }),
      );
      sockets.push(s);
    }
    await Promise.all(connected);
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    closed,
    new Promise((r) => {
      timer = setTimeout(r, Math.max(0, deadline - Date.now()));
    }),
  ]);
  clearTimeout(timer);
  return {
    closedByServer,
    destroy: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

export interface Answer {
  readonly status: number | 'error';
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
}

/** One ordinary request through undici (its own agent: every call is a fresh connection pool). */
export async function send(
  agent: Agent,
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | AsyncIterable<Buffer> },
): Promise<Answer> {
  try {
    const body =
      options.body === undefined || typeof options.body === 'string' || Buffer.isBuffer(options.body)
        ? options.body
        : Readable.from(options.body);
    const r = await request(url, {
      method: (options.method ?? 'POST') as 'POST',
      headers: options.headers,
      body,
      dispatcher: agent,
    });
    return { status: r.statusCode, headers: r.headers, text: await r.body.text() };
  } catch (e) {
    return { status: 'error', headers: {}, text: (e as Error).message };
  }
}

/** `megabytes` MiB of zeros, gzipped (about 1000:1). */
export async function gzipBomb(megabytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < megabytes; i++) if (!gzip.write(zeros)) await new Promise((r) => gzip.once('drain', r));
  gzip.end();
  await done;
  return Buffer.concat(out);
}

/** A body sent in chunks without Content-Length (chunked transfer encoding). */
export async function* chunked(total: number, chunk = 64 * 1024): AsyncIterable<Buffer> {
  const piece = Buffer.alloc(chunk, 0x20);
  for (let sent = 0; sent < total; sent += chunk) yield piece;
}
