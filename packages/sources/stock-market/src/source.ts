import type { EnvironmentConfig } from '@gw/config';
import { sleep } from '@gw/core';
import { onBusReturn } from '@gw/source';
import type { DataSource } from '@gw/source';
import { quoteTopicDeclarations, stockTopics } from '@gw/topics';
import type { StockBars, StockQuote, StockUniverse } from '@gw/topics';
import { isTrading } from './calendar.js';
import type { MarketHours } from './calendar.js';
import { stockMarketConfig } from './config.js';
import { seededRandom } from './random.js';
import { MarketSimulator } from './simulator.js';
import { listedStocks, selectStocks } from './universe.js';

/** The source name, also the key of its config section. */
export const STOCK_MARKET_SOURCE = 'stock-market';

/** MARKET_HOURS as configured, or its default: `exchange` in production, `always` otherwise (development). */
export function marketHoursOf(config: { marketHours?: MarketHours | undefined; environment: EnvironmentConfig }): MarketHours {
  return config.marketHours ?? (config.environment.gatewayEnv === 'production' ? 'exchange' : 'always');
}

/**
 * The simulated A-share market. At start it publishes the universe (`stock.universe`), synthetic bar history
 * (`stock.bars.1m.<code>`) and every quote (`stock.quote.<code>`); then, while the market trades, it runs
 * `ticksPerSec` trades per second (round robin over the stocks, each publish coalesced per loop so a stock's
 * latest quote wins) and completes every stock's bar at each bar boundary. All topics are latest values, so a
 * gateway that starts later (or reconnects to Redis) reads the current state at once.
 */
export const stockMarketSource: DataSource<typeof stockMarketConfig> = {
  name: STOCK_MARKET_SOURCE,
  description: 'Simulated A-share market: real stocks, 0.01 tick, daily limits, trading calendar, 1-minute bars.',
  config: stockMarketConfig,
  topics: quoteTopicDeclarations,
  async run({ config, bus, logger, metrics }, signal) {
    const hours = marketHoursOf(config);
    const stocks = selectStocks(listedStocks(), config.symbols, config.universeSize);
    const random = seededRandom(config.randomSeed ?? Math.floor(Math.random() * 4_294_967_295));
    const barMs = config.barIntervalMs;
    const startedAt = Date.now();
    const sim = new MarketSimulator(
      stocks,
      { barIntervalMs: barMs, barHistory: config.barHistory, waveProbability: config.waveProbability, random },
      startedAt,
    );
    sim.seedHistory(Math.min(config.seedBars, config.barHistory), startedAt);
    const infoOf = new Map(stocks.map((s) => [s.code, { code: s.code, name: s.name, market: s.market }]));

    const publishBars = (windows: { code: string; bars: StockBars['bars'] }[]): Promise<unknown> =>
      Promise.all(
        windows.flatMap(({ code, bars }) => {
          const info = infoOf.get(code);
          return info === undefined
            ? []
            : [bus.publishLatest<StockBars>(stockTopics.bars(code), { ...info, interval_ms: barMs, bars })];
        }),
      );
    const publishQuotes = (quotes: Iterable<StockQuote>): Promise<unknown> =>
      Promise.all([...quotes].map((q) => bus.publishLatest<StockQuote>(stockTopics.quote(q.code), q)));

    let lastWarnAt = 0;
    const failed = (error: unknown, what: string): void => {
      metrics.sourceError(STOCK_MARKET_SOURCE, 'network');
      if (Date.now() - lastWarnAt > 10_000) {
        lastWarnAt = Date.now();
        logger.warn({ err: error }, `stock market: publishing ${what} failed (will retry)`);
      }
    };

    // The current state: the universe, every stock's bar window and quote. Until it is on the bus the loop
    // below retries it (e.g. Redis still connecting).
    const state = { announced: false, started: false };
    const announce = async (now: number): Promise<void> => {
      const universe: StockUniverse = { source: STOCK_MARKET_SOURCE, stocks: [...infoOf.values()], updated_ms: now };
      await bus.publishLatest(stockTopics.universe, universe);
      await publishBars(sim.barWindows());
      await publishQuotes(sim.quotes(now));
      state.announced = true;
      if (state.started) {
        logger.info({ stocks: stocks.length }, 'stock market: current state published again (bus back)');
      } else {
        state.started = true;
        logger.info({ stocks: stocks.length, hours, ticksPerSec: config.ticksPerSec, barMs }, 'stock market started');
      }
    };

    // A bus that comes back may have lost its stored values (Redis restarted empty): the next loop (within
    // `loopMs`) publishes the current state again, whether the market trades or not.
    onBusReturn(
      bus,
      () => {
        state.announced = false;
      },
      signal,
    );

    let barEnd = startedAt - (startedAt % barMs) + barMs;
    let last = startedAt;
    let carry = 0;
    while (!signal.aborted) {
      const now = Date.now();
      const startedLoop = performance.now();
      try {
        if (!state.announced) {
          await announce(now);
        }
        if (now >= barEnd) {
          // Bars complete for a bar that was in a trading session (so 11:29–11:30 still closes at 11:30).
          const endedBarStart = barEnd - barMs;
          barEnd = now - (now % barMs) + barMs;
          if (isTrading(endedBarStart, hours)) {
            await publishBars(sim.closeBars(endedBarStart + barMs));
          }
        }
        if (isTrading(now, hours) && config.ticksPerSec > 0) {
          // At most one second of backlog: a stalled loop (slow bus) does not burst afterwards.
          carry = Math.min(carry + (config.ticksPerSec * (now - last)) / 1000, Math.max(1, config.ticksPerSec));
          const count = Math.floor(carry);
          carry -= count;
          const batch = new Map<string, StockQuote>();
          for (let i = 0; i < count; i += 1) {
            const quote = sim.tick(now);
            batch.set(quote.code, quote);
          }
          if (batch.size > 0) {
            await publishQuotes(batch.values());
            metrics.sourcePoll(STOCK_MARKET_SOURCE, 'changed', (performance.now() - startedLoop) / 1000);
          }
        } else {
          carry = 0;
        }
      } catch (error) {
        metrics.sourcePoll(STOCK_MARKET_SOURCE, 'error', (performance.now() - startedLoop) / 1000);
        failed(error, state.announced ? 'quotes' : 'the start state');
      }
      last = now;
      await sleep(config.loopMs, signal);
    }
  },
};
