import { defineConfigSection, envBoolean, envMs } from '@gw/config';
import { z } from 'zod';

const redisUrl = z.url({ protocol: /^rediss?$/, hostname: /.+/, error: 'expected a redis:// or rediss:// URL' });

/** `REDIS_URL` as a list: one URL, or on a cluster any number of seed nodes separated by commas. */
export function redisUrls(value: string): string[] {
  return value
    .split(',')
    .map((url) => url.trim())
    .filter((url) => url !== '');
}

/** Configuration of the Redis bus. `REDIS_URL` may carry a password: it is a secret (masked, never quoted). */
export const busRedisConfig = defineConfigSection({
  name: 'bus',
  schema: z
    .object({
      redisUrl: z
        .string()
        .optional()
        .superRefine((value, context) => {
          if (value === undefined) {
            return;
          }
          const urls = redisUrls(value);
          if (urls.length === 0 || urls.some((url) => !redisUrl.safeParse(url).success)) {
            context.addIssue({ code: 'custom', message: 'expected a redis:// or rediss:// URL (on a cluster: several, comma-separated)' });
          }
        }),
      redisCluster: envBoolean().default(false),
      keyPrefix: z.string().default('gw:'),
      interestTtlMs: envMs().default(15_000),
      connectTimeoutMs: envMs(600_000).default(10_000),
    })
    .superRefine((config, context) => {
      if (config.redisUrl !== undefined && !config.redisCluster && redisUrls(config.redisUrl).length > 1) {
        context.addIssue({ code: 'custom', path: ['redisUrl'], message: 'several URLs name a Redis Cluster: set REDIS_CLUSTER=true' });
      }
      if (config.redisCluster && /[{}]/.test(config.keyPrefix)) {
        context.addIssue({ code: 'custom', path: ['keyPrefix'], message: 'on a Redis Cluster the key prefix must not contain { or }' });
      }
    }),
  env: {
    REDIS_URL: 'redisUrl',
    REDIS_CLUSTER: 'redisCluster',
    REDIS_KEY_PREFIX: 'keyPrefix',
    BUS_INTEREST_TTL_MS: 'interestTtlMs',
    BUS_CONNECT_TIMEOUT_MS: 'connectTimeoutMs',
  },
  secrets: ['redisUrl'],
  docs: {
    redisUrl:
      'Redis URL (redis://[:password@]host:port[/db]); unset: the in-memory bus. With REDIS_CLUSTER=true: one or more ' +
      'nodes of the Redis Cluster, comma-separated (redis://h1:7000,redis://h2:7001; the others are discovered)',
    redisCluster:
      'REDIS_URL names a Redis Cluster (7 or later): keys of one topic share a hash tag, live messages use sharded ' +
      'pub/sub (SPUBLISH/SSUBSCRIBE); see docs/operations.md, "Redis Cluster"',
    keyPrefix: 'prefix of every Redis key and channel of the bus',
    interestTtlMs: "how long a dead process's interest in topics lingers before it expires (ms)",
    connectTimeoutMs: 'at startup, how long to wait for the bus to connect before giving up (ms)',
  },
});
