import type { Bus } from '@gw/bus';
import { createMemoryBus } from '@gw/bus-memory';
import { busRedisConfig, createRedisBus, createRedisClients, createRedisClusterClients, redisUrls } from '@gw/bus-redis';
import type { SectionOutput } from '@gw/config';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';

/** The bus section (REDIS_URL, REDIS_CLUSTER, REDIS_KEY_PREFIX, BUS_INTEREST_TTL_MS): memory bus unless REDIS_URL is set. */
export const busConfig = busRedisConfig;

export type BusConfig = SectionOutput<typeof busRedisConfig>;

/**
 * The bus this process uses: Redis when `REDIS_URL` is set (several processes share it; a Redis Cluster with
 * `REDIS_CLUSTER=true`), otherwise the in-memory bus (one process, the embedded default). Bus state changes are
 * logged and counted.
 */
export function createBusFromConfig(config: BusConfig, nodeId: string, logger: Logger, metrics: GatewayMetrics): Bus {
  const bus =
    config.redisUrl === undefined
      ? createMemoryBus({ nodeId, interestTtlMs: config.interestTtlMs })
      : createRedisBus({
          ...(config.redisCluster ? createRedisClusterClients(redisUrls(config.redisUrl)) : createRedisClients(config.redisUrl)),
          prefix: config.keyPrefix,
          nodeId,
          interestTtlMs: config.interestTtlMs,
          onError: (error: unknown) => {
            logger.warn({ err: error }, 'bus error');
          },
        });
  metrics.busConnected(bus.state === 'connected');
  let wasDisconnected = bus.state !== 'connected';
  bus.onStateChange((state) => {
    metrics.busConnected(state === 'connected');
    if (state === 'connected') {
      if (wasDisconnected) {
        metrics.busReconnected();
      }
      logger.info({ bus: bus.kind }, 'bus connected');
    } else {
      wasDisconnected = true;
      logger.warn({ bus: bus.kind }, 'bus disconnected');
    }
  });
  return bus;
}
