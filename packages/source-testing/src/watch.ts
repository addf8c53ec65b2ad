import { whenConnected } from '@gw/bus';
import type { Envelope } from '@gw/bus';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { GatewayError, sleep } from '@gw/core';

/** Options of {@link watchTopics}. */
export interface WatchTopicsOptions {
  redisUrl: string;
  /** The bus's key prefix (`REDIS_KEY_PREFIX`). @default "gw:" */
  keyPrefix?: string;
  /** A topic or a prefix pattern (`okx-tickers.*`). */
  pattern: string;
  /** Resolve after this many messages. @default Infinity (until `signal` aborts or the time is up) */
  count?: number;
  /** Give up after this long (ms): rejects when fewer than `count` messages came. @default no limit */
  timeoutMs?: number;
  /** Stops watching; resolves with what came so far. */
  signal?: AbortSignal;
  /** Called once the subscription is active (messages published from now on are seen). */
  onReady?: () => void;
  /** Called for each message as it comes. */
  onMessage?: (message: Envelope) => void;
}

/** How long to wait for Redis at start. */
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * Watches topics on a Redis bus from outside any gateway or worker: what a source running as a worker
 * publishes, as every subscriber sees it. Resolves with the messages once `count` came (or `signal` aborted);
 * rejects with `bus_unavailable` when Redis does not answer and `source_failed` when the time is up first.
 * Closes its connections in every case.
 */
export async function watchTopics(options: WatchTopicsOptions): Promise<Envelope[]> {
  const count = options.count ?? Infinity;
  const bus = createRedisBus({ ...createRedisClients(options.redisUrl), prefix: options.keyPrefix ?? 'gw:', nodeId: `watch-topics-${process.pid}` });
  const stop = new AbortController();
  const onAbort = (): void => {
    stop.abort();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const messages: Envelope[] = [];
  try {
    await whenConnected(bus, CONNECT_TIMEOUT_MS);
    await bus.subscribe(options.pattern, (message) => {
      if (messages.length < count) {
        messages.push(message);
        options.onMessage?.(message);
      }
      if (messages.length >= count) {
        stop.abort();
      }
    });
    options.onReady?.();
    const timedOut = await Promise.race([
      sleep(options.timeoutMs ?? 2_147_483_647, stop.signal).then(() => !stop.signal.aborted),
      new Promise<false>((resolve) => {
        stop.signal.addEventListener('abort', () => {
          resolve(false);
        }, { once: true });
      }),
    ]);
    if (timedOut && messages.length < count) {
      throw new GatewayError('source_failed', {
        message: `${messages.length} of ${count} message(s) on ${options.pattern} within ${options.timeoutMs ?? 0} ms`,
      });
    }
    return messages;
  } finally {
    stop.abort();
    options.signal?.removeEventListener('abort', onAbort);
    await bus.close();
  }
}
