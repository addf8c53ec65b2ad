import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineConfigSection } from '@gw/config';
import { createLogger, sleep } from '@gw/core';
import { createPromMetrics } from '@gw/metrics';
import { runSource } from '@gw/source';
import type { DataSource } from '@gw/source';
import { signalTopicDeclaration, signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { Registry } from 'prom-client';
import { WebSocket } from 'ws';
import { SignalsClient } from '@gw/client';
import type { SignalFrame } from '@gw/client';
import type { TestGateway } from '../../testing/gateway.js';
import { ADMIN_TOKEN, busVariants, buy, connectWithToken, publishSignal, refusedUpgrade, startSignalsGateway, token } from './fixture.js';
import type { SignalClient } from './fixture.js';
import { closeFromServer, fastReconnect } from '../../sdk/fixture.js';

const history = { maxLength: 5_000, maxAgeMs: 3_600_000 };
const symbolOf = (frame: Record<string, unknown>): string => (frame['content'] as { symbol: string }).symbol;

describe.each(busVariants)('signal channels (?sources=) on the $name', ({ env }) => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startSignalsGateway({ ...env, SIGNAL_HISTORY_SIZE: '5000' });
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  const append = (source: string, symbol: string, price = 1): Promise<{ id: string }> =>
    gateway.bus.append<Signal>(signalsTopic, { type: 'sell', content: { symbol, price, timestamp: 1_720_000_000 }, source }, history);

  /** Closes the clients once `all` (the last signal appended) reached the unfiltered one. */
  async function settle(everything: SignalClient, count: number): Promise<void> {
    await expect.poll(() => everything.signals().length, { timeout: 10_000 }).toBe(count);
  }

  it('gives a client without ?sources= what the legacy service carried, and each client the producers it names', async () => {
    const legacy = await connectWithToken(gateway);
    const wave = await connectWithToken(gateway, '?sources=volume_wave');
    const both = await connectWithToken(gateway, '?sources=crypto-signals,volume_wave&symbols=BTCUSDT,600098');
    const everything = await connectWithToken(gateway, '?sources=*');
    await append('crypto-signals', 'BTCUSDT');
    await append('volume_wave', '600098');
    await append('crypto-signals', 'ETHUSDT');
    await publishSignal(gateway, buy('SOLUSDT'));
    await append('volume_wave', '600519');
    await settle(everything, 5);
    await expect.poll(() => legacy.signals().map(symbolOf)).toEqual(['BTCUSDT', 'ETHUSDT', 'SOLUSDT']);
    await expect.poll(() => wave.signals().map(symbolOf)).toEqual(['600098', '600519']);
    await expect.poll(() => both.signals().map(symbolOf)).toEqual(['BTCUSDT', '600098']);
    expect(everything.signals().map(symbolOf)).toEqual(['BTCUSDT', '600098', 'ETHUSDT', 'SOLUSDT', '600519']);
    // A legacy client's frames are unchanged: no producer field on the wire.
    expect(Object.keys(legacy.signals()[0]!)).toEqual(['type', 'content', 'is_test', 'id']);
    for (const client of [legacy, wave, both, everything]) {
      client.socket.close();
    }
  });

  it('refuses a malformed ?sources= with 400 before the socket opens', async () => {
    const bearer = await token();
    const { status, body } = await refusedUpgrade(`${gateway.wsUrl}/ws/signals?sources=crypto-signals,Volume%20Wave!`, {
      headers: { Authorization: `Bearer ${bearer}` },
    });
    expect(status).toBe(400);
    expect(body).toContain('sources: \\"Volume Wave!\\" is not a producer name');
  });

  it('recovers with ?since= among the chosen producers while two producers interleave: no gap, no duplicate', async () => {
    const wanted: string[] = [];
    const watcher = await connectWithToken(gateway, '?sources=volume_wave&symbols=MIX');
    let client = await connectWithToken(gateway, '?sources=volume_wave&symbols=MIX');
    const state = { publishing: true };
    const publisher = (async () => {
      for (let i = 0; i < 600; i += 1) {
        // Two crypto signals for each strategy signal: the client's position moves past signals it never gets.
        const source = i % 3 === 0 ? 'volume_wave' : 'crypto-signals';
        const { id } = await append(source, 'MIX', i + 1);
        if (source === 'volume_wave') {
          wanted.push(id);
        }
        await sleep(1);
      }
      state.publishing = false;
    })();
    const seen: string[] = [];
    let reconnectsWhilePublishing = 0;
    for (let round = 0; round < 3; round += 1) {
      await expect.poll(() => client.signals().length, { timeout: 10_000 }).toBeGreaterThan(10);
      client.socket.terminate();
      await client.closed;
      seen.push(...client.signals().map((s) => s['id'] as string));
      await sleep(20); // signals of both producers published while disconnected
      client = await connectWithToken(gateway, `?sources=volume_wave&symbols=MIX&since=${encodeURIComponent(seen.at(-1)!)}`);
      reconnectsWhilePublishing += state.publishing ? 1 : 0;
    }
    await publisher;
    expect(reconnectsWhilePublishing).toBeGreaterThanOrEqual(2);
    await expect.poll(() => seen.length + client.signals().length, { timeout: 10_000 }).toBe(wanted.length);
    seen.push(...client.signals().map((s) => s['id'] as string));
    expect(seen).toEqual(wanted);
    expect(client.frames.filter((f) => f['type'] === 'recovery')).toEqual([expect.objectContaining({ recovered: true })]);
    await expect.poll(() => watcher.signals().length).toBe(wanted.length);
    expect(watcher.signals().map((s) => s['id'])).toEqual(wanted);
    client.socket.close();
    watcher.socket.close();
  });

  it('delivers a new producer’s signals, from its own process, to the clients that ask for it', async () => {
    const config = defineConfigSection({ name: 'golden-signals', schema: z.object({}), env: {} });
    const producer: DataSource<typeof config> = {
      name: 'golden-signals',
      description: 'one signal per 50 ms',
      config,
      topics: [signalTopicDeclaration('golden-signals')],
      async run({ bus }, signal) {
        for (let price = 1; !signal.aborted; price += 1) {
          await bus
            .append<Signal>(signalsTopic, { type: 'buy', content: { symbol: 'GOLDUSDT', price, timestamp: 1_720_000_000 }, source: 'golden-signals' }, history)
            .catch(() => undefined);
          await sleep(50, signal).catch(() => undefined);
        }
      },
    };
    const asking = await connectWithToken(gateway, '?sources=golden-signals');
    const legacy = await connectWithToken(gateway, '?symbols=GOLDUSDT');
    const abort = new AbortController();
    const metrics = createPromMetrics({ registry: new Registry(), collectDefaultMetrics: false });
    const running = runSource(producer, {}, { bus: gateway.bus, logger: createLogger({ level: 'silent' }), metrics }, abort.signal);
    try {
      await expect.poll(() => asking.signals().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      expect(new Set(asking.signals().map(symbolOf))).toEqual(new Set(['GOLDUSDT']));
      // A client that did not ask keeps the legacy feed: the new producer stays off it.
      await publishSignal(gateway, buy('GOLDUSDT'));
      await expect.poll(() => legacy.signals().length).toBe(1);
      expect(legacy.signals()[0]).toMatchObject({ content: { symbol: 'GOLDUSDT', price: 100 } });
    } finally {
      abort.abort();
      await running;
    }
    asking.socket.close();
    legacy.socket.close();
  });
});

describe('the SDK’s SignalsClient with sources', () => {
  it('asks for its producers, and resumes among them after a reconnect', async () => {
    const gateway = await startSignalsGateway({ ADMIN_TOKEN });
    const client = new SignalsClient({
      url: `${gateway.wsUrl}/ws/signals`,
      WebSocket,
      getToken: () => token(4),
      sources: ['volume_wave'],
      reconnect: fastReconnect,
    });
    const received: SignalFrame[] = [];
    client.onSignal((signal) => received.push(signal));
    try {
      await expect.poll(() => client.state, { timeout: 10_000 }).toBe('connected');
      const append = (source: string, symbol: string) =>
        gateway.bus.append<Signal>(signalsTopic, { type: 'buy', content: { symbol, price: 1, timestamp: 1 }, source }, history);
      await append('crypto-signals', 'BTCUSDT');
      const first = await append('volume_wave', '600098');
      await expect.poll(() => received.map((s) => s.id)).toEqual([first.id]);
      // Dropped by the server: the client reconnects with ?sources= and ?since= and gets only its producer's.
      expect(closeFromServer(gateway, 'signals')).toBe(1);
      await append('crypto-signals', 'ETHUSDT');
      const second = await append('volume_wave', '600519');
      await expect.poll(() => received.map((s) => s.id), { timeout: 10_000 }).toEqual([first.id, second.id]);
    } finally {
      client.close();
      await gateway.shutdown();
    }
  });
});

describe('SIGNALS_DEFAULT_SOURCES', () => {
  it('sets what a client without ?sources= receives', async () => {
    const gateway = await startSignalsGateway({ SIGNALS_DEFAULT_SOURCES: 'volume_wave', ADMIN_TOKEN });
    try {
      const client = await connectWithToken(gateway);
      const everything = await connectWithToken(gateway, '?sources=*');
      await publishSignal(gateway, buy('BTCUSDT'));
      await gateway.bus.append<Signal>(signalsTopic, { type: 'buy', content: { symbol: '600098', price: 9, timestamp: 1 }, source: 'volume_wave' }, history);
      await expect.poll(() => everything.signals().length).toBe(2);
      await expect.poll(() => client.signals().map(symbolOf)).toEqual(['600098']);
      client.socket.close();
      everything.socket.close();
    } finally {
      await gateway.shutdown();
    }
  });
});
