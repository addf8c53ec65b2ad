import { readFileSync } from 'node:fs';
import { GatewayError } from '@gw/core';
import { stockInfoSchema } from '@gw/topics';
import type { StockInfo } from '@gw/topics';

/** A stock of the shipped universe: its listing data and an approximate reference close to start from. */
export interface ListedStock extends StockInfo {
  /** Previous close the simulation starts from (yuan; an approximate recent level, not an official price). */
  prevClose: number;
}

/** The shipped universe file: real listed A-shares (code, Chinese short name, exchange, reference close). */
export const STOCKS_FILE = new URL('../data/stocks.csv', import.meta.url);

/** Parses `code,name,market,prev_close` CSV (header line first). Throws `bad_request` naming the bad line. */
export function parseStockList(text: string): ListedStock[] {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const stocks: ListedStock[] = [];
  const seen = new Set<string>();
  for (const [index, line] of lines.slice(1).entries()) {
    const [code, name, market, prevClose] = line.split(',').map((cell) => cell.trim());
    const info = stockInfoSchema.safeParse({ code, name, market });
    const close = Number(prevClose);
    if (!info.success || !Number.isFinite(close) || close <= 0 || seen.has(info.data.code)) {
      throw new GatewayError('bad_request', { message: `stock list line ${index + 2} is invalid: ${line}` });
    }
    seen.add(info.data.code);
    stocks.push({ ...info.data, prevClose: close });
  }
  return stocks;
}

let shipped: readonly ListedStock[] | undefined;

/** The shipped universe (read once). */
export function listedStocks(): readonly ListedStock[] {
  shipped ??= Object.freeze(parseStockList(readFileSync(STOCKS_FILE, 'utf8')));
  return shipped;
}

/**
 * The stocks to simulate: `symbols` when given (unknown codes fail with the list of them), otherwise the first
 * `size` stocks of the universe (all when undefined). 600519 (贵州茅台) is always kept in a truncated universe
 * so the legacy examples work.
 */
export function selectStocks(all: readonly ListedStock[], symbols?: readonly string[], size?: number): ListedStock[] {
  if (symbols !== undefined && symbols.length > 0) {
    const byCode = new Map(all.map((s) => [s.code, s]));
    const unknown = symbols.filter((code) => !byCode.has(code));
    if (unknown.length > 0) {
      throw new GatewayError('config_invalid', { message: `STOCK_SYMBOLS: unknown stock codes ${unknown.join(', ')}` });
    }
    return [...new Set(symbols)].flatMap((code) => byCode.get(code) ?? []);
  }
  if (size === undefined || size >= all.length) {
    return [...all];
  }
  const picked = all.slice(0, size);
  const moutai = all.find((s) => s.code === '600519');
  if (moutai !== undefined && !picked.includes(moutai)) {
    picked[picked.length - 1] = moutai;
  }
  return picked;
}
