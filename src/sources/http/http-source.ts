/**
 * The Kong http-log receiver: a node:http server that takes exactly what Kong's
 * `http-log` plugin sends (a JSON object or array, POST/PUT/PATCH, basic or bearer auth) and
 * what forwarders send (NDJSON, gzip), hands every entry to the pipeline in one AckGroup per
 * request, and answers so that Kong neither loses nor needlessly retries a batch:
 *
 *   200 taken (report: accepted, dead_lettered, per-index errors) — with `ack: delivered`
 *       only once every entry is delivered or dead-lettered
 *   400 bad entries and `invalid: reject`      401 credentials      404 path   405 method
 *   413 body over max_body_bytes (or more entries than maxEntriesPerBody)
 *   415 content type or encoding   429 backpressure
 *   503 shutting down, dead-letter file unwritable, ack_timeout passed, or busy: the bodies in
 *       flight hold max_inflight_body_bytes (Kong retries)
 *
 * Against hostile or broken clients: bodies are read with a byte limit (after gunzip too),
 * all bodies being received share a byte budget (BodyBudget), node's headers/request/keep-alive
 * timeouts cut slow clients, at most MAX_CONNECTIONS sockets are open at once and at most
 * max_connections_per_client from one address (ConnectionGuard: connections that never sent valid
 * credentials make room first, then idle keep-alive ones; counted, logged), and 400/401/413/415
 * answers close the connection. Requests are handled on node:http itself (no framework: one exact
 * path, three methods), which keeps the per-request cost near a bare node:http server's.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { rm } from 'node:fs/promises';
import type { HttpSource as HttpSourceConfig } from '../../config/resolve.ts';
import type { AckGroup } from '../../core/ack.ts';
import type { BodyFormat } from '../../event/entries.ts';
import { RateLimitedLog, type Logger } from '../../telemetry/log.ts';
import { bump, type SourceStats } from '../../telemetry/metrics.ts';
import type { Source, SourceContext } from '../source.ts';
import { CredentialCheck } from './auth.ts';
import { readBody } from './body.ts';
import { BodyBudget } from './body-budget.ts';
import { ConnectionGuard } from './connection-guard.ts';
import { Intake, reportJson, type IntakeResult } from './intake.ts';
import { ListenError, bind, parseListen, type ListenTarget } from '../../net/listen.ts';

/**
 * Open sockets at most. At the cap the oldest connection that has not yet sent valid credentials
 * is closed to make room, else the idle one idle longest (ConnectionGuard); only when every one is
 * busy with an authenticated request, the new one is. Kong opens a few keep-alive connections per
 * nginx worker, so this only bites a flood.
 */
export const MAX_CONNECTIONS = 1024;
/** stopIntake waits this long for requests still uploading, then cuts them off (nothing of them is taken). */
export const STOP_INTAKE_WAIT_MS = 5_000;
/** close() lets answers being written finish this long before it destroys every socket. */
export const CLOSE_GRACE_MS = 1_000;
/** An early answer (before the body is read) keeps the connection only when the unread body is this small. */
const SMALL_UNREAD_BODY = 64 * 1024;

const METHODS = ['POST', 'PUT', 'PATCH'];
const ALLOW = METHODS.join(', ');
const JSON_TYPE = 'application/json';
const ACCEPTED_TYPES = ['application/json', 'application/x-ndjson'] as const;
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

type HeaderMap = Record<string, string>;

/** What a request is answered: written by the request handler, once. */
interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<HeaderMap>;
}

/** Settings that are not in the config file. */
export interface HttpSourceOptions {
  /** Default MAX_CONNECTIONS (tests lower it). */
  readonly maxConnections?: number;
}
const CLOSE: Readonly<HeaderMap> = Object.freeze({ connection: 'close' });

export class HttpSource implements Source {
  readonly name: string;
  readonly #config: HttpSourceConfig;
  readonly #context: SourceContext;
  readonly #stats: SourceStats;
  readonly #log: Logger;
  readonly #limited: RateLimitedLog;
  readonly #auth: CredentialCheck;
  readonly #intake: Intake;
  readonly #target: ListenTarget;
  readonly #server: Server;
  readonly #retryAfter: string;
  readonly #maxConnections: number;
  readonly #budget: BodyBudget;
  readonly #connections: ConnectionGuard;
  #address: string | null = null;
  #stopping = false;
  #intakeStopped: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #inFlight = 0;
  #droppedConnections = 0;
  /** Requests reading their body or handing entries over: stopIntake waits for them. */
  readonly #reading = new Set<IncomingMessage>();
  #onReadingDone: (() => void) | null = null;
  /** `ack: delivered` requests waiting; close() answers them 503. */
  readonly #ackWaiters = new Set<() => void>();

  constructor(config: HttpSourceConfig, context: SourceContext, options: HttpSourceOptions = {}) {
    this.name = config.name;
    this.#config = config;
    this.#context = context;
    this.#stats = context.stats;
    this.#log = context.log;
    this.#limited = new RateLimitedLog(context.log);
    this.#auth = new CredentialCheck(config.auth);
    this.#intake = new Intake(config, context);
    this.#target = parseListen(config.listen);
    this.#retryAfter = String(config.retryAfterSeconds);
    this.#maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
    this.#budget = new BodyBudget(config.maxInflightBodyBytes);
    const limits = { maxConnections: this.#maxConnections, maxConnectionsPerClient: config.maxConnectionsPerClient };
    this.#connections = new ConnectionGuard(limits, (reason, remote) => {
      this.#droppedConnections++;
      this.#limited.warn(
        `drop:${reason}`,
        { reason, remote, ...limits },
        reason === 'evicted'
          ? 'http source: connection limit reached, closing the oldest connection without valid credentials (or else the one idle longest)'
          : 'http source: connection limit reached and every connection is busy with a request from a client with valid credentials, closing a new one at accept',
      );
    });
    const budget = this.#budget;
    context.stats.httpInflightBodyBytes = () => budget.used;
    this.#server = this.#createServer();
  }

  #createServer(): Server {
    const { requestTimeoutMs, keepAliveTimeoutMs } = this.#config;
    // node refuses headersTimeout > requestTimeout; 0 disables a timeout.
    const headersTimeoutMs =
      requestTimeoutMs > 0 ? Math.min(this.#config.headersTimeoutMs, requestTimeoutMs) : this.#config.headersTimeoutMs;
    const shortest = Math.min(...[headersTimeoutMs, requestTimeoutMs].filter((t) => t > 0), 4_000);
    const server = createServer(
      {
        requestTimeout: requestTimeoutMs,
        headersTimeout: headersTimeoutMs,
        keepAliveTimeout: keepAliveTimeoutMs,
        // How often node looks for requests past their timeouts (default 30 s: far too coarse for a slow body).
        connectionsCheckingInterval: Math.max(50, Math.floor(shortest / 4)),
      },
      (req, res) => this.#onRequest(req, res),
    );
    server.keepAliveTimeout = keepAliveTimeoutMs;
    server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => this.#onClientError(e, socket));
    server.on('connection', (socket: Socket) => this.#connections.admit(socket));
    // node's headers timeout starts at a request's first byte: a connection that never sends one
    // would hold one of the maxConnections slots forever (a few hundred idle sockets would lock
    // Kong out). It gets headers_timeout to bring a whole request head. (A timer cleared by the
    // first request, not a 'data' listener, which would take node's parser off its fast path.)
    if (headersTimeoutMs > 0) {
      const silent = new WeakMap<Socket, NodeJS.Timeout>();
      server.on('connection', (socket: Socket) => {
        // Answered like node's own headers timeout (408, counted, logged).
        const timer = setTimeout(
          () =>
            this.#onClientError(
              Object.assign(new Error('no request head within headers_timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }),
              socket,
            ),
          headersTimeoutMs,
        );
        timer.unref();
        silent.set(socket, timer);
        socket.once('close', () => clearTimeout(timer));
      });
      server.on('request', (req: IncomingMessage) => {
        const timer = silent.get(req.socket);
        if (timer !== undefined) {
          clearTimeout(timer);
          silent.delete(req.socket);
        }
      });
    }
    return server;
  }

  async start(): Promise<void> {
    try {
      this.#address = await bind(this.#server, this.#config.listen, `sources.${this.name}.listen`);
    } catch (e) {
      throw new ListenError(`http source ${this.name}: ${(e as Error).message}`, { cause: e });
    }
    this.#server.on('error', (e) => this.#log.error({ err: e.message }, 'http source: server error'));
    this.#log.info(
      { listen: this.#address, path: this.#config.path, ack: this.#config.ack, invalid: this.#config.invalid },
      'http source listening',
    );
  }

  /** The bound address ("127.0.0.1:40123", "[::1]:9876", "unix:/run/x.sock"): the real port when listening on port 0. */
  address(): string {
    return this.#address ?? this.#config.listen;
  }

  get ready(): boolean {
    return this.#address !== null && !this.#stopping;
  }

  status(): Record<string, unknown> {
    return {
      listen: this.address(),
      path: this.#config.path,
      ack: this.#config.ack,
      in_flight: this.#inFlight,
      inflight_body_bytes: this.#budget.used,
      max_inflight_body_bytes: this.#budget.limit,
      requests: { ...this.#stats.httpRequests },
      dropped_connections: this.#droppedConnections,
    };
  }

  /** New requests get 503; requests already uploading may finish (up to STOP_INTAKE_WAIT_MS). Idempotent. */
  stopIntake(): Promise<void> {
    this.#stopping = true;
    this.#intakeStopped ??= this.#stopIntake();
    return this.#intakeStopped;
  }

  async #stopIntake(): Promise<void> {
    if (this.#reading.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#onReadingDone = resolve;
      timer = setTimeout(resolve, STOP_INTAKE_WAIT_MS);
    });
    clearTimeout(timer);
    this.#onReadingDone = null;
    if (this.#reading.size > 0) {
      this.#log.warn(
        { requests: this.#reading.size },
        'http source: cutting off requests still uploading at shutdown (nothing of them was taken; Kong retries)',
      );
      for (const incoming of this.#reading) incoming.socket.destroy();
    }
  }

  /** Close the listener and every connection; waiting `ack: delivered` requests get 503. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#stopping = true;
    for (const wake of [...this.#ackWaiters]) wake();
    const server = this.#server;
    if (server.listening) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Keep-alive sockets mid-answer get a moment to finish; then nothing may hold close() up.
        timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      });
      clearTimeout(timer);
    }
    if (this.#target.kind === 'unix' && this.#address !== null)
      await rm(this.#target.path, { force: true }).catch(() => undefined);
    this.#address = null;
  }

  // ── one request ────────────────────────────────────────────────────────────

  /**
   * Route on the raw path, compared exactly (a configured path is never read as a pattern, nor
   * normalized), then the method; only the intake is asynchronous.
   */
  #onRequest(incoming: IncomingMessage, res: ServerResponse): void {
    const socket = incoming.socket;
    // A connection with a request in progress is never closed to make room for a new one.
    this.#connections.requestStarted(socket);
    res.once('finish', () => this.#connections.requestEnded(socket));
    if (rawPath(incoming.url) !== this.#config.path) {
      const hint = errorJson('not found: check the path of the http_endpoint in the http-log plugin');
      write(res, this.#answer(404, hint, closeUnlessSmall(incoming.headers)));
    } else if (!METHODS.includes(incoming.method ?? '')) {
      const hint = errorJson(`method ${incoming.method ?? ''} not allowed: use ${ALLOW}`);
      write(res, this.#answer(405, hint, { allow: ALLOW, ...closeUnlessSmall(incoming.headers) }));
    } else {
      this.#inFlight++;
      this.#take(incoming).then(
        (answer) => {
          this.#inFlight--;
          write(res, answer);
        },
        (e: unknown) => {
          this.#inFlight--;
          this.#log.error({ err: (e as Error).message }, 'http source: unexpected error while answering a request');
          if (res.headersSent) res.destroy();
          else write(res, this.#answer(500, errorJson('internal error'), CLOSE));
        },
      );
    }
  }

  async #take(incoming: IncomingMessage): Promise<Answer> {
    const headers = incoming.headers;
    if (this.#stopping)
      return this.#answer(503, errorJson('shutting down'), { 'retry-after': this.#retryAfter, connection: 'close' });
    const remote = incoming.socket.remoteAddress ?? 'unix';
    if (!this.#auth.accepts(headers.authorization)) {
      this.#limited.warn('unauthorized', { remote }, 'http source: request without valid credentials refused (401)');
      // Closed: a client without credentials keeps no connection (1,100 of them held Kong out).
      return this.#answer(401, errorJson('missing or wrong credentials'), {
        'www-authenticate': this.#auth.challenge,
        connection: 'close',
      });
    }
    this.#connections.prove(incoming.socket);
    const format = bodyFormat(headers['content-type']);
    const encoding = headers['content-encoding']?.trim().toLowerCase();
    const gzip = encoding === 'gzip' || encoding === 'x-gzip';
    if (format === null || !(gzip || encoding === undefined || encoding === 'identity')) {
      return this.#answer(
        415,
        JSON.stringify({
          error: 'unsupported content type or encoding',
          accepted_types: ACCEPTED_TYPES,
          accepted_encodings: ['gzip', 'identity'],
        }),
        CLOSE,
      );
    }
    // Before the body is read: under backpressure nothing is taken and Kong's queue holds the entries.
    if (this.#context.pipeline.blocked) {
      return this.#answer(429, errorJson('a destination buffer is full: retry later'), {
        'retry-after': this.#retryAfter,
        ...closeUnlessSmall(headers),
      });
    }
    const maxBody = this.#config.maxBodyBytes;
    const declared = Number(headers['content-length'] ?? 0);
    if (!gzip && declared > maxBody) return this.#tooLarge();
    // A body that cannot fit in what is free is refused before any of it is read. (With gzip the
    // declared length is the compressed one: less than the body will hold once decoded.)
    if (declared > 0 && !this.#budget.admits(declared)) return this.#busy(remote);

    let result: IntakeResult;
    /** Budget bytes this request holds: released once intake has taken its entries, or on any failure. */
    let reserved = 0;
    this.#reading.add(incoming);
    try {
      // A broken gzip stream is dead-lettered as base64 of its first bytes, within max_entry_bytes.
      const body = await readBody(
        incoming,
        maxBody,
        gzip,
        this.#budget,
        Math.floor(this.#config.maxEntryBytes / 4) * 3,
      );
      reserved = body.reserved;
      if (body.kind === 'aborted') return this.#unanswerable();
      if (body.kind === 'too_large') return this.#tooLarge();
      if (body.kind === 'over_budget') return this.#busy(remote);
      if (body.kind === 'bad_gzip') result = await this.#intake.takeUndecodable(body.head, body.error, remote);
      else {
        // Invalid UTF-8 is replaced (U+FFFD), never fatal: Kong passes raw bytes through unvalidated.
        // One scan of the bytes splits the body and, for a JSON array, decodes its entries (splitBody).
        const taken = this.#intake.take(body.bytes, format, remote);
        result = taken instanceof Promise ? await taken : taken;
      }
    } finally {
      // The entries are copied out of the body by now: its bytes are garbage.
      this.#budget.release(reserved);
      this.#reading.delete(incoming);
      if (this.#reading.size === 0) this.#onReadingDone?.();
    }

    // A broken gzip stream is answered before the client has sent all of it: do not keep that connection.
    const unread = incoming.readableEnded ? undefined : CLOSE;
    // 400 and 413 close the connection too: a client that sends those keeps no connection.
    if (result.kind === 'rejected') return this.#answer(400, reportJson(result.report), CLOSE);
    if (result.kind === 'too_many_entries')
      return this.#answer(413, errorJson(`more than ${result.max} entries in one body: send smaller batches`), CLOSE);
    if (result.kind === 'dead_letter_failed')
      return this.#answer(503, errorJson('cannot write invalid entries to the dead-letter file: retry later'), {
        'retry-after': this.#retryAfter,
        ...unread,
      });
    if (this.#config.ack === 'delivered' && !(await this.#delivered(result.group))) {
      // The entries stay in the pipeline and will still be delivered; Kong sends the batch
      // again, so they arrive twice: at-least-once allows that, losing them does not.
      return this.#answer(503, errorJson('not delivered within ack_timeout: retry later'), {
        'retry-after': this.#retryAfter,
      });
    }
    return this.#answer(200, reportJson(result.report), unread);
  }

  /** True once every entry of the group is delivered or dead-lettered; false after ack_timeout or at close. */
  #delivered(group: AckGroup): Promise<boolean> {
    if (group.done) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (delivered: boolean): void => {
        clearTimeout(timer);
        this.#ackWaiters.delete(giveUp);
        resolve(delivered);
      };
      const giveUp = (): void => finish(false);
      const timer = setTimeout(giveUp, this.#config.ackTimeoutMs);
      this.#ackWaiters.add(giveUp);
      void group.whenDone().then(() => finish(true));
    });
  }

  #tooLarge(): Answer {
    return this.#answer(
      413,
      errorJson(`body larger than max_body_bytes (${this.#config.maxBodyBytes} bytes, counted after gunzip)`),
      { connection: 'close' },
    );
  }

  /** The bodies in flight hold the budget: refuse (Kong retries the batch later), never wait for room. */
  #busy(remote: string): Answer {
    bump(this.#stats.httpRefused, 'max_inflight_body_bytes');
    this.#limited.warn(
      'busy',
      { remote, inflightBodyBytes: this.#budget.used, maxInflightBodyBytes: this.#budget.limit },
      'http source: request bodies in flight reached max_inflight_body_bytes, request refused (503; Kong retries it)',
    );
    return this.#answer(503, errorJson('receiver busy: too many request bodies in flight, retry later'), {
      'retry-after': this.#retryAfter,
      connection: 'close',
    });
  }

  #answer(status: number, body: string, headers?: Readonly<HeaderMap>): Answer {
    const counts = this.#stats.httpRequests;
    counts[status] = (counts[status] ?? 0) + 1;
    const all: HeaderMap =
      headers === undefined ? { 'content-type': JSON_TYPE } : { 'content-type': JSON_TYPE, ...headers };
    // Shutting down: no connection is kept for a next request, so close() need not wait for idle ones.
    if (this.#stopping) all.connection = 'close';
    return { status, body, headers: all };
  }

  /** The socket is gone (client left, or node cut it off at request_timeout and counted it): nothing to send. */
  #unanswerable(): Answer {
    return { status: 400, body: '', headers: CLOSE };
  }

  /** Bad HTTP before a request exists (request/headers timeout, malformed request line, huge headers). */
  #onClientError(e: NodeJS.ErrnoException, socket: Duplex): void {
    if (e.code === 'ECONNRESET' || e.code === 'EPIPE') {
      socket.destroy();
      return;
    }
    const status = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : e.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    const counts = this.#stats.httpRequests;
    counts[status] = (counts[status] ?? 0) + 1;
    this.#limited.warn(
      `client_error:${status}`,
      { status, code: e.code },
      status === 408
        ? 'http source: client too slow, cut off at headers_timeout/request_timeout (408)'
        : 'http source: malformed HTTP request refused',
    );
    // Same as node's default: answer only when nothing of a response went out on this socket yet.
    const pending = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && (pending === undefined || pending === null || pending.headersSent !== true)) {
      socket.write(`HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    }
    socket.destroy();
  }
}

/** Write an answer (node sets Content-Length; `connection: close` ends the connection after it). */
function write(res: ServerResponse, answer: Answer): void {
  if (res.destroyed) return;
  res.writeHead(answer.status, answer.headers).end(answer.body);
}

function rawPath(url: string | undefined): string {
  if (url === undefined) return '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** json or ndjson by Content-Type (parameters allowed; a charset must be UTF-8); null when unsupported. */
export function bodyFormat(contentType: string | undefined): BodyFormat | null {
  if (contentType === undefined) return null;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const format: BodyFormat | null =
    type === 'application/json'
      ? 'json'
      : type === 'application/x-ndjson' || type === 'application/ndjson'
        ? 'ndjson'
        : null;
  if (format === null || semi < 0) return format;
  const charset = /(?:^|;)\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType.slice(semi))?.[1]?.toLowerCase();
  return charset === undefined || charset === 'utf-8' || charset === 'utf8' || charset === 'us-ascii' ? format : null;
}

/**
 * An answer given without reading the body: node would read (and discard) the rest of it to
 * keep the connection; worth it only for a small body, such as Kong's retry of a batch.
 */
function closeUnlessSmall(headers: IncomingHttpHeaders): Readonly<HeaderMap> | undefined {
  const length = headers['content-length'];
  if (length === undefined) return headers['transfer-encoding'] === undefined ? undefined : CLOSE;
  return Number(length) <= SMALL_UNREAD_BODY ? undefined : CLOSE;
}

function errorJson(message: string): string {
  return JSON.stringify({ error: message });
}
