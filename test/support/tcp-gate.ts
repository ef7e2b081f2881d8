/**
 * A TCP gate in front of a loopback service (the SNS emulator) that a test opens and closes to
 * make the endpoint unreachable and back.
 */
import net from 'node:net';

/**
 * A TCP forwarder on a fixed loopback port: open, it passes connections to `to`; closed,
 * nothing listens on the port (ECONNREFUSED) and open connections are cut.
 */
export class TcpGate {
  readonly port: number;
  readonly #to: number;
  readonly #sockets = new Set<net.Socket>();
  #server: net.Server | null = null;

  private constructor(port: number, to: number) {
    this.port = port;
    this.#to = to;
  }

  /** A gate on a free port, closed. */
  static async create(to: number): Promise<TcpGate> {
    return new TcpGate(await freePort(), to);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get isOpen(): boolean {
    return this.#server !== null;
  }

  async open(): Promise<void> {
    if (this.#server !== null) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.#to, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.#server = server;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A loopback port nothing listens on (taken from the OS, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
