import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Bus } from '@gw/bus';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { SignalsClient } from '@gw/client';
import type { DisconnectInfo, SignalFrame, SignalRecovery, SignalsConnected, SignalsClientOptions } from '@gw/client';
import { signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { buy, publishSignal, token } from '../protocols/signals/fixture.js';
import type { TestGateway } from '../testing/gateway.js';
import { stopAll } from '../faults/harness.js';
import type { RedisServer } from '../faults/harness.js';
import { startProxiedSignalsGateway } from '../faults/tcp-proxy.js';
import type { ProxiedSignalsGateway } from '../faults/tcp-proxy.js';
import { Inbox, fastReconnect } from './fixture.js';

/**
 * The SDK's side of a gateway node's bus outage: the node keeps its clients connected, and when signals
 * published meanwhile are gone it tells them mid-stream (`recovery`, `recovered: false`). `SignalsClient`
 * reports that notice through `onRecovery` with what the frame says and `since` = the last id it had received
 * (where it stood, not the `since` of its last connection), takes the signals that follow, and keeps going
 * without reconnecting.
 *
 * The gateway runs in this process on a private redis-server it reaches through a proxy the test cuts; the
 * test appends signals with a bus of its own, straight to Redis, as another node would.
 */

const history = { maxLength: 1_000, maxAgeMs: 86_400_000 };

type Setup = ProxiedSignalsGateway;

const cleanups: (() => Promise<void>)[] = [];
const clients: SignalsClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) {
    client.close();
  }
  for (const cleanup of cleanups.splice(0).reverse()) {
    await cleanup();
  }
  await stopAll();
});

async function setup(): Promise<Setup> {
  const proxied = await startProxiedSignalsGateway('gwsdkmid');
  cleanups.push(() => proxied.gateway.shutdown());
  await expect.poll(() => proxied.gateway.bus.state, { timeout: 10_000 }).toBe('connected');
  return proxied;
}

/** A SignalsClient on the gateway with an inbox for everything it reports; closed after each test. */
function open(gateway: TestGateway, options: Partial<SignalsClientOptions> = {}) {
  const client = new SignalsClient({ url: `${gateway.wsUrl}/ws/signals`, WebSocket, getToken: () => token(4), reconnect: fastReconnect, ...options });
  clients.push(client);
  const inbox = {
    signals: new Inbox<SignalFrame>(),
    recoveries: new Inbox<SignalRecovery>(),
    connects: new Inbox<SignalsConnected>(),
    disconnects: new Inbox<DisconnectInfo>(),
  };
  client.onSignal(inbox.signals.push);
  client.onRecovery(inbox.recoveries.push);
  client.onConnect(inbox.connects.push);
  client.onDisconnect(inbox.disconnects.push);
  return { client, ...inbox };
}

/** Publishes a signal through the gateway's API (it goes to Redis and back to the node) and returns its id. */
async function publish(gateway: TestGateway, price: number): Promise<string> {
  const { status, json } = await publishSignal(gateway, buy('BTCUSDT', price));
  expect(status, JSON.stringify(json)).toBe(201);
  return json['id'] as string;
}

/** A bus of the test's own on `redis` (not through the proxy): another node or a worker appending. */
function publisherOn(redis: RedisServer, prefix: string): Bus {
  const bus = createRedisBus({ ...createRedisClients(redis.url, { maxReconnectDelayMs: 200 }), prefix });
  cleanups.push(() => bus.close());
  return bus;
}

async function append(bus: Bus, price: number): Promise<string> {
  const signal: Signal = { type: 'buy', content: { symbol: 'BTCUSDT', price, timestamp: Math.floor(Date.now() / 1000) }, source: 'api' };
  return (await bus.append(signalsTopic, signal, history)).id;
}

const epochOf = (id: string | undefined): string | undefined => id?.slice(0, id.lastIndexOf(':'));

describe('SignalsClient and a mid-stream recovery notice (the node lost its bus while the client stayed connected)', () => {
  it('reports recovered: false (epoch_changed) with since = the last id it received, takes the new history, then live signals', async () => {
    const s = await setup();
    // The client starts from a saved position, so its connection has a `since` of its own (a stale value the
    // mid-stream notice must not be reported with).
    const saved = await publish(s.gateway, 1);
    const { client, signals, recoveries, connects, disconnects } = open(s.gateway, { since: saved });
    expect(await connects.next()).toEqual({ since: saved });
    expect(await recoveries.next()).toEqual({ since: saved, recovered: true, replayed: 0, position: saved });
    const before = [await publish(s.gateway, 2), await publish(s.gateway, 3)];
    expect((await signals.next()).id).toBe(before[0]);
    expect((await signals.next()).id).toBe(before[1]);

    // The node loses Redis; Redis restarts empty, and another node appends to the new history meanwhile.
    s.proxy.cut();
    await expect.poll(() => s.gateway.bus.state, { timeout: 10_000 }).toBe('disconnected');
    await s.redis.down();
    await s.redis.up();
    const publisher = publisherOn(s.redis, s.prefix);
    await expect.poll(() => publisher.state, { timeout: 15_000 }).toBe('connected');
    const newHistory = [await append(publisher, 4), await append(publisher, 5)];
    expect(epochOf(newHistory[0])).not.toBe(epochOf(before[0]));

    // The node is back: it tells the client what was lost, mid-stream, then replays the new history.
    s.proxy.restore();
    expect(await recoveries.next()).toEqual({
      since: before[1],
      recovered: false,
      reason: 'epoch_changed',
      missedFrom: newHistory[0],
      replayed: 2,
    });
    expect((await signals.next()).id).toBe(newHistory[0]);
    expect((await signals.next()).id).toBe(newHistory[1]);

    // Live signals keep arriving, on the same connection.
    await expect.poll(() => s.gateway.bus.state, { timeout: 15_000 }).toBe('connected');
    const live = await publish(s.gateway, 6);
    expect((await signals.next()).id).toBe(live);
    expect(signals.values.map((signal) => signal.id)).toEqual([...before, ...newHistory, live]);
    expect(client.lastSignalId).toBe(live);
    expect(recoveries.values).toHaveLength(2);
    expect(connects.values).toHaveLength(1);
    expect(disconnects.values).toEqual([]);
    expect(client.state).toBe('connected');
  });

  it('reports recovered: false (invalid_id) when the signals it had were lost and new signals took their ids', async () => {
    // A Redis failover loses what the old master acknowledged but had not replicated yet, and the new master
    // gives those ids to the next signals: as many new signals as were lost leave the client's last id valid,
    // naming another signal. Here Redis goes back to a copy taken after the first signal (as a replica that
    // missed the last writes would), and another node appends two signals while this node is cut off.
    const s = await setup();
    const { pub: direct, sub: unused } = createRedisClients(s.redis.url);
    unused.disconnect();
    cleanups.push(() => {
      direct.disconnect();
      return Promise.resolve();
    });
    await expect.poll(() => direct.status).toBe('ready');
    const keys = [`${s.prefix}seq:${signalsTopic}`, `${s.prefix}hist:${signalsTopic}`];
    const { signals, recoveries, connects } = open(s.gateway);
    await connects.next();
    await expect.poll(() => s.gateway.bus.state).toBe('connected');
    const kept = await publish(s.gateway, 1);
    expect((await signals.next()).id).toBe(kept);
    const copy = await Promise.all(keys.map((key) => direct.dumpBuffer(key)));
    const lost = [await publish(s.gateway, 2), await publish(s.gateway, 3)];
    expect((await signals.next()).id).toBe(lost[0]);
    expect((await signals.next()).id).toBe(lost[1]);

    s.proxy.cut();
    await expect.poll(() => s.gateway.bus.state, { timeout: 10_000 }).toBe('disconnected');
    await Promise.all(keys.map((key, i) => direct.restore(key, 0, copy[i] as Buffer, 'REPLACE')));
    const publisher = publisherOn(s.redis, s.prefix);
    await expect.poll(() => publisher.state, { timeout: 15_000 }).toBe('connected');
    const reused = [await append(publisher, 20), await append(publisher, 30)];
    expect(reused).toEqual(lost);

    // The node is back: its last id names another signal now, so it tells the client signals may be missing
    // rather than carrying on as if nothing happened.
    s.proxy.restore();
    expect(await recoveries.next()).toEqual({ since: lost[1], recovered: false, reason: 'invalid_id', missedFrom: null, replayed: 0 });
    await expect.poll(() => s.gateway.bus.state, { timeout: 15_000 }).toBe('connected');
    const live = await publish(s.gateway, 4);
    expect((await signals.next()).id).toBe(live);
    expect(signals.values.map((signal) => signal.id)).toEqual([kept, ...lost, live]);
    expect(recoveries.values).toHaveLength(1);
  });

  it('after a recovered: false the dedup guard starts over: signals whose ids are not after the old position still arrive', async () => {
    // `invalid_id`: the client's position is beyond the history (Redis restored from an older copy keeps the
    // epoch but not the last ids). What the node sends next reuses those ids and is new to the client.
    const s = await setup();
    const first = await publish(s.gateway, 1);
    const beyond = `${epochOf(first)}:${Number(first.slice(first.lastIndexOf(':') + 1)) + 1_000}`;
    const { client, signals, recoveries } = open(s.gateway, { since: beyond });
    expect(await recoveries.next()).toEqual({ since: beyond, recovered: false, reason: 'invalid_id', missedFrom: null, replayed: 0 });
    const next = await publish(s.gateway, 2);
    expect((await signals.next()).id).toBe(next);
    expect(client.lastSignalId).toBe(next);
  });
});
