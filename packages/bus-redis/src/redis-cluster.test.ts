import { randomUUID } from 'node:crypto';
import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import { runBusContract } from '@gw/bus/testing';
import type { BusClusterFixture } from '@gw/bus/testing';
import { loadConfig } from '@gw/config';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { busRedisConfig, createRedisBus, createRedisClusterClients, redisUrls } from './index.js';
import { redisBusNodes } from './testing/bus-nodes.js';
import { startRedisCluster } from './testing/cluster.js';
import type { LocalRedisCluster } from './testing/cluster.js';

let cluster: LocalRedisCluster;

beforeAll(async () => {
  cluster = await startRedisCluster();
});

afterAll(async () => {
  await cluster.stop();
});

function clusterFixture(): BusClusterFixture {
  const { createNode, crashNode, closeNodes } = redisBusNodes(
    () => createRedisClusterClients(cluster.url.split(','), { maxReconnectDelayMs: 100, connectionName: 'gwtest' }),
    10_000,
  );
  // The cluster is private to this file and dropped at the end: keys of one test do not meet another's prefix.
  return { createNode, crashNode, cleanup: closeNodes };
}

describe('on a Redis Cluster', () => {
  runBusContract('redis cluster', () => Promise.resolve(clusterFixture()), { restartableBackend: false });
});

describe('redis cluster specifics', () => {
  const prefix = `gwtest:${randomUUID().slice(0, 8)}:`;
  const buses: Bus[] = [];

  async function node(): Promise<Bus> {
    const bus = createRedisBus({ ...createRedisClusterClients(cluster.url.split(',')), prefix, onError: () => undefined });
    buses.push(bus);
    await whenConnected(bus, 10_000);
    return bus;
  }

  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.close()));
  });

  async function slotOf(key: string): Promise<number> {
    return (await cluster.command(cluster.ports[0]!, 'CLUSTER', 'KEYSLOT', key)) as number;
  }

  async function masters(): Promise<number[]> {
    return (await cluster.nodes()).filter((n) => n.role === 'master').map((n) => n.port);
  }

  it('keeps every key and the channel of a topic in one slot, and spreads topics over every master', async () => {
    const bus = await node();
    const topics = Array.from({ length: 30 }, (_, i) => `spread.${i}`);
    for (const topic of topics) {
      await bus.publishLatest(topic, topic);
      await bus.append(topic, topic, { maxLength: 10, maxAgeMs: 60_000 });
    }
    for (const topic of topics.slice(0, 5)) {
      const slots = await Promise.all(
        [`${prefix}seq:{${topic}}`, `${prefix}latest:{${topic}}`, `${prefix}hist:{${topic}}`, `${prefix}{${topic}}`].map(slotOf),
      );
      expect(new Set(slots).size).toBe(1);
    }
    const holding = [];
    for (const port of await masters()) {
      const keys = (await cluster.command(port, 'KEYS', `${prefix}latest:*`)) as string[];
      holding.push(keys.length);
    }
    expect(holding).toHaveLength(3);
    expect(holding.every((count) => count > 0)).toBe(true);
    expect(holding.reduce((sum, count) => sum + count, 0)).toBe(topics.length);
    // One call reads topics of every shard, in order.
    const read = await bus.latestMany<string>([...topics, 'spread.none']);
    expect(read.map((envelope) => envelope?.data)).toEqual([...topics, undefined]);
  });

  it('carries live messages on sharded pub/sub only: one SSUBSCRIBE per topic on its own shard', async () => {
    const [a, b] = [await node(), await node()];
    const channel = `${prefix}{shard.t}`;
    const owner = await (async () => {
      for (const port of await masters()) {
        const [, count] = (await cluster.command(port, 'PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
        if (count > 0) {
          return port;
        }
      }
      return undefined;
    })();
    expect(owner).toBeUndefined();
    const received: unknown[] = [];
    const subs = await Promise.all([1, 2, 3].map(() => a.subscribe('shard.t', (m) => received.push(m.data))));
    const counts = await Promise.all(
      (await masters()).map(async (port) => ((await cluster.command(port, 'PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]),
    );
    expect(counts.sort()).toEqual([0, 0, 1]);
    for (const port of await masters()) {
      expect(await cluster.command(port, 'PUBSUB', 'CHANNELS', `${prefix}*`)).toEqual([]);
    }
    await b.publish('shard.t', 1);
    await vi.waitFor(() => {
      expect(received).toEqual([1, 1, 1]);
    });
    await Promise.all(subs.map((s) => s.unsubscribe()));
    await vi.waitFor(async () => {
      const left = await Promise.all(
        (await masters()).map(async (port) => ((await cluster.command(port, 'PUBSUB', 'SHARDNUMSUB', channel)) as [string, number])[1]),
      );
      expect(left).toEqual([0, 0, 0]);
    });
  });

  it('serves topics whose names hold braces, which would otherwise move the hash tag', async () => {
    const [a, b] = [await node(), await node()];
    for (const topic of ['brace.}x', '}lead', 'brace.{y}', '{z']) {
      const live: unknown[] = [];
      await a.subscribe(topic, (m) => live.push(m.data));
      const stored = await b.publishLatest(topic, topic);
      const appended = await b.append(topic, 'h', { maxLength: 10, maxAgeMs: 60_000 });
      expect((await a.latest(topic))?.id).toBe(stored.id);
      expect((await a.readSince(topic, stored.id!)).messages.map((m) => m.id)).toEqual([appended.id]);
      await vi.waitFor(() => {
        expect(live).toEqual([topic, 'h']);
      });
    }
  });

  it('a prefix subscription gets its family only, in publish order across publish, publishLatest and append', async () => {
    const [a, b] = [await node(), await node()];
    const family: number[] = [];
    const others: string[] = [];
    await a.subscribe<number>('ord.x.*', (m) => family.push(m.data));
    await a.subscribe('other.*', (m) => others.push(m.topic));
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i += 1) {
      const kind = i % 3;
      sends.push(
        kind === 0
          ? b.publish('ord.x.t', i)
          : kind === 1
            ? b.publishLatest('ord.x.t', i)
            : b.append('ord.x.t', i, { maxLength: 10, maxAgeMs: 60_000 }),
      );
      sends.push(b.publish('ord.y.t', -1));
    }
    await Promise.all(sends);
    await vi.waitFor(() => {
      expect(family).toHaveLength(300);
    });
    expect(family).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(others).toEqual([]);
  });
});

describe('cluster configuration', () => {
  it('takes REDIS_CLUSTER and a list of seed nodes, and refuses a list without it', () => {
    const env = { REDIS_URL: 'redis://:s3cret@h1:7000, redis://h2:7001', REDIS_CLUSTER: 'true' };
    const config = loadConfig(env, { bus: busRedisConfig });
    expect(config.bus.redisCluster).toBe(true);
    expect(redisUrls(config.bus.redisUrl!)).toEqual(['redis://:s3cret@h1:7000', 'redis://h2:7001']);
    expect(loadConfig({ REDIS_URL: 'redis://h1:7000', REDIS_CLUSTER: 'true' }, { bus: busRedisConfig }).bus.redisCluster).toBe(true);
    const refused = (input: Record<string, string>): string => {
      try {
        loadConfig(input, { bus: busRedisConfig });
        return '';
      } catch (error) {
        return String(error);
      }
    };
    const list = refused({ REDIS_URL: env.REDIS_URL });
    expect(list).toContain('REDIS_URL');
    expect(list).toContain('REDIS_CLUSTER=true');
    expect(list).not.toContain('s3cret');
    expect(refused({ REDIS_URL: 'redis://h1:7000,http://h2', REDIS_CLUSTER: 'true' })).toContain('REDIS_URL');
    expect(refused({ REDIS_URL: 'redis://h1:7000', REDIS_CLUSTER: 'yes please' })).toContain('REDIS_CLUSTER');
    expect(refused({ REDIS_URL: 'redis://h1:7000', REDIS_CLUSTER: 'true', REDIS_KEY_PREFIX: 'gw{1}:' })).toContain('REDIS_KEY_PREFIX');
  });
});
