// The Redis the deployment tests use (REDIS_URL, as the rest of the suite), and cleaning up after them.
import { createRedisClients } from '@gw/bus-redis';

/** The Redis of the tests: REDIS_URL, or the local default. */
export const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** Deletes the keys a test worker left under its own prefix (latest values, sequences). */
export async function deleteKeys(prefix: string): Promise<void> {
  const { pub, sub } = createRedisClients(redisUrl);
  try {
    // The bus clients queue nothing while connecting: wait until the connection is up.
    if (pub.status !== 'ready') {
      await new Promise((resolve, reject) => {
        pub.once('ready', resolve);
        pub.once('error', reject);
      });
    }
    let cursor = '0';
    do {
      const [next, keys] = await pub.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) {
        await pub.del(...keys);
      }
    } while (cursor !== '0');
  } finally {
    pub.disconnect();
    sub.disconnect();
  }
}
