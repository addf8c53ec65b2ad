import { formatShanghaiTime } from '@gw/topics';
import type { StockBar } from '@gw/topics';

interface OpenBar {
  t: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/**
 * One stock's bars of a fixed interval: the open bar being built from trades, and the last `maxBars` completed
 * bars (oldest first) as published on `stock.bars.1m.<code>`. Prices in fen inside, yuan in completed bars.
 */
export class BarSeries {
  readonly intervalMs: number;
  readonly maxBars: number;
  #open: OpenBar | undefined;
  readonly #completed: StockBar[] = [];

  constructor(intervalMs: number, maxBars: number) {
    this.intervalMs = intervalMs;
    this.maxBars = maxBars;
  }

  /** Start of the bar containing `ts`. */
  bucketOf(ts: number): number {
    return ts - (ts % this.intervalMs);
  }

  /**
   * Adds a trade. A trade in a later bar than the open one completes the open bar first; the completed bar is
   * returned (undefined otherwise).
   */
  trade(ts: number, priceFen: number, shares: number): StockBar | undefined {
    const t = this.bucketOf(ts);
    let completed: StockBar | undefined;
    if (this.#open !== undefined && this.#open.t < t) {
      completed = this.#complete(this.#open);
      this.#open = undefined;
    }
    const bar = this.#open;
    if (bar === undefined) {
      this.#open = { t, open: priceFen, high: priceFen, low: priceFen, close: priceFen, volume: shares };
    } else {
      bar.close = priceFen;
      bar.high = Math.max(bar.high, priceFen);
      bar.low = Math.min(bar.low, priceFen);
      bar.volume += shares;
    }
    return completed;
  }

  /**
   * Completes the bar that ends at `barEnd`: the open bar if it started before `barEnd`, otherwise — when
   * `idleFen` is given — a flat zero-volume bar at that price (a minute without trades). Returns the completed bar.
   */
  closeBar(barEnd: number, idleFen?: number): StockBar | undefined {
    if (this.#open !== undefined && this.#open.t < barEnd) {
      const completed = this.#complete(this.#open);
      this.#open = undefined;
      return completed;
    }
    if (idleFen === undefined) {
      return undefined;
    }
    const t = barEnd - this.intervalMs;
    const last = this.#completed.at(-1);
    if (last !== undefined && last.t >= t) {
      return undefined;
    }
    return this.#complete({ t, open: idleFen, high: idleFen, low: idleFen, close: idleFen, volume: 0 });
  }

  /** Appends an already completed bar (synthetic history). */
  push(bar: StockBar): void {
    this.#completed.push(bar);
    if (this.#completed.length > this.maxBars) {
      this.#completed.splice(0, this.#completed.length - this.maxBars);
    }
  }

  /** The completed bars, oldest first (a copy: safe to publish). */
  completed(): StockBar[] {
    return this.#completed.slice();
  }

  #complete(bar: OpenBar): StockBar {
    const done: StockBar = {
      t: bar.t,
      time: formatShanghaiTime(bar.t),
      open: bar.open / 100,
      high: bar.high / 100,
      low: bar.low / 100,
      close: bar.close / 100,
      volume: bar.volume,
    };
    this.push(done);
    return done;
  }
}
