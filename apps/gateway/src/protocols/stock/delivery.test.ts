import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { priceUpdateFrameSchema } from '@gw/adapter-stock';
import type { PriceUpdateFrame } from '@gw/adapter-stock';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import { ADMIN_TOKEN, Feed, busVariants, sleep, startStockGateway, stockClient, until } from './harness.js';
import type { StockClient } from './harness.js';

const INTERVAL = 200;

function updates(client: StockClient, from = 0): PriceUpdateFrame[] {
  return client.received('price_update', from).map((f) => priceUpdateFrameSchema.parse(f));
}

/** Delivery rules checked against a feed the test controls (no simulated market running). */
describe.each(busVariants)('stock price delivery on the $name', ({ env }) => {
  let gateway: TestGateway;
  let feed: Feed;
  const clients: StockClient[] = [];

  const open = async (): Promise<StockClient> => {
    const client = await stockClient(gateway);
    clients.push(client);
    await client.nextOfType('connected');
    return client;
  };

  beforeAll(async () => {
    gateway = await startStockGateway({ ...env, STOCK_PUSH_INTERVAL_MS: String(INTERVAL), STOCK_STRATEGIES: 'volume_wave,test_wave' }, 'none');
    feed = new Feed(gateway);
    await feed.universe();
    for (const code of Feed.codes) {
      await feed.quote(code, 10);
    }
    await until(async () => (await gateway.bus.latest('stock.universe')) !== undefined);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  it('conflates: one price_update per interval, each changed stock once, at its latest price', async () => {
    const client = await open();
    for (const code of ['600519', '000001', '300750']) {
      client.send({ type: 'subscribe', subscription_type: 'stock', target: code });
    }
    // Three snapshots (one per subscribe), then quiet: nothing changed since.
    await until(() => updates(client).length === 3, 2_000, 'three snapshots');
    await sleep(3 * INTERVAL);
    expect(updates(client).map((u) => u.data.map((d) => d.code))).toEqual([['600519'], ['000001'], ['300750']]);
    const mark = client.frames.length;

    for (let i = 1; i <= 10; i += 1) {
      await feed.quote('600519', 1800 + i);
    }
    await feed.quote('000001', 11.11);
    // Eleven quotes published back to back normally land in one interval: one update with both stocks at
    // their latest prices. On a starved machine they may straddle a flush; the guarantee then is each stock at
    // most once per update and the latest price last — never one update per quote.
    await until(() => updates(client, mark).some((u) => u.data.some((d) => d.code === '600519' && d.price === 1810)), 5_000, 'the latest price');
    await until(() => updates(client, mark).some((u) => u.data.some((d) => d.code === '000001')), 5_000, '000001');
    const burst = updates(client, mark);
    expect(burst.length).toBeLessThanOrEqual(3);
    for (const update of burst) {
      expect(new Set(update.data.map((d) => d.code)).size).toBe(update.count);
    }
    const merged = new Map(burst.flatMap((u) => u.data.map((d) => [d.code, d] as const)));
    expect([...merged.values()].map((d) => [d.code, d.price, d.volume]).sort()).toEqual([
      ['000001', 11.11, expect.any(Number)],
      ['600519', 1810, expect.any(Number)],
    ]);

    // A steady stream for ~2 s: never more than one update per interval, no stock twice in one update.
    const streamMark = client.frames.length;
    const streamStart = Date.now();
    let last = 0;
    for (let i = 0; Date.now() - streamStart < 2_000; i += 1) {
      last = 1900 + (i % 50);
      await feed.quote('600519', last);
      if (i % 3 === 0) {
        await feed.quote('300750', 250 + (i % 7));
      }
      await sleep(20);
    }
    const elapsed = Date.now() - streamStart;
    const lastOf = (): number | undefined =>
      updates(client, streamMark)
        .flatMap((u) => u.data)
        .filter((d) => d.code === '600519')
        .at(-1)?.price;
    await until(() => lastOf() === last, 5_000, 'the last price');
    const stream = client.frames.slice(streamMark).filter((f) => f.frame.type === 'price_update');
    // At most one update per interval (a starved event loop can only make fewer); many quotes, few updates.
    expect(stream.length).toBeGreaterThanOrEqual(1);
    expect(stream.length).toBeLessThanOrEqual(Math.ceil((Date.now() - streamStart) / INTERVAL) + 1);
    expect(stream.length).toBeLessThan(Math.floor(elapsed / 20));
    for (const { frame } of stream) {
      const update = priceUpdateFrameSchema.parse(frame);
      const codes = update.data.map((d) => d.code);
      expect(new Set(codes).size).toBe(codes.length);
      expect(update.count).toBe(codes.length);
    }
    // The last update carries the last price published.
    const final = priceUpdateFrameSchema.parse(stream.at(-1)!.frame);
    expect(final.data.find((d) => d.code === '600519')?.price).toBe(last);
  });

  it('sends the target’s current prices right after subscribed, and none for stocks it does not cover', async () => {
    const client = await open();
    client.send({ type: 'subscribe', subscription_type: 'market', target: 'SZ' });
    const [subscribed, snapshot] = [await client.next(), await client.next()];
    expect(subscribed).toMatchObject({ type: 'subscribed', subscription_type: 'market', target: 'SZ' });
    const update = priceUpdateFrameSchema.parse(snapshot);
    expect(update.data.map((d) => d.code).sort()).toEqual(['000001', '002594', '300750']);
    const mark = client.frames.length;
    await feed.quote('600519', 1901);
    await feed.quote('835185', 30.5);
    await feed.quote('002594', 101.5);
    await sleep(3 * INTERVAL);
    expect(updates(client, mark).flatMap((u) => u.data.map((d) => [d.code, d.price]))).toEqual([['002594', 101.5]]);
  });

  it('follows a strategy’s buy list as it changes', async () => {
    await feed.buyList('test_wave', []);
    const client = await open();
    await client.subscribe('strategy', 'test_wave');
    await sleep(2 * INTERVAL);
    expect(updates(client)).toEqual([]);

    await feed.buyList('test_wave', ['600519']);
    const first = priceUpdateFrameSchema.parse(await client.nextOfType('price_update', 2_000));
    expect(first.data.map((d) => d.code)).toEqual(['600519']);

    // A stock joining the list arrives with its current price even if it did not tick.
    await feed.buyList('test_wave', ['600519', '601318']);
    const joined = priceUpdateFrameSchema.parse(await client.nextOfType('price_update', 2_000));
    expect(joined.data.map((d) => d.code)).toEqual(['601318']);

    // A stock leaving the list is not delivered any more.
    await feed.buyList('test_wave', ['601318']);
    await sleep(2 * INTERVAL);
    const mark = client.frames.length;
    await feed.quote('600519', 1950);
    await feed.quote('601318', 56.78);
    await sleep(3 * INTERVAL);
    expect(updates(client, mark).flatMap((u) => u.data.map((d) => [d.code, d.price]))).toEqual([['601318', 56.78]]);
  });

  it('pushes the strategy’s prices to all three subscribers when asked (POST /api/websocket/push/prices)', async () => {
    await feed.buyList('volume_wave', ['600519', '000001', '688981']);
    await until(async () => {
      const body = (await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`)).json() as { data: { count: number } };
      return body.data.count === 3;
    });
    const subscribers = await Promise.all([open(), open(), open()]);
    for (const client of subscribers) {
      await client.subscribe('strategy', 'volume_wave');
      await client.nextOfType('price_update');
    }
    const bystander = await open();
    await bystander.subscribe('stock', '601318');
    await sleep(2 * INTERVAL);
    const marks = subscribers.map((c) => c.frames.length);
    const bystanderMark = bystander.frames.length;

    const pushedAt = Date.now();
    const res = await httpGet(`${gateway.httpUrl}/api/websocket/push/prices?strategy=volume_wave`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ code: 200, data: { strategy: 'volume_wave', stocks: 3, subscribers: 3 } });
    for (const [i, client] of subscribers.entries()) {
      await until(() => client.frames.length > marks[i]!, 1_000, 'the pushed update');
      const pushed = client.frames[marks[i]!]!;
      expect(pushed.at - pushedAt).toBeLessThan(1_000);
      const update = priceUpdateFrameSchema.parse(pushed.frame);
      expect(update.data.map((d) => d.code).sort()).toEqual(['000001', '600519', '688981']);
      expect(update.count).toBe(3);
    }
    await sleep(2 * INTERVAL);
    expect(bystander.frames.length).toBe(bystanderMark);
  });
});
