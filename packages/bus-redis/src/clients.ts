import { Cluster, Redis } from 'ioredis';

/** An ioredis client, as created by `createRedisClients` (apps pass it on without importing ioredis). */
export type RedisClient = Redis;

/** An ioredis Redis Cluster client, as created by `createRedisClusterClients`. */
export type RedisClusterClient = Cluster;

export interface RedisClientsOptions {
  /** Upper bound of the reconnect backoff (default 2 000 ms); reconnecting never stops. */
  maxReconnectDelayMs?: number;
  /** Time allowed to establish a connection (default 5 000 ms). */
  connectTimeoutMs?: number;
  /** A command not answered within this time fails with `bus_unavailable` (default 5 000 ms). */
  commandTimeoutMs?: number;
  /** CLIENT SETNAME prefix, visible in CLIENT LIST (`<name>:pub`, `<name>:sub`). */
  connectionName?: string;
}

/**
 * The two connections a Redis bus needs, configured for it:
 * - both reconnect forever with capped exponential backoff (with jitter, so a fleet does not reconnect in
 *   lockstep);
 * - `pub` fails fast while down: no offline queue, commands in flight when the connection drops are
 *   rejected (not replayed later), and every command has a timeout; publishes therefore reject with
 *   `bus_unavailable` instead of piling up in memory;
 * - `sub` is dedicated to SUBSCRIBE/PSUBSCRIBE: it keeps its (small) queue of subscription changes across
 *   reconnects and resubscribes by itself (the bus also re-issues its subscriptions before it reports
 *   `connected`).
 */
export function createRedisClients(
  url: string,
  options: RedisClientsOptions = {},
): { pub: RedisClient; sub: RedisClient } {
  const maxDelay = Math.max(10, options.maxReconnectDelayMs ?? 2_000);
  const common = {
    connectTimeout: options.connectTimeoutMs ?? 5_000,
    retryStrategy: (attempt: number): number => {
      const base = Math.min(maxDelay, 50 * 2 ** Math.min(attempt, 16));
      return Math.round(base / 2 + (Math.random() * base) / 2);
    },
  };
  const name = options.connectionName;
  const pub = new Redis(url, {
    ...common,
    ...(name === undefined ? {} : { connectionName: `${name}:pub` }),
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // 0: commands in flight when the connection closes are rejected at once.
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 5_000,
    enableAutoPipelining: true,
  });
  const sub = new Redis(url, {
    ...common,
    ...(name === undefined ? {} : { connectionName: `${name}:sub` }),
    autoResubscribe: true,
    // Subscription changes wait for the reconnect instead of failing; they are few and bounded by the
    // number of local subscriptions.
    maxRetriesPerRequest: null,
  });
  return { pub, sub };
}

function backoff(maxReconnectDelayMs: number | undefined): (attempt: number) => number {
  const maxDelay = Math.max(10, maxReconnectDelayMs ?? 2_000);
  return (attempt) => {
    const base = Math.min(maxDelay, 50 * 2 ** Math.min(attempt, 16));
    return Math.round(base / 2 + (Math.random() * base) / 2);
  };
}

/**
 * `redis://[user:password@]host:port` seeds (any nodes of the cluster; `rediss://` for TLS) as ioredis wants
 * them. Every seed carries the same credentials in practice; the first one's are used for every node.
 */
function clusterSeeds(urls: readonly string[]): { nodes: { host: string; port: number }[]; auth: { username?: string; password?: string; tls?: object } } {
  const parsed = urls.map((url) => new URL(url));
  const [first] = parsed;
  if (first === undefined) {
    throw new Error('a Redis Cluster needs at least one seed node URL');
  }
  const auth: { username?: string; password?: string; tls?: object } = {};
  if (first.username !== '') {
    auth.username = decodeURIComponent(first.username);
  }
  if (first.password !== '') {
    auth.password = decodeURIComponent(first.password);
  }
  if (first.protocol === 'rediss:') {
    auth.tls = {};
  }
  return { nodes: parsed.map((url) => ({ host: url.hostname, port: Number(url.port === '' ? 6379 : url.port) })), auth };
}

/**
 * The two Redis Cluster clients a bus on a cluster needs, with the same behaviour as `createRedisClients`:
 * - `pub` fails fast (no offline queue, per-command timeout, nothing replayed), follows MOVED/ASK by itself and
 *   retries a command for a short while during a failover (ioredis: `retryDelayOnFailover`,
 *   `retryDelayOnClusterDown`, at most `maxRedirections` times), then rejects;
 * - `sub` runs sharded pub/sub (`shardedSubscribers`): one subscriber connection per master, each SSUBSCRIBE
 *   sent to the master of its channel's slot and re-issued there when the slot moves;
 * - both reconnect forever with capped, jittered backoff and re-read the slot map every `slotsRefreshIntervalMs`
 *   (so a failover is noticed even without traffic).
 */
export function createRedisClusterClients(
  urls: readonly string[],
  options: RedisClientsOptions & { slotsRefreshIntervalMs?: number } = {},
): { pub: RedisClusterClient; sub: RedisClusterClient } {
  const { nodes, auth } = clusterSeeds(urls);
  const name = options.connectionName;
  const common = {
    clusterRetryStrategy: backoff(options.maxReconnectDelayMs),
    slotsRefreshInterval: options.slotsRefreshIntervalMs ?? 5_000,
  };
  const pub = new Cluster(nodes, {
    ...common,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    redisOptions: {
      ...auth,
      ...(name === undefined ? {} : { connectionName: `${name}:pub` }),
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 5_000,
    },
  });
  const sub = new Cluster(nodes, {
    ...common,
    shardedSubscribers: true,
    redisOptions: {
      ...auth,
      ...(name === undefined ? {} : { connectionName: `${name}:sub` }),
      connectTimeout: options.connectTimeoutMs ?? 5_000,
      maxRetriesPerRequest: null,
    },
  });
  return { pub, sub };
}
