/** Parse and bind listen addresses: "host:port", "[::1]:port", ":port", "unix:/path". */
import { chmodSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:net';

export type ListenTarget = { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'unix'; readonly path: string };

export function parseListen(listen: string): ListenTarget {
  if (listen.startsWith('unix:')) return { kind: 'unix', path: listen.slice(5) };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen.includes(':') ? listen : `:${listen}`);
  if (m === null) throw new Error(`invalid listen address "${listen}"`);
  const host = m[1] ?? (m[2] === '' ? '127.0.0.1' : m[2]);
  return { kind: 'tcp', host, port: Number(m[3]) };
}

/** Listen; a stale unix socket file is removed first. Resolves with the bound address as text. */
export async function bind(server: Server, listen: string): Promise<string> {
  const target = parseListen(listen);
  if (target.kind === 'unix') {
    try { if (statSync(target.path).isSocket()) rmSync(target.path); } catch { /* not there */ }
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    const done = (): void => { server.off('error', onError); resolve(); };
    if (target.kind === 'unix') server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
  if (target.kind === 'unix') {
    chmodSync(target.path, 0o660);
    return `unix:${target.path}`;
  }
  const addr = server.address();
  if (addr === null || typeof addr === 'string') return listen;
  return addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
}
