/**
 * Admin listener: /healthz, /readyz, /metrics (Prometheus text), /status (JSON), /tap (routed
 * entries as NDJSON, see tap-stream.ts). Bounded: at most
 * `max_connections` open (node closes more at accept) and idle ones closed after `idle_timeout`
 * (idle admin connections once took all 4,096 descriptors: Kong's POSTs were reset, the file
 * source failed with EMFILE). With `admin.token`, everything but /healthz and /readyz needs it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ResolvedConfig } from '../config/resolve.ts';
import { CredentialCheck } from '../sources/http/auth.ts';
import type { Logger } from '../telemetry/log.ts';
import type { RelayMetrics } from '../telemetry/metrics.ts';
import { bind } from '../net/listen.ts';
import { openTapFor, streamTap, type TapOpener } from './tap-stream.ts';

/** What the admin endpoints read from the running relay. */
export interface AdminView {
  readonly metrics: RelayMetrics;
  readiness(): { ready: boolean; reasons: string[] };
  status(): Record<string, unknown>;
  readonly openTap: TapOpener;
}

type AdminConfig = NonNullable<ResolvedConfig['admin']>;

/** Open to anyone even with a token: container and orchestrator probes carry none. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

export class AdminServer {
  readonly #listen: string;
  readonly #token: CredentialCheck | null;
  readonly #view: AdminView;
  readonly #log: Logger;
  readonly #server: Server;
  #address: string | null = null;

  constructor(config: AdminConfig, view: AdminView, log: Logger) {
    this.#listen = config.listen;
    this.#token = config.token === undefined ? null : new CredentialCheck({ bearer: config.token, none: false });
    this.#view = view;
    this.#log = log;
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#server.keepAliveTimeout = Math.min(5_000, config.idleTimeoutMs);
    this.#server.requestTimeout = 10_000;
    this.#server.maxConnections = config.maxConnections;
    // Socket inactivity, also for connections that never send a request (no 'timeout' listener:
    // node destroys the socket).
    this.#server.setTimeout(config.idleTimeoutMs);
  }

  get address(): string | null {
    return this.#address;
  }

  async start(): Promise<void> {
    this.#address = await bind(this.#server, this.#listen, 'admin.listen');
    this.#log.info({ admin: this.#address }, 'admin listener ready: /healthz /readyz /metrics /status /tap');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
      if (this.#token !== null && !OPEN_PATHS.has(path) && !this.#token.accepts(req.headers.authorization)) {
        res.setHeader('www-authenticate', this.#token.challenge);
        res.setHeader('connection', 'close');
        return send(res, 401, 'text/plain', 'admin token required (Authorization: Bearer <admin.token>)\n');
      }
      switch (path) {
        case '/healthz':
          return send(res, 200, 'text/plain', 'ok\n');
        case '/readyz': {
          const r = this.#view.readiness();
          return send(res, r.ready ? 200 : 503, 'application/json', `${JSON.stringify(r)}\n`);
        }
        case '/metrics':
          return send(res, 200, this.#view.metrics.registry.contentType, await this.#view.metrics.text());
        case '/status':
          return send(res, 200, 'application/json', `${JSON.stringify(this.#view.status(), null, 2)}\n`);
        case '/tap': {
          const opened = openTapFor(req, this.#view.openTap, {
            tokenChecked: this.#token !== null,
            unixSocket: this.#listen.startsWith('unix:'),
          });
          if ('tap' in opened) return await streamTap(req, res, opened);
          res.setHeader('connection', 'close');
          return send(res, opened.status, 'text/plain', opened.message);
        }
        default:
          return send(res, 404, 'text/plain', 'not found: try /healthz /readyz /metrics /status /tap\n');
      }
    } catch (e) {
      this.#log.error({ err: (e as Error).message, path }, 'admin request failed');
      send(res, 500, 'text/plain', 'internal error\n');
    }
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
