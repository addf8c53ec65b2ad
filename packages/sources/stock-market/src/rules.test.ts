import { describe, expect, it } from 'vitest';
import { boardOf, changeOf, clampToLimits, limitPercentOf, priceLimits, toFen } from './rules.js';

describe('A-share price rules', () => {
  it('limits ±10% on the main boards, ±20% on STAR and ChiNext, ±30% on the BSE', () => {
    expect(limitPercentOf('600519', 'SH')).toBe(10);
    expect(limitPercentOf('000001', 'SZ')).toBe(10);
    expect(limitPercentOf('002594', 'SZ')).toBe(10);
    expect(limitPercentOf('688981', 'SH')).toBe(20);
    expect(limitPercentOf('300750', 'SZ')).toBe(20);
    expect(limitPercentOf('301269', 'SZ')).toBe(20);
    expect(limitPercentOf('835185', 'BJ')).toBe(30);
    expect(limitPercentOf('430047', 'BJ')).toBe(30);
    expect(boardOf('688981', 'SH')).toBe('star');
    expect(boardOf('300750', 'SZ')).toBe('chinext');
    expect(boardOf('835185', 'BJ')).toBe('bse');
    expect(boardOf('601318', 'SH')).toBe('main');
  });

  it('computes limit prices from the previous close, rounded half up to the 0.01 tick', () => {
    expect(priceLimits(182_520, 10)).toEqual({ up: 200_772, down: 164_268 }); // 1825.20 → 2007.72 / 1642.68
    expect(priceLimits(1_005, 10)).toEqual({ up: 1_106, down: 905 }); // 10.05 → 11.055 → 11.06; 9.045 → 9.05
    expect(priceLimits(26_080, 20)).toEqual({ up: 31_296, down: 20_864 }); // 260.80 ± 20%
    expect(priceLimits(3_020, 30)).toEqual({ up: 3_926, down: 2_114 }); // 30.20 ± 30%
    expect(priceLimits(1, 10).down).toBe(1);
  });

  it('keeps prices on the tick and inside the limits', () => {
    expect(toFen(10.005)).toBe(1001);
    expect(toFen(1825.2)).toBe(182_520);
    expect(toFen(0.29 * 3)).toBe(87);
    const limits = priceLimits(1_000, 10);
    expect(clampToLimits(1_200, limits)).toBe(1_100);
    expect(clampToLimits(800, limits)).toBe(900);
    expect(clampToLimits(1_050, limits)).toBe(1_050);
  });

  it('reports change and change_percent against the previous close, rounded to 0.01', () => {
    expect(changeOf(185_050, 182_520)).toEqual({ change: 25.3, change_percent: 1.39 });
    expect(changeOf(1_000, 1_100)).toEqual({ change: -1, change_percent: -9.09 });
    expect(changeOf(1_000, 1_000)).toEqual({ change: 0, change_percent: 0 });
    expect(changeOf(1_106, 1_005)).toEqual({ change: 1.01, change_percent: 10.05 });
  });
});
