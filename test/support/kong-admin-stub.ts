/**
 * A stand-in for Kong's Admin API (a real HTTP server on 127.0.0.1, port 0) that answers as
 * Kong 3.x does, for the parts the relay uses. What each part reproduces, and where it comes from
 * (Kong/kong at master, read with the search tool):
 *
 * - Collections `GET /{collection}` answer `{"data":[…],"next":…,"offset":…}`
 *   (kong/api/endpoints.lua, get_collection_endpoint): `size` defaults to 100 and may go up to
 *   1000 (kong/db/dao/init.lua: page_size 100, max_page_size 1000; anything else is a 400);
 *   `offset` is an opaque token (kong/db/strategies/postgres: base64 of the last primary key,
 *   pages in primary-key order); `next` is `"/{admin_api_name}?offset=…"` (plus `&size=` when
 *   given) WITHOUT the workspace prefix, and JSON null on the last page (`offset` then absent).
 *   A bad offset is a 400 `"'x' is not a valid offset: …"` (kong/db/errors.lua invalid_offset).
 * - 404 `{"message":"Not found"}` for an unknown path or workspace (kong/api/api_helpers.lua).
 * - Kong OSS: no `/workspaces` (kong/db/schema/entities/workspaces.lua has generate_admin_api =
 *   false, so a 404) and no workspace-prefixed paths (kong/api/init.lua registers none); one
 *   workspace, `default`. Kong Enterprise: `GET /workspaces` and `/{workspace}/{collection}`,
 *   and `rbac/roles` (admin_api_name "rbac/roles").
 * - RBAC (Enterprise, enforce_rbac = on): without a valid `Kong-Admin-Token` every request is a
 *   401 `{"message":"Invalid credentials. Token or User credentials required"}`; a role without
 *   permission for an endpoint gets a 403 (`forbidden`; the message is ours, not Kong's text).
 * - Entity bodies as Kong 3.x returns them: every schema field present (absent ones as null),
 *   defaults filled in (routes: protocols ["http","https"], https_redirect_status_code 426,
 *   strip_path true, path_handling "v0"…; services: retries 5, timeouts 60000…), foreign keys as
 *   `{"id":…}`, `created_at`/`updated_at` integers in seconds (typedefs.auto_timestamp_s), no
 *   `ws_id` (the DAO hides it unless show_ws_id). Field names from kong/db/schema/entities/*.lua
 *   and kong/plugins/{key-auth,basic-auth,jwt,oauth2}/daos.lua.
 * Not reproduced: writes through HTTP (tests change entities with the methods below), tags
 * filtering, nested collection endpoints (/services/{id}/routes).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Entity = Record<string, unknown> & { id: string };

const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
export const RBAC_MESSAGE = 'Invalid credentials. Token or User credentials required';

/** Kong 3.x defaults of each collection's fields (what a GET shows for fields not set). */
const DEFAULTS: Record<string, Record<string, unknown>> = {
  services: {
    name: null,
    retries: 5,
    protocol: 'http',
    host: 'example.internal',
    port: 80,
    path: null,
    connect_timeout: 60000,
    write_timeout: 60000,
    read_timeout: 60000,
    tags: null,
    client_certificate: null,
    tls_verify: null,
    tls_verify_depth: null,
    ca_certificates: null,
    enabled: true,
  },
  routes: {
    name: null,
    protocols: ['http', 'https'],
    methods: null,
    hosts: null,
    paths: null,
    headers: null,
    https_redirect_status_code: 426,
    regex_priority: 0,
    strip_path: true,
    path_handling: 'v0',
    preserve_host: false,
    request_buffering: true,
    response_buffering: true,
    snis: null,
    sources: null,
    destinations: null,
    tags: null,
    service: null,
  },
  consumers: { username: null, custom_id: null, tags: null },
  plugins: {
    name: 'key-auth',
    instance_name: null,
    route: null,
    service: null,
    consumer: null,
    config: {},
    protocols: ['grpc', 'grpcs', 'http', 'https'],
    enabled: true,
    tags: null,
  },
  upstreams: { name: 'upstream.internal', algorithm: 'round-robin', hash_on: 'none', slots: 10000, tags: null },
  certificates: { cert: '-----BEGIN CERTIFICATE-----\n…', key: null, cert_alt: null, key_alt: null, tags: null },
  'key-auths': { consumer: null, key: null, ttl: null, tags: null },
  'basic-auths': { consumer: null, username: null, password: null, tags: null },
  jwts: { consumer: null, key: null, secret: null, algorithm: 'HS256', rsa_public_key: null, tags: null },
  oauth2: { consumer: null, name: null, client_id: null, client_secret: null, hash_secret: false, redirect_uris: null },
  'rbac/roles': { name: null, comment: null, is_default: false },
};
/** Collections without updated_at in their schema. */
const NO_UPDATED_AT = new Set(['key-auths', 'basic-auths', 'jwts', 'oauth2', 'rbac/roles']);

interface Workspace {
  readonly id: string;
  name: string;
  readonly created_at: number;
  updated_at: number;
  readonly collections: Map<string, Map<string, Entity>>;
}

export interface KongAdminStubOptions {
  /** enterprise: /workspaces and workspace paths; oss: neither. */
  readonly edition?: 'enterprise' | 'oss';
  /** Require this Kong-Admin-Token (Enterprise RBAC). */
  readonly token?: string;
}

export class KongAdminStub {
  readonly edition: 'enterprise' | 'oss';
  token: string | undefined;
  /** Answer every request with this status (a broken node); null: normal. */
  failWith: number | null = null;
  /** Collections the token may not read: 403 (an RBAC role without that endpoint). */
  readonly forbidden = new Set<string>();
  /** Requests received, path and query, in order. */
  readonly requests: string[] = [];
  /** Kong-Admin-Token headers received (to check the relay sends it). */
  readonly tokensSeen = new Set<string>();
  readonly #workspaces = new Map<string, Workspace>();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #url = '';
  #clock = Math.floor(Date.now() / 1000);

  private constructor(options: KongAdminStubOptions) {
    this.edition = options.edition ?? 'enterprise';
    this.token = options.token;
    this.addWorkspace('default');
    this.#server = createServer((req, res) => {
      this.#handle(req, res);
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  static async start(options: KongAdminStubOptions = {}, port = 0): Promise<KongAdminStub> {
    const stub = new KongAdminStub(options);
    await stub.listen(port);
    return stub;
  }

  async listen(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => resolve());
    });
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get url(): string {
    return this.#url;
  }
  get port(): number {
    return Number(new URL(this.#url).port);
  }

  /** Kong's seconds clock; tests move it so updated_at changes. */
  tick(seconds = 1): void {
    this.#clock += seconds;
  }

  addWorkspace(name: string): Workspace {
    if (this.edition === 'oss' && this.#workspaces.size > 0) throw new Error('Kong OSS has only the default workspace');
    const ws: Workspace = {
      id: randomUUID(),
      name,
      created_at: this.#clock,
      updated_at: this.#clock,
      collections: new Map(),
    };
    this.#workspaces.set(name, ws);
    return ws;
  }

  removeWorkspace(name: string): void {
    this.#workspaces.delete(name);
  }

  workspaceId(name: string): string {
    return this.#ws(name).id;
  }

  /** POST /{ws}/{collection}: the entity as Kong would store and return it. */
  create(ws: string, collection: string, fields: Record<string, unknown>): Entity {
    const entity: Entity = {
      id: randomUUID(),
      created_at: this.#clock,
      ...(NO_UPDATED_AT.has(collection) ? {} : { updated_at: this.#clock }),
      ...(DEFAULTS[collection] ?? {}),
      ...fields,
    } as Entity;
    this.#collection(ws, collection).set(entity.id, entity);
    return entity;
  }

  /** PATCH /{ws}/{collection}/{id}. */
  update(ws: string, collection: string, id: string, fields: Record<string, unknown>): Entity {
    const c = this.#collection(ws, collection);
    const old = c.get(id);
    if (old === undefined) throw new Error(`no ${collection} ${id} in ${ws}`);
    const entity = { ...old, ...fields, ...(NO_UPDATED_AT.has(collection) ? {} : { updated_at: this.#clock }) };
    c.set(id, entity);
    return entity;
  }

  /** DELETE /{ws}/{collection}/{id}. */
  remove(ws: string, collection: string, id: string): void {
    if (!this.#collection(ws, collection).delete(id)) throw new Error(`no ${collection} ${id} in ${ws}`);
  }

  list(ws: string, collection: string): Entity[] {
    return [...this.#collection(ws, collection).values()];
  }

  #ws(name: string): Workspace {
    const ws = this.#workspaces.get(name);
    if (ws === undefined) throw new Error(`no workspace ${name}`);
    return ws;
  }

  #collection(ws: string, collection: string): Map<string, Entity> {
    const w = this.#ws(ws);
    let c = w.collections.get(collection);
    if (c === undefined) {
      c = new Map();
      w.collections.set(collection, c);
    }
    return c;
  }

  /** Answers the request; true once answered. */
  #handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://stub');
    this.requests.push(`${url.pathname}${url.search}`);
    const token = req.headers['kong-admin-token'];
    if (typeof token === 'string') this.tokensSeen.add(token);
    if (this.failWith !== null) return send(res, this.failWith, { message: 'An unexpected error occurred' });
    if (this.token !== undefined && token !== this.token) return send(res, 401, { message: RBAC_MESSAGE });
    if (req.method !== 'GET') return send(res, 405, { message: 'Method not allowed' });
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    if (this.edition === 'enterprise' && segments.length === 1 && segments[0] === 'workspaces') {
      const list = [...this.#workspaces.values()].map((w) => ({
        id: w.id,
        name: w.name,
        comment: null,
        created_at: w.created_at,
        updated_at: w.updated_at,
        meta: { color: null, thumbnail: null },
        config: { portal: false },
      }));
      return this.#page(res, url, 'workspaces', list);
    }
    let ws = this.#workspaces.get('default') as Workspace;
    let rest = segments;
    if (this.edition === 'enterprise' && segments.length >= 2 && !(segments.join('/') in DEFAULTS)) {
      const named = this.#workspaces.get(segments[0]);
      if (named === undefined) return send(res, 404, { message: 'Not found' });
      ws = named;
      rest = segments.slice(1);
    }
    const collection = rest.join('/');
    if (!(collection in DEFAULTS) || (collection === 'rbac/roles' && this.edition === 'oss'))
      return send(res, 404, { message: 'Not found' });
    if (this.forbidden.has(collection))
      return send(res, 403, { message: `Access to the resource is forbidden for the role` });
    return this.#page(res, url, collection, [...(ws.collections.get(collection)?.values() ?? [])]);
  }

  #page(res: ServerResponse, url: URL, collection: string, all: readonly { id: string }[]): boolean {
    const sizeArg = url.searchParams.get('size');
    const size = sizeArg === null ? DEFAULT_PAGE_SIZE : Number(sizeArg);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE)
      return send(res, 400, {
        code: 11,
        name: 'invalid options',
        message: `invalid option (pagination.page_size: must be an integer between 1 and ${MAX_PAGE_SIZE})`,
      });
    const offsetArg = url.searchParams.get('offset');
    let after = '';
    if (offsetArg !== null) {
      try {
        const decoded = JSON.parse(Buffer.from(offsetArg, 'base64url').toString('utf8')) as unknown;
        if (!Array.isArray(decoded) || typeof decoded[0] !== 'string') throw new Error('bad');
        after = decoded[0];
      } catch {
        return send(res, 400, {
          code: 7,
          name: 'invalid offset',
          message: `'${offsetArg}' is not a valid offset: bad json encoding`,
        });
      }
    }
    const sorted = [...all].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).filter((e) => e.id > after);
    const data = sorted.slice(0, size);
    const more = sorted.length > size;
    const offset = more ? Buffer.from(JSON.stringify([data[data.length - 1].id])).toString('base64url') : undefined;
    return send(res, 200, {
      data,
      ...(offset === undefined ? {} : { offset }),
      next:
        offset === undefined
          ? null
          : `/${collection}?offset=${encodeURIComponent(offset)}${sizeArg === null ? '' : `&size=${sizeArg}`}`,
    });
  }

  /** Stop answering (connection refused) until listen() again. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): boolean {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
  return true;
}
