import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { PrivateRedisServer } from '@gw/bus-redis/testing';

/**
 * A private `redis-server` for a test (never a shared one): no persistence, on a free local port. `kill()`
 * SIGKILLs it, `restart()` starts it again on the same port, empty: what a Redis crash does to the cluster.
 * `bus()` gives Redis buses on it (one key prefix per server) that reconnect within ~100 ms, `latest()` reads
 * stored values as another process would; `stop()` closes the buses and kills the server.
 */
export class TestRedisServer {
  readonly prefix: string;
  readonly #server: PrivateRedisServer;
  readonly #buses: Bus[] = [];
  #reader: Promise<Bus> | undefined;

  private constructor(server: PrivateRedisServer) {
    this.#server = server;
    this.prefix = `gwsrc:${String(process.pid)}:${Math.random().toString(36).slice(2, 8)}:`;
  }

  /** Starts a server; resolves once it answers. */
  static async start(): Promise<TestRedisServer> {
    return new TestRedisServer(await PrivateRedisServer.start());
  }

  get port(): number {
    return this.#server.port;
  }

  get url(): string {
    return this.#server.url;
  }

  /** A Redis bus on this server, connected (rejects after 5 s otherwise). Closed by `stop()`. */
  async bus(options: { nodeId?: string; interestTtlMs?: number } = {}): Promise<Bus> {
    const bus = createRedisBus({
      ...createRedisClients(this.url, { maxReconnectDelayMs: 100, connectionName: 'gwsrc' }),
      prefix: this.prefix,
      ...options,
      // Connection errors are expected while the server is down.
      onError: () => undefined,
    });
    this.#buses.push(bus);
    await whenConnected(bus, 5_000);
    return bus;
  }

  /**
   * The stored latest value (its `data`) of each topic, read by a bus of its own (another process): undefined
   * for a topic without one, and for every topic while that bus is not connected (just after a restart).
   */
  async latest(topics: readonly string[]): Promise<unknown[]> {
    this.#reader ??= this.bus({ nodeId: 'test-reader' });
    const reader = await this.#reader;
    try {
      return (await reader.latestMany(topics)).map((envelope) => envelope?.data);
    } catch {
      return topics.map(() => undefined);
    }
  }

  /** SIGKILLs the server (no shutdown, no save); resolves once it exited. */
  kill(): Promise<void> {
    return this.#server.kill();
  }

  /** Kills the server if it runs, then starts it again on the same port, empty; resolves once it answers. */
  restart(): Promise<void> {
    return this.#server.restart();
  }

  /** Closes the buses `bus()` made, then kills the server. */
  async stop(): Promise<void> {
    this.#reader = undefined;
    await Promise.all(this.#buses.splice(0).map((bus) => bus.close().catch(() => undefined)));
    await this.kill();
  }
}
