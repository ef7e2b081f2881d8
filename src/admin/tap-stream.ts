/**
 * GET /tap: the entries the relay routes, as NDJSON, while the client stays connected (see
 * src/delivery/tap.ts for the lines). Query: `destination`, `rule`, `workspace`, `source` (each
 * repeatable or comma-separated), `limit` (entries), `duration` (e.g. 30s). Entries are shown
 * as delivered, redacted by the shape stage; still, they are log data: without `admin.token` the
 * listener serves /tap to loopback clients only.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { DURATION_PATTERN, parseDuration } from '../config/units.ts';
import type { Tap, TapFilter } from '../delivery/tap.ts';

/** Bytes of lines one tap holds for a slow client before it drops new ones. */
const TAP_QUEUE_BYTES = 4 * 1024 * 1024;
/** The longest `duration` a tap may ask for. */
const MAX_DURATION_MS = 24 * 3600_000;

export interface TapRequest {
  readonly filter: TapFilter;
  readonly limit: number | undefined;
  readonly maxQueuedBytes: number;
}

/** Opens a tap, or says why not (an unknown destination, rule or source name). */
export type TapOpener = (request: TapRequest) => Tap | string;

/** How the request reached the listener: `tokenChecked` when admin.token is set (and was given). */
export interface TapAccess {
  readonly tokenChecked: boolean;
  readonly unixSocket: boolean;
}

/** A tap opened for a request, and how long it may run. */
export interface OpenedTap {
  readonly tap: Tap;
  readonly durationMs: number | undefined;
}

/** Why a tap request is refused (the listener answers it). */
export interface TapRefusal {
  readonly status: 400 | 403;
  readonly message: string;
}

/** Check who asks and what (the query), and open the tap. */
export function openTapFor(req: IncomingMessage, open: TapOpener, access: TapAccess): OpenedTap | TapRefusal {
  if (!access.tokenChecked && !access.unixSocket && !isLoopback(req.socket.remoteAddress))
    return {
      status: 403,
      message: 'tap shows log entries: without admin.token it is served to loopback clients only (set admin.token)\n',
    };
  const parsed = parseTapQuery(new URL(req.url ?? '/', 'http://admin').searchParams);
  if (typeof parsed === 'string') return { status: 400, message: `${parsed}\n` };
  const tap = open({ filter: parsed.filter, limit: parsed.limit, maxQueuedBytes: TAP_QUEUE_BYTES });
  if (typeof tap === 'string') return { status: 400, message: `${tap}\n` };
  return { tap, durationMs: parsed.durationMs };
}

/** Write the tap's lines to the response until it ends (limit, duration, shutdown) or the client goes. */
export async function streamTap(
  req: IncomingMessage,
  res: ServerResponse,
  { tap, durationMs }: OpenedTap,
): Promise<void> {
  // A tap may stay quiet for long: no idle timeout on its socket (the client ends it).
  req.socket.setTimeout(0);
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', connection: 'close' });
  res.flushHeaders();
  const timer = durationMs === undefined ? null : setTimeout(() => tap.end('duration'), durationMs);
  res.once('close', () => tap.end('client'));
  try {
    for (let lines = await tap.next(); lines !== null && !res.destroyed; lines = await tap.next()) {
      if (!res.write(lines)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    }
  } finally {
    if (timer !== null) clearTimeout(timer);
    tap.end('client');
    res.end();
  }
}

interface TapQuery {
  readonly filter: TapFilter;
  readonly limit: number | undefined;
  readonly durationMs: number | undefined;
}

function parseTapQuery(query: URLSearchParams): TapQuery | string {
  const list = (key: string): string[] =>
    query
      .getAll(key)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
  const limitText = query.get('limit');
  const limit = limitText === null ? undefined : Number(limitText);
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0))
    return `limit must be a whole number above 0, not "${limitText}"`;
  const durationText = query.get('duration');
  let durationMs: number | undefined;
  if (durationText !== null) {
    const text = /^\d+(\.\d+)?$/.test(durationText) ? `${durationText}s` : durationText;
    if (!DURATION_PATTERN.test(text)) return `duration must look like 30s, 5m or 1h, not "${durationText}"`;
    durationMs = parseDuration(text);
    if (durationMs <= 0 || durationMs > MAX_DURATION_MS) return `duration must be above 0 and at most 24h`;
  }
  const filter = {
    destinations: list('destination'),
    rules: list('rule'),
    workspaces: list('workspace'),
    sources: list('source'),
  };
  return { filter, limit, durationMs };
}

/** 127.0.0.0/8 (also IPv4-mapped) or ::1. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) return v4.startsWith('127.');
  return address === '::1';
}
