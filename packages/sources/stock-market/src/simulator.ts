import type { StockBar, StockQuote } from '@gw/topics';
import { formatShanghaiTime } from '@gw/topics';
import { BarSeries } from './bars.js';
import { StockBook } from './book.js';
import { shanghaiDay } from './calendar.js';
import { noiseFactor, normal, uniform } from './random.js';
import type { Random } from './random.js';
import { clampToLimits, toFen } from './rules.js';
import type { ListedStock } from './universe.js';

/**
 * The market model, in "bar time" (one bar = one simulated minute, whatever `barIntervalMs` is):
 * - each stock's fair value follows a log random walk (σ = 0.15% per bar) with a weak pull back to the previous
 *   close; traded prices are the fair value rounded to the 0.01 tick and held inside the daily limits;
 * - volume flows at a per-stock base rate (shares per bar, from a turnover of a few million yuan per minute);
 * - now and then (probability `waveProbability` per stock per bar) a stock enters a "volume wave": for 3–12 bars
 *   volume runs at 3–6× its base rate and the price drifts up 0.2–0.5% per bar. These waves are what the
 *   volume_wave strategy looks for, so a buy list forms in the simulated market as it would in the real one.
 */
export interface SimulatorOptions {
  barIntervalMs: number;
  /** Completed bars kept per stock. */
  barHistory: number;
  waveProbability: number;
  random: Random;
}

interface Wave {
  barsLeft: number;
  intensity: number;
  /** Log drift per bar. */
  drift: number;
}

interface SimStock {
  book: StockBook;
  bars: BarSeries;
  /** Fair value, yuan. */
  fair: number;
  /** Shares per bar at intensity 1. */
  basePerBar: number;
  wave: Wave | undefined;
  lastTickAt: number;
}

const SIGMA_PER_BAR = 0.0015;
const REVERSION_PER_BAR = 0.002;
const BAR_VOLUME_NOISE = 0.35;
const TICK_VOLUME_NOISE = 0.5;

export class MarketSimulator {
  readonly #options: SimulatorOptions;
  readonly #stocks: SimStock[];
  readonly #byCode = new Map<string, SimStock>();
  /** Round-robin order (shuffled once): every stock gets the same share of the ticks. */
  readonly #order: SimStock[];
  #cursor = 0;
  #day: number;

  constructor(stocks: readonly ListedStock[], options: SimulatorOptions, now: number) {
    this.#options = options;
    const random = options.random;
    this.#stocks = stocks.map((listed) => {
      const prevCloseFen = toFen(listed.prevClose);
      // Turnover of ~2–40 million yuan per minute, as spread as real A-shares are.
      const turnoverPerBar = 8_000_000 * noiseFactor(random, 0.8);
      const stock: SimStock = {
        book: new StockBook({ code: listed.code, name: listed.name, market: listed.market }, prevCloseFen),
        bars: new BarSeries(options.barIntervalMs, options.barHistory),
        fair: prevCloseFen / 100,
        basePerBar: Math.max(1_000, turnoverPerBar / listed.prevClose),
        wave: undefined,
        lastTickAt: now,
      };
      this.#byCode.set(listed.code, stock);
      return stock;
    });
    this.#order = [...this.#stocks];
    for (let i = this.#order.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      const a = this.#order[i];
      const b = this.#order[j];
      if (a !== undefined && b !== undefined) {
        this.#order[i] = b;
        this.#order[j] = a;
      }
    }
    this.#day = shanghaiDay(now);
  }

  get size(): number {
    return this.#stocks.length;
  }

  codes(): string[] {
    return this.#stocks.map((s) => s.book.info.code);
  }

  book(code: string): StockBook | undefined {
    return this.#byCode.get(code)?.book;
  }

  /**
   * Builds `count` completed bars of synthetic history for every stock, the last one ending at the start of the
   * bar containing `now`, so a strategy has a full lookback window at once. The history counts as today's
   * trading (open, high, low, volume); the state it ends in (price, running waves) carries on live.
   */
  seedHistory(count: number, now: number): void {
    const interval = this.#options.barIntervalMs;
    const firstBar = now - (now % interval) - count * interval;
    for (let i = 0; i < count; i += 1) {
      const t = firstBar + i * interval;
      for (const stock of this.#stocks) {
        this.#advanceWave(stock);
        stock.bars.push(this.#syntheticBar(stock, t));
      }
    }
    for (const stock of this.#stocks) {
      stock.lastTickAt = now;
    }
  }

  /** One trade on the next stock (round robin) at `now`; returns its new quote. */
  tick(now: number): StockQuote {
    this.#rollDayIfNeeded(now);
    const stock = this.#order[this.#cursor];
    if (stock === undefined) {
      throw new RangeError('the simulated market has no stocks');
    }
    this.#cursor = (this.#cursor + 1) % this.#order.length;
    const random = this.#options.random;
    const dtBars = Math.min(5, Math.max(0, now - stock.lastTickAt) / this.#options.barIntervalMs);
    stock.lastTickAt = now;
    const wave = stock.wave;
    const logReturn =
      (wave?.drift ?? 0) * dtBars -
      REVERSION_PER_BAR * Math.log(stock.fair / (stock.book.prevCloseFen / 100)) * dtBars +
      SIGMA_PER_BAR * Math.sqrt(dtBars) * normal(random);
    const limits = stock.book.limits;
    stock.fair = Math.min(limits.up / 100, Math.max(limits.down / 100, stock.fair * Math.exp(logReturn)));
    const priceFen = clampToLimits(toFen(stock.fair), limits);
    const expected = stock.basePerBar * (wave?.intensity ?? 1) * dtBars * noiseFactor(random, TICK_VOLUME_NOISE);
    const shares = Math.max(100, Math.round(expected / 100) * 100);
    stock.book.trade(priceFen, shares);
    stock.bars.trade(now, priceFen, shares);
    return stock.book.quote(now);
  }

  /**
   * Completes every stock's bar ending at `barEnd` (a flat zero-volume bar for a stock without trades in it)
   * and moves the volume waves on by one bar. Returns each stock's completed bars window.
   */
  closeBars(barEnd: number): { code: string; bars: StockBar[] }[] {
    const windows: { code: string; bars: StockBar[] }[] = [];
    for (const stock of this.#stocks) {
      stock.bars.closeBar(barEnd, stock.book.lastFen);
      this.#advanceWave(stock);
      windows.push({ code: stock.book.info.code, bars: stock.bars.completed() });
    }
    return windows;
  }

  /** Every stock's completed bars (oldest first). */
  barWindows(): { code: string; bars: StockBar[] }[] {
    return this.#stocks.map((s) => ({ code: s.book.info.code, bars: s.bars.completed() }));
  }

  /** Every stock's current quote. */
  quotes(now: number): StockQuote[] {
    this.#rollDayIfNeeded(now);
    return this.#stocks.map((s) => s.book.quote(now));
  }

  /** Whether a stock is in a volume wave now (tests and the simulation's own checks). */
  inWave(code: string): boolean {
    return this.#byCode.get(code)?.wave !== undefined;
  }

  #rollDayIfNeeded(now: number): void {
    const day = shanghaiDay(now);
    if (day !== this.#day) {
      this.#day = day;
      for (const stock of this.#stocks) {
        stock.book.rollDay();
      }
    }
  }

  #advanceWave(stock: SimStock): void {
    const random = this.#options.random;
    if (stock.wave !== undefined) {
      stock.wave.barsLeft -= 1;
      if (stock.wave.barsLeft <= 0) {
        stock.wave = undefined;
      }
    } else if (random() < this.#options.waveProbability) {
      stock.wave = {
        barsLeft: 3 + Math.floor(random() * 10),
        intensity: uniform(random, 3, 6),
        drift: uniform(random, 0.002, 0.005),
      };
    }
  }

  #syntheticBar(stock: SimStock, t: number): StockBar {
    const random = this.#options.random;
    const book = stock.book;
    const limits = book.limits;
    const openFen = clampToLimits(toFen(stock.fair), limits);
    const logReturn =
      (stock.wave?.drift ?? 0) -
      REVERSION_PER_BAR * Math.log(stock.fair / (book.prevCloseFen / 100)) +
      SIGMA_PER_BAR * normal(random);
    stock.fair = Math.min(limits.up / 100, Math.max(limits.down / 100, stock.fair * Math.exp(logReturn)));
    const closeFen = clampToLimits(toFen(stock.fair), limits);
    const wick = (): number => 1 + Math.abs(normal(random)) * SIGMA_PER_BAR * 0.5;
    const highFen = clampToLimits(Math.round(Math.max(openFen, closeFen) * wick()), limits);
    const lowFen = clampToLimits(Math.round(Math.min(openFen, closeFen) / wick()), limits);
    const volume =
      Math.round((stock.basePerBar * (stock.wave?.intensity ?? 1) * noiseFactor(random, BAR_VOLUME_NOISE)) / 100) * 100;
    book.trade(openFen, 0);
    if (highFen > book.highFen) {
      book.highFen = highFen;
    }
    if (lowFen < book.lowFen) {
      book.lowFen = lowFen;
    }
    book.trade(closeFen, volume);
    return {
      t,
      time: formatShanghaiTime(t),
      open: openFen / 100,
      high: Math.max(highFen, openFen, closeFen) / 100,
      low: Math.min(lowFen, openFen, closeFen) / 100,
      close: closeFen / 100,
      volume,
    };
  }
}
