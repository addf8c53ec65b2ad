import { loadedCcxt } from './ccxt.js';
import type * as Ccxt from 'ccxt';
import type { AccountSpec } from './accounts.js';
import { closableByOwner } from './closable-stream.js';

type Params = Record<string, unknown>;

/**
 * The exchange methods the trading source calls, with ccxt's signatures and unified return structures. A ccxt
 * exchange instance is one as it is; the paper exchange implements the same methods. Results are `unknown`
 * because the mapping validates them (mapping.ts).
 */
export interface ExchangeClient {
  readonly id: string;
  fetchBalance(params?: Params): Promise<unknown>;
  fetchPositions(symbols?: string[], params?: Params): Promise<unknown>;
  fetchOpenOrders(symbol?: string, since?: number, limit?: number, params?: Params): Promise<unknown>;
  /** Closed positions with their realized pnl (Bybit: the closed-pnl list). */
  fetchPositionsHistory(symbols?: string[], since?: number, limit?: number, params?: Params): Promise<unknown>;
  /** ccxt only: the loaded markets (undefined until loaded) and the loader. */
  readonly markets?: unknown;
  loadMarkets?(reload?: boolean): Promise<unknown>;
}

/**
 * Loads the markets if they are not loaded yet. ccxt caches the promise of its first `loadMarkets`, a
 * rejected one included (a bad key, a network error), so every later call would fail with that first error
 * for ever; asking for a reload makes each attempt a fresh one.
 */
export async function ensureMarkets(client: ExchangeClient): Promise<void> {
  if (client.loadMarkets !== undefined && client.markets === undefined) {
    await client.loadMarkets(true);
  }
}

/** Per-exchange request parameters, merged over the defaults (freqtrade's "capabilities dict" idea). */
export interface ExchangeQuirks {
  /** ccxt options for the instance. */
  options: Params;
  positions: (settleCoin: string) => Params;
  openOrders: (settleCoin: string) => Params;
  history: (settleCoin: string) => Params;
  /** Largest page of closed-pnl records one request may ask for. */
  historyLimit: number;
}

const defaultQuirks: ExchangeQuirks = {
  options: {},
  positions: () => ({}),
  openOrders: () => ({}),
  history: () => ({}),
  historyLimit: 100,
};

export const quirksByExchange: Readonly<Record<string, Partial<ExchangeQuirks>>> = {
  bybit: {
    // Linear (USDT-settled) perpetuals only: markets of other categories are not loaded.
    options: { defaultType: 'swap', defaultSubType: 'linear', fetchMarkets: { types: ['linear'] } },
    positions: (settleCoin) => ({ settleCoin }),
    // Without settleCoin (or a symbol) Bybit v5 refuses to list open orders of all linear symbols.
    openOrders: (settleCoin) => ({ settleCoin }),
    historyLimit: 100,
  },
  paper: {},
};

export function quirksOf(exchangeId: string): ExchangeQuirks {
  return { ...defaultQuirks, ...quirksByExchange[exchangeId] };
}

export interface CcxtClientOptions {
  timeoutMs: number;
}

/**
 * A ccxt exchange instance for one account: its own credentials and its own rate limiter (exchanges limit per
 * key), `enableRateLimit` on. Sandbox switches to the exchange's testnet; `baseUrl` replaces every REST URL.
 * ccxt must have been loaded (`loadCcxt`) before.
 */
export function createCcxtClient(spec: Extract<AccountSpec, { exchange: 'bybit' }>, options: CcxtClientOptions): ExchangeClient {
  const ccxt = loadedCcxt();
  if (ccxt === undefined) {
    throw new Error('ccxt is not loaded: call loadCcxt() first');
  }
  const quirks = quirksOf(spec.exchange);
  const exchange = new ccxt.bybit({
    apiKey: spec.apiKey,
    secret: spec.secret,
    enableRateLimit: true,
    timeout: options.timeoutMs,
    options: { ...quirks.options, ...spec.options },
  });
  if (spec.sandbox === true) {
    exchange.setSandboxMode(true);
  }
  if (spec.baseUrl !== undefined) {
    const base = spec.baseUrl.replace(/\/+$/, '');
    const api = exchange.urls['api'] as Record<string, string>;
    exchange.urls['api'] = Object.fromEntries(Object.keys(api).map((key) => [key, base]));
  }
  return exchange;
}

/**
 * The streaming methods the trading source calls on a ccxt pro exchange (ccxt's signatures), and the hook it
 * adds: `onSubscribed` is told of every subscription acknowledgement, so the source knows when the stream is
 * live and takes its REST snapshot only then (nothing can fall between the snapshot and the first push).
 */
export interface StreamClient {
  readonly id: string;
  readonly has: Record<string, boolean | string | undefined>;
  readonly markets?: unknown;
  onSubscribed: ((message: Record<string, unknown>) => void) | undefined;
  setMarkets(markets: unknown, currencies?: unknown): unknown;
  /** ccxt needs it before connecting to a plain `ws://` URL (a local or proxied stream). */
  loadHttpProxyAgent(): Promise<unknown>;
  /** Allows connections again after `close()` (which refuses every later one, see the class below). */
  reopen(): void;
  /**
   * The exchange's own time (Bybit's `creationTime`, ms) of the oldest `wallet` push parsed since the last call,
   * or undefined; ccxt's parsed balance keeps no time of the push.
   */
  takeBalanceEventTime(): number | undefined;
  watchBalance(params?: Params): Promise<unknown>;
  watchPositions(symbols?: string[], since?: number, limit?: number, params?: Params): Promise<unknown[]>;
  watchOrders(symbol?: string, since?: number, limit?: number, params?: Params): Promise<unknown[]>;
  watchMyTrades(symbol?: string, since?: number, limit?: number, params?: Params): Promise<unknown[]>;
  close(): Promise<void>;
}

/** The stream methods an exchange's pro class must have for an account to stream. */
export const streamMethods = ['watchBalance', 'watchPositions', 'watchOrders', 'watchMyTrades'] as const;

type ProExchange = InstanceType<typeof Ccxt.pro.bybit>;
let streamingBybit: (new (args: Record<string, unknown>) => ProExchange & StreamClient) | undefined;

/**
 * ccxt's real `pro.bybit`, closable by its owner (see closable-stream.ts) and extended to report subscription
 * acknowledgements and the time of `wallet` pushes (Bybit's v5 private pushes carry `creationTime`; ccxt's
 * balance parser reads a `ts` those pushes do not have).
 */
function streamingBybitClass(ccxt: typeof Ccxt): new (args: Record<string, unknown>) => ProExchange & StreamClient {
  streamingBybit ??= class StreamingBybit extends closableByOwner(ccxt.pro.bybit, ccxt.ExchangeClosedByUser) {
    onSubscribed: ((message: Record<string, unknown>) => void) | undefined;
    #balanceEventAt: number | undefined;

    override handleBalance(client: Parameters<ProExchange['handleBalance']>[0], message: Record<string, unknown>): void {
      // Read before ccxt handles it: handling resolves the watch call, whose caller then takes the time.
      const at = Number(message['creationTime']);
      if (this.#balanceEventAt === undefined && Number.isFinite(at) && at > 0) {
        this.#balanceEventAt = at;
      }
      super.handleBalance(client, message);
    }

    takeBalanceEventTime(): number | undefined {
      const at = this.#balanceEventAt;
      this.#balanceEventAt = undefined;
      return at;
    }

    override reopen(): void {
      this.#balanceEventAt = undefined;
      super.reopen();
    }

    override handleSubscriptionStatus(client: Parameters<ProExchange['handleSubscriptionStatus']>[0], message: Record<string, unknown>): Record<string, unknown> {
      const answer = super.handleSubscriptionStatus(client, message);
      this.onSubscribed?.(message);
      return answer;
    }
  } as unknown as new (args: Record<string, unknown>) => ProExchange & StreamClient;
  return streamingBybit;
}

/** Replaces scheme, host and port of every URL under `urls` (paths kept; `{hostname}` resolved first). */
function rebaseUrls(value: unknown, base: URL, implode: (url: string) => string): unknown {
  if (typeof value === 'string') {
    const url = new URL(implode(value));
    url.protocol = base.protocol;
    url.host = base.host;
    return url.toString().replace(/\/$/, '');
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, rebaseUrls(inner, base, implode)]));
  }
  return value;
}

/**
 * The ccxt pro instance streaming one account's private data, or undefined when the account must poll: the
 * account opted out (`stream: false`), has a REST `baseUrl` but no `streamBaseUrl`, or the exchange's pro
 * class lacks one of the stream methods. Its REST
 * calls (the unified-account check) go to `baseUrl` as the REST client's do; its streams to `streamBaseUrl`.
 * The position snapshot ccxt would fetch itself is turned off: the source takes its own REST snapshot.
 */
export function createCcxtStreamClient(spec: Extract<AccountSpec, { exchange: 'bybit' }>, options: CcxtClientOptions): StreamClient | undefined {
  const ccxt = loadedCcxt();
  if (ccxt === undefined) {
    throw new Error('ccxt is not loaded: call loadCcxt() first');
  }
  // A REST base URL of its own (a proxy, a test server) without a stream URL: the exchange's real stream
  // would be another backend than the one polled, so such an account polls.
  if (spec.stream === false || (spec.baseUrl !== undefined && spec.streamBaseUrl === undefined)) {
    return undefined;
  }
  const quirks = quirksOf(spec.exchange);
  const Streaming = streamingBybitClass(ccxt);
  const exchange = new Streaming({
    apiKey: spec.apiKey,
    secret: spec.secret,
    enableRateLimit: true,
    timeout: options.timeoutMs,
    options: { ...quirks.options, watchPositions: { fetchPositionsSnapshot: false, awaitPositionsSnapshot: false }, ...spec.options },
  });
  if (!streamMethods.every((method) => exchange.has[method] === true)) {
    return undefined;
  }
  if (spec.sandbox === true) {
    exchange.setSandboxMode(true);
  }
  const api = exchange.urls['api'] as Record<string, unknown>;
  const implode = (url: string): string => exchange.implodeHostname(url);
  if (spec.baseUrl !== undefined) {
    const base = new URL(spec.baseUrl);
    for (const key of Object.keys(api)) {
      if (key !== 'ws') {
        api[key] = rebaseUrls(api[key], base, implode);
      }
    }
  }
  if (spec.streamBaseUrl !== undefined) {
    api['ws'] = rebaseUrls(api['ws'], new URL(spec.streamBaseUrl), implode);
  }
  return exchange;
}
