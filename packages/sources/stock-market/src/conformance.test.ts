import { stockBarsSchema, stockQuoteSchema, stockTopics, stockUniverseSchema } from '@gw/topics';
import { runSourceConformance } from '@gw/source-testing';
import { stockMarketSource } from './index.js';

// The simulated market's only upstream is the bus (the market itself is simulated in process).
runSourceConformance('stock-market', () => ({
  source: stockMarketSource,
  env: {
    MARKET_HOURS: 'always',
    STOCK_UNIVERSE_SIZE: '10',
    STOCK_TICKS_PER_SEC: '200',
    STOCK_BAR_INTERVAL_MS: '100',
    STOCK_SEED_BARS: '5',
    STOCK_RANDOM_SEED: '7',
    STOCK_MARKET_LOOP_MS: '20',
  },
  schemas: {
    [stockTopics.universe]: stockUniverseSchema,
    [stockTopics.quotePattern]: stockQuoteSchema,
    [stockTopics.barsPattern]: stockBarsSchema,
  },
}));
