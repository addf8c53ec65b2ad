import { randomUUID } from 'node:crypto';
import { whenConnected } from '@gw/bus';
import type { Bus, Envelope, InterestChange } from '@gw/bus';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedisBus, createRedisClusterClients } from './index.js';
import type { RedisClusterClient } from './index.js';
import { startRedisCluster } from './testing/cluster.js';
import type { LocalRedisCluster } from './testing/cluster.js';

// A failover takes cluster-node-timeout (1 s here) to detect plus an election: allow for a loaded machine.
const RECOVERY = { timeout: 30_000, interval: 20 } as const;
const HISTORY = { maxLength: 1_000, maxAgeMs: 600_000 };

let cluster: LocalRedisCluster;
const prefix = `gwtest:${randomUUID().slice(0, 8)}:`;
const nodes: { bus: Bus; clients: { pub: RedisClusterClient; sub: RedisClusterClient } }[] = [];

async function node(): Promise<{ bus: Bus; clients: { pub: RedisClusterClient; sub: RedisClusterClient } }> {
  const clients = createRedisClusterClients(cluster.url.split(','), { maxReconnectDelayMs: 200, slotsRefreshIntervalMs: 1_000 });
  const bus = createRedisBus({ ...clients, prefix, onError: () => undefined });
  const created = { bus, clients };
  nodes.push(created);
  await whenConnected(bus, 10_000);
  return created;
}

/** The port of the master that serves `key` now. */
async function masterOf(key: string): Promise<number> {
  const port = cluster.ports[0]!;
  const slot = (await cluster.command(port, 'CLUSTER', 'KEYSLOT', key)) as number;
  const ranges = (await cluster.command(port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (range === undefined) {
    throw new Error(`no master serves slot ${slot}`);
  }
  return range[2][1];
}

/** A topic whose keys live on `port` (topics are spread over the masters by their hash tag). */
async function topicOn(port: number, base: string): Promise<string> {
  for (let i = 0; ; i += 1) {
    const topic = `${base}${i}`;
    if ((await masterOf(`${prefix}seq:{${topic}}`)) === port) {
      return topic;
    }
  }
}

beforeAll(async () => {
  cluster = await startRedisCluster({ nodeTimeoutMs: 1_000 });
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.bus.close()));
  await cluster.stop();
});

describe('redis cluster failover', () => {
  it('a master killed with SIGKILL: its replica takes over, the bus reconnects and loses nothing replicated', async () => {
    // The master that holds the interest bookkeeping, and topics on that same master: the kill hits all of it.
    const victim = await masterOf(`${prefix}{interest}:nodes`);
    const live = await topicOn(victim, 'fo.live.');
    const history = await topicOn(victim, 'fo.hist.');
    const { bus: a } = await node();
    const { bus: b, clients: bClients } = await node();
    const { bus: w } = await node();

    const exact: number[] = [];
    const pattern: number[] = [];
    await a.subscribe<number>(live, (m: Envelope<number>) => exact.push(m.data));
    await a.subscribe<number>('fo.*', (m: Envelope<number>) => {
      if (m.topic === live) {
        pattern.push(m.data);
      }
    });
    const changes: InterestChange[] = [];
    await w.watchInterest('fo.', (change) => changes.push(change));
    await a.declareInterest('fo.before');
    await vi.waitFor(() => {
      expect(changes).toContainEqual({ topic: 'fo.before', interested: true });
    }, RECOVERY);

    const appended = [];
    for (let i = 0; i < 20; i += 1) {
      appended.push(await b.append(history, i, HISTORY));
    }
    const latest = await b.publishLatest(`${history}.latest`, 'kept');
    // The replica acknowledged every write of b's connection to the victim: it is what survives the kill.
    const victimConnection = bClients.pub.nodes('master').find((n) => n.options.port === victim);
    expect(victimConnection).toBeDefined();
    expect(await victimConnection!.call('WAIT', 1, 5_000)).toBe(1);

    // A publisher keeps going through the failover (failures are expected while the shard is down).
    let counter = 0;
    const control = { publishing: true };
    const publisher = (async () => {
      while (control.publishing) {
        const n = counter++;
        await b.publish(live, n).catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await vi.waitFor(() => {
      expect(exact.length).toBeGreaterThan(5);
    }, RECOVERY);

    const states: string[] = [];
    a.onStateChange((state) => states.push(state));
    const killedAt = Date.now();
    await cluster.kill(victim);
    await vi.waitFor(() => {
      expect(a.state).toBe('disconnected');
    }, RECOVERY);
    const disconnectedAfter = Date.now() - killedAt;
    await vi.waitFor(() => {
      expect(a.state).toBe('connected');
      expect(b.state).toBe('connected');
      expect(w.state).toBe('connected');
    }, RECOVERY);
    const connectedAfter = Date.now() - killedAt;
    const afterReconnect = counter;
    await vi.waitFor(() => {
      expect(exact.at(-1)).toBeGreaterThanOrEqual(afterReconnect);
      expect(pattern.at(-1)).toBeGreaterThanOrEqual(afterReconnect);
    }, RECOVERY);
    const deliveringAfter = Date.now() - killedAt;
    control.publishing = false;
    await publisher;
    console.info(
      `redis cluster failover: bus disconnected after ${disconnectedAfter} ms, connected after ${connectedAfter} ms, ` +
        `delivering after ${deliveringAfter} ms (cluster-node-timeout 1000 ms)`,
    );
    expect(states).toContain('disconnected');
    await cluster.waitHealthy();
    expect((await cluster.nodes()).every((n) => n.port !== victim)).toBe(true);
    // Every change was reported, the last one `connected`. Not necessarily at once: on a loaded machine the bus
    // was seen to report `disconnected` once more after it reconnected, while the clients' view of the cluster
    // settled (a slot map refresh answered by a node that had not learnt of the promotion yet, or a subscriber
    // connection re-created meanwhile, is trouble the bus cannot tell from a real one).
    await vi.waitFor(() => {
      expect(states.at(-1)).toBe('connected');
      expect(a.state).toBe('connected');
    }, RECOVERY);

    // At most once, in order: nothing delivered twice or out of order, on either subscription.
    for (const received of [exact, pattern]) {
      for (let i = 1; i < received.length; i += 1) {
        expect(received[i]!).toBeGreaterThan(received[i - 1]!);
      }
    }

    // What was replicated before the kill is all there, in the same epoch.
    const read = await a.readSince<number>(history, appended[0]!.id);
    expect(read).toMatchObject({ recovered: true, position: appended.at(-1)!.id });
    expect(read.messages.map((m) => m.data)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect((await a.latest(`${history}.latest`))?.id).toBe(latest.id);
    const next = await b.append(history, 20, HISTORY);
    expect(next.id.split(':')[0]).toBe(appended[0]!.id.split(':')[0]);

    // Interest: what was declared before is still known, and notices flow from the promoted master.
    expect(await w.interestedTopics('fo.')).toContain('fo.before');
    await b.declareInterest('fo.after');
    await vi.waitFor(() => {
      expect(changes).toContainEqual({ topic: 'fo.after', interested: true });
    }, RECOVERY);
    expect(await a.interestedTopics('fo.')).toEqual(['fo.after', 'fo.before']);
  });
});
