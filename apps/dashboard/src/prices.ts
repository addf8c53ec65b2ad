import { arrayAt, asObject, numberAt, stringAt } from './wire.js';
import type { JsonObject } from './wire.js';

/** One stock of a `price_update` frame (the legacy stock price service's fields). */
export interface PriceRow {
  readonly code: string;
  readonly name: string;
  readonly price: number;
  readonly change: number | undefined;
  readonly changePercent: number | undefined;
  readonly volume: number | undefined;
  /** The quote's time, Asia/Shanghai wall clock `YYYY-MM-DDTHH:mm:ss`. */
  readonly timestamp: string | undefined;
}

/** The stocks of a `price_update` frame; items without a code or a price are skipped. */
export function priceRowsOf(frame: JsonObject): PriceRow[] {
  const rows: PriceRow[] = [];
  for (const item of arrayAt(frame, 'data')) {
    const stock = asObject(item);
    const code = stringAt(stock, 'code');
    const price = numberAt(stock, 'price');
    if (code === undefined || price === undefined) {
      continue;
    }
    rows.push({
      code,
      name: stringAt(stock, 'name') ?? code,
      price,
      change: numberAt(stock, 'change'),
      changePercent: numberAt(stock, 'change_percent'),
      volume: numberAt(stock, 'volume'),
      timestamp: stringAt(stock, 'timestamp'),
    });
  }
  return rows;
}

/** How a stock's price moved with an update: `new` for a stock the board did not show yet. */
export type PriceMove = 'up' | 'down' | 'same' | 'new';

export interface PriceChange {
  readonly row: PriceRow;
  readonly move: PriceMove;
}

/**
 * The stocks on the board, by code. A strategy's buy list changes over time, so stocks that stop being updated
 * are dropped oldest-first once `maxRows` is reached: the board never holds more than `maxRows` stocks.
 */
export class PriceBoard {
  readonly #rows = new Map<string, PriceRow>();
  readonly #maxRows: number;

  constructor(maxRows = 1_000) {
    this.#maxRows = maxRows;
  }

  get size(): number {
    return this.#rows.size;
  }

  /** Applies an update; returns each stock with how its price moved, and the codes dropped to stay bounded. */
  apply(rows: readonly PriceRow[]): { changes: PriceChange[]; dropped: string[] } {
    const changes: PriceChange[] = [];
    for (const row of rows) {
      const previous = this.#rows.get(row.code);
      // Re-inserting keeps the Map in least-recently-updated order, which is the eviction order.
      this.#rows.delete(row.code);
      this.#rows.set(row.code, row);
      const move: PriceMove =
        previous === undefined ? 'new' : row.price > previous.price ? 'up' : row.price < previous.price ? 'down' : 'same';
      changes.push({ row, move });
    }
    const dropped: string[] = [];
    for (const code of this.#rows.keys()) {
      if (this.#rows.size <= this.#maxRows) {
        break;
      }
      this.#rows.delete(code);
      dropped.push(code);
    }
    return { changes, dropped };
  }

  /** Every stock, by code. */
  rows(): PriceRow[] {
    return [...this.#rows.values()].sort((a, b) => a.code.localeCompare(b.code));
  }

  clear(): void {
    this.#rows.clear();
  }
}
