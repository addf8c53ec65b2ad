import { stockBarsSchema, stockQuoteSchema, stockTopics, stockUniverseSchema } from '@gw/topics';
import { runSourceConformance } from '@gw/source-testing';
import { replaySource } from './index.js';

// The shipped sample (10 minutes of ticks) at 600× with short bars, looping: quotes and bars within a second.
// Its file is read once at start, so the bus is its only upstream while it runs.
runSourceConformance('replay', () => ({
  source: replaySource,
  env: { REPLAY_SPEED: '600', REPLAY_LOOP: 'true', REPLAY_BAR_INTERVAL_MS: '5000' },
  schemas: {
    [stockTopics.universe]: stockUniverseSchema,
    [stockTopics.quotePattern]: stockQuoteSchema,
    [stockTopics.barsPattern]: stockBarsSchema,
  },
}));
