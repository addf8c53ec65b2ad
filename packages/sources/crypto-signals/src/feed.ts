import { GatewayError } from '@gw/core';
import type { Bar } from './rule.js';

/**
 * Where the bars come from. Two implementations: the simulated market (`simulated.ts`, the embedded default)
 * and public exchange data through ccxt (`ccxt-feed.ts`). The source polls a feed and applies the rule; it
 * never sees ccxt: a feed translates its failures into {@link FeedError} at the boundary.
 */
export interface MarketDataFeed {
  /** Bar length in milliseconds: 60000 for an exchange's 1-minute bars, shorter for a fast simulation. */
  readonly barMs: number;
  /**
   * How long after its end a bar is still treated as open: an exchange may still amend the last minute for a
   * moment (trades matched at the boundary, clock skew between it and us). 0 for the simulated market.
   */
  readonly closeGraceMs: number;
  /** Readies the feed (ccxt: `loadMarkets`, once). Idempotent and cheap once it has succeeded. */
  prepare(): Promise<void>;
  /**
   * The newest `limit` bars of `symbol` (gateway spelling, `BTCUSDT`), oldest first. The newest one may still
   * be forming; the rule ignores it. Rejects with {@link FeedError}.
   */
  recentBars(symbol: string, limit: number): Promise<Bar[]>;
  /** How long to wait after a successful round of polls before the next one. */
  nextPollDelayMs(now: number): number;
  /** The upstream's push side, when it has one (an exchange's public kline stream); polling is the fallback. */
  readonly stream?: BarStream | undefined;
}

/** One push of a symbol's bars. */
export interface BarUpdate {
  /** The bars that changed, oldest first; the newest may still be forming. */
  bars: Bar[];
  /** Bars that end at or before this time (epoch ms) are closed: a newer one started, or the exchange said so. */
  closedUntil: number;
}

/**
 * Bars pushed by the upstream as they change. One connection serves every symbol; the first `next` of a symbol
 * subscribes it. A failure of the connection rejects every pending `next` (with {@link FeedError}); the owner
 * then closes the stream and opens it again later (and fetches what it missed over REST).
 */
export interface BarStream {
  /** Resolves at the next update of `symbol`. */
  next(symbol: string): Promise<BarUpdate>;
  /** Allows connecting (again): the stream refuses to connect between `close` and `open`. */
  open(): Promise<void>;
  /** Closes the connection; pending `next` calls reject. */
  close(): Promise<void>;
}

/** The `kind` label of `metrics.sourceError` (see GatewayMetrics). */
export type FeedErrorKind = 'network' | 'rate_limit' | 'auth' | 'invalid_data' | 'internal';

/**
 * What the source does about a failure: `backoff` waits (capped exponential) before the next round, for
 * failures that are about the upstream as a whole (network, rate limit, an outage page); `drop` stops polling
 * that one symbol for a while (unknown symbol, a request the exchange refuses), leaving the others alone.
 */
export type FeedErrorAction = 'backoff' | 'drop';

/** A feed failure, classified at the boundary (recommendation 7 of the style anchors). */
export class FeedError extends GatewayError {
  readonly kind: FeedErrorKind;
  readonly action: FeedErrorAction;

  constructor(kind: FeedErrorKind, action: FeedErrorAction, options: { message: string; cause?: unknown }) {
    super(kind === 'rate_limit' ? 'rate_limited' : 'source_failed', { ...options, details: { kind, action } });
    this.kind = kind;
    this.action = action;
  }
}

/** Anything that is not a FeedError is a bug or an unexpected library failure: back off, count as internal. */
export function toFeedError(error: unknown): FeedError {
  if (error instanceof FeedError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new FeedError('internal', 'backoff', { message, cause: error });
}
