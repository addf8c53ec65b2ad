import { setTimeout as delay } from 'node:timers/promises';
import type { Bus } from '@gw/bus';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { afterEach, describe, expect, it } from 'vitest';
import { connectWithToken, countingReader } from '../protocols/signals/fixture.js';
import type { SignalClient } from '../protocols/signals/fixture.js';
import type { TestGateway } from '../testing/gateway.js';
import { RedisServer, closeLater, clusterEnv, getJson, postSignal, signalClient, startGatewayProcess, stopAll } from './harness.js';
import { startProxiedSignalsGateway } from './tcp-proxy.js';
import type { TcpProxy } from './tcp-proxy.js';

/**
 * A gateway node whose bus subscription was down while signals were published elsewhere: its connected
 * clients get what they missed, from history, before live signals, each once and only what its filter
 * selects; when the history is gone (Redis restarted empty) they are told `recovered: false`.
 *
 * One gateway in this process reaches a private redis-server through a proxy the test cuts (the node loses
 * Redis, Redis keeps its data); signals are appended by a bus of the test's own, straight to Redis, as
 * another node or a worker would.
 */

const history = { maxLength: 1_000, maxAgeMs: 86_400_000 };
/** The producer's pace while the node reconnects (50 signals/s), so the hand-over runs while signals flow. */
const PUBLISH_INTERVAL_MS = 20;

interface Published {
  id: string;
  source: string;
  symbol: string;
}

/** Four producers and symbols in turn, so every filter below selects some signals and skips others. */
const mix = [
  { source: 'api', symbol: 'BTCUSDT' },
  { source: 'api', symbol: 'ETHUSDT' },
  { source: 'volume_wave', symbol: '600519' },
  { source: 'crypto-signals', symbol: 'ETHUSDT' },
] as const;

/** The clients of every test: the query each connects with, and what that query selects. */
const filters: Record<string, { query: string; selects: (s: Published) => boolean }> = {
  legacy: { query: '', selects: (s) => s.source === 'api' || s.source === 'crypto-signals' },
  eth: { query: '?symbols=ETHUSDT', selects: (s) => s.symbol === 'ETHUSDT' && s.source !== 'volume_wave' },
  wave: { query: '?sources=volume_wave', selects: (s) => s.source === 'volume_wave' },
  every: { query: '?sources=*', selects: () => true },
};

interface Setup {
  redis: RedisServer;
  proxy: TcpProxy;
  gateway: TestGateway;
  publisher: Bus;
  clients: Record<string, SignalClient>;
  published: Published[];
  /** Appends `count` signals; `keep` bounds the history they are appended to (what a trimmed history keeps). */
  publish: (count: number, keep?: number) => Promise<void>;
  /** The ids each client must have received of `signals`, by client name. */
  expected: (signals: readonly Published[]) => Record<string, string[]>;
  /** The ids of the signals each client received, by client name. */
  received: () => Record<string, string[]>;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
  await stopAll();
});

async function setup(): Promise<Setup> {
  const { redis, proxy, gateway, prefix } = await startProxiedSignalsGateway('gwcatchup');
  cleanups.push(() => gateway.shutdown());
  const publisher = createRedisBus({ ...createRedisClients(redis.url, { maxReconnectDelayMs: 200 }), prefix });
  cleanups.push(() => publisher.close());
  const clients: Record<string, SignalClient> = {};
  for (const [name, filter] of Object.entries(filters)) {
    const client = await connectWithToken(gateway, filter.query);
    closeLater(() => {
      client.socket.terminate();
    });
    clients[name] = client;
  }
  const published: Published[] = [];
  const publish = async (count: number, keep = history.maxLength): Promise<void> => {
    for (let i = 0; i < count; i += 1) {
      const { source, symbol } = mix[published.length % mix.length] ?? mix[0];
      const signal: Signal = { type: 'buy', content: { symbol, price: published.length + 1, timestamp: Math.floor(Date.now() / 1000) }, source };
      const envelope = await publisher.append(signalsTopic, signal, { ...history, maxLength: keep });
      published.push({ id: envelope.id, source, symbol });
    }
  };
  const expected = (signals: readonly Published[]): Record<string, string[]> =>
    Object.fromEntries(Object.entries(filters).map(([name, filter]) => [name, signals.filter(filter.selects).map((s) => s.id)]));
  const received = (): Record<string, string[]> =>
    Object.fromEntries(Object.entries(clients).map(([name, client]) => [name, client.signals().map((s) => String(s['id']))]));
  return { redis, proxy, gateway, publisher, clients, published, publish, expected, received };
}

/** Cuts the node off, restarts Redis empty and waits until the test's own bus is back on it. */
async function restartRedisEmptyWhileCutOff(s: Setup): Promise<void> {
  await cutOff(s);
  await s.redis.down();
  await s.redis.up();
  await expect.poll(() => s.publisher.state, { timeout: 15_000 }).toBe('connected');
}

/** Cuts the node off Redis and waits until it knows. */
async function cutOff(s: Setup): Promise<void> {
  s.proxy.cut();
  await expect.poll(() => s.gateway.bus.state, { timeout: 10_000 }).toBe('disconnected');
}

/**
 * Lets the node reconnect while the producer keeps publishing, and goes on for `after` more signals once the
 * node is back: signals arrive live while its clients are being handed over.
 */
async function reconnectWhilePublishing(s: Setup, after: number): Promise<void> {
  s.proxy.restore();
  const deadline = Date.now() + 20_000;
  let sinceBack = 0;
  while (sinceBack < after) {
    expect(Date.now(), 'the node did not reconnect').toBeLessThan(deadline);
    await s.publish(1);
    if (s.gateway.bus.state === 'connected') {
      sinceBack += 1;
    }
    await delay(PUBLISH_INTERVAL_MS);
  }
}

describe('signal clients of a node whose bus subscription was down', () => {
  it('receive the signals published meanwhile from history, once and in order, then live ones', async () => {
    const s = await setup();
    // More clients than one hand-over batch: the node hands them over in several turns while signals flow.
    const readers = await Promise.all(Array.from({ length: 250 }, () => countingReader(s.gateway, '?sources=*')));
    closeLater(() => {
      for (const reader of readers) {
        reader.close();
      }
    });
    await s.publish(8);
    await expect.poll(s.received, { timeout: 10_000 }).toEqual(s.expected(s.published));

    await cutOff(s);
    await s.publish(12);
    // Nothing can reach the node now: these twelve are what its clients miss.
    expect(s.received()).toEqual(s.expected(s.published.slice(0, 8)));

    await reconnectWhilePublishing(s, 20);
    await expect.poll(s.received, { timeout: 15_000 }).toEqual(s.expected(s.published));
    // Nothing was lost, so nothing is announced: only signals reached the clients.
    for (const client of Object.values(s.clients)) {
      expect(client.frames.filter((f) => f['type'] !== 'buy')).toEqual([]);
    }
    // Each reader checks that the prices it got are 1, 2, 3, ...: every signal once, in order, nothing else.
    await expect.poll(() => readers.filter((r) => r.count() === s.published.length).length, { timeout: 15_000 }).toBe(readers.length);
    expect(readers.every((r) => r.inOrder())).toBe(true);
  });

  it('also when the node had received no signal yet', async () => {
    const s = await setup();
    await cutOff(s);
    await s.publish(10);
    await reconnectWhilePublishing(s, 10);
    await expect.poll(s.received, { timeout: 15_000 }).toEqual(s.expected(s.published));
    for (const client of Object.values(s.clients)) {
      expect(client.frames.filter((f) => f['type'] !== 'buy')).toEqual([]);
    }
  });

  it('are told recovered: false when the history no longer reaches back to their last signal, then get what it kept', async () => {
    const s = await setup();
    await s.publish(8);
    await expect.poll(s.received, { timeout: 10_000 }).toEqual(s.expected(s.published));

    await cutOff(s);
    await s.publish(12, 5); // the history keeps the last five of them
    const kept = s.published.slice(-5);
    s.proxy.restore();
    const notices = (): Record<string, unknown>[][] => Object.values(s.clients).map((c) => c.frames.filter((f) => f['type'] === 'recovery'));
    await expect.poll(() => notices().every((n) => n.length > 0), { timeout: 15_000 }).toBe(true);
    await s.publish(5);
    const lost = new Set(s.published.slice(8, 15).map((p) => p.id));
    await expect.poll(s.received, { timeout: 15_000 }).toEqual(s.expected(s.published.filter((p) => !lost.has(p.id))));
    const before = s.expected(s.published.slice(0, 8));
    const replayed = s.expected(kept);
    for (const [name, client] of Object.entries(s.clients)) {
      expect(client.frames.filter((f) => f['type'] === 'recovery'), name).toEqual([
        { type: 'recovery', recovered: false, reason: 'too_old', missed_from: s.published[8]?.id, replayed: replayed[name]?.length },
      ]);
      expect(client.frames.findIndex((f) => f['type'] === 'recovery'), name).toBe(before[name]?.length);
    }
  });

  it('are told recovered: false when Redis came back empty, then get the new epoch from its start, then live ones', async () => {
    const s = await setup();
    await s.publish(5);
    await expect.poll(s.received, { timeout: 10_000 }).toEqual(s.expected(s.published));

    await restartRedisEmptyWhileCutOff(s);
    // Accepted by the empty Redis before the node is back: a new epoch its clients have not seen.
    await s.publish(6);
    const newEpoch = s.published.slice(5);
    expect(newEpoch[0]?.id.split(':')[0]).not.toBe(s.published[0]?.id.split(':')[0]);

    s.proxy.restore();
    const notices = (): Record<string, unknown>[][] => Object.values(s.clients).map((c) => c.frames.filter((f) => f['type'] === 'recovery'));
    await expect.poll(() => notices().every((n) => n.length > 0), { timeout: 15_000 }).toBe(true);
    await s.publish(8);
    await expect.poll(s.received, { timeout: 15_000 }).toEqual(s.expected(s.published));
    const before = s.expected(s.published.slice(0, 5));
    const replayed = s.expected(newEpoch);
    for (const [name, client] of Object.entries(s.clients)) {
      expect(client.frames.filter((f) => f['type'] === 'recovery'), name).toEqual([
        { type: 'recovery', recovered: false, reason: 'epoch_changed', missed_from: newEpoch[0]?.id, replayed: replayed[name]?.length },
      ]);
      // The notice comes right after the last signal of the old epoch, before anything of the new one.
      expect(client.frames.findIndex((f) => f['type'] === 'recovery'), name).toBe(before[name]?.length);
    }
  });

  it('hand over the new epoch with no gap and no duplicate while signals keep flowing after Redis came back empty', async () => {
    const s = await setup();
    await s.publish(5);
    await expect.poll(s.received, { timeout: 10_000 }).toEqual(s.expected(s.published));

    await restartRedisEmptyWhileCutOff(s);
    await s.publish(3);
    const newEpoch = s.published.slice(5);

    await reconnectWhilePublishing(s, 20);
    await expect.poll(s.received, { timeout: 15_000 }).toEqual(s.expected(s.published));
    const before = s.expected(s.published.slice(0, 5));
    const atLeast = s.expected(newEpoch);
    for (const [name, client] of Object.entries(s.clients)) {
      const notices = client.frames.filter((f) => f['type'] === 'recovery');
      expect(notices, name).toHaveLength(1);
      expect(Object.keys(notices[0] ?? {}).sort(), name).toEqual(['missed_from', 'reason', 'recovered', 'replayed', 'type']);
      expect(notices[0], name).toMatchObject({ type: 'recovery', recovered: false, reason: 'epoch_changed', missed_from: newEpoch[0]?.id });
      // What was accepted before the node was back is replayed; more may have been by the time it read history.
      expect(notices[0]?.['replayed'], name).toBeGreaterThanOrEqual(atLeast[name]?.length ?? 0);
      expect(client.frames.findIndex((f) => f['type'] === 'recovery'), name).toBe(before[name]?.length);
    }
  });
});

describe('three gateway processes while Redis is killed and restarted empty, signals published on every node', () => {
  it('leave no connected client silent about a loss: each is told, then gets every signal of the new history once, in order', async () => {
    const redis = await RedisServer.start();
    // No embedded signal producer: the signals are exactly those the test publishes.
    const env = clusterEnv(redis, { SOURCES: 'heartbeat' });
    const nodes = await Promise.all(['gw-a', 'gw-b', 'gw-c'].map((name) => startGatewayProcess(name, env)));
    const clients = await Promise.all(
      nodes.flatMap((node) => [
        signalClient(node.wsUrl).then((client) => ({ client, wants: (_symbol: string) => true })),
        signalClient(node.wsUrl, '?symbols=ETHUSDT').then((client) => ({ client, wants: (symbol: string) => symbol === 'ETHUSDT' })),
      ]),
    );
    const accepted: { id: string; symbol: string }[] = [];
    let turn = 0;
    /** One POST /api/signals on the next node in turn; refusals (503 while its bus is down) are not signals. */
    const publishOne = async (): Promise<void> => {
      const node = nodes[turn % nodes.length] ?? nodes[0];
      turn += 1;
      const symbol = turn % 2 === 0 ? 'ETHUSDT' : 'BTCUSDT';
      const response = node === undefined ? undefined : await postSignal(node, symbol, turn).catch(() => undefined);
      if (response?.status === 201) {
        accepted.push({ id: String(response.body['id']), symbol });
      }
    };
    const expectedIds = (wants: (symbol: string) => boolean, of: readonly { id: string; symbol: string }[]): string[] =>
      of.filter((s) => wants(s.symbol)).map((s) => s.id);
    const allReceived = (): boolean =>
      clients.every(({ client, wants }) => JSON.stringify(client.signals().map((f) => f['id'])) === JSON.stringify(expectedIds(wants, accepted)));

    for (let i = 0; i < 9; i += 1) {
      await publishOne();
    }
    await expect.poll(allReceived).toBe(true);
    const before = accepted.slice();

    await redis.down();
    for (const node of nodes) {
      await expect.poll(async () => (await getJson(`${node.httpUrl}/api/ready`)).status).toBe(503);
    }
    await redis.up();
    // 20 signals/s, each on the next node, until every node is ready again and 40 were accepted since: nodes
    // back first accept signals before the others have resubscribed.
    const deadline = Date.now() + 40_000;
    let allReady = false;
    while (!allReady || accepted.length - before.length < 40) {
      expect(Date.now(), 'the cluster did not come back').toBeLessThan(deadline);
      await publishOne();
      if (!allReady) {
        allReady = (await Promise.all(nodes.map((node) => getJson(`${node.httpUrl}/api/ready`)))).every((r) => r.status === 200);
      }
      await delay(50);
    }
    await expect.poll(allReceived).toBe(true);
    const firstOfNewHistory = accepted[before.length]?.id;
    for (const { client, wants } of clients) {
      const notices = client.frames.filter((f) => f['type'] === 'recovery');
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatchObject({ recovered: false, reason: 'epoch_changed' });
      expect(String(notices[0]?.['missed_from']).split(':')[0]).toBe(firstOfNewHistory?.split(':')[0]);
      // Told right after the last signal it had before the restart, ahead of anything of the new history.
      expect(client.frames.findIndex((f) => f['type'] === 'recovery')).toBe(expectedIds(wants, before).length);
    }
  });
});
