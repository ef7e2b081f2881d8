/**
 * Where a listener (HTTP source, admin) binds: "host:port", "[::1]:port", ":port" (every interface) or
 * "unix:/path". A unix socket file left behind by a crashed relay is removed first, but only
 * when nothing answers on it: a second relay must not steal a live socket.
 */
import { chmod, lstat, rm } from 'node:fs/promises';
import { connect, type AddressInfo, type Server } from 'node:net';

export type ListenTarget =
  | { readonly kind: 'tcp'; readonly host: string | undefined; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

export class ListenError extends Error {
  readonly code = 'KLR_LISTEN';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

export function parseListen(listen: string): ListenTarget {
  if (listen.startsWith('unix:')) return { kind: 'unix', path: listen.slice('unix:'.length) };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.includes(':') ? listen : `:${listen}`);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535)
    throw new ListenError(`invalid listen address "${listen}": expected HOST:PORT, [IPv6]:PORT, :PORT or unix:/path`);
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
    throw new ListenError(`cannot inspect ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!isSocket) throw new ListenError(`${path} exists and is not a socket: refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
    // Accepted into a backlog but never answered: something is there, leave it alone.
    probe.setTimeout(1_000, () => {
      probe.destroy();
      resolve(true);
    });
  });
  if (live) throw new ListenError(`another process is listening on ${path}`);
  await rm(path, { force: true });
}

/**
 * Listen on `listen` (removing a stale unix socket first); resolves with the bound address as text.
 * `setting` names the config key in errors: "admin.listen 127.0.0.1:9877: address in use …".
 */
export async function bind(server: Server, listen: string, setting = 'listen'): Promise<string> {
  const target = parseListen(listen);
  if (target.kind === 'unix') await removeStaleSocket(target.path);
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void =>
      reject(new ListenError(`${setting} ${listen}: ${listenFailure(e)}`, { cause: e }));
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      resolve();
    };
    if (target.kind === 'unix') server.listen(target.path, listening);
    else if (target.host === undefined) server.listen(target.port, listening);
    else server.listen(target.port, target.host, listening);
  });
  if (target.kind === 'unix') await chmod(target.path, 0o660);
  return formatAddress(server.address(), target);
}

/** Why a listen failed, said for an operator (the system's text for anything unusual). */
function listenFailure(e: Error): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return 'address in use (another process listens there: stop it, or choose another port)';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges: choose a port above 1023)';
    case 'EADDRNOTAVAIL':
      return 'address not available (no interface of this host has it)';
    default:
      return `cannot listen: ${e.message}`;
  }
}
