import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { closeLater } from './harness.js';

/**
 * A TCP forwarder on 127.0.0.1 between one process and a server (a gateway and its Redis), which a test can
 * cut and restore: cutting drops every connection through it and refuses new ones until restored, so one
 * process loses its server while the server, and its data, stay up for everyone else. Closed by `stopAll()`.
 */
export class TcpProxy {
  readonly #targetPort: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;
  #port = 0;

  private constructor(targetPort: number) {
    this.#targetPort = targetPort;
    this.#server = createServer((client) => {
      this.#forward(client);
    });
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await proxy.#listen();
    closeLater(() => {
      proxy.cut();
      proxy.#server.close();
    });
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.#port}`;
  }

  /** Drops every connection through the proxy and refuses new ones until `restore()`. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) {
      socket.destroy();
    }
  }

  restore(): void {
    this.#cut = false;
  }

  #listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        const address = this.#server.address();
        this.#port = typeof address === 'object' && address !== null ? address.port : 0;
        resolve();
      });
    });
  }

  #forward(client: Socket): void {
    if (this.#cut) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: this.#targetPort });
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.#sockets.add(from);
      from.on('error', () => undefined);
      from.on('close', () => {
        this.#sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  }
}
