/**
 * Connection limits of an http source that a flood cannot turn against Kong.
 *
 * A plain cap (node's server.maxConnections) refuses the newest connection: 1,100 clients without
 * credentials holding keep-alive connections locked Kong out for as long as they went on. Here a
 * connection is "proven" once it has sent a request with valid credentials. At a cap (all
 * connections, or those of one client address) one connection is closed to make room: the oldest
 * one not yet proven, else the proven one idle longest (no request in progress: HTTP lets a server
 * close an idle keep-alive connection at any time, and Kong opens another). Only when every
 * connection is proven and busy with a request is the new one refused. Without the idle rule, a
 * burst from Kong left the per-client cap full of its idle keep-alive connections, and every new
 * connection from Kong was reset until they timed out.
 */
import type { Socket } from 'node:net';

export type ConnectionDropReason = 'evicted' | 'max_connections' | 'max_connections_per_client';

export interface ConnectionLimits {
  /** Open connections at most. */
  readonly maxConnections: number;
  /** Open connections from one client address at most (unix sockets have no address: not capped). */
  readonly maxConnectionsPerClient: number;
}

/** Connections in eviction order: those not yet proven, oldest first; then proven and idle, idle longest first. */
interface Candidates {
  readonly unproven: Set<Socket>;
  readonly idle: Set<Socket>;
}

interface Connection {
  /** The client address, read at accept (a destroyed socket no longer knows it); undefined for unix sockets. */
  readonly address: string | undefined;
  proven: boolean;
  /** Requests in progress (more than one only when a client pipelines). */
  busy: number;
}

export class ConnectionGuard {
  readonly #limits: ConnectionLimits;
  readonly #onDrop: (reason: ConnectionDropReason, remote: string) => void;
  readonly #open = new Map<Socket, Connection>();
  readonly #all: Candidates = { unproven: new Set(), idle: new Set() };
  /** Per client address: its open connections and its eviction candidates. */
  readonly #byAddress = new Map<string, Candidates & { open: number }>();

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
      const victim = first(mine.unproven) ?? first(mine.idle);
      if (victim === undefined) {
        this.#refuse(socket, 'max_connections_per_client', remote);
        return;
      }
      this.#evict(victim, remote);
    }
    if (this.#open.size >= this.#limits.maxConnections) {
      const victim = first(this.#all.unproven) ?? first(this.#all.idle);
      if (victim === undefined) {
        this.#refuse(socket, 'max_connections', remote);
        return;
      }
      this.#evict(victim, this.#open.get(victim)?.address ?? 'unix');
    }
    this.#open.set(socket, { address, proven: false, busy: 0 });
    this.#all.unproven.add(socket);
    if (address !== undefined) {
      const entry = mine ?? { open: 0, unproven: new Set<Socket>(), idle: new Set<Socket>() };
      if (mine === undefined) this.#byAddress.set(address, entry);
      entry.open++;
      entry.unproven.add(socket);
    }
    socket.once('close', () => this.#forget(socket));
  }

  /** A request arrived on the connection: it is not idle until its answer is written. */
  requestStarted(socket: Socket): void {
    const connection = this.#open.get(socket);
    if (connection === undefined) return;
    if (connection.busy++ === 0 && connection.proven) this.#each(connection, (c) => c.idle.delete(socket));
  }

  /** The answer to a request went out: a proven connection with nothing more in progress is idle (newest last). */
  requestEnded(socket: Socket): void {
    const connection = this.#open.get(socket);
    if (connection === undefined || connection.busy === 0) return;
    if (--connection.busy === 0 && connection.proven) this.#each(connection, (c) => c.idle.add(socket));
  }

  /** The connection sent a request with valid credentials: from now on it makes room only while idle. */
  prove(socket: Socket): void {
    const connection = this.#open.get(socket);
    if (connection === undefined || connection.proven) return;
    connection.proven = true;
    this.#each(connection, (c) => {
      c.unproven.delete(socket);
      if (connection.busy === 0) c.idle.add(socket);
    });
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
    const connection = this.#open.get(socket);
    if (connection === undefined) return;
    this.#open.delete(socket);
    this.#each(connection, (c) => {
      c.unproven.delete(socket);
      c.idle.delete(socket);
    });
    if (connection.address === undefined) return;
    const entry = this.#byAddress.get(connection.address);
    if (entry !== undefined && --entry.open === 0) this.#byAddress.delete(connection.address);
  }

  /** Apply `change` to the candidates of all connections and to those of the connection's address. */
  #each(connection: Connection, change: (candidates: Candidates) => void): void {
    change(this.#all);
    const mine = connection.address === undefined ? undefined : this.#byAddress.get(connection.address);
    if (mine !== undefined) change(mine);
  }
}

function first(set: ReadonlySet<Socket>): Socket | undefined {
  for (const s of set) return s;
  return undefined;
}
