import { z } from 'zod';

/**
 * Stock market topics: what price sources (the simulated A-share market, the replay source) and strategies
 * (volume_wave) publish, and what the stock price adapter reads. Every topic here is a latest-value topic
 * (`publishLatest`) except `stock.push`, which is live only.
 *
 * | topic | payload | written by |
 * |---|---|---|
 * | `stock.universe` | {@link StockUniverse}: every stock the price source quotes | price source, at start |
 * | `stock.quote.<code>` | {@link StockQuote}: the stock's latest quote | price source, every tick |
 * | `stock.bars.1m.<code>` | {@link StockBars}: the latest completed 1-minute bars, oldest first | price source, each minute |
 * | `stock.buylist.<strategy>` | {@link BuyList}: the strategy's current buy list | strategy source, on change |
 * | `stock.push` | {@link PricePushRequest}: "push this strategy's prices now" (live) | the push REST route |
 *
 * Times in payloads: `ts`/`*_ms` fields are milliseconds since the epoch; `timestamp`/`time` strings are
 * Asia/Shanghai wall-clock time `YYYY-MM-DDTHH:mm:ss` without offset (the legacy wire format; see
 * {@link formatShanghaiTime}).
 */
export const stockTopics = {
  universe: 'stock.universe',
  quotePrefix: 'stock.quote.',
  quotePattern: 'stock.quote.*',
  barsPrefix: 'stock.bars.1m.',
  barsPattern: 'stock.bars.1m.*',
  buyListPrefix: 'stock.buylist.',
  push: 'stock.push',
  quote: (code: string): string => `stock.quote.${code}`,
  bars: (code: string): string => `stock.bars.1m.${code}`,
  buyList: (strategy: string): string => `stock.buylist.${strategy}`,
} as const;

/** A 6-digit A-share code (`600519`). */
export const stockCodeSchema = z.string().regex(/^\d{6}$/, { error: 'expected a 6-digit stock code' });

/** The three A-share exchanges: Shanghai, Shenzhen, Beijing. */
export const stockMarkets = ['SH', 'SZ', 'BJ'] as const;
export const stockMarketSchema = z.enum(stockMarkets);
export type StockMarket = z.infer<typeof stockMarketSchema>;

/** A strategy name as used in topics and on the wire (`volume_wave`). */
export const strategyNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, {
  error: 'expected a strategy name of lower-case letters, digits and _',
});

export const stockInfoSchema = z.object({
  code: stockCodeSchema,
  name: z.string().min(1).max(32),
  market: stockMarketSchema,
});
export type StockInfo = z.infer<typeof stockInfoSchema>;

export const stockUniverseSchema = z.object({
  /** Which source publishes the quotes (`stock-market`, `replay`). */
  source: z.string().min(1),
  stocks: z.array(stockInfoSchema),
  updated_ms: z.number().int().nonnegative(),
});
export type StockUniverse = z.infer<typeof stockUniverseSchema>;

const price = z.number().nonnegative();

export const stockQuoteSchema = z.object({
  code: stockCodeSchema,
  name: z.string().min(1),
  market: stockMarketSchema,
  /** Last traded price (yuan, 0.01 tick). */
  price,
  prev_close: price,
  open: price,
  high: price,
  low: price,
  /** price − prev_close, rounded to 0.01. */
  change: z.number(),
  /** change / prev_close × 100, rounded to 0.01. */
  change_percent: z.number(),
  /** Shares traded since the session opened (cumulative). */
  volume: z.number().int().nonnegative(),
  /** Turnover in yuan since the session opened (cumulative). */
  amount: z.number().nonnegative(),
  /** Quote time, Asia/Shanghai `YYYY-MM-DDTHH:mm:ss`. */
  timestamp: z.string(),
  /** Quote time in epoch milliseconds. */
  ts: z.number().int().nonnegative(),
});
export type StockQuote = z.infer<typeof stockQuoteSchema>;

export const stockBarSchema = z.object({
  /** Bar start, epoch milliseconds. */
  t: z.number().int().nonnegative(),
  /** Bar start, Asia/Shanghai `YYYY-MM-DDTHH:mm:ss`. */
  time: z.string(),
  open: price,
  high: price,
  low: price,
  close: price,
  /** Shares traded within the bar. */
  volume: z.number().int().nonnegative(),
});
export type StockBar = z.infer<typeof stockBarSchema>;

export const stockBarsSchema = z.object({
  code: stockCodeSchema,
  name: z.string().min(1),
  market: stockMarketSchema,
  /** Bar length in milliseconds (60 000 for real 1-minute bars; shorter in tests). */
  interval_ms: z.number().int().positive(),
  /** Completed bars, oldest first, bounded by the source's history setting. */
  bars: z.array(stockBarSchema),
});
export type StockBars = z.infer<typeof stockBarsSchema>;

export const buyListEntrySchema = z.object({
  code: stockCodeSchema,
  name: z.string().min(1),
  market: stockMarketSchema,
  /** Start of the bar that triggered the buy, epoch ms and Shanghai time. */
  signal_ms: z.number().int().nonnegative(),
  signal_time: z.string(),
  /** Close of the triggering bar. */
  signal_price: price,
  /** Triggering bar volume / mean volume of the lookback bars. */
  volume_ratio: z.number().nonnegative(),
});
export type BuyListEntry = z.infer<typeof buyListEntrySchema>;

export const buyListSchema = z.object({
  strategy: strategyNameSchema,
  updated_ms: z.number().int().nonnegative(),
  stocks: z.array(buyListEntrySchema),
});
export type BuyList = z.infer<typeof buyListSchema>;

export const pricePushRequestSchema = z.object({
  strategy: strategyNameSchema,
  requested_ms: z.number().int().nonnegative(),
});
export type PricePushRequest = z.infer<typeof pricePushRequestSchema>;

/** Asia/Shanghai is UTC+8 all year (no daylight saving time since 1991). */
export const SHANGHAI_OFFSET_MS = 8 * 3_600_000;

/**
 * `ms` as Asia/Shanghai wall-clock time `YYYY-MM-DDTHH:mm:ss` (no offset, no fraction): the timestamp format of
 * the legacy stock service (`2025-11-24T10:30:00`). A-share times are exchange-local, so this is what a user of
 * an A-share service expects to read.
 */
export function formatShanghaiTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000 + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19);
}

/** The exchange of a 6-digit code by its prefix: 6 → SH; 0, 2, 3 → SZ; 4, 8, 92 → BJ; undefined otherwise. */
export function marketOfCode(code: string): StockMarket | undefined {
  if (!/^\d{6}$/.test(code)) {
    return undefined;
  }
  if (code.startsWith('92') || code.startsWith('4') || code.startsWith('8')) {
    return 'BJ';
  }
  if (code.startsWith('6')) {
    return 'SH';
  }
  if (code.startsWith('0') || code.startsWith('2') || code.startsWith('3')) {
    return 'SZ';
  }
  return undefined;
}
