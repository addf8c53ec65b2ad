export { PRESENCE_TOPIC_PREFIXES, createRedisBus } from './redis-bus.js';
export type { RedisBusOptions } from './redis-bus.js';
export { createRedisClients } from './clients.js';
export type { RedisClient, RedisClientsOptions } from './clients.js';
export { busRedisConfig } from './config.js';
