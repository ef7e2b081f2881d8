/** Admin listener: /healthz, /readyz, /metrics (Prometheus text), /status (JSON). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../telemetry/log.ts';
import type { RelayMetrics } from '../telemetry/metrics.ts';
import { bind } from '../net/listen.ts';

/** What the admin endpoints read from the running relay. */
export interface AdminView {
  readonly metrics: RelayMetrics;
  readiness(): { ready: boolean; reasons: string[] };
  status(): Record<string, unknown>;
}

export class AdminServer {
  readonly #listen: string;
  readonly #view: AdminView;
  readonly #log: Logger;
  readonly #server: Server;
  #address: string | null = null;

  constructor(listen: string, view: AdminView, log: Logger) {
    this.#listen = listen;
    this.#view = view;
    this.#log = log;
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#server.keepAliveTimeout = 5_000;
    this.#server.requestTimeout = 10_000;
  }

  get address(): string | null {
    return this.#address;
  }

  async start(): Promise<void> {
    this.#address = await bind(this.#server, this.#listen, 'admin.listen');
    this.#log.info({ admin: this.#address }, 'admin listener ready: /healthz /readyz /metrics /status');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
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
        default:
          return send(res, 404, 'text/plain', 'not found: try /healthz /readyz /metrics /status\n');
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
