import { Redis } from 'ioredis';

/** An ioredis client, as created by `createRedisClients` (apps pass it on without importing ioredis). */
export type RedisClient = Redis;

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
