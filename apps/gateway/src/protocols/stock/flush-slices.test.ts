import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { priceUpdateFrameSchema } from '@gw/adapter-stock';
import type { PriceUpdateFrame } from '@gw/adapter-stock';
import type { TestGateway } from '../../testing/gateway.js';
import { Feed, startStockGateway, stockClient, until } from './harness.js';
import type { StockClient } from './harness.js';

function updatesAfter(client: StockClient, from: number): PriceUpdateFrame[] {
  return client.received('price_update', from).map((f) => priceUpdateFrameSchema.parse(f));
}

/** The latest price of each stock over a client's updates. */
function latestPrices(updates: readonly PriceUpdateFrame[]): Map<string, number> {
  return new Map(updates.flatMap((u) => u.data.map((d) => [d.code, d.price] as const)));
}

/**
 * The interval flush writes its connections in slices, letting the event loop run between them (here a turn
 * every 32 connections: `STOCK_FLUSH_SLICE_MS=0`). Whatever the slicing, every connection gets its changed
 * stocks, only those, each once per update, at their latest price, and no more than one update per flush.
 */
describe('stock flush spread over turns of the event loop', () => {
  let gateway: TestGateway;
  let feed: Feed;
  const watchers: StockClient[] = [];
  const others: StockClient[] = [];

  beforeAll(async () => {
    gateway = await startStockGateway({ STOCK_PUSH_INTERVAL_MS: '200', STOCK_FLUSH_SLICE_MS: '0' }, 'none');
    feed = new Feed(gateway);
    await feed.universe();
    for (const code of Feed.codes) {
      await feed.quote(code, 10);
    }
    await until(async () => (await gateway.bus.latest('stock.universe')) !== undefined);
  });

  afterAll(async () => {
    await Promise.all([...watchers, ...others].map((c) => c.close()));
    await gateway.shutdown();
  });

  it('150 connections in slices: each gets exactly its changed stocks at their latest prices', async () => {
    for (let i = 0; i < 150; i += 1) {
      const client = await stockClient(gateway);
      await client.nextOfType('connected');
      if (i % 3 === 0) {
        expect((await client.subscribe('stock', '300750')).type).toBe('subscribed');
        others.push(client);
      } else {
        expect((await client.subscribe('stock', '600519')).type).toBe('subscribed');
        expect((await client.subscribe('stock', '000001')).type).toBe('subscribed');
        watchers.push(client);
      }
    }
    // The snapshots after each subscribe are not part of what is checked.
    await until(() => watchers.every((c) => c.received('price_update').length >= 2) && others.every((c) => c.received('price_update').length >= 1), 15_000, 'snapshots');
    const marks = new Map([...watchers, ...others].map((c) => [c, c.frames.length]));

    await feed.quote('600519', 1901);
    await feed.quote('000001', 12.5);
    await feed.quote('300750', 260);

    await until(
      () =>
        watchers.every((c) => {
          const prices = latestPrices(updatesAfter(c, marks.get(c) ?? 0));
          return prices.get('600519') === 1901 && prices.get('000001') === 12.5;
        }) && others.every((c) => latestPrices(updatesAfter(c, marks.get(c) ?? 0)).get('300750') === 260),
      20_000,
      'every connection updated',
    );
    for (const client of [...watchers, ...others]) {
      const updates = updatesAfter(client, marks.get(client) ?? 0);
      // Three quotes published back to back land in one flush, or straddle two on a starved machine.
      expect(updates.length).toBeGreaterThanOrEqual(1);
      expect(updates.length).toBeLessThanOrEqual(2);
      const allowed = watchers.includes(client) ? ['000001', '600519'] : ['300750'];
      for (const update of updates) {
        const codes = update.data.map((d) => d.code);
        expect(new Set(codes).size).toBe(codes.length);
        expect(update.count).toBe(codes.length);
        for (const code of codes) {
          expect(allowed).toContain(code);
        }
      }
    }
  });
});
