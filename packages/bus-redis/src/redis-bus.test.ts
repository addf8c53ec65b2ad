import { randomUUID } from 'node:crypto';
import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import { runBusContract } from '@gw/bus/testing';
import type { BusClusterFixture } from '@gw/bus/testing';
import { loadConfig, printableConfig } from '@gw/config';
import { GatewayError } from '@gw/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { busRedisConfig, createRedisBus, createRedisClients } from './index.js';
import { redisBusNodes } from './testing/bus-nodes.js';
import { PrivateRedisServer, freePort } from './testing/redis-server.js';

const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const admin = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) {
        await admin.unlink(...keys);
      }
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

async function redisFixture(restartableBackend: boolean): Promise<BusClusterFixture> {
  const server = restartableBackend ? await PrivateRedisServer.start() : undefined;
  const url = server?.url ?? REDIS_URL;
  const { prefix, createNode, crashNode, closeNodes } = redisBusNodes(() => createRedisClients(url, { maxReconnectDelayMs: 100, connectionName: 'gwtest' }), 5_000);
  const fixture: BusClusterFixture = {
    createNode,
    crashNode,
    cleanup: async () => {
      await closeNodes();
      if (server === undefined) {
        await deleteKeys(url, prefix);
      } else {
        await server.stop();
      }
    },
  };
  if (server !== undefined) {
    fixture.restartBackend = async (whileDown) => {
      await server.stop();
      await whileDown?.();
      await server.restart();
    };
  }
  return fixture;
}

runBusContract('redis', ({ restartableBackend }) => redisFixture(restartableBackend), { restartableBackend: true });

describe('redis bus specifics', () => {
  let admin: Redis;
  const prefix = `gwtest:${randomUUID().slice(0, 8)}:`;
  const buses: Bus[] = [];

  async function node(): Promise<Bus> {
    const bus = createRedisBus({ ...createRedisClients(REDIS_URL), prefix, onError: () => undefined });
    buses.push(bus);
    await whenConnected(bus, 5_000);
    return bus;
  }

  beforeAll(() => {
    admin = new Redis(REDIS_URL);
  });

  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
    await deleteKeys(REDIS_URL, prefix);
    admin.disconnect();
  });

  it('uses one Redis SUBSCRIBE per topic however many local handlers it has', async () => {
    const bus = await node();
    const channel = `${prefix}one.t`;
    const numsub = async (): Promise<number> => {
      const reply = (await admin.pubsub('NUMSUB', channel)) as [string, number];
      return reply[1];
    };
    const subs = await Promise.all([1, 2, 3].map(() => bus.subscribe('one.t', () => undefined)));
    expect(await numsub()).toBe(1);
    await subs[0]!.unsubscribe();
    await subs[1]!.unsubscribe();
    expect(await numsub()).toBe(1);
    await subs[2]!.unsubscribe();
    await vi.waitFor(async () => {
      expect(await numsub()).toBe(0);
    });
  });

  it('keeps history bounded in Redis and every key under the prefix', async () => {
    const bus = await node();
    for (let i = 0; i < 50; i += 1) {
      await bus.append('bounded.t', i, { maxLength: 5, maxAgeMs: 60_000 });
    }
    await bus.publishLatest('bounded.l', 1);
    expect(await admin.llen(`${prefix}hist:bounded.t`)).toBe(5);
    const ttl = await admin.pttl(`${prefix}hist:bounded.t`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const keys = await admin.keys(`${prefix}*`);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((key) => key.startsWith(prefix))).toBe(true);
  });

  it('leaves nothing of a stopped process but latest values, sequences and bounded history', async () => {
    const own = `gwtest:${randomUUID().slice(0, 8)}:`;
    const ttl = 300;
    const nodes = [0, 1].map(() => {
      const clients = createRedisClients(REDIS_URL);
      const bus = createRedisBus({ ...clients, prefix: own, interestTtlMs: ttl, presenceTtlMs: 2 * ttl, onError: () => undefined });
      return { bus, clients };
    });
    try {
      for (const { bus } of nodes) {
        await whenConnected(bus, 5_000);
        await bus.declareInterest(`cluster.node.${bus.nodeId}`);
        await bus.declareInterest('data.shared');
        await bus.publishLatest(`cluster.node.${bus.nodeId}`, { up: true });
      }
      await nodes[0]!.bus.publishLatest('data.quote', 1);
      await nodes[0]!.bus.append('data.signals', 1, { maxLength: 10, maxAgeMs: 60_000 });

      // While the processes run, every key of their presence and interest carries an expiry.
      const volatile = /^(?:interest:|latest:cluster\.|seq:cluster\.)/;
      const running = await admin.keys(`${own}*`);
      expect(running.filter((key) => volatile.test(key.slice(own.length))).length).toBeGreaterThanOrEqual(9);
      for (const key of running.filter((k) => volatile.test(k.slice(own.length)))) {
        expect(await admin.pttl(key), key).toBeGreaterThan(0);
      }

      // Both die without cleanup: nobody is left to sweep, so only the expiries can remove their keys.
      for (const { clients } of nodes) {
        clients.pub.disconnect();
        clients.sub.disconnect();
      }
      await vi.waitFor(
        async () => {
          const left = (await admin.keys(`${own}*`)).map((key) => key.slice(own.length)).sort();
          expect(left).toEqual(['hist:data.signals', 'latest:data.quote', 'seq:data.quote', 'seq:data.signals']);
        },
        { timeout: 10_000, interval: 100 },
      );
    } finally {
      await deleteKeys(REDIS_URL, own);
    }
  });

  it('fails fast instead of queueing when Redis is unreachable', async () => {
    const port = await freePort();
    const clients = createRedisClients(`redis://127.0.0.1:${port}`, { maxReconnectDelayMs: 100 });
    const bus = createRedisBus({ ...clients, prefix, onError: () => undefined });
    try {
      expect(bus.state).toBe('disconnected');
      const startedAt = Date.now();
      const error = await bus.publish('down.t', 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).code).toBe('bus_unavailable');
      // At once, not after a connect timeout or a reconnect (a queued publish would wait for a Redis that never
      // comes); the bound leaves room for a test worker stalled on a loaded machine.
      expect(Date.now() - startedAt).toBeLessThan(1_000);
      await expect(whenConnected(bus, 50)).rejects.toMatchObject({ code: 'bus_unavailable' });
    } finally {
      await bus.close();
    }
  });

  it('reads its configuration section, keeping the URL secret', () => {
    const env = {
      REDIS_URL: 'redis://:s3cret@redis.internal:6379/0',
      BUS_INTEREST_TTL_MS: '5000',
    };
    const config = loadConfig(env, { bus: busRedisConfig });
    expect(config.bus).toEqual({ redisUrl: env.REDIS_URL, redisCluster: false, keyPrefix: 'gw:', interestTtlMs: 5_000, connectTimeoutMs: 10_000 });
    expect(JSON.stringify(printableConfig({ bus: busRedisConfig }, config))).not.toContain('s3cret');
    expect(loadConfig({}, { bus: busRedisConfig }).bus.redisUrl).toBeUndefined();
    let message = '';
    try {
      loadConfig({ REDIS_URL: 'http://user:s3cret@x', BUS_INTEREST_TTL_MS: 'soon' }, { bus: busRedisConfig });
    } catch (error) {
      message = String(error);
    }
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('BUS_INTEREST_TTL_MS');
    expect(message).not.toContain('s3cret');
  });
});
