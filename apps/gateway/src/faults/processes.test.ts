import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { whenConnected } from '@gw/bus';
import { signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { refusedUpgrade, stalledReader, token } from '../protocols/signals/fixture.js';
import type { SignalClient } from '../protocols/signals/fixture.js';
import {
  RedisServer,
  closeLater,
  clusterEnv,
  getJson,
  postSignal,
  signalClient,
  startGatewayProcess,
  startWorkerProcess,
  stopAll,
  tradingClient,
} from './harness.js';
import type { GatewayProcess } from './harness.js';

/** Fault tests, part 2: processes that die, drain, or are abused. Real processes on a private Redis. */

async function metricValue(gateway: GatewayProcess, pattern: RegExp): Promise<number> {
  const text = await fetch(`${gateway.httpUrl}/metrics`).then((r) => r.text());
  return Number(pattern.exec(text)?.[1] ?? 0);
}

afterEach(stopAll);

describe('a worker killed with SIGKILL', () => {
  it('leaves the gateways ready; its restart resumes publishing', async () => {
    const redis = await RedisServer.start();
    const env = clusterEnv(redis);
    const gateway = await startGatewayProcess('gw-a', env);
    const worker = await startWorkerProcess('worker-1', 'trading', env);
    const trader = await tradingClient(gateway.httpUrl, 44);
    await trader.request('subscribe_trading', { types: ['balance'] });
    await trader.next('balance_update', 10_000);

    worker.kill('SIGKILL');
    await worker.exited;
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await getJson(`${gateway.httpUrl}/api/ready`)).status).toBe(200);
    expect(trader.socket.connected).toBe(true);
    const countAtRestart = trader.received('balance_update').length;

    await startWorkerProcess('worker-2', 'trading', env);
    await trader.next('balance_update', 10_000, () => trader.received('balance_update').length > countAtRestart);
    expect(gateway.child.exitCode).toBeNull();
  });
});

describe('a gateway node SIGTERMed', () => {
  it('closes its clients paced over the drain window; they reconnect to the other node and recover signals without a gap', async () => {
    const redis = await RedisServer.start();
    const env = clusterEnv(redis, { DRAIN_TIMEOUT_MS: '1500' });
    const [a, b] = await Promise.all([startGatewayProcess('gw-a', env), startGatewayProcess('gw-b', env)]);

    // Signal clients on A that, as the legacy signal service advises, reconnect with backoff — to B, the node left — using ?since=.
    const published: string[] = [];
    // Each client's two connections (on A, then on B); their frames are recorded from the first byte on.
    const perClient: SignalClient[][] = [];
    const idsOf = (connections: readonly SignalClient[]): string[] =>
      connections.flatMap((c) => c.signals().map((s) => String(s['id'])));
    const closes: { code: number; at: number }[] = [];
    const reconnecting = Array.from({ length: 6 }, async (_, index) => {
      const connections: SignalClient[] = [];
      perClient[index] = connections;
      const first = await signalClient(a.wsUrl);
      connections.push(first);
      const closed = await first.closed;
      closes.push({ code: closed.code, at: Date.now() });
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200)); // backoff with jitter
      const last = idsOf(connections).at(-1) ?? '';
      connections.push(await signalClient(b.wsUrl, `?since=${encodeURIComponent(last)}`));
    });
    const trader = await tradingClient(a.httpUrl, 45);

    // Signals keep coming through B the whole time.
    const state = { publishing: true };
    const publisher = (async () => {
      while (state.publishing) {
        const res = await postSignal(b, 'DRAIN', published.length + 1);
        if (res.status === 201) {
          published.push(String(res.body['id']));
        }
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    await expect.poll(() => perClient.length === 6 && perClient.every((c) => idsOf(c).length > 3), { timeout: 15_000 }).toBe(true);

    const signalledAt = Date.now();
    a.kill('SIGTERM');
    await expect.poll(async () => (await getJson(`${a.httpUrl}/api/ready`).catch(() => ({ body: { error: 'gone' } }))).body['error']).toMatch(/draining|gone/);
    const reason = await trader.disconnected(5_000);
    expect(reason).toBe('transport close'); // a reason after which socket.io-client reconnects by itself
    await Promise.all(reconnecting);
    expect(await a.exited).toBe(0);

    // Paced: 1001 for all, spread over the window rather than all at once.
    expect(closes.map((c) => c.code)).toEqual(closes.map(() => 1001));
    const times = closes.map((c) => c.at - signalledAt).sort((x, y) => x - y);
    expect(times[times.length - 1]! - times[0]!).toBeGreaterThanOrEqual(600);

    await new Promise((r) => setTimeout(r, 300));
    state.publishing = false;
    await publisher;
    // Every client saw an unbroken run of the published ids, from its first one to the last.
    await expect
      .poll(() => perClient.every((c) => idsOf(c).at(-1) === published.at(-1)), { timeout: 15_000 })
      .toBe(true);
    for (const connections of perClient) {
      const ids = idsOf(connections);
      const start = published.indexOf(ids[0]!);
      expect(ids).toEqual(published.slice(start));
      expect(connections[1]?.frames[0]).toMatchObject({ type: 'recovery', recovered: true });
    }
  });
});

describe('abusive clients', () => {
  it('a client that stops reading is dropped and counted; memory stays bounded; the others get everything', { timeout: 120_000 }, async () => {
    const redis = await RedisServer.start();
    const env = clusterEnv(redis, { SIGNALS_MAX_BUFFERED_BYTES: '262144' });
    const gateway = await startGatewayProcess('gw-a', env);
    const readers = await Promise.all(Array.from({ length: 10 }, () => signalClient(gateway.wsUrl, '?sources=test&symbols=FLOOD')));
    const stalled = await stalledReader(`127.0.0.1:${gateway.port}`, await token(2), '/ws/signals?sources=test&symbols=FLOOD');
    // This test process is the source: it appends straight to the cluster's bus, as a worker would.
    const bus = createRedisBus({ ...createRedisClients(redis.url), prefix: env['REDIS_KEY_PREFIX'] ?? '' });
    closeLater(() => void bus.close());
    await whenConnected(bus, 5_000);
    const baseline = gateway.rssKb();
    const count = 40_000;
    for (let i = 0; i < count; i += 1) {
      const appended = bus.append<Signal>(signalsTopic, { type: 'sell', content: { symbol: 'FLOOD', price: i + 1, timestamp: 1 }, source: 'test' }, { maxLength: 1_000, maxAgeMs: 60_000 });
      if (i % 200 === 199) {
        await appended;
      }
    }
    await expect
      .poll(() => metricValue(gateway, /gateway_backpressure_disconnects_total\{[^}]*protocol="signals"[^}]*\} (\d+)/), { timeout: 10_000 })
      .toBe(1);
    await expect.poll(() => readers.every((r) => r.signals().length === count), { timeout: 30_000 }).toBe(true);
    // Bounded: the stalled client's backlog was dropped with it instead of growing with the stream.
    expect(gateway.rssKb() - baseline).toBeLessThan(100_000);
    const stats = await getJson(`${gateway.httpUrl}/api/websocket/stats`);
    expect((stats.body['data'] as { protocols: { signals: { connections: number } } }).protocols.signals.connections).toBe(10);
    stalled.kill();
  });

  it('a client flooding 10,000 messages/s is rate-limited, then closed; the others are unaffected', async () => {
    const redis = await RedisServer.start();
    const env = clusterEnv(redis);
    const gateway = await startGatewayProcess('gw-a', env);
    const bystander = await signalClient(gateway.wsUrl);
    const flooder = await signalClient(gateway.wsUrl);
    const stockFlooder = new WebSocket(`${gateway.wsUrl}/ws/stock/prices`);
    const stockClosed = new Promise<number>((resolve) => {
      stockFlooder.on('close', (code: number) => {
        resolve(code);
      });
    });
    await new Promise((resolve) => stockFlooder.once('open', resolve));

    const flood = setInterval(() => {
      for (let i = 0; i < 100; i += 1) {
        if (flooder.socket.readyState === flooder.socket.OPEN) {
          flooder.socket.send('test');
        }
        if (stockFlooder.readyState === stockFlooder.OPEN) {
          stockFlooder.send('{"type":"ping"}');
        }
      }
    }, 10); // 100 messages per 10 ms: 10,000 per second per client
    try {
      expect((await flooder.closed).code).toBe(4429);
      expect(await stockClosed).toBe(4429);
    } finally {
      clearInterval(flood);
    }
    expect(flooder.frames.some((f) => f['error'] === 'rate_limited')).toBe(true);
    const sent = await postSignal(gateway, 'CALM', 1);
    await expect.poll(() => bystander.signals().map((s) => s['id'])).toEqual([sent.body['id']]);
  });

  it('1,000 connection attempts with bad tokens in a burst are all refused while a good client connects', async () => {
    const redis = await RedisServer.start();
    const env = clusterEnv(redis);
    const gateway = await startGatewayProcess('gw-a', env);
    const attempts = Array.from({ length: 1_000 }, (_, i) =>
      refusedUpgrade(`${gateway.wsUrl}/ws/signals`, { headers: { Authorization: `Bearer bad.token.${i}` } }),
    );
    // The user, from another address, in the middle of the flood.
    const good = await signalClient(gateway.wsUrl, '', { localAddress: '127.0.0.2' });
    const trader = await tradingClient(gateway.httpUrl, 46, '127.0.0.2');
    const results = await Promise.all(attempts);
    const byStatus = new Map<number, number>();
    for (const { status } of results) {
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    }
    // Refused: 401 while verified, 429 once this address is over its connection rate.
    expect([...byStatus.keys()].every((s) => s === 401 || s === 429)).toBe(true);
    expect([...byStatus.values()].reduce((x, y) => x + y, 0)).toBe(1_000);
    expect(good.socket.readyState).toBe(good.socket.OPEN);
    expect(trader.socket.connected).toBe(true);
    const sent = await postSignal(gateway, 'AFTER', 1);
    await expect.poll(() => good.signals().map((s) => s['id'])).toEqual([sent.body['id']]);
  });
});
