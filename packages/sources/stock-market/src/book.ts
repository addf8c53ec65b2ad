import { formatShanghaiTime } from '@gw/topics';
import type { StockInfo, StockQuote } from '@gw/topics';
import { changeOf, limitPercentOf, priceLimits } from './rules.js';
import type { PriceLimits } from './rules.js';

/**
 * One stock's trading day: previous close, limits, open/high/low/last, cumulative volume and turnover. Prices
 * in fen. Shared by the simulated market and the replay source, so both publish identical quotes.
 */
export class StockBook {
  readonly info: StockInfo;
  readonly limitPercent: number;
  prevCloseFen: number;
  limits: PriceLimits;
  openFen = 0;
  highFen = 0;
  lowFen = 0;
  lastFen: number;
  /** Shares traded today. */
  volume = 0;
  /** Turnover today, yuan. */
  amount = 0;

  constructor(info: StockInfo, prevCloseFen: number) {
    this.info = info;
    this.limitPercent = limitPercentOf(info.code, info.market);
    this.prevCloseFen = prevCloseFen;
    this.limits = priceLimits(prevCloseFen, this.limitPercent);
    this.lastFen = prevCloseFen;
  }

  /** Records a trade of `shares` at `priceFen` (the caller keeps it within `limits`). */
  trade(priceFen: number, shares: number): void {
    if (this.volume === 0 && this.openFen === 0) {
      this.openFen = priceFen;
      this.highFen = priceFen;
      this.lowFen = priceFen;
    }
    this.lastFen = priceFen;
    if (priceFen > this.highFen) {
      this.highFen = priceFen;
    }
    if (priceFen < this.lowFen) {
      this.lowFen = priceFen;
    }
    this.volume += shares;
    this.amount += (priceFen * shares) / 100;
  }

  /** A new trading day: yesterday's last price becomes the previous close; limits and counters reset. */
  rollDay(): void {
    this.prevCloseFen = this.lastFen;
    this.limits = priceLimits(this.prevCloseFen, this.limitPercent);
    this.openFen = 0;
    this.highFen = 0;
    this.lowFen = 0;
    this.volume = 0;
    this.amount = 0;
  }

  /** The quote as published on `stock.quote.<code>`. Before the first trade of the day open/high/low show the last price. */
  quote(ts: number): StockQuote {
    const traded = this.openFen !== 0;
    return {
      code: this.info.code,
      name: this.info.name,
      market: this.info.market,
      price: this.lastFen / 100,
      prev_close: this.prevCloseFen / 100,
      open: (traded ? this.openFen : this.lastFen) / 100,
      high: (traded ? this.highFen : this.lastFen) / 100,
      low: (traded ? this.lowFen : this.lastFen) / 100,
      ...changeOf(this.lastFen, this.prevCloseFen),
      volume: this.volume,
      amount: Math.round(this.amount * 100) / 100,
      timestamp: formatShanghaiTime(ts),
      ts,
    };
  }
}
