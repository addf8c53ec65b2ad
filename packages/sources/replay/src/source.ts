import { readFile } from 'node:fs/promises';
import { sleep } from '@gw/core';
import { onBusReturn } from '@gw/source';
import type { DataSource } from '@gw/source';
import { quoteTopicDeclarations, stockTopics } from '@gw/topics';
import type { StockBars, StockQuote, StockUniverse } from '@gw/topics';
import { replayConfig } from './config.js';
import { ReplayPlayer } from './player.js';
import { formatOfFile, parseRecording } from './records.js';

export const REPLAY_SOURCE = 'replay';

/**
 * Plays a recording onto the same topics as the simulated market (`stock.universe`, `stock.quote.<code>`,
 * `stock.bars.1m.<code>`), so the adapter and strategies behave the same downstream. Record `i` is played
 * `(t_i − t_0) / speed` after the start of a pass; ticks due together are coalesced per stock (latest wins).
 * Run it instead of the simulated market (`SOURCES=replay,volume-wave`), not beside it: both write the universe.
 * When the bus comes back after an outage (Redis may have restarted empty), the universe and every stock's last
 * quote and bars are published again at once.
 */
export const replaySource: DataSource<typeof replayConfig> = {
  name: REPLAY_SOURCE,
  description: 'Replays recorded stock ticks (CSV or JSONL) at the recorded or an accelerated pace.',
  config: replayConfig,
  topics: quoteTopicDeclarations,
  async run({ config, bus, logger, metrics }, signal) {
    const text = await readFile(config.file, 'utf8');
    const records = parseRecording(text, config.format === 'auto' ? formatOfFile(config.file) : config.format);
    const player = new ReplayPlayer(records, config.barIntervalMs, config.barHistory);
    const infos = new Map(player.stocks().map((s) => [s.code, s]));
    const universe: StockUniverse = { source: REPLAY_SOURCE, stocks: [...infos.values()], updated_ms: Date.now() };
    await bus.publishLatest(stockTopics.universe, universe);
    logger.info({ file: config.file, ticks: records.length, stocks: infos.size, speed: config.speed }, 'replay started');

    // What was last published (or attempted) per stock, published again when the bus comes back.
    const lastQuotes = new Map<string, StockQuote>();
    const barsPublished = new Set<string>();
    const barsOf = (code: string): Promise<unknown>[] => {
      const info = infos.get(code);
      return info === undefined ? [] : [bus.publishLatest<StockBars>(stockTopics.bars(code), { ...info, interval_ms: config.barIntervalMs, bars: player.bars(code) })];
    };

    const publish = async (quotes: Map<string, StockQuote>, barCodes: Set<string>): Promise<void> => {
      const startedAt = performance.now();
      for (const quote of quotes.values()) {
        lastQuotes.set(quote.code, quote);
      }
      for (const code of barCodes) {
        barsPublished.add(code);
      }
      try {
        await Promise.all([...[...quotes.values()].map((q) => bus.publishLatest(stockTopics.quote(q.code), q)), ...[...barCodes].flatMap(barsOf)]);
        metrics.sourcePoll(REPLAY_SOURCE, 'changed', (performance.now() - startedAt) / 1000);
      } catch (error) {
        metrics.sourcePoll(REPLAY_SOURCE, 'error', (performance.now() - startedAt) / 1000);
        logger.warn({ err: error }, 'replay: publishing failed');
      }
      quotes.clear();
      barCodes.clear();
    };

    let republishing: Promise<void> = Promise.resolve();
    const stopWatchingBus = onBusReturn(bus, () => {
      republishing = Promise.all([
        bus.publishLatest(stockTopics.universe, universe),
        ...[...lastQuotes.values()].map((q) => bus.publishLatest(stockTopics.quote(q.code), q)),
        ...[...barsPublished].flatMap(barsOf),
      ]).then(
        () => {
          logger.info({ quotes: lastQuotes.size, bars: barsPublished.size }, 'replay: bus back, current state published again');
        },
        (error: unknown) => {
          logger.warn({ err: error }, 'replay: publishing the current state again failed (bus down again?)');
        },
      );
    });
    try {
      await play();
    } finally {
      stopWatchingBus();
      await republishing;
    }

    async function play(): Promise<void> {
      const quotes = new Map<string, StockQuote>();
      const barCodes = new Set<string>();
      const first = records[0]?.ts ?? 0;
      // A function, not the property: the loop awaits, and the signal may abort meanwhile.
      const stopped = (): boolean => signal.aborted;
      while (!stopped()) {
        const passStart = Date.now();
        for (const [i, record] of records.entries()) {
          const wait = passStart + (record.ts - first) / config.speed - Date.now();
          if (wait > 1) {
            await publish(quotes, barCodes);
            await sleep(wait, signal);
          }
          if (stopped()) {
            return;
          }
          const { quote, completed } = player.apply(i);
          quotes.set(quote.code, quote);
          if (completed !== undefined) {
            barCodes.add(quote.code);
          }
        }
        if (!config.loop) {
          for (const code of player.closeAll()) {
            barCodes.add(code);
          }
          await publish(quotes, barCodes);
          logger.info('replay finished');
          await new Promise<void>((resolve) => {
            signal.addEventListener('abort', () => {
              resolve();
            }, { once: true });
          });
          return;
        }
        await publish(quotes, barCodes);
        player.restart();
      }
    }
  },
};
