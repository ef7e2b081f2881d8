/**
 * Connection limits of an http source that a flood cannot turn against Kong.
 *
 * A plain cap (node's server.maxConnections) refuses the newest connection: 1,100 clients without
 * credentials holding keep-alive connections locked Kong out for as long as they went on. Here a
 * connection is "proven" once it has sent a request with valid credentials; at a cap (all
 * connections, or those of one client address) the oldest connection not yet proven is closed to
 * make room, and only when every connection is proven is the new one refused. Kong's connections
 * prove themselves with their first request and are never closed for a newcomer.
 */
import type { Socket } from 'node:net';

export type ConnectionDropReason = 'evicted' | 'max_connections' | 'max_connections_per_client';

export interface ConnectionLimits {
  /** Open connections at most. */
  readonly maxConnections: number;
  /** Open connections from one client address at most (unix sockets have no address: not capped). */
  readonly maxConnectionsPerClient: number;
}

export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  readonly #onDrop: (reason: ConnectionDropReason, remote: string) => void;
  /** Open connections → their client address (read at accept: a destroyed socket no longer knows it). */
  readonly #open = new Map<Socket, string | undefined>();
  /** Not yet proven, oldest first (a Set keeps insertion order). */
  readonly #unproven = new Set<Socket>();
  /** Per client address: its open connections and, oldest first, those not yet proven. */
  readonly #byAddress = new Map<string, { open: number; unproven: Set<Socket> }>();

  constructor(limits: ConnectionLimits, onDrop: (reason: ConnectionDropReason, remote: string) => void) {
    this.#limits = limits;
    this.#onDrop = onDrop;
  }

  get open(): number {
    return this.#open.size;
  }

  /** A new connection (the server's 'connection' event): take it, making room if need be, or close it. */
  admit(socket: Socket): void {
    const address = socket.remoteAddress;
    const remote = address ?? 'unix';
    const mine = address === undefined ? undefined : this.#byAddress.get(address);
    if (mine !== undefined && mine.open >= this.#limits.maxConnectionsPerClient) {
      const victim = first(mine.unproven);
      if (victim === undefined) {
        this.#refuse(socket, 'max_connections_per_client', remote);
        return;
      }
      this.#evict(victim, remote);
    }
    if (this.#open.size >= this.#limits.maxConnections) {
      const victim = first(this.#unproven);
      if (victim === undefined) {
        this.#refuse(socket, 'max_connections', remote);
        return;
      }
      this.#evict(victim, this.#open.get(victim) ?? 'unix');
    }
    this.#open.set(socket, address);
    this.#unproven.add(socket);
    if (address !== undefined) {
      const entry = mine ?? { open: 0, unproven: new Set<Socket>() };
      if (mine === undefined) this.#byAddress.set(address, entry);
      entry.open++;
      entry.unproven.add(socket);
    }
    socket.once('close', () => this.#forget(socket));
  }

  /** The connection sent a request with valid credentials: it is never closed to make room. */
  prove(socket: Socket): void {
    if (!this.#unproven.delete(socket)) return;
    const address = this.#open.get(socket);
    if (address !== undefined) this.#byAddress.get(address)?.unproven.delete(socket);
  }

  #evict(victim: Socket, remote: string): void {
    this.#forget(victim);
    victim.destroy();
    this.#onDrop('evicted', remote);
  }

  #refuse(socket: Socket, reason: ConnectionDropReason, remote: string): void {
    socket.destroy();
    this.#onDrop(reason, remote);
  }

  /** Idempotent: called at eviction (so that the next admit does not pick it again) and at close. */
  #forget(socket: Socket): void {
    if (!this.#open.has(socket)) return;
    const address = this.#open.get(socket);
    this.#open.delete(socket);
    this.#unproven.delete(socket);
    if (address === undefined) return;
    const entry = this.#byAddress.get(address);
    if (entry === undefined) return;
    entry.unproven.delete(socket);
    if (--entry.open === 0) this.#byAddress.delete(address);
  }
}

function first(set: ReadonlySet<Socket>): Socket | undefined {
  for (const s of set) return s;
  return undefined;
}
