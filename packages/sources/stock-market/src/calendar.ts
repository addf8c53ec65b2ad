import { SHANGHAI_OFFSET_MS } from '@gw/topics';

/**
 * When the simulated market trades: `exchange` follows the A-share continuous sessions (Asia/Shanghai,
 * Monday–Friday 09:30–11:30 and 13:00–15:00; call auctions and exchange holidays are not modelled), `always`
 * trades around the clock (development).
 */
export type MarketHours = 'always' | 'exchange';

const MORNING_OPEN = 9 * 60 + 30;
const MORNING_CLOSE = 11 * 60 + 30;
const AFTERNOON_OPEN = 13 * 60;
const AFTERNOON_CLOSE = 15 * 60;
const DAY_MS = 86_400_000;

/** Shanghai wall-clock parts of an instant. */
function shanghaiParts(ms: number): { weekday: number; minuteOfDay: number } {
  const local = new Date(ms + SHANGHAI_OFFSET_MS);
  return { weekday: local.getUTCDay(), minuteOfDay: local.getUTCHours() * 60 + local.getUTCMinutes() };
}

/** Whether `ms` falls in an A-share continuous trading session (start inclusive, end exclusive). */
export function isExchangeSession(ms: number): boolean {
  const { weekday, minuteOfDay } = shanghaiParts(ms);
  if (weekday === 0 || weekday === 6) {
    return false;
  }
  return (
    (minuteOfDay >= MORNING_OPEN && minuteOfDay < MORNING_CLOSE) ||
    (minuteOfDay >= AFTERNOON_OPEN && minuteOfDay < AFTERNOON_CLOSE)
  );
}

/** Whether the market trades at `ms` under `hours`. */
export function isTrading(ms: number, hours: MarketHours): boolean {
  return hours === 'always' || isExchangeSession(ms);
}

/** The Shanghai calendar day of `ms` as a day number (days since 1970-01-01 in Shanghai time). */
export function shanghaiDay(ms: number): number {
  return Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS);
}
