import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import { stockMarketConfig, stockMarketSource } from '@gw/source-stock-market';
import { buyListSchema, signalSchema, signalsTopic, stockTopics } from '@gw/topics';
import { runSourceConformance } from '@gw/source-testing';
import { VOLUME_WAVE_STRATEGY, volumeWaveSource } from './index.js';

/**
 * The strategy's upstream is the bus: the simulated market feeds it 50 ms bars with frequent volume waves, so
 * buys and sells (and buy-list changes) come within a second.
 */
const market = loadConfig(
  {
    MARKET_HOURS: 'always',
    STOCK_UNIVERSE_SIZE: '20',
    STOCK_TICKS_PER_SEC: '2000',
    STOCK_BAR_INTERVAL_MS: '50',
    STOCK_SEED_BARS: '10',
    STOCK_WAVE_PROBABILITY: '0.5',
    STOCK_RANDOM_SEED: '11',
    STOCK_MARKET_LOOP_MS: '10',
  },
  { market: stockMarketConfig },
).market;

runSourceConformance('volume-wave', () => ({
  source: volumeWaveSource,
  env: { VOLUME_WAVE_LOOKBACK: '3', VOLUME_WAVE_MULTIPLE: '1.5', VOLUME_WAVE_HOLD_BARS: '2', VOLUME_WAVE_PUBLISH_DELAY_MS: '10' },
  schemas: { [stockTopics.buyList(VOLUME_WAVE_STRATEGY)]: buyListSchema, [signalsTopic]: signalSchema },
  drive: (bus, signal) =>
    stockMarketSource.run({ config: market, bus, logger: createLogger({ level: 'silent' }), metrics: noopMetrics }, signal),
}));
