export { CRYPTO_SIGNALS_SOURCE, createCryptoSignalsSource, cryptoSignalsSource } from './source.js';
export type { CryptoSignalsConfig, CryptoSignalsSourceOptions } from './source.js';
export { cryptoSignalsConfig, defaultCryptoSymbols } from './config.js';
export { FeedError, toFeedError } from './feed.js';
export type { FeedErrorAction, FeedErrorKind, MarketDataFeed } from './feed.js';
export { closedBars, evaluateCrossovers, sma } from './rule.js';
export type { Bar, CrossoverInput, CrossoverParams, CrossoverResult, CrossoverSignal } from './rule.js';
export { createSimulatedFeed } from './simulated.js';
export type { SimulatedFeedOptions } from './simulated.js';
export {
  classifyCcxtError,
  createCcxtFeed,
  createExchange,
  exchangeArgs,
  findMarket,
  loadCcxt,
  rebaseApiUrls,
} from './ccxt-feed.js';
export type { CcxtFeedOptions, ExchangeFactory, MarketType } from './ccxt-feed.js';
