import type * as Ccxt from 'ccxt';
import type { ConstructorArgs, Exchange, MarketInterface } from 'ccxt';
import { GatewayError } from '@gw/core';
import { FeedError } from './feed.js';
import type { MarketDataFeed } from './feed.js';
import type { Bar } from './rule.js';

/** Which contract a gateway symbol means on the exchange: spot `BTC/USDT` or the linear perpetual `BTC/USDT:USDT`. */
export type MarketType = 'spot' | 'linear';

/** Builds a ccxt exchange from its id and constructor arguments. */
export type ExchangeFactory = (exchangeId: string, args: ConstructorArgs) => Exchange | Promise<Exchange>;

type CcxtModule = typeof Ccxt;

let ccxtModule: Promise<CcxtModule> | undefined;

/**
 * ccxt is loaded on first use only: it is a large module (hundreds of ms to import), and the embedded default
 * is the simulated market, which never needs it.
 */
export function loadCcxt(): Promise<CcxtModule> {
  ccxtModule ??= import('ccxt');
  return ccxtModule;
}

/** The default {@link ExchangeFactory}: ccxt's real exchange class of that id. Unknown id → `config_invalid`. */
export async function createExchange(exchangeId: string, args: ConstructorArgs): Promise<Exchange> {
  const ccxt = await loadCcxt();
  // The named export `exchanges` maps ids to classes (the default export's `exchanges` is the id list).
  const classes = ccxt.exchanges as unknown as Record<string, new (args: ConstructorArgs) => Exchange>;
  const ExchangeClass = Object.hasOwn(classes, exchangeId) ? classes[exchangeId] : undefined;
  if (ExchangeClass === undefined) {
    throw new GatewayError('config_invalid', {
      message: `CRYPTO_SIGNALS_EXCHANGE: ccxt has no exchange "${exchangeId}"`,
    });
  }
  return new ExchangeClass(args);
}

/**
 * Per-exchange ccxt options, merged over the defaults: the quirks table of the style anchors. Each entry
 * limits `loadMarkets` to the one market type in use (fewer, public-only requests at startup).
 */
const exchangeQuirks: Readonly<Record<string, (marketType: MarketType) => Record<string, unknown>>> = {
  // bybit.js fetchMarkets reads options.fetchMarkets.types; 'linear' costs two requests (listed and PreLaunch).
  bybit: (marketType) => ({ fetchMarkets: { types: [marketType] } }),
  // binance.js fetchMarkets reads options.fetchMarkets.types too, with 'linear' for USDⓈ-M futures.
  binance: (marketType) => ({ fetchMarkets: { types: [marketType] } }),
};

/** The ccxt constructor arguments for public market data of `marketType` on `exchangeId`. */
export function exchangeArgs(exchangeId: string, marketType: MarketType): ConstructorArgs {
  return {
    // ccxt's own throttle keeps us under the exchange's published limits; never turned off.
    enableRateLimit: true,
    options: {
      ...(marketType === 'spot' ? { defaultType: 'spot' } : { defaultType: 'swap', defaultSubType: 'linear' }),
      ...exchangeQuirks[exchangeId]?.(marketType),
    },
  };
}

/**
 * Points every REST host of `exchange` at `baseUrl` (scheme, host and port replaced, paths kept), so ccxt's
 * real exchange class talks to a local fake server in tests. `{hostname}` templates are resolved first.
 */
export function rebaseApiUrls(exchange: Exchange, baseUrl: string): void {
  const base = new URL(baseUrl);
  const rebase = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const url = new URL(exchange.implodeHostname(value));
      url.protocol = base.protocol;
      url.host = base.host;
      // URL.toString adds a trailing slash to an empty path; ccxt appends "/path" itself.
      return url.toString().replace(/\/$/, '');
    }
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rebase(inner)]));
    }
    return value;
  };
  const urls = exchange.urls as { api?: unknown };
  urls.api = rebase(urls.api);
}

/** The ccxt market of a gateway symbol (`BTCUSDT` is the exchange id of both `BTC/USDT` and `BTC/USDT:USDT`). */
export function findMarket(exchange: Exchange, symbol: string, marketType: MarketType): MarketInterface | undefined {
  const byId = (exchange.markets_by_id ?? {}) as Record<string, MarketInterface[] | undefined>;
  const candidates = byId[symbol] ?? [];
  return candidates.find((market) =>
    marketType === 'spot' ? market.spot : market.linear === true && market.swap,
  );
}

/**
 * Maps a ccxt error to what the source does about it. NetworkError (RequestTimeout, ExchangeNotAvailable,
 * RateLimitExceeded/DDoSProtection, BadResponse, …) is about the exchange as a whole: back off. ExchangeError
 * (BadSymbol, BadRequest, AuthenticationError, …) is about this request: drop the symbol for a while.
 */
export function classifyCcxtError(ccxt: CcxtModule, error: unknown, context: string): FeedError {
  const message = `${context}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  if (error instanceof FeedError) {
    return error;
  }
  if (error instanceof ccxt.RateLimitExceeded || error instanceof ccxt.DDoSProtection) {
    return new FeedError('rate_limit', 'backoff', { message, cause: error });
  }
  if (error instanceof ccxt.NetworkError) {
    return new FeedError('network', 'backoff', { message, cause: error });
  }
  if (error instanceof ccxt.AuthenticationError || error instanceof ccxt.PermissionDenied) {
    return new FeedError('auth', 'drop', { message, cause: error });
  }
  if (error instanceof ccxt.BadRequest) {
    // BadSymbol included: the exchange does not know the symbol, or refuses its parameters.
    return new FeedError('invalid_data', 'drop', { message, cause: error });
  }
  if (error instanceof ccxt.ExchangeError) {
    return new FeedError('internal', 'drop', { message, cause: error });
  }
  return new FeedError('internal', 'backoff', { message, cause: error });
}

/** Checks one ccxt OHLCV row: a garbage answer parses to empty or non-numeric rows rather than an error. */
function toBar(row: readonly unknown[]): Bar | undefined {
  const [time, open, high, low, close, volume] = row;
  const numbers = [time, open, high, low, close];
  if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n)) || (close as number) <= 0) {
    return undefined;
  }
  return {
    time: time as number,
    open: open as number,
    high: high as number,
    low: low as number,
    close: close as number,
    volume: typeof volume === 'number' && Number.isFinite(volume) ? volume : 0,
  };
}

/** Options of {@link createCcxtFeed}. */
export interface CcxtFeedOptions {
  exchange: Exchange;
  marketType: MarketType;
  /** Delay between rounds of polls. */
  pollMs: number;
}

/** The ccxt timeframe used, and its length. */
const TIMEFRAME = '1m';
const TIMEFRAME_MS = 60_000;

/**
 * Public 1-minute OHLCV through ccxt as a {@link MarketDataFeed}: `loadMarkets` once (retried with a reload
 * after a failure, because ccxt caches the rejected promise), then `fetchOHLCV(symbol, '1m', undefined, limit)`
 * per symbol and poll: without `since`, every exchange returns its newest `limit` bars, which is exactly the
 * window the rule needs (how `since` combines with `limit` differs between exchanges).
 */
export function createCcxtFeed(options: CcxtFeedOptions): MarketDataFeed {
  const { exchange, marketType, pollMs } = options;
  let loaded = false;
  let failedBefore = false;
  return {
    barMs: TIMEFRAME_MS,
    // Bybit keeps amending a minute's kline for a moment after the minute ends; 2 s also absorbs clock skew.
    closeGraceMs: 2_000,
    async prepare() {
      if (loaded) {
        return;
      }
      const ccxt = await loadCcxt();
      try {
        await exchange.loadMarkets(failedBefore);
        loaded = true;
      } catch (error) {
        failedBefore = true;
        const classified = classifyCcxtError(ccxt, error, `${exchange.id} loadMarkets`);
        // No symbol to drop while the market list is missing: every failure here is a reason to wait.
        throw new FeedError(classified.kind, 'backoff', { message: classified.message, cause: error });
      }
    },
    async recentBars(symbol, limit) {
      const ccxt = await loadCcxt();
      const market = findMarket(exchange, symbol, marketType);
      if (market === undefined) {
        throw new FeedError('invalid_data', 'drop', {
          message: `${exchange.id} has no ${marketType} market with id ${symbol}`,
        });
      }
      let rows: unknown[];
      try {
        rows = await exchange.fetchOHLCV(market.symbol, TIMEFRAME, undefined, limit);
      } catch (error) {
        throw classifyCcxtError(ccxt, error, `${exchange.id} fetchOHLCV ${market.symbol}`);
      }
      const bars: Bar[] = [];
      for (const row of rows) {
        const bar = Array.isArray(row) ? toBar(row) : undefined;
        if (bar === undefined) {
          throw new FeedError('invalid_data', 'backoff', {
            message: `${exchange.id} fetchOHLCV ${market.symbol}: malformed row ${JSON.stringify(row)}`,
          });
        }
        bars.push(bar);
      }
      if (bars.length === 0) {
        // A listed market always has bars; none means a garbage answer (an outage page parsed as nothing).
        throw new FeedError('invalid_data', 'backoff', {
          message: `${exchange.id} fetchOHLCV ${market.symbol}: no bars in the answer`,
        });
      }
      return bars;
    },
    nextPollDelayMs: () => pollMs,
  };
}
