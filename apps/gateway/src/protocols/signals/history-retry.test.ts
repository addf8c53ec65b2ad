import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrivateRedisServer } from '@gw/bus-redis/testing';
import { signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import type { TestGateway } from '../../testing/gateway.js';
import { connectWithToken, startSignalsGateway } from './fixture.js';

/**
 * A `?since=` history read that times out while the bus stays connected (in a reconnect storm: a stalled event
 * loop or a busy Redis) is read again, so the client recovers instead of being told `unavailable`. Redis is made
 * to hold every command with `CLIENT PAUSE` on a private server, longer than the bus's 5 s command timeout.
 */
describe('signal history read that times out', () => {
  let redis: PrivateRedisServer;
  let gateway: TestGateway;

  beforeAll(async () => {
    redis = await PrivateRedisServer.start();
    gateway = await startSignalsGateway({ REDIS_URL: redis.url, REDIS_KEY_PREFIX: 'retry:' });
  });
  afterAll(async () => {
    await gateway.shutdown();
    await redis.kill();
  });

  it('is read again once Redis answers: the client gets what it missed, recovered', async () => {
    const history = { maxLength: 100, maxAgeMs: 3_600_000 };
    const append = async (price: number): Promise<string> =>
      ((await gateway.bus.append<Signal>(signalsTopic, { type: 'buy', content: { symbol: 'SLOW', price, timestamp: 1_720_000_000 }, source: 'crypto-signals' }, history)) as { id: string }).id;
    const since = await append(1);
    const missed = [await append(2), await append(3)];

    // Every command waits 6.5 s: the first read times out (5 s) with the bus still connected.
    execFileSync('redis-cli', ['-p', String(redis.port), 'CLIENT', 'PAUSE', '6500', 'ALL']);
    const client = await connectWithToken(gateway, `?symbols=SLOW&since=${encodeURIComponent(since)}`);

    await expect.poll(() => client.frames.length, { timeout: 30_000 }).toBe(3);
    expect(client.frames[0]).toMatchObject({ type: 'recovery', recovered: true, replayed: 2 });
    expect(client.signals().map((s) => s['id'])).toEqual(missed);
    // And it is live afterwards.
    const next = await append(4);
    await expect.poll(() => client.signals().map((s) => s['id'])).toEqual([...missed, next]);
    client.socket.close();
  });
});
