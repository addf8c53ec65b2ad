export { PRESENCE_TOPIC_PREFIXES, createRedisBus } from './redis-bus.js';
export type { RedisBusOptions } from './redis-bus.js';
export { createRedisClients, createRedisClusterClients } from './clients.js';
export type { RedisClient, RedisClientsOptions, RedisClusterClient } from './clients.js';
export { busRedisConfig, redisUrls } from './config.js';
