import { z } from 'zod';
import { defineConfigSection, envInt, envList, envMs, environmentConfig } from '@gw/config';

/** Settings of the simulated A-share market (section `stock-market`). */
export const stockMarketConfig = defineConfigSection({
  name: 'stock-market',
  schema: z.object({
    marketHours: z.enum(['always', 'exchange'], { error: 'expected always or exchange' }).optional(),
    ticksPerSec: envInt(0, 1_000_000).default(200),
    symbols: envList().optional(),
    universeSize: envInt(1, 100_000).optional(),
    barIntervalMs: envMs(3_600_000).min(50, { error: 'expected at least 50 ms' }).default(60_000),
    barHistory: envInt(2, 1_000).default(60),
    seedBars: envInt(0, 1_000).default(40),
    waveProbability: z.coerce.number({ error: 'expected a probability from 0 to 1' }).min(0).max(1).default(0.008),
    randomSeed: envInt(0, 4_294_967_295).optional(),
    loopMs: envInt(5, 1_000).default(50),
  }),
  env: {
    MARKET_HOURS: 'marketHours',
    STOCK_TICKS_PER_SEC: 'ticksPerSec',
    STOCK_SYMBOLS: 'symbols',
    STOCK_UNIVERSE_SIZE: 'universeSize',
    STOCK_BAR_INTERVAL_MS: 'barIntervalMs',
    STOCK_BAR_HISTORY: 'barHistory',
    STOCK_SEED_BARS: 'seedBars',
    STOCK_WAVE_PROBABILITY: 'waveProbability',
    STOCK_RANDOM_SEED: 'randomSeed',
    STOCK_MARKET_LOOP_MS: 'loopMs',
  },
  // The environment sets the default of MARKET_HOURS.
  uses: { environment: environmentConfig },
  docs: {
    marketHours:
      'always: trade around the clock; exchange: only in A-share sessions (Asia/Shanghai Mon–Fri 09:30–11:30, 13:00–15:00). Default: exchange when GATEWAY_ENV=production, else always.',
    ticksPerSec: 'Simulated trades per second across the whole market (default 200).',
    symbols: 'Comma list of codes to simulate (default: the whole shipped universe).',
    universeSize: 'Simulate only the first N stocks of the universe (600519 always kept).',
    barIntervalMs: 'Bar length (default 60000: 1-minute bars; shorter only for tests and demos).',
    barHistory: 'Completed bars kept per stock on stock.bars.1m.<code> (default 60).',
    seedBars: 'Synthetic bars generated at start so strategies have history at once (default 40).',
    waveProbability: 'Per stock and bar, the chance a volume wave starts (default 0.008).',
    randomSeed: 'Seed for a reproducible simulation (default: random).',
    loopMs: 'How often the simulation loop runs and publishes (default 50 ms).',
  },
});
