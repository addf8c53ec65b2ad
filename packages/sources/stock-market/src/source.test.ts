import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '@gw/config';
import { TestRedisServer, startTestSource, stopTestSources } from '@gw/source-testing';
import type { Bus } from '@gw/bus';
import { stockBarsSchema, stockQuoteSchema, stockTopics, stockUniverseSchema } from '@gw/topics';
import type { StockBars, StockQuote, StockUniverse } from '@gw/topics';
import { stockMarketConfig } from './config.js';
import { marketHoursOf, stockMarketSource } from './source.js';

function start(env: Record<string, string>): Bus {
  return startTestSource(stockMarketSource, env);
}

afterEach(stopTestSources);

describe('stock-market source', () => {
  it('publishes the universe, every quote and seeded bars at start, then ticks and completes bars', async () => {
    const bus = start({ STOCK_UNIVERSE_SIZE: '20', STOCK_TICKS_PER_SEC: '400', STOCK_BAR_INTERVAL_MS: '200', STOCK_SEED_BARS: '25', STOCK_RANDOM_SEED: '1' });
    const quotes: StockQuote[] = [];
    const bars: StockBars[] = [];
    await bus.subscribe<StockQuote>(stockTopics.quotePattern, (m) => quotes.push(m.data));
    await bus.subscribe<StockBars>(stockTopics.barsPattern, (m) => bars.push(m.data));
    await expect.poll(() => bus.latest<StockUniverse>(stockTopics.universe)).toBeDefined();
    const universe = stockUniverseSchema.parse((await bus.latest(stockTopics.universe))?.data);
    expect(universe.source).toBe('stock-market');
    expect(universe.stocks).toHaveLength(20);
    expect(universe.stocks.some((s) => s.code === '600519')).toBe(true);

    const moutai = await bus.latest<StockQuote>(stockTopics.quote('600519'));
    expect(stockQuoteSchema.parse(moutai?.data)).toMatchObject({ code: '600519', name: '贵州茅台', market: 'SH' });
    const seeded = await bus.latest<StockBars>(stockTopics.bars('600519'));
    expect(stockBarsSchema.parse(seeded?.data).bars.length).toBeGreaterThanOrEqual(25);

    await expect.poll(() => quotes.length, { timeout: 15_000 }).toBeGreaterThan(100);
    await expect.poll(() => bars.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(40);
    for (const quote of quotes.slice(0, 50)) {
      expect(stockQuoteSchema.safeParse(quote).success).toBe(true);
    }
    const window = bars.at(-1)!;
    expect(window.interval_ms).toBe(200);
    expect(window.bars.length).toBeGreaterThan(25);
  });

  it('defaults MARKET_HOURS to always in development and exchange in production', () => {
    // Through the section, so GATEWAY_ENV reaches the default the way it does in the apps.
    const marketHoursFrom = (env: Record<string, string>) => marketHoursOf(loadConfig(env, { market: stockMarketConfig }).market);
    expect(marketHoursFrom({})).toBe('always');
    expect(marketHoursFrom({ GATEWAY_ENV: 'development' })).toBe('always');
    expect(marketHoursFrom({ GATEWAY_ENV: 'production' })).toBe('exchange');
    expect(marketHoursFrom({ GATEWAY_ENV: 'production', MARKET_HOURS: 'always' })).toBe('always');
  });

  it('validates its settings', () => {
    expect(() => loadConfig({ MARKET_HOURS: 'sometimes' }, { market: stockMarketConfig })).toThrow(/MARKET_HOURS/);
    expect(() => loadConfig({ STOCK_BAR_INTERVAL_MS: '10' }, { market: stockMarketConfig })).toThrow(/STOCK_BAR_INTERVAL_MS/);
  });
});

describe('stock-market source on Redis', () => {
  let redis: TestRedisServer | undefined;
  afterEach(async () => {
    await stopTestSources();
    await redis?.stop();
    redis = undefined;
  });

  it('publishes its current state again at once when Redis comes back empty, with no trade to publish', async () => {
    const server = (redis = await TestRedisServer.start());
    // No ticks and hour-long bars: nothing but the bus coming back makes the source publish again.
    startTestSource(stockMarketSource, { STOCK_SYMBOLS: '600519,000001', STOCK_TICKS_PER_SEC: '0', STOCK_BAR_INTERVAL_MS: '3600000', STOCK_RANDOM_SEED: '1' }, await server.bus());
    const topics = [stockTopics.universe, stockTopics.quote('600519'), stockTopics.bars('600519'), stockTopics.quote('000001'), stockTopics.bars('000001')];
    await expect.poll(() => server.latest(topics)).not.toContain(undefined);
    const before = await server.latest(topics);

    await server.restart();
    const restartedAt = Date.now();
    await expect.poll(() => server.latest(topics), { timeout: 5_000, interval: 20 }).not.toContain(undefined);
    expect(Date.now() - restartedAt).toBeLessThan(5_000);
    const after = await server.latest(topics);
    expect(stockUniverseSchema.parse(after[0]).stocks).toEqual(stockUniverseSchema.parse(before[0]).stocks);
    expect(stockQuoteSchema.parse(after[1])).toMatchObject({ code: '600519', price: stockQuoteSchema.parse(before[1]).price });
    expect(after[2]).toEqual(before[2]);
  });
});
