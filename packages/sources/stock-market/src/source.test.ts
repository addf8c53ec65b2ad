import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '@gw/config';
import { startTestSource, stopTestSources } from '@gw/source-testing';
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
