import { loadedCcxt } from './ccxt.js';
import type { AccountSpec } from './accounts.js';

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
