import type { Exchange } from 'ccxt';
import type { SectionOutput } from '@gw/config';
import { sleep } from '@gw/core';
import type { DataSource, SourceContext } from '@gw/source';
import { signalHistoryOptions, signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { createCcxtFeed, createExchange, exchangeArgs, rebaseApiUrls } from './ccxt-feed.js';
import type { ExchangeFactory, MarketType } from './ccxt-feed.js';
import { cryptoSignalsConfig } from './config.js';
import { FeedError, toFeedError } from './feed.js';
import type { MarketDataFeed } from './feed.js';
import { evaluateCrossovers } from './rule.js';
import type { Bar } from './rule.js';
import { createSimulatedFeed } from './simulated.js';

/** The source's name: its registry key, the `source` field of its signals and its metrics label. */
export const CRYPTO_SIGNALS_SOURCE = 'crypto-signals';

export type CryptoSignalsConfig = SectionOutput<typeof cryptoSignalsConfig>;

/** Options of {@link createCryptoSignalsSource}: how to reach the exchange in mode=ccxt. */
export interface CryptoSignalsSourceOptions {
  /** Builds the ccxt exchange from its id and arguments. @default createExchange (ccxt's real class) */
  exchangeFactory?: ExchangeFactory;
  /**
   * Replaces the scheme, host and port of every REST URL of the exchange (paths kept), e.g. a local fake
   * exchange server in tests (`http://127.0.0.1:PORT`). @default the exchange's own hosts
   */
  apiBaseUrl?: string;
}

/** Closed bars fetched beyond the slow window: the rule needs the side before a crossing, and a poll may miss bars. */
const EXTRA_BARS = 60;

/** ccxt answers at most this many bars per request on most exchanges (Bybit: 1000). */
const MAX_REQUEST_BARS = 1_000;

interface SymbolState {
  /** Start time of the newest bar already evaluated; undefined until the first successful poll. */
  cursor: number | undefined;
  /** Not polled before this time (epoch ms) after the exchange refused the symbol. */
  droppedUntil: number;
}

type PollOutcome = 'ok' | 'backoff' | 'skipped';

const abortedMarker: unique symbol = Symbol('aborted');

/**
 * Resolves with the promise's value, or with `abortedMarker` as soon as `signal` aborts, so an HTTP request
 * in flight (up to ccxt's timeout) never delays shutdown. The abandoned promise's rejection is swallowed.
 */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof abortedMarker> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.resolve(abortedMarker);
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      resolve(abortedMarker);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** Capped exponential backoff with half jitter (several gateways backing off from one exchange spread out). */
class Backoff {
  #failures = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {}

  next(): number {
    const delay = Math.min(this.initialMs * 2 ** this.#failures, this.maxMs);
    this.#failures = Math.min(this.#failures + 1, 40);
    return delay / 2 + Math.random() * (delay / 2);
  }

  reset(): void {
    this.#failures = 0;
  }
}

/**
 * Builds the crypto-signals source. Each source object keeps one ccxt exchange (per exchange id and market
 * type) across restarts of `run` by the runner, so `loadMarkets` happens once per process, as ccxt intends.
 */
export function createCryptoSignalsSource(
  options: CryptoSignalsSourceOptions = {},
): DataSource<typeof cryptoSignalsConfig> {
  const exchangeFactory = options.exchangeFactory ?? createExchange;
  const feeds = new Map<string, Promise<MarketDataFeed>>();

  async function buildCcxtFeed(config: CryptoSignalsConfig): Promise<MarketDataFeed> {
    const marketType: MarketType = config.marketType;
    const exchange: Exchange = await exchangeFactory(config.exchange, exchangeArgs(config.exchange, marketType));
    if (options.apiBaseUrl !== undefined) {
      rebaseApiUrls(exchange, options.apiBaseUrl);
    }
    return createCcxtFeed({ exchange, marketType, pollMs: config.pollMs });
  }

  function feedFor(config: CryptoSignalsConfig): Promise<MarketDataFeed> {
    if (config.mode === 'simulated') {
      return Promise.resolve(createSimulatedFeed({ barMs: config.simBarMs, seed: config.simSeed }));
    }
    const key = `${config.exchange}:${config.marketType}:${String(config.pollMs)}`;
    let feed = feeds.get(key);
    if (feed === undefined) {
      feed = buildCcxtFeed(config);
      // A factory that failed (unknown exchange id) is retried on the next run, not cached as a rejection.
      feed.catch(() => feeds.delete(key));
      feeds.set(key, feed);
    }
    return feed;
  }

  async function run(
    { config, bus, logger, metrics }: SourceContext<CryptoSignalsConfig>,
    signal: AbortSignal,
  ): Promise<void> {
    const feed = await feedFor(config);
    const params = { fast: config.fast, slow: config.slow };
    const limit = Math.min(config.slow + EXTRA_BARS, MAX_REQUEST_BARS);
    const history = signalHistoryOptions(config);
    const states = new Map<string, SymbolState>(
      config.symbols.map((symbol) => [symbol, { cursor: undefined, droppedUntil: 0 }]),
    );
    const backoff = new Backoff(config.backoffMs, config.backoffMaxMs);
    logger.info(
      { mode: config.mode, exchange: config.mode === 'ccxt' ? config.exchange : undefined, symbols: config.symbols, ...params },
      'crypto-signals polling',
    );

    const countFailure = (error: FeedError, symbol: string | undefined): void => {
      metrics.sourceError(CRYPTO_SIGNALS_SOURCE, error.kind);
      const fields = { err: error, kind: error.kind, action: error.action, symbol };
      if (error.action === 'drop') {
        logger.warn({ ...fields, retryInMs: config.symbolRetryMs }, 'symbol refused by the exchange; left out for a while');
      } else {
        logger.warn(fields, 'no market data or no bus; backing off');
      }
    };

    /** Publishes the crossings of one symbol's new closed bars, advancing its cursor bar by bar. */
    const publishCrossings = async (symbol: string, state: SymbolState, bars: readonly Bar[]): Promise<boolean> => {
      const now = Date.now() - feed.closeGraceMs;
      const result = evaluateCrossovers({ bars, barMs: feed.barMs, now, params, after: state.cursor });
      if (result.lastClosedTime === undefined || (state.cursor !== undefined && result.lastClosedTime <= state.cursor)) {
        return false;
      }
      if (state.cursor === undefined) {
        // First look at this symbol: its history only sets the starting point. Signalling crossings that
        // happened before we started would re-send old signals on every restart.
        state.cursor = result.lastClosedTime;
        return true;
      }
      for (const crossing of result.signals) {
        const payload: Signal = {
          type: crossing.type,
          content: { symbol, price: crossing.bar.close, timestamp: Math.floor((crossing.bar.time + feed.barMs) / 1000) },
          source: CRYPTO_SIGNALS_SOURCE,
        };
        try {
          await bus.append(signalsTopic, payload, history);
        } catch (error) {
          // Not published: the bar is evaluated again on the next poll (the cursor stays before it).
          state.cursor = crossing.bar.time - 1;
          const message = `publishing on ${signalsTopic} failed: ${error instanceof Error ? error.message : String(error)}`;
          throw new FeedError('internal', 'backoff', { message, cause: error });
        }
        logger.debug({ ...payload.content, type: payload.type, fastSma: crossing.fastSma, slowSma: crossing.slowSma }, 'signal published');
      }
      state.cursor = result.lastClosedTime;
      return true;
    };

    const pollSymbol = async (symbol: string, state: SymbolState): Promise<PollOutcome> => {
      if (state.droppedUntil > Date.now()) {
        return 'skipped';
      }
      const startedAt = performance.now();
      const seconds = (): number => (performance.now() - startedAt) / 1000;
      try {
        const bars = await unlessAborted(feed.recentBars(symbol, limit), signal);
        if (bars === abortedMarker) {
          return 'skipped';
        }
        const changed = await publishCrossings(symbol, state, bars);
        metrics.sourcePoll(CRYPTO_SIGNALS_SOURCE, changed ? 'changed' : 'unchanged', seconds());
        return 'ok';
      } catch (caught) {
        if (signal.aborted) {
          return 'skipped';
        }
        const error = toFeedError(caught);
        metrics.sourcePoll(CRYPTO_SIGNALS_SOURCE, 'error', seconds());
        countFailure(error, symbol);
        if (error.action === 'drop') {
          state.droppedUntil = Date.now() + config.symbolRetryMs;
          return 'ok';
        }
        return 'backoff';
      }
    };

    while (!signal.aborted) {
      let delay: number;
      try {
        const prepared = await unlessAborted(feed.prepare(), signal);
        if (prepared === abortedMarker) {
          break;
        }
        const outcomes = await Promise.all([...states].map(([symbol, state]) => pollSymbol(symbol, state)));
        if (outcomes.includes('backoff')) {
          delay = backoff.next();
        } else {
          backoff.reset();
          delay = feed.nextPollDelayMs(Date.now());
        }
      } catch (caught) {
        // Only `prepare` gets here (pollSymbol catches everything); after an abort it resolves, never rejects.
        const error = toFeedError(caught);
        countFailure(error, undefined);
        delay = backoff.next();
      }
      await sleep(delay, signal);
    }
  }

  return {
    name: CRYPTO_SIGNALS_SOURCE,
    description: 'Buy/sell signals for crypto pairs on `signals` (SMA crossover of 1-minute closes; simulated market or ccxt).',
    config: cryptoSignalsConfig,
    topics: [signalsTopic],
    run,
  };
}

/** The crypto-signals source with ccxt's real exchange classes and hosts (the registry's instance). */
export const cryptoSignalsSource: DataSource<typeof cryptoSignalsConfig> = createCryptoSignalsSource();
