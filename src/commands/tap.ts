/**
 * `tap [--admin URL | -c FILE] [--destination D] [--rule R] [--workspace W] [--source S]
 * [--limit N] [--duration 30s]`: print the entries a running relay routes, as NDJSON on stdout,
 * each as its destinations get it (redacted) with its rules and destinations (GET /tap; the lines
 * are described in src/delivery/tap.ts). Drop notices and the end of the stream go to stderr, so
 * stdout stays entries only. A slow reader never slows the relay: the relay drops lines for it
 * and says how many.
 */
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { adminEndpoint, adminGet, bodyText } from './admin-endpoint.ts';

export interface TapOptions {
  readonly admin: string | undefined;
  readonly config: string | undefined;
  readonly token: string | undefined;
  readonly destination: readonly string[];
  readonly rule: readonly string[];
  readonly workspace: readonly string[];
  readonly source: readonly string[];
  readonly limit: number | undefined;
  readonly duration: string | undefined;
}

export const EXIT_TAP_FAILED = 1;

export async function tapCommand(options: TapOptions): Promise<number> {
  const endpoint = adminEndpoint(options);
  if (typeof endpoint === 'string') return fail(endpoint, 2);
  const query = new URLSearchParams();
  for (const [key, values] of [
    ['destination', options.destination],
    ['rule', options.rule],
    ['workspace', options.workspace],
    ['source', options.source],
  ] as const)
    for (const v of values) query.append(key, v);
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  if (options.duration !== undefined) query.set('duration', options.duration);

  let res: IncomingMessage;
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    res = await adminGet(endpoint, `/tap?${query}`, { token: options.token, signal: abort.signal });
  } catch (e) {
    if (abort.signal.aborted) return 0;
    return fail(`${endpoint.label}: ${(e as Error).message}`, EXIT_TAP_FAILED);
  }
  if (res.statusCode !== 200) {
    const body = await bodyText(res);
    return fail(`${endpoint.label}/tap: HTTP ${res.statusCode}: ${body.trim()}`, res.statusCode === 400 ? 2 : 1);
  }
  let ended = false;
  const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (!line.startsWith('{"tap":')) {
        if (!process.stdout.write(`${line}\n`)) await new Promise((r) => process.stdout.once('drain', r));
        continue;
      }
      const notice = JSON.parse(line) as { tap: string; [k: string]: unknown };
      if (notice.tap === 'dropped')
        process.stderr.write(
          `kong-log-relay tap: ${notice.dropped} entries dropped: this reader was slower than the relay (which did not slow down); ${notice.dropped_total} in all\n`,
        );
      if (notice.tap === 'end') {
        ended = true;
        process.stderr.write(
          `kong-log-relay tap: ${notice.entries} entries shown, ${notice.dropped} dropped; ended by ${notice.reason}\n`,
        );
      }
    }
  } catch (e) {
    if (!abort.signal.aborted) return fail(`${endpoint.label}: ${(e as Error).message}`, EXIT_TAP_FAILED);
  }
  if (ended || abort.signal.aborted) return 0;
  return fail(`${endpoint.label}: the relay closed the stream (it stopped?)`, EXIT_TAP_FAILED);
}

function fail(message: string, code: number): number {
  process.stderr.write(`kong-log-relay tap: ${message}\n`);
  return code;
}
