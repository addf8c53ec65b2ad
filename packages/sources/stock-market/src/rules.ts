import type { StockMarket } from '@gw/topics';

/**
 * A-share trading rules used by the simulated market and the replay source. Prices are handled as integer
 * fen (0.01 yuan, the A-share tick) so no rounding error can produce an off-tick price.
 */

/** The board a stock trades on, by its code. */
export type Board = 'main' | 'star' | 'chinext' | 'bse';

export function boardOf(code: string, market: StockMarket): Board {
  if (market === 'BJ') {
    return 'bse';
  }
  if (code.startsWith('688') || code.startsWith('689')) {
    return 'star';
  }
  if (code.startsWith('300') || code.startsWith('301')) {
    return 'chinext';
  }
  return 'main';
}

/**
 * Daily price limit in percent of the previous close: ±10% on the main boards, ±20% on the STAR Market
 * (688xxx) and ChiNext (300xxx/301xxx), ±30% on the Beijing Stock Exchange. (ST stocks' ±5% is not modelled:
 * the shipped universe has none.)
 */
export function limitPercentOf(code: string, market: StockMarket): number {
  switch (boardOf(code, market)) {
    case 'main':
      return 10;
    case 'star':
    case 'chinext':
      return 20;
    case 'bse':
      return 30;
  }
}

/** Yuan → fen, rounded half up to the 0.01 tick. */
export function toFen(yuan: number): number {
  return Math.round(yuan * 100 + 1e-9);
}

/** Fen → yuan (exact for every tick price). */
export function toYuan(fen: number): number {
  return fen / 100;
}

export interface PriceLimits {
  /** Highest allowed price today, in fen. */
  up: number;
  /** Lowest allowed price today, in fen (at least one tick). */
  down: number;
}

/**
 * Today's limit-up and limit-down prices from the previous close, as the exchanges compute them: previous close
 * × (1 ± limit), rounded half up to the tick. Integer arithmetic: 1825.20 × 1.1 = 2007.72 exactly.
 */
export function priceLimits(prevCloseFen: number, limitPercent: number): PriceLimits {
  const up = Math.floor((prevCloseFen * (100 + limitPercent) + 50) / 100);
  const down = Math.floor((prevCloseFen * (100 - limitPercent) + 50) / 100);
  return { up, down: Math.max(1, down) };
}

/** `fen` clamped into today's limits. */
export function clampToLimits(fen: number, limits: PriceLimits): number {
  return Math.min(limits.up, Math.max(limits.down, fen));
}

/** change and change_percent against the previous close, each rounded to 0.01 (as quote feeds show them). */
export function changeOf(priceFen: number, prevCloseFen: number): { change: number; change_percent: number } {
  const changeFen = priceFen - prevCloseFen;
  const percent = prevCloseFen > 0 ? Math.round((changeFen * 10_000) / prevCloseFen) / 100 : 0;
  return { change: changeFen / 100, change_percent: percent === 0 ? 0 : percent };
}
