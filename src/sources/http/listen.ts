/**
 * Where the HTTP source listens: "host:port", "[::1]:port", ":port" (every interface) or
 * "unix:/path". A unix socket file left behind by a crashed relay is removed first, but only
 * when nothing answers on it: a second relay must not steal a live socket.
 */
import { lstat, rm } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';

export type ListenTarget =
  | { readonly kind: 'tcp'; readonly host: string | undefined; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

export class HttpListenError extends Error {
  readonly code = 'KLR_HTTP_LISTEN';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HttpListenError';
  }
}

export function parseListen(listen: string): ListenTarget {
  if (listen.startsWith('unix:')) return { kind: 'unix', path: listen.slice('unix:'.length) };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.includes(':') ? listen : `:${listen}`);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw new HttpListenError(`invalid listen address "${listen}": expected HOST:PORT, [IPv6]:PORT, :PORT or unix:/path`);
  const host = m[1] ?? m[2];
  return { kind: 'tcp', host: host === '' ? undefined : host, port };
}

/** The bound address as config text: "127.0.0.1:9876", "[::1]:9876", "unix:/path". */
export function formatAddress(address: AddressInfo | string | null, target: ListenTarget): string {
  if (target.kind === 'unix') return `unix:${target.path}`;
  if (address === null || typeof address === 'string') return `${target.host ?? ''}:${target.port}`;
  return address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}

/** Remove a stale socket file at `path`; refuse anything else (a live socket, a regular file). */
export async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new HttpListenError(`cannot inspect ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!isSocket) throw new HttpListenError(`${path} exists and is not a socket: refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => { probe.destroy(); resolve(true); });
    probe.once('error', () => resolve(false));
    // Accepted into a backlog but never answered: something is there, leave it alone.
    probe.setTimeout(1_000, () => { probe.destroy(); resolve(true); });
  });
  if (live) throw new HttpListenError(`another process is listening on ${path}`);
  await rm(path, { force: true });
}
