import { describe, expect, it } from 'vitest';
import { isExchangeSession, isTrading, shanghaiDay } from './calendar.js';

/** An instant given as Shanghai wall-clock time (UTC+8). */
function shanghai(date: string): number {
  return Date.parse(`${date}+08:00`);
}

describe('A-share trading calendar (Asia/Shanghai)', () => {
  it('trades Monday to Friday 09:30–11:30 and 13:00–15:00, start inclusive, end exclusive', () => {
    // 2025-11-24 is a Monday.
    expect(isExchangeSession(shanghai('2025-11-24T09:29:59'))).toBe(false);
    expect(isExchangeSession(shanghai('2025-11-24T09:30:00'))).toBe(true);
    expect(isExchangeSession(shanghai('2025-11-24T10:30:00'))).toBe(true);
    expect(isExchangeSession(shanghai('2025-11-24T11:29:59'))).toBe(true);
    expect(isExchangeSession(shanghai('2025-11-24T11:30:00'))).toBe(false);
    expect(isExchangeSession(shanghai('2025-11-24T12:30:00'))).toBe(false);
    expect(isExchangeSession(shanghai('2025-11-24T13:00:00'))).toBe(true);
    expect(isExchangeSession(shanghai('2025-11-24T14:59:59'))).toBe(true);
    expect(isExchangeSession(shanghai('2025-11-24T15:00:00'))).toBe(false);
    expect(isExchangeSession(shanghai('2025-11-28T10:00:00'))).toBe(true); // Friday
  });

  it('does not trade at weekends', () => {
    expect(isExchangeSession(shanghai('2025-11-22T10:00:00'))).toBe(false); // Saturday
    expect(isExchangeSession(shanghai('2025-11-23T14:00:00'))).toBe(false); // Sunday
  });

  it('uses Shanghai time whatever the host time zone: 01:30 UTC is 09:30 in Shanghai', () => {
    expect(isExchangeSession(Date.parse('2025-11-24T01:30:00Z'))).toBe(true);
    expect(isExchangeSession(Date.parse('2025-11-24T07:00:00Z'))).toBe(false);
    // Sunday 20:00 UTC is already Monday 04:00 in Shanghai: still closed.
    expect(isExchangeSession(Date.parse('2025-11-23T20:00:00Z'))).toBe(false);
  });

  it('MARKET_HOURS=always trades around the clock', () => {
    expect(isTrading(shanghai('2025-11-23T03:00:00'), 'always')).toBe(true);
    expect(isTrading(shanghai('2025-11-23T03:00:00'), 'exchange')).toBe(false);
  });

  it('changes the trading day at Shanghai midnight', () => {
    expect(shanghaiDay(shanghai('2025-11-24T23:59:59'))).toBe(shanghaiDay(shanghai('2025-11-24T00:00:00')));
    expect(shanghaiDay(shanghai('2025-11-25T00:00:00'))).toBe(shanghaiDay(shanghai('2025-11-24T00:00:00')) + 1);
  });
});
