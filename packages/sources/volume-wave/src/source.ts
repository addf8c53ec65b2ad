import type { Subscription } from '@gw/bus';
import { sleep } from '@gw/core';
import { onBusReturn } from '@gw/source';
import type { DataSource } from '@gw/source';
import { signalHistoryOptions, signalTopicDeclaration, signalsTopic, stockBarsSchema, stockTopics, stockUniverseSchema, strategyTopicDeclaration } from '@gw/topics';
import type { BuyList, Signal, StockBars } from '@gw/topics';
import { volumeWaveConfig } from './config.js';
import { VolumeWaveBook } from './rule.js';
import type { Transition } from './rule.js';

/** The source name (and config section key). */
export const VOLUME_WAVE_SOURCE = 'volume-wave';
/** The strategy name clients subscribe to and `/api/signals/buy?strategy=` takes. */
export const VOLUME_WAVE_STRATEGY = 'volume_wave';

/**
 * The volume_wave strategy as a data source. It reads every stock's 1-minute bars (`stock.bars.1m.*`, plus the
 * latest windows of the universe at start), applies the rule of `rule.ts`, and publishes:
 * - the buy list as the latest value of `stock.buylist.volume_wave` (once at start, then whenever it changes,
 *   changes within `publishDelayMs` coalesced);
 * - each buy/sell transition as a signal appended to `signals` (`source: "volume_wave"`, `symbol` = the code).
 */
export const volumeWaveSource: DataSource<typeof volumeWaveConfig> = {
  name: VOLUME_WAVE_SOURCE,
  description: 'volume_wave strategy: buy list and buy/sell signals from 1-minute bars.',
  config: volumeWaveConfig,
  topics: [strategyTopicDeclaration(VOLUME_WAVE_STRATEGY), signalTopicDeclaration(VOLUME_WAVE_STRATEGY)],
  async run({ config, bus, logger, metrics }, signal) {
    const book = new VolumeWaveBook({
      lookback: config.lookback,
      volumeMultiple: config.volumeMultiple,
      holdBars: config.holdBars,
      maxStocks: config.maxStocks,
    });
    const historyOptions = signalHistoryOptions(config);

    let dirty = true;
    let wake: (() => void) | undefined;
    const markDirty = (): void => {
      dirty = true;
      wake?.();
    };

    // A bus that comes back may have lost the stored buy list (Redis restarted empty): publish it again now
    // (after `publishDelayMs`), changed or not.
    const stopWatchingBus = onBusReturn(bus, markDirty, signal);

    const appendSignal = (transition: Transition): void => {
      const data: Signal = {
        type: transition.type,
        content: {
          symbol: transition.code,
          price: transition.bar.close,
          timestamp: Math.floor(Date.now() / 1000),
        },
        source: VOLUME_WAVE_STRATEGY,
      };
      bus.append(signalsTopic, data, historyOptions).catch((error: unknown) => {
        metrics.sourceError(VOLUME_WAVE_SOURCE, 'network');
        logger.warn({ err: error, code: transition.code, type: transition.type }, 'volume_wave: appending a signal failed');
      });
    };

    const onBars = (window: StockBars): void => {
      const startedAt = performance.now();
      const transitions = book.update(window);
      for (const transition of transitions) {
        logger.debug({ code: transition.code, type: transition.type, reason: transition.reason }, 'volume_wave signal');
        appendSignal(transition);
      }
      if (transitions.length > 0) {
        markDirty();
      }
      metrics.sourcePoll(VOLUME_WAVE_SOURCE, transitions.length > 0 ? 'changed' : 'unchanged', (performance.now() - startedAt) / 1000);
    };

    const seen = new Set<string>();
    const loadWindows = async (codes: readonly string[]): Promise<void> => {
      const fresh = codes.filter((code) => !seen.has(code));
      if (fresh.length === 0) {
        return;
      }
      const envelopes = await bus.latestMany<StockBars>(fresh.map((code) => stockTopics.bars(code)));
      for (const envelope of envelopes) {
        const parsed = stockBarsSchema.safeParse(envelope?.data);
        if (parsed.success) {
          seen.add(parsed.data.code);
          onBars(parsed.data);
        }
      }
      markDirty();
    };

    const subscriptions: Subscription[] = [];
    try {
      subscriptions.push(
        await bus.subscribe<StockBars>(stockTopics.barsPattern, (message) => {
          seen.add(message.data.code);
          onBars(message.data);
        }),
      );
      subscriptions.push(
        await bus.subscribe<unknown>(
          stockTopics.universe,
          (message) => {
            const universe = stockUniverseSchema.safeParse(message.data);
            if (universe.success) {
              loadWindows(universe.data.stocks.map((s) => s.code)).catch((error: unknown) => {
                logger.warn({ err: error }, 'volume_wave: loading bars failed');
              });
            }
          },
          { withLatest: true },
        ),
      );
      logger.info({ strategy: VOLUME_WAVE_STRATEGY, ...book.params }, 'volume_wave started');

      while (!signal.aborted) {
        if (!dirty) {
          await new Promise<void>((resolve) => {
            const done = (): void => {
              signal.removeEventListener('abort', done);
              wake = undefined;
              resolve();
            };
            wake = done;
            signal.addEventListener('abort', done, { once: true });
          });
          continue;
        }
        await sleep(config.publishDelayMs, signal);
        dirty = false;
        const list: BuyList = { strategy: VOLUME_WAVE_STRATEGY, updated_ms: Date.now(), stocks: book.buyList() };
        try {
          await bus.publishLatest(stockTopics.buyList(VOLUME_WAVE_STRATEGY), list);
        } catch (error) {
          dirty = true;
          metrics.sourceError(VOLUME_WAVE_SOURCE, 'network');
          logger.warn({ err: error }, 'volume_wave: publishing the buy list failed (will retry)');
          await sleep(1_000, signal);
        }
      }
    } finally {
      stopWatchingBus();
      await Promise.allSettled(subscriptions.map((s) => s.unsubscribe()));
    }
  },
};
