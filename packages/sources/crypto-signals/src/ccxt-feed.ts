import type * as Ccxt from 'ccxt';
import type { ConstructorArgs, Exchange, MarketInterface } from 'ccxt';
import { GatewayError } from '@gw/core';
import { closableByOwner } from '@gw/source-trading';
import { FeedError } from './feed.js';
import type { BarStream, BarUpdate, MarketDataFeed } from './feed.js';
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
 * A ccxt pro exchange as the stream side of the feed uses it: closable by its owner (a watch call never
 * reconnects after `close`), and told which bars the exchange confirmed closed.
 */
export type StreamExchange = Exchange & {
  reopen(): void;
  /** Per exchange market id: start time of the newest bar a kline push confirmed closed. */
  readonly confirmedBars: Map<string, number>;
};

/**
 * ccxt's pro class of `exchangeId` when it has `watchOHLCV`, or undefined (the feed then only polls). Extended
 * to read the close confirmation of Bybit's v5 kline pushes (`{"topic": "kline.1.BTCUSDT", "data": [{"start",
 * …, "confirm": true}]}`), which ccxt's parser drops: with it a bar counts as closed as soon as the exchange says
 * so, instead of when the next minute's first push arrives.
 */
export async function createStreamExchange(exchangeId: string, args: ConstructorArgs): Promise<StreamExchange | undefined> {
  const ccxt = await loadCcxt();
  const classes = ccxt.pro as unknown as Record<string, (new (args: ConstructorArgs) => Exchange) | undefined>;
  const Pro = Object.hasOwn(classes, exchangeId) ? classes[exchangeId] : undefined;
  if (Pro === undefined) {
    return undefined;
  }
  class KlineStream extends closableByOwner(Pro, ccxt.ExchangeClosedByUser) {
    readonly confirmedBars = new Map<string, number>();

    override handleMessage(client: unknown, message: unknown): void {
      // Read before ccxt handles it: handling resolves the watch call, whose caller then reads `confirmedBars`.
      const { topic, data } = (message ?? {}) as { topic?: unknown; data?: unknown };
      if (typeof topic === 'string' && topic.startsWith('kline.') && Array.isArray(data)) {
        const marketId = topic.split('.').at(-1) ?? '';
        for (const row of data as { start?: unknown; confirm?: unknown }[]) {
          const start = Number(row.start);
          if (row.confirm === true && Number.isFinite(start) && start > (this.confirmedBars.get(marketId) ?? -Infinity)) {
            this.confirmedBars.set(marketId, start);
          }
        }
      }
      super.handleMessage(client, message);
    }
  }
  const exchange = new KlineStream(args) as unknown as StreamExchange;
  return exchange.has['watchOHLCV'] === true ? exchange : undefined;
}

/**
 * Points every stream URL of `exchange` (`urls.api.ws`) at `baseUrl` (a `ws://` or `wss://` base; paths kept),
 * e.g. a local fake exchange WebSocket server in tests.
 */
export function rebaseStreamUrls(exchange: Exchange, baseUrl: string): void {
  const api = (exchange.urls as { api?: Record<string, unknown> }).api ?? {};
  api['ws'] = rebaseUrlTree(exchange, api['ws'], new URL(baseUrl));
}

function rebaseUrlTree(exchange: Exchange, value: unknown, base: URL): unknown {
  if (typeof value === 'string') {
    const url = new URL(exchange.implodeHostname(value));
    url.protocol = base.protocol;
    url.host = base.host;
    // URL.toString adds a trailing slash to an empty path; ccxt appends "/path" itself.
    return url.toString().replace(/\/$/, '');
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rebaseUrlTree(exchange, inner, base)]));
  }
  return value;
}

/**
 * Points every REST host of `exchange` at `baseUrl` (scheme, host and port replaced, paths kept), so ccxt's
 * real exchange class talks to a local fake server in tests. `{hostname}` templates are resolved first. Stream
 * URLs (`urls.api.ws` of a pro class) are left alone: see {@link rebaseStreamUrls}.
 */
export function rebaseApiUrls(exchange: Exchange, baseUrl: string): void {
  const base = new URL(baseUrl);
  const urls = exchange.urls as { api?: unknown };
  if (urls.api !== null && typeof urls.api === 'object') {
    urls.api = Object.fromEntries(Object.entries(urls.api).map(([key, inner]) => [key, key === 'ws' ? inner : rebaseUrlTree(exchange, inner, base)]));
  } else {
    urls.api = rebaseUrlTree(exchange, urls.api, base);
  }
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
  /** `exchange` itself when it streams (from {@link createStreamExchange}): the feed then has a `stream`. */
  streaming?: StreamExchange | undefined;
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
  const { exchange, marketType, pollMs, streaming } = options;
  let loaded = false;
  let failedBefore = false;
  const marketOf = (symbol: string): MarketInterface => {
    const market = findMarket(exchange, symbol, marketType);
    if (market === undefined) {
      throw new FeedError('invalid_data', 'drop', {
        message: `${exchange.id} has no ${marketType} market with id ${symbol}`,
      });
    }
    return market;
  };
  const toBars = (rows: readonly unknown[], context: string): Bar[] =>
    rows.map((row) => {
      const bar = Array.isArray(row) ? toBar(row) : undefined;
      if (bar === undefined) {
        throw new FeedError('invalid_data', 'backoff', { message: `${context}: malformed row ${JSON.stringify(row)}` });
      }
      return bar;
    });
  const stream: BarStream | undefined =
    streaming === undefined
      ? undefined
      : {
          async next(symbol): Promise<BarUpdate> {
            const ccxt = await loadCcxt();
            const market = marketOf(symbol);
            const context = `${exchange.id} watchOHLCV ${market.symbol}`;
            let rows: unknown[];
            try {
              rows = await streaming.watchOHLCV(market.symbol, TIMEFRAME);
            } catch (error) {
              throw classifyCcxtError(ccxt, error, context);
            }
            const bars = toBars(rows, context);
            const newest = Math.max(...bars.map((bar) => bar.time));
            const confirmed = streaming.confirmedBars.get(market.id ?? symbol);
            return { bars, closedUntil: Math.max(newest, confirmed === undefined ? -Infinity : confirmed + TIMEFRAME_MS) };
          },
          async open() {
            streaming.reopen();
            // ccxt refuses a plain ws:// URL (a local or proxied stream) until its proxy agent is loaded.
            await streaming.loadHttpProxyAgent();
          },
          close: () => streaming.close(),
        };
  return {
    stream,
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
      const market = marketOf(symbol);
      let rows: unknown[];
      try {
        rows = await exchange.fetchOHLCV(market.symbol, TIMEFRAME, undefined, limit);
      } catch (error) {
        throw classifyCcxtError(ccxt, error, `${exchange.id} fetchOHLCV ${market.symbol}`);
      }
      const bars = toBars(rows, `${exchange.id} fetchOHLCV ${market.symbol}`);
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
