/**
 * A small client of Kong's Admin API over undici: authenticated GETs (`Kong-Admin-Token`, extra
 * headers, TLS options) and collection listing that follows Kong's pagination. No error message
 * carries the token or the configured headers.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { KongAdminSettings } from '../config/kong-admin-resolve.ts';
import { errorText } from '../util/errors.ts';
import type { KongWorkspace } from './workspace-directory.ts';

/** Kong's largest page (`max_page_size` of kong/db/dao/init.lua); fewer round trips than its default 100. */
export const KONG_PAGE_SIZE = 1000;
/** A collection with more pages than this is refused (a server that keeps answering `offset`). */
const MAX_PAGES = 10_000;

export type KongAdminErrorCode =
  | 'KLR_KONG_ADMIN_UNREACHABLE'
  | 'KLR_KONG_ADMIN_UNAUTHORIZED'
  | 'KLR_KONG_ADMIN_STATUS'
  | 'KLR_KONG_ADMIN_INVALID';

export class KongAdminError extends Error {
  readonly code: KongAdminErrorCode;
  readonly status: number | undefined;
  constructor(code: KongAdminErrorCode, message: string, status?: number) {
    super(message);
    this.name = 'KongAdminError';
    this.code = code;
    this.status = status;
  }

  /** Short label for metrics: unreachable, unauthorized, status, invalid. */
  get reason(): string {
    return this.code.replace('KLR_KONG_ADMIN_', '').toLowerCase();
  }
}

export type KongEntity = Readonly<Record<string, unknown>>;

/** A collection's entities, or null when the Admin API has no such collection (404). */
export type CollectionResult = KongEntity[] | null;

export class KongAdminClient {
  readonly #settings: KongAdminSettings;
  readonly #agent: Agent;
  readonly #headers: Record<string, string>;
  /** scheme://host:port/path of the Admin API: safe to log (no userinfo). */
  readonly display: string;

  constructor(settings: KongAdminSettings) {
    this.#settings = settings;
    const ca = settings.caFile === undefined ? undefined : readFileSync(settings.caFile);
    this.#agent = new Agent({
      connect: { ca, rejectUnauthorized: !settings.insecureSkipVerify, timeout: settings.timeoutMs },
      connections: 4,
    });
    this.#headers = { accept: 'application/json', ...lowerKeys(settings.headers) };
    if (settings.token !== undefined) this.#headers['kong-admin-token'] = settings.token;
    const u = new URL(settings.url);
    this.display = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  }

  /** GET a path; 404 gives null, other non-2xx statuses and network errors throw KongAdminError. */
  async get(pathAndQuery: string, signal?: AbortSignal): Promise<unknown> {
    const url = `${this.#settings.url}${pathAndQuery}`;
    const where = `${this.display}${pathAndQuery.split('?')[0]}`;
    let status: number;
    let text: string;
    try {
      const res = await request(url, {
        method: 'GET',
        headers: this.#headers,
        dispatcher: this.#agent,
        headersTimeout: this.#settings.timeoutMs,
        bodyTimeout: this.#settings.timeoutMs,
        signal,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      throw new KongAdminError('KLR_KONG_ADMIN_UNREACHABLE', `Kong Admin API unreachable at ${where}: ${errorText(e)}`);
    }
    if (status === 404) return null;
    if (status === 401 || status === 403) {
      throw new KongAdminError(
        'KLR_KONG_ADMIN_UNAUTHORIZED',
        `Kong Admin API refused ${where} with ${status} (${kongMessage(text)}): check kong_admin.token (sent as Kong-Admin-Token) and its RBAC role`,
        status,
      );
    }
    if (status < 200 || status > 299)
      throw new KongAdminError(
        'KLR_KONG_ADMIN_STATUS',
        `Kong Admin API answered ${status} for ${where} (${kongMessage(text)})`,
        status,
      );
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new KongAdminError(
        'KLR_KONG_ADMIN_INVALID',
        `Kong Admin API answered ${where} with a body that is not JSON`,
      );
    }
  }

  /**
   * Every entity of a collection (`/routes`, `/payments/routes`), page by page. Kong builds `next`
   * without the workspace prefix (kong/api/endpoints.lua), so the next page is asked for by
   * re-requesting the same path with Kong's `offset`.
   */
  async list(collectionPath: string, signal?: AbortSignal): Promise<CollectionResult> {
    const out: KongEntity[] = [];
    const seen = new Set<string>();
    let offset: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query = `?size=${KONG_PAGE_SIZE}${offset === undefined ? '' : `&offset=${encodeURIComponent(offset)}`}`;
      const body = await this.get(`${collectionPath}${query}`, signal);
      if (body === null) {
        if (page === 0) return null;
        throw new KongAdminError(
          'KLR_KONG_ADMIN_INVALID',
          `${this.display}${collectionPath}: a page went missing (404)`,
        );
      }
      const data = (body as { data?: unknown }).data;
      if (!Array.isArray(data))
        throw new KongAdminError(
          'KLR_KONG_ADMIN_INVALID',
          `${this.display}${collectionPath}: no "data" list in the answer`,
        );
      for (const e of data) if (isEntity(e)) out.push(e);
      const next = (body as { offset?: unknown }).offset;
      if (typeof next !== 'string' || next === '') return out;
      if (seen.has(next))
        throw new KongAdminError(
          'KLR_KONG_ADMIN_INVALID',
          `${this.display}${collectionPath}: the same offset came back twice`,
        );
      seen.add(next);
      offset = next;
    }
    throw new KongAdminError(
      'KLR_KONG_ADMIN_INVALID',
      `${this.display}${collectionPath}: more than ${MAX_PAGES} pages`,
    );
  }

  /** The node's workspaces (`GET /workspaces`, Enterprise), or 'oss' when there is no such endpoint. */
  async workspaces(signal?: AbortSignal): Promise<KongWorkspace[] | 'oss'> {
    const list = await this.list('/workspaces', signal);
    if (list === null) return 'oss';
    const out: KongWorkspace[] = [];
    for (const w of list)
      if (typeof w.id === 'string' && typeof w.name === 'string') out.push({ id: w.id, name: w.name });
    return out;
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

function isEntity(v: unknown): v is KongEntity {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { id?: unknown }).id === 'string';
}

function lowerKeys(h: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Kong's `{"message": …}` of an error answer, short and on one line. */
function kongMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof m === 'string') return JSON.stringify(m.slice(0, 200));
  } catch {
    // not JSON
  }
  return 'no message';
}
