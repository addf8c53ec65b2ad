// A private redis-server for tests that kill and restart processes around it: nothing else on the machine shares
// it, so no key prefix is needed and nothing is left behind.
import { PrivateRedisServer } from '@gw/bus-redis/testing';

export interface PrivateRedis {
  readonly url: string;
  readonly port: number;
  /** Kills it and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free 127.0.0.1 port without persistence and waits until it answers. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const server = await PrivateRedisServer.start();
  return { url: server.url, port: server.port, stop: () => server.stop() };
}
