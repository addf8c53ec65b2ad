import { defineConfigSection, envMs } from '@gw/config';
import { z } from 'zod';

/** Configuration of the Redis bus. `REDIS_URL` may carry a password: it is a secret (masked, never quoted). */
export const busRedisConfig = defineConfigSection({
  name: 'bus',
  schema: z.object({
    redisUrl: z
      .url({ protocol: /^rediss?$/, hostname: /.+/, error: 'expected a redis:// or rediss:// URL' })
      .optional(),
    keyPrefix: z.string().default('gw:'),
    interestTtlMs: envMs().default(15_000),
    connectTimeoutMs: envMs(600_000).default(10_000),
  }),
  env: { REDIS_URL: 'redisUrl', REDIS_KEY_PREFIX: 'keyPrefix', BUS_INTEREST_TTL_MS: 'interestTtlMs', BUS_CONNECT_TIMEOUT_MS: 'connectTimeoutMs' },
  secrets: ['redisUrl'],
  docs: {
    redisUrl: 'Redis URL (redis://[:password@]host:port[/db]); unset: the in-memory bus',
    keyPrefix: 'prefix of every Redis key and channel of the bus',
    interestTtlMs: "how long a dead process's interest in topics lingers before it expires (ms)",
    connectTimeoutMs: 'at startup, how long to wait for the bus to connect before giving up (ms)',
  },
});
