/** Test support for code that runs on Redis: a private redis-server, a throwaway local Redis Cluster. */
export { startRedisCluster } from './cluster.js';
export type { ClusterNodeInfo, LocalRedisCluster, RedisClusterOptions } from './cluster.js';
export { PrivateRedisServer, freePort, killProcess, pingRedis, spawnRedisServer } from './redis-server.js';
