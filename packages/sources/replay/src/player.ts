import { BarSeries, StockBook, toFen } from '@gw/source-stock-market';
import type { StockBar, StockInfo, StockQuote } from '@gw/topics';
import type { TickRecord } from './records.js';

interface Track {
  info: StockInfo;
  book: StockBook;
  bars: BarSeries;
  firstPrice: number;
  prevClose: number | undefined;
}

/**
 * Turns recorded ticks into what the simulated market publishes: quotes (through the same StockBook, so change
 * and change_percent are computed the same way) and bars of `barIntervalMs` built from the recorded times.
 * Playing the recording again (`restart`) shifts its times by one span so the timeline, the bars and a strategy
 * reading them keep moving forward.
 */
export class ReplayPlayer {
  readonly records: readonly TickRecord[];
  readonly #tracks = new Map<string, Track>();
  /** Time shift of the current pass (0 on the first). */
  #offset = 0;
  readonly #span: number;

  constructor(records: readonly TickRecord[], barIntervalMs: number, barHistory: number) {
    this.records = records;
    for (const record of records) {
      if (!this.#tracks.has(record.code)) {
        this.#tracks.set(record.code, {
          info: { code: record.code, name: record.name, market: record.market },
          book: new StockBook({ code: record.code, name: record.name, market: record.market }, toFen(record.prevClose ?? record.price)),
          bars: new BarSeries(barIntervalMs, barHistory),
          firstPrice: record.price,
          prevClose: record.prevClose,
        });
      }
    }
    const first = records[0]?.ts ?? 0;
    const last = records.at(-1)?.ts ?? first;
    // One bar of gap between passes, so the last bar of a pass is completed by the first tick of the next.
    this.#span = last - first + barIntervalMs;
  }

  /** The stocks of the recording, in first-appearance order. */
  stocks(): StockInfo[] {
    return [...this.#tracks.values()].map((t) => t.info);
  }

  /** Recorded time of record `i` in the current pass. */
  timeOf(i: number): number {
    return (this.records[i]?.ts ?? 0) + this.#offset;
  }

  /** Starts the next pass: times move on by one span, each stock's day restarts from its recorded previous close. */
  restart(): void {
    this.#offset += this.#span;
    for (const track of this.#tracks.values()) {
      track.book = new StockBook(track.info, toFen(track.prevClose ?? track.firstPrice));
    }
  }

  /** Applies record `i`; returns its quote and the bar it completed, if any. */
  apply(i: number): { quote: StockQuote; completed: StockBar | undefined } {
    const record = this.records[i];
    const track = record === undefined ? undefined : this.#tracks.get(record.code);
    if (record === undefined || track === undefined) {
      throw new RangeError(`no record ${i}`);
    }
    const ts = record.ts + this.#offset;
    const priceFen = toFen(record.price);
    const shares = Math.max(0, record.volume - track.book.volume);
    track.book.trade(priceFen, shares);
    const completed = track.bars.trade(ts, priceFen, shares);
    const quote = track.book.quote(ts);
    if (record.amount !== undefined) {
      quote.amount = record.amount;
    }
    return { quote, completed };
  }

  /** Completes every open bar (end of a recording that does not loop). */
  closeAll(): string[] {
    const closed: string[] = [];
    for (const [code, track] of this.#tracks) {
      if (track.bars.closeBar(Number.MAX_SAFE_INTEGER) !== undefined) {
        closed.push(code);
      }
    }
    return closed;
  }

  bars(code: string): StockBar[] {
    return this.#tracks.get(code)?.bars.completed() ?? [];
  }

  quotes(): StockQuote[] {
    return [...this.#tracks.values()].map((t) => t.book.quote(this.timeOf(0)));
  }
}
