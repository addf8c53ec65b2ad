import type { Exchange } from 'ccxt';
import type { SectionOutput } from '@gw/config';
import type { DataSource, SourceContext } from '@gw/source';
import { signalHistoryOptions, signalTopicDeclaration, signalsTopic } from '@gw/topics';
import type { Signal } from '@gw/topics';
import { createCcxtFeed, createExchange, createStreamExchange, exchangeArgs, rebaseApiUrls, rebaseStreamUrls } from './ccxt-feed.js';
import type { ExchangeFactory, MarketType } from './ccxt-feed.js';
import { cryptoSignalsConfig } from './config.js';
import { FeedError, toFeedError } from './feed.js';
import type { BarStream, BarUpdate, MarketDataFeed } from './feed.js';
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
  /**
   * Replaces the scheme, host and port of every stream URL of the exchange (`ws://127.0.0.1:PORT` in tests).
   * With `apiBaseUrl` set and this one not, the source only polls: the exchange's own stream would be another
   * market than the one polled. @default the exchange's own hosts
   */
  streamBaseUrl?: string;
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

/** Why a stream round ends when every symbol of it was dropped (not an upstream failure: not counted as one). */
const NOTHING_TO_STREAM = 'no symbol left to stream';

/**
 * The run's one abort listener. The signal is shared by every source of the process, so each loop or poll
 * adding its own listener (one per symbol per round) went past Node's limit of 10 and printed a
 * MaxListenersExceededWarning at every start; everything here races against this one promise instead.
 */
class AbortWatch {
  /** Resolves with `abortedMarker` when the signal aborts. */
  readonly aborted: Promise<typeof abortedMarker>;
  readonly #signal: AbortSignal;
  #onAbort: (() => void) | undefined;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
    this.aborted = new Promise((resolve) => {
      if (signal.aborted) {
        resolve(abortedMarker);
        return;
      }
      this.#onAbort = () => {
        resolve(abortedMarker);
      };
      signal.addEventListener('abort', this.#onAbort, { once: true });
    });
  }

  /**
   * Resolves with the promise's value, or with `abortedMarker` as soon as the signal aborts, so an HTTP request
   * in flight (up to ccxt's timeout) never delays shutdown. The abandoned promise's rejection is swallowed.
   */
  race<T>(promise: Promise<T>): Promise<T | typeof abortedMarker> {
    promise.catch(() => undefined);
    return Promise.race([promise, this.aborted]);
  }

  /** Waits `ms`, or less if the signal aborts first. */
  async sleep(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const elapsed = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    try {
      await Promise.race([elapsed, this.aborted]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Removes the listener (the run is over). */
  dispose(): void {
    if (this.#onAbort !== undefined) {
      this.#signal.removeEventListener('abort', this.#onAbort);
      this.#onAbort = undefined;
    }
  }
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
    const args = exchangeArgs(config.exchange, marketType);
    const mayStream = config.stream === 'on' && (options.apiBaseUrl === undefined || options.streamBaseUrl !== undefined);
    // The pro class polls too (it extends the REST class): one instance, one set of markets, one rate limiter.
    const streaming = mayStream ? await createStreamExchange(config.exchange, args) : undefined;
    const exchange: Exchange = streaming ?? (await exchangeFactory(config.exchange, args));
    if (options.apiBaseUrl !== undefined) {
      rebaseApiUrls(exchange, options.apiBaseUrl);
    }
    if (streaming !== undefined && options.streamBaseUrl !== undefined) {
      rebaseStreamUrls(streaming, options.streamBaseUrl);
    }
    return createCcxtFeed({ exchange, marketType, pollMs: config.pollMs, streaming });
  }

  function feedFor(config: CryptoSignalsConfig): Promise<MarketDataFeed> {
    if (config.mode === 'simulated') {
      return Promise.resolve(createSimulatedFeed({ barMs: config.simBarMs, seed: config.simSeed }));
    }
    const key = `${config.exchange}:${config.marketType}:${String(config.pollMs)}:${config.stream}`;
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
    const abortWatch = new AbortWatch(signal);
    logger.info(
      { mode: config.mode, exchange: config.mode === 'ccxt' ? config.exchange : undefined, symbols: config.symbols, ...params },
      feed.stream === undefined ? 'crypto-signals polling' : 'crypto-signals streaming (polling as the fallback)',
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

    /**
     * Publishes the crossings of one symbol's new closed bars, advancing its cursor bar by bar. `closedUntil`:
     * bars ending by then are closed (a poll: now less the grace; a push: what the exchange said is closed).
     */
    const publishCrossings = async (symbol: string, state: SymbolState, bars: readonly Bar[], closedUntil?: number): Promise<boolean> => {
      const pushed = closedUntil !== undefined;
      const now = closedUntil ?? Date.now() - feed.closeGraceMs;
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
        if (pushed) {
          // From the bar's close, the event that made the crossing.
          metrics.sourceEventLatency(CRYPTO_SIGNALS_SOURCE, Math.max(0, Date.now() - (crossing.bar.time + feed.barMs)) / 1000);
        }
        logger.debug({ ...payload.content, type: payload.type, fastSma: crossing.fastSma, slowSma: crossing.slowSma }, 'signal published');
      }
      state.cursor = result.lastClosedTime;
      return true;
    };

    /** One REST poll of a symbol: its recent bars (undefined on abort), their crossings published. Throws FeedError. */
    const fetchAndPublish = async (symbol: string, state: SymbolState): Promise<Bar[] | undefined> => {
      const startedAt = performance.now();
      const seconds = (): number => (performance.now() - startedAt) / 1000;
      try {
        const bars = await abortWatch.race(feed.recentBars(symbol, limit));
        if (bars === abortedMarker) {
          return undefined;
        }
        const changed = await publishCrossings(symbol, state, bars);
        metrics.sourcePoll(CRYPTO_SIGNALS_SOURCE, changed ? 'changed' : 'unchanged', seconds());
        return bars;
      } catch (caught) {
        if (!signal.aborted) {
          metrics.sourcePoll(CRYPTO_SIGNALS_SOURCE, 'error', seconds());
        }
        throw toFeedError(caught);
      }
    };

    /** Counts a symbol's failure; true when it is about the upstream as a whole (back off), false: symbol dropped. */
    const symbolFailed = (error: FeedError, symbol: string, state: SymbolState): boolean => {
      countFailure(error, symbol);
      if (error.action === 'drop') {
        state.droppedUntil = Date.now() + config.symbolRetryMs;
        return false;
      }
      return true;
    };

    const pollSymbol = async (symbol: string, state: SymbolState): Promise<PollOutcome> => {
      if (state.droppedUntil > Date.now()) {
        return 'skipped';
      }
      try {
        return (await fetchAndPublish(symbol, state)) === undefined ? 'skipped' : 'ok';
      } catch (caught) {
        if (signal.aborted) {
          return 'skipped';
        }
        return symbolFailed(toFeedError(caught), symbol, state) ? 'backoff' : 'ok';
      }
    };

    // ---- the stream: pushes first, polling as the fallback ----

    let mode: 'stream' | 'poll' | undefined;
    const setMode = (next: 'stream' | 'poll', reason?: string): void => {
      if (next === mode) {
        return;
      }
      mode = next;
      metrics.sourceModeCount(CRYPTO_SIGNALS_SOURCE, 'stream', next === 'stream' ? 1 : 0);
      metrics.sourceModeCount(CRYPTO_SIGNALS_SOURCE, 'poll', next === 'poll' ? 1 : 0);
      if (next === 'stream') {
        logger.info('bars now pushed by the exchange stream: a crossover is signalled when its bar closes');
      } else if (reason !== undefined) {
        logger.warn({ reason }, 'exchange stream unavailable: polling until it is back');
      }
    };
    setMode('poll');
    let streamRound = 0;
    /** The stream's history, in an object: it changes inside the round's callbacks. */
    const streamState = { everLive: false, failures: 0 };
    let streamAt = 0;
    const streamBackoff = new Backoff(config.backoffMs, config.backoffMaxMs);

    /**
     * Follows one symbol while its round lasts: subscribes and waits for the first push (the subscription
     * works), takes a REST snapshot (what happened while the stream was down is signalled from it), then
     * evaluates every push. Resolves with the failure that ends the round (the connection), or undefined (the
     * symbol dropped, the round over, the source stopping).
     */
    const followSymbol = async (stream: BarStream, round: number, symbol: string, state: SymbolState, live: () => void): Promise<FeedError | undefined> => {
      const current = (): boolean => round === streamRound && !signal.aborted;
      const window = new Map<number, Bar>();
      const keep = (bars: readonly Bar[]): void => {
        for (const bar of bars) {
          window.set(bar.time, bar);
        }
        // The newest `limit` bars are all the rule needs.
        for (const time of [...window.keys()].sort((a, b) => a - b).slice(0, Math.max(0, window.size - limit))) {
          window.delete(time);
        }
      };
      const watchNext = (): Promise<BarUpdate> => {
        const next = stream.next(symbol);
        next.catch(() => undefined);
        return next;
      };
      try {
        let next = watchNext();
        const first = await abortWatch.race(next);
        if (first === abortedMarker || !current()) {
          return undefined;
        }
        // Subscribed before the snapshot: a bar closing meanwhile is in a later push.
        next = watchNext();
        const snapshot = await fetchAndPublish(symbol, state);
        if (snapshot === undefined || !current()) {
          return undefined;
        }
        keep(snapshot);
        keep(first.bars);
        live();
        await publishCrossings(symbol, state, [...window.values()], first.closedUntil);
        for (;;) {
          const update = await abortWatch.race(next);
          if (update === abortedMarker || !current()) {
            return undefined;
          }
          next = watchNext();
          keep(update.bars);
          await publishCrossings(symbol, state, [...window.values()], update.closedUntil);
        }
      } catch (caught) {
        if (!current()) {
          return undefined;
        }
        const error = toFeedError(caught);
        if (error.action === 'drop') {
          symbolFailed(error, symbol, state);
          return undefined;
        }
        // Counted once, by the loop that ends the round.
        return error;
      }
    };

    /** One stream connection for every symbol, until it fails (resolves with why) or the source stops (undefined). */
    const runStream = async (stream: BarStream): Promise<FeedError | undefined> => {
      const round = ++streamRound;
      let liveSymbols = 0;
      const followed = [...states].filter(([, state]) => state.droppedUntil <= Date.now());
      const live = (): void => {
        liveSymbols += 1;
        if (liveSymbols !== followed.length) {
          return;
        }
        if (streamState.everLive && streamState.failures > 0) {
          metrics.sourceStreamReconnected(CRYPTO_SIGNALS_SOURCE);
        }
        streamState.everLive = true;
        streamState.failures = 0;
        streamBackoff.reset();
        setMode('stream');
      };
      try {
        await stream.open();
        const prepared = await abortWatch.race(feed.prepare());
        if (prepared === abortedMarker) {
          return undefined;
        }
        const ended = new Promise<FeedError>((resolve) => {
          let done = 0;
          for (const [symbol, state] of followed) {
            void followSymbol(stream, round, symbol, state, live).then((error) => {
              done += 1;
              if (error !== undefined) {
                resolve(error);
              } else if (done === followed.length) {
                resolve(new FeedError('invalid_data', 'backoff', { message: NOTHING_TO_STREAM }));
              }
            });
          }
          if (followed.length === 0) {
            resolve(new FeedError('invalid_data', 'backoff', { message: NOTHING_TO_STREAM }));
          }
        });
        const outcome = await Promise.race([ended, abortWatch.aborted]);
        return outcome === abortedMarker ? undefined : outcome;
      } catch (caught) {
        return signal.aborted ? undefined : toFeedError(caught);
      } finally {
        streamRound += 1;
        await stream.close().catch(() => undefined);
      }
    };

    while (!signal.aborted) {
      if (feed.stream !== undefined && Date.now() >= streamAt) {
        const failure = await runStream(feed.stream);
        if (failure === undefined) {
          break;
        }
        if (failure.message !== NOTHING_TO_STREAM) {
          countFailure(failure, undefined);
        }
        streamState.failures += 1;
        const wait = streamBackoff.next();
        const { everLive, failures } = streamState;
        if (!everLive || failures >= config.streamMaxFailures) {
          // Poll until then (`streamAt` is only ever set here: a short outage below reconnects without polling).
          streamAt = Date.now() + wait;
          setMode('poll', everLive ? `the stream failed ${String(failures)} times in a row (${failure.message})` : `the stream cannot be used (${failure.message})`);
        } else {
          // A short outage: reconnect after the wait; the snapshot then brings what was missed.
          await abortWatch.sleep(wait);
          continue;
        }
      }
      let delay: number;
      try {
        const prepared = await abortWatch.race(feed.prepare());
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
        if (feed.stream !== undefined) {
          // Polling only until the stream is tried again.
          delay = Math.max(0, Math.min(delay, streamAt - Date.now()));
        }
      } catch (caught) {
        // Only `prepare` gets here (pollSymbol catches everything); after an abort it resolves, never rejects.
        const error = toFeedError(caught);
        countFailure(error, undefined);
        delay = backoff.next();
      }
      await abortWatch.sleep(delay);
    }
    abortWatch.dispose();
  }

  return {
    name: CRYPTO_SIGNALS_SOURCE,
    description: 'Buy/sell signals for crypto pairs on `signals` (SMA crossover of 1-minute closes; simulated market or ccxt).',
    config: cryptoSignalsConfig,
    topics: [signalTopicDeclaration(CRYPTO_SIGNALS_SOURCE)],
    run,
  };
}

/** The crypto-signals source with ccxt's real exchange classes and hosts (the registry's instance). */
export const cryptoSignalsSource: DataSource<typeof cryptoSignalsConfig> = createCryptoSignalsSource();
