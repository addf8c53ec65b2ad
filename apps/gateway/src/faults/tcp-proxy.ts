import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { startSignalsGateway } from '../protocols/signals/fixture.js';
import type { TestGateway } from '../testing/gateway.js';
import { RedisServer, closeLater } from './harness.js';

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

/** A signals gateway in this process whose Redis a test can cut (`proxy.cut()`) while Redis keeps its data. */
export interface ProxiedSignalsGateway {
  redis: RedisServer;
  proxy: TcpProxy;
  gateway: TestGateway;
  /** The gateway's key prefix: a bus of the test's own on `redis.url` with it reads and writes the same keys. */
  prefix: string;
}

/**
 * Starts a private redis-server, a proxy to it and a signals gateway on the proxy. The caller shuts the gateway
 * down before `stopAll()`, which stops the proxy and the server.
 */
export async function startProxiedSignalsGateway(prefixTag: string): Promise<ProxiedSignalsGateway> {
  const redis = await RedisServer.start();
  const proxy = await TcpProxy.start(redis.port);
  const prefix = `${prefixTag}:${String(process.pid)}:${Math.random().toString(36).slice(2)}:`;
  const gateway = await startSignalsGateway({ REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix });
  return { redis, proxy, gateway, prefix };
}
