import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectedFrameSchema,
  pongFrameSchema,
  priceUpdateFrameSchema,
  subscribedFrameSchema,
  unsubscribedFrameSchema,
} from '@gw/adapter-stock';
import { marketOfCode } from '@gw/topics';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import { ADMIN_TOKEN, busVariants, sleep, startStockGateway, stockClient, until } from './harness.js';
import type { StockClient } from './harness.js';

/** The wire timestamp: Asia/Shanghai wall-clock time without offset, as the legacy service sent it. */
const WIRE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

function shanghaiNow(): string {
  return new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 16);
}

interface BuyResponse {
  code: number;
  data: { strategy: string; count: number; updated_at: string | null; signals: { code: string; name: string; price: number | null }[] };
}

describe.each(busVariants)('stock prices from the simulated market on the $name', ({ env }) => {
  let gateway: TestGateway;
  const clients: StockClient[] = [];

  const open = async (): Promise<StockClient> => {
    const client = await stockClient(gateway);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    gateway = await startStockGateway(
      {
        ...env,
        STOCK_PUSH_INTERVAL_MS: '250',
        STOCK_UNIVERSE_SIZE: '80',
        STOCK_TICKS_PER_SEC: '400',
        STOCK_WAVE_PROBABILITY: '0.05',
        STOCK_RANDOM_SEED: '11',
        // Bars of an hour: the seeded buy list stays put while a test runs.
        STOCK_BAR_INTERVAL_MS: '3600000',
      },
      'market',
    );
    // The strategy has been announced (404 until then), read the seeded history and published its list.
    await until(
      async () => ((((await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`)).json() as Partial<BuyResponse>).data?.count ?? 0) > 0),
      10_000,
      'a non-empty volume_wave buy list',
    );
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  it('runs the legacy flow: connected → subscribe volume_wave → subscribed → price_update → ping/pong → unsubscribe', async () => {
    const client = await open();
    const connected = connectedFrameSchema.parse(await client.next());
    expect(connected.client_id).toMatch(/^client_/);
    expect(connected.timestamp.slice(0, 16)).toBe(shanghaiNow());

    client.send({ type: 'subscribe', subscription_type: 'strategy', target: 'volume_wave' });
    // The confirmation comes first, exactly as the legacy guide shows it (plus a timestamp).
    const subscribed = subscribedFrameSchema.parse(await client.next());
    expect(subscribed).toEqual({ type: 'subscribed', subscription_type: 'strategy', target: 'volume_wave', message: '订阅成功', timestamp: expect.stringMatching(WIRE_TIME) as string });

    const buy = (await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`)).json() as BuyResponse;
    const listed = new Set(buy.data.signals.map((s) => s.code));
    const snapshot = priceUpdateFrameSchema.parse(await client.next());
    expect(snapshot.count).toBe(snapshot.data.length);
    expect(new Set(snapshot.data.map((d) => d.code))).toEqual(listed);
    const moutaiLike = snapshot.data[0]!;
    expect(Object.keys(moutaiLike)).toEqual(['code', 'name', 'price', 'change', 'change_percent', 'volume', 'timestamp']);

    // Prices keep coming as they change, only for listed stocks.
    const live = priceUpdateFrameSchema.parse(await client.nextOfType('price_update', 3_000));
    expect(live.data.every((d) => listed.has(d.code))).toBe(true);

    client.send({ type: 'ping' });
    pongFrameSchema.parse(await client.nextOfType('pong'));

    client.send({ type: 'unsubscribe', subscription_type: 'strategy', target: 'volume_wave' });
    const unsubscribed = unsubscribedFrameSchema.parse(await client.nextOfType('unsubscribed'));
    expect(unsubscribed).toMatchObject({ subscription_type: 'strategy', target: 'volume_wave', message: '取消订阅成功' });
    // The reply is sent after the subscription is gone, and frames arrive in order: nothing after it.
    const settled = client.frames.findIndex((f) => f.frame.type === 'unsubscribed') + 1;
    await sleep(800);
    expect(client.received('price_update', settled)).toEqual([]);
  });

  it('sends a 600519 subscriber only 600519 and a market SH subscriber only SH stocks', async () => {
    const moutai = await open();
    const sh = await open();
    expect(await moutai.subscribe('stock', '600519')).toMatchObject({ type: 'subscribed', target: '600519' });
    expect(await sh.subscribe('market', 'SH')).toMatchObject({ type: 'subscribed', target: 'SH' });
    await until(() => moutai.received('price_update').length >= 3 && sh.received('price_update').length >= 3, 10_000, 'three updates each');
    const moutaiUpdates = moutai.received('price_update').map((f) => priceUpdateFrameSchema.parse(f));
    const shUpdates = sh.received('price_update').map((f) => priceUpdateFrameSchema.parse(f));
    expect(moutaiUpdates.length).toBeGreaterThanOrEqual(3);
    expect(shUpdates.length).toBeGreaterThanOrEqual(3);
    for (const update of moutaiUpdates) {
      expect(update.data.map((d) => [d.code, d.name])).toEqual([['600519', '贵州茅台']]);
    }
    const shCodes = new Set(shUpdates.flatMap((u) => u.data.map((d) => d.code)));
    expect(shCodes.size).toBeGreaterThan(10);
    expect([...shCodes].every((code) => marketOfCode(code) === 'SH')).toBe(true);
    // Prices are on the tick, changes consistent with each other.
    for (const item of shUpdates.flatMap((u) => u.data)) {
      expect(Math.abs(item.price * 100 - Math.round(item.price * 100))).toBeLessThan(1e-6);
      expect(item.timestamp).toMatch(WIRE_TIME);
    }
  });

  it('serves the buy list with current prices from the cache (GET /api/signals/buy)', async () => {
    const started = performance.now();
    const res = await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`);
    expect(performance.now() - started).toBeLessThan(500);
    expect(res.status).toBe(200);
    const body = res.json() as BuyResponse;
    expect(body).toMatchObject({ code: 200, message: '获取买入信号成功', data: { strategy: 'volume_wave', updated_at: expect.stringMatching(WIRE_TIME) as string } });
    expect(body.data.count).toBe(body.data.signals.length);
    for (const signal of body.data.signals) {
      expect(signal).toMatchObject({
        code: expect.stringMatching(/^\d{6}$/) as string,
        price: expect.any(Number) as number,
        change_percent: expect.any(Number) as number,
        signal_time: expect.stringMatching(WIRE_TIME) as string,
        volume_ratio: expect.any(Number) as number,
      });
    }
  });

  it('reports the legacy stats of the connected clients, plus every protocol', async () => {
    const before = (await httpGet(`${gateway.httpUrl}/api/websocket/stats`)).json() as {
      data: { connections: Record<string, number> };
    };
    const a = await open();
    const b = await open();
    await a.next();
    await b.next();
    await a.subscribe('strategy', 'volume_wave');
    await b.subscribe('stock', '600519');
    await b.subscribe('market', 'sz');
    const res = await httpGet(`${gateway.httpUrl}/api/websocket/stats`);
    expect(res.status).toBe(200);
    const body = res.json() as {
      code: number;
      message: string;
      data: { connections: Record<string, number>; subscriptions: Record<string, number>; protocols: Record<string, Record<string, number>> };
    };
    expect(body.code).toBe(200);
    expect(body.message).toBe('获取统计信息成功');
    expect(body.data.connections).toMatchObject({
      active_connections: 2,
      total_connections: before.data.connections['total_connections']! + 2,
      total_subscriptions: before.data.connections['total_subscriptions']! + 3,
    });
    expect(body.data.connections['messages_received']).toBeGreaterThanOrEqual(before.data.connections['messages_received']! + 3);
    expect(body.data.connections['messages_sent']).toBeGreaterThanOrEqual(before.data.connections['messages_sent']! + 5);
    expect(body.data.subscriptions).toEqual({
      total_subscriptions: 3,
      total_clients: 2,
      total_targets: 3,
      strategy_targets: 1,
      stock_targets: 1,
      market_targets: 1,
    });
    expect(body.data.protocols['stock']).toMatchObject({ connections: 2, subscriptions: 3 });

    const listed = await httpGet(`${gateway.httpUrl}/api/websocket/clients`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(listed.status).toBe(200);
    const rows = (listed.json() as { data: { total: number; clients: Record<string, unknown>[] } }).data;
    expect(rows.total).toBe(2);
    const ids = [a, b].map((c) => c.frames[0]!.frame['client_id']);
    expect(rows.clients.map((r) => r['client_id']).sort()).toEqual([...ids].sort());
    const rowOfB = rows.clients.find((r) => r['client_id'] === ids[1])!;
    expect(rowOfB).toMatchObject({
      protocol: 'stock',
      user_id: null,
      remote_address: expect.stringMatching(/127\.0\.0\.1/) as string,
      connected_at: expect.any(String) as string,
      subscriptions: ['stock:600519', 'market:SZ'],
      messages_received: 2,
    });
    expect(rowOfB['messages_sent']).toBeGreaterThanOrEqual(3);
  });

  it('exposes the protocol’s metrics', async () => {
    const client = await open();
    await client.subscribe('market', 'SH');
    await client.nextOfType('price_update');
    const metrics = (await httpGet(`${gateway.httpUrl}/metrics`)).body;
    expect(metrics).toMatch(/gateway_connections\{[^}]*protocol="stock"[^}]*\} 1/);
    expect(metrics).toMatch(/gateway_messages_sent_total\{[^}]*protocol="stock",type="price_update"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/gateway_messages_received_total\{[^}]*protocol="stock",type="subscribe"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/gateway_subscriptions\{[^}]*protocol="stock",kind="market"[^}]*\} 1/);
    expect(metrics).toMatch(/gateway_delivery_latency_seconds_count\{[^}]*protocol="stock"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/gateway_source_polls_total\{[^}]*source="stock-market",result="changed"[^}]*\} [1-9]/);
  });
});
