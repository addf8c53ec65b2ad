import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stockTopics } from '@gw/topics';
import type { PricePushRequest } from '@gw/topics';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import { ADMIN_TOKEN, Feed, busVariants, startStockGateway, stockClient, until } from './harness.js';
import type { StockClient } from './harness.js';

const INTERVAL = 200;

/** The value of one stock series of the gateway's /metrics (`name` with protocol="stock", or unlabelled). */
async function metric(gateway: TestGateway, name: string): Promise<number> {
  const text = (await httpGet(`${gateway.httpUrl}/metrics`)).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && (!l.includes('protocol=') || l.includes('protocol="stock"')));
  return Number(line?.split(' ').at(-1) ?? Number.NaN);
}

const latencyCount = (gateway: TestGateway): Promise<number> => metric(gateway, 'gateway_delivery_latency_seconds_count');
const latencySum = (gateway: TestGateway): Promise<number> => metric(gateway, 'gateway_delivery_latency_seconds_sum');
const flushSteps = (gateway: TestGateway): Promise<number> => metric(gateway, 'gateway_stock_flush_slice_seconds_count');

/**
 * `gateway_delivery_latency_seconds{protocol="stock"}`: one observation per quote per interval flush, taken once
 * the flush's last slice is written (whichever slice serialized the quote), and one per manual push, measured
 * from the push request's arrival. Snapshots are not deliveries of a fresh publish and are not observed.
 */
describe.each(busVariants)('stock delivery latency ($name)', ({ env }) => {
  let gateway: TestGateway;
  let feed: Feed;
  const clients: StockClient[] = [];

  beforeAll(async () => {
    // A turn of the event loop every 32 connections: a flush of 100 connections takes four steps.
    gateway = await startStockGateway({ ...env, STOCK_PUSH_INTERVAL_MS: String(INTERVAL), STOCK_FLUSH_SLICE_MS: '0' }, 'none');
    feed = new Feed(gateway);
    await feed.universe();
    for (const code of Feed.codes) {
      await feed.quote(code, 10);
    }
    await until(async () => (await gateway.bus.latest('stock.universe')) !== undefined);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gateway.shutdown();
  });

  it('observes each quote once per flush, after the flush’s last slice, however many slices serialized it', async () => {
    const onlyOne: StockClient[] = [];
    const both: StockClient[] = [];
    for (let i = 0; i < 100; i += 1) {
      const client = await stockClient(gateway);
      clients.push(client);
      await client.nextOfType('connected');
      expect((await client.subscribe('stock', '600519')).type).toBe('subscribed');
      // The second half also watches 000001: its frames differ, so 600519 is serialized again in a later slice.
      if (i >= 50) {
        expect((await client.subscribe('stock', '000001')).type).toBe('subscribed');
        both.push(client);
      } else {
        onlyOne.push(client);
      }
    }
    await until(() => onlyOne.every((c) => c.received('price_update').length >= 1) && both.every((c) => c.received('price_update').length >= 2), 15_000, 'snapshots');
    // After a snapshot a connection's next update waits one interval: let every hold end (same host clock).
    const lastSnapshot = Math.max(...clients.map((c) => c.frames.at(-1)?.at ?? 0));
    await until(() => Date.now() > lastSnapshot + 2 * INTERVAL, 5_000, 'the snapshot holds to end');
    // Snapshots are not fresh deliveries: nothing observed so far.
    expect(await latencyCount(gateway)).toBe(0);
    const stepsBefore = await flushSteps(gateway);
    const marks = new Map(clients.map((c) => [c, c.frames.length]));

    await feed.quote('600519', 1901);
    await feed.quote('000001', 12.5);
    const got = (client: StockClient, code: string, price: number): boolean =>
      client.received('price_update', marks.get(client) ?? 0).some((f) => (f['data'] as { code: string; price: number }[]).some((d) => d.code === code && d.price === price));
    await until(() => onlyOne.every((c) => got(c, '600519', 1901)) && both.every((c) => got(c, '600519', 1901) && got(c, '000001', 12.5)), 15_000, 'every connection updated');

    // Two quotes, each written by one flush (the same one, or two if they straddled an interval): two observations.
    await expect.poll(() => latencyCount(gateway), { timeout: 10_000, interval: 50 }).toBe(2);
    // Later flushes (each at least one step) write nothing new and observe nothing.
    const stepsAfter = await flushSteps(gateway);
    expect(stepsAfter - stepsBefore).toBeGreaterThanOrEqual(4);
    await expect.poll(() => flushSteps(gateway), { timeout: 10_000, interval: 50 }).toBeGreaterThan(stepsAfter + 2);
    expect(await latencyCount(gateway)).toBe(2);
  });

  it('measures a manual push from the request’s arrival, carried to every gateway as requested_ms', async () => {
    await feed.buyList('volume_wave', ['600519', '000001']);
    await until(async () => {
      const body = (await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`)).json() as { data: { count: number } };
      return body.data.count === 2;
    });
    const client = await stockClient(gateway);
    clients.push(client);
    await client.nextOfType('connected');
    expect((await client.subscribe('strategy', 'volume_wave')).type).toBe('subscribed');
    await client.nextOfType('price_update');
    const countBefore = await latencyCount(gateway);
    const sumBefore = await latencySum(gateway);

    const res = await httpGet(`${gateway.httpUrl}/api/websocket/push/prices?strategy=volume_wave`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    await client.nextOfType('price_update');
    await expect.poll(() => latencyCount(gateway), { timeout: 10_000, interval: 50 }).toBe(countBefore + 1);

    // A push whose request arrived 10 s ago (on some gateway): the observation covers those 10 s.
    const late: PricePushRequest = { strategy: 'volume_wave', requested_ms: Date.now() - 10_000 };
    await gateway.bus.publish(stockTopics.push, late);
    await client.nextOfType('price_update');
    await expect.poll(() => latencyCount(gateway), { timeout: 10_000, interval: 50 }).toBe(countBefore + 2);
    expect((await latencySum(gateway)) - sumBefore).toBeGreaterThanOrEqual(10);
  });
});
