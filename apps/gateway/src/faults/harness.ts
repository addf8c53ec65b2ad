import { PrivateRedisServer } from '@gw/bus-redis/testing';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { connect, token } from '../protocols/signals/fixture.js';
import type { SignalClient } from '../protocols/signals/fixture.js';
import { spawnNode, stopSpawnedNodes } from '../testing/node-process.js';
import type { NodeProcess } from '../testing/node-process.js';

export type { NodeProcess } from '../testing/node-process.js';

/**
 * Real processes for the fault tests: a redis-server of their own (so it can be stopped and restarted without
 * disturbing anything else on the machine), gateway processes (`apps/gateway/src/main.ts`, exactly what
 * `pnpm gateway` runs) and worker processes (`apps/worker/src/main.ts`). Everything listens on 127.0.0.1 and
 * everything started is stopped by `stopAll()`.
 */

const started: { stop(): Promise<void> }[] = [];


/** A redis-server child process on a free port, with no persistence (a restart loses everything, on purpose). */
export class RedisServer {
  readonly #server: PrivateRedisServer;

  private constructor(server: PrivateRedisServer) {
    this.#server = server;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await PrivateRedisServer.start());
    started.push({ stop: () => server.down() });
    return server;
  }

  get port(): number {
    return this.#server.port;
  }

  get url(): string {
    return this.#server.url;
  }

  /** Starts it again (on the same port, empty) after `down()`. */
  up(): Promise<void> {
    return this.#server.restart();
  }

  /** SIGKILL: a Redis crash. */
  down(): Promise<void> {
    return this.#server.kill();
  }
}

export interface GatewayProcess extends NodeProcess {
  readonly port: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
}

/**
 * A gateway process (all three protocols), resolved once it listens: on `env.PORT` when given, otherwise on a
 * port the kernel chose and the gateway held from its start (a port found free here first could be taken by
 * another test's process in the seconds the gateway takes to start).
 */
export async function startGatewayProcess(name: string, env: Record<string, string>): Promise<GatewayProcess> {
  const node = spawnNode(name, 'apps/gateway/src/main.ts', [], { PORT: '0', ...env, NODE_ID: name });
  const listening = await node.logLine('gateway listening');
  const ports = listening['ports'];
  const port = Array.isArray(ports) && typeof ports[0] === 'number' ? ports[0] : Number.NaN;
  if (!Number.isInteger(port)) {
    throw new Error(`${name}: "gateway listening" without ports: ${JSON.stringify(listening)}`);
  }
  return Object.assign(node, { port, httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` });
}

/** A worker process running `sources`, resolved once its sources run. */
export async function startWorkerProcess(name: string, sources: string, env: Record<string, string>): Promise<NodeProcess> {
  const node = spawnNode(name, 'apps/worker/src/main.ts', ['--source', sources], {
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    ...env,
    NODE_ID: name,
  });
  await node.logLine('worker running');
  return node;
}

const clients: (() => void)[] = [];

/** A signal client of a gateway process (user 1 unless `sub` says otherwise); closed by `stopAll()`. */
export async function signalClient(wsUrl: string, query = '', options: { localAddress?: string; sub?: number } = {}): Promise<SignalClient> {
  const { sub = 1, ...socketOptions } = options;
  const client = await connect(`${wsUrl}/ws/signals${query}`, { headers: { Authorization: `Bearer ${await token(sub)}` }, ...socketOptions });
  clients.push(() => {
    client.socket.terminate();
  });
  return client;
}

/** A Socket.IO trading client (websocket transport) of a gateway process; closed by `stopAll()`. */
export async function tradingClient(httpUrl: string, user: number, localAddress?: string): Promise<TradingClient> {
  const client = await connectTradingClient(httpUrl, {
    auth: { token: await token(user) },
    transports: ['websocket'],
    ...(localAddress === undefined ? {} : { localAddress }),
  });
  clients.push(() => {
    client.socket.disconnect();
  });
  return client;
}

/** Registers something else to close at the end of the test. */
export function closeLater(close: () => void): void {
  clients.push(close);
}

/** Closes every client, then stops every process and Redis server the tests started. */
export async function stopAll(): Promise<void> {
  for (const close of clients.splice(0)) {
    close();
  }
  await stopSpawnedNodes();
  await Promise.all(started.splice(0).map((s) => s.stop()));
}

/** The environment every process of one test cluster shares (`redis`: a private server or a local cluster). */
export function clusterEnv(redis: { url: string }, extra: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `gwfault:${process.pid}:${Math.random().toString(36).slice(2)}:`,
    ADMIN_TOKEN: 'fault-admin',
    DRAIN_TIMEOUT_MS: '1000',
    BUS_INTEREST_TTL_MS: '3000',
    BUS_PROBE_INTERVAL_MS: '250',
    BUS_MAX_LAG_MS: '1500',
    NODE_SUMMARY_INTERVAL_MS: '500',
    TRADING_BALANCE_INTERVAL_MS: '300',
    TRADING_POSITIONS_INTERVAL_MS: '300',
    TRADING_PNL_INTERVAL_MS: '300',
    TRADING_ORDERS_INTERVAL_MS: '300',
    TRADING_PAPER_TICK_MS: '200',
    ...extra,
  };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function postSignal(gateway: GatewayProcess, symbol: string, price: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${gateway.httpUrl}/api/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer fault-admin' },
    body: JSON.stringify({ type: 'buy', content: { symbol, price } }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
