import { describe, expect, it } from 'vitest';
import { marketOfCode } from '@gw/topics';
import { listedStocks, parseStockList, selectStocks } from './universe.js';

describe('the shipped stock universe', () => {
  const stocks = listedStocks();

  it('has at least 300 real listed A-shares, 600519 贵州茅台 among them', () => {
    expect(stocks.length).toBeGreaterThanOrEqual(500);
    expect(stocks.find((s) => s.code === '600519')).toMatchObject({ name: '贵州茅台', market: 'SH' });
    expect(stocks.find((s) => s.code === '000001')).toMatchObject({ name: '平安银行', market: 'SZ' });
    expect(stocks.find((s) => s.code === '300750')).toMatchObject({ name: '宁德时代', market: 'SZ' });
    expect(stocks.find((s) => s.code === '835185')).toMatchObject({ name: '贝特瑞', market: 'BJ' });
  });

  it('covers all three exchanges, each code on the exchange its prefix says, no duplicates', () => {
    const markets = new Set(stocks.map((s) => s.market));
    expect(markets).toEqual(new Set(['SH', 'SZ', 'BJ']));
    for (const stock of stocks) {
      expect(stock.code).toMatch(/^\d{6}$/);
      expect(marketOfCode(stock.code)).toBe(stock.market);
      expect(stock.name).toMatch(/\p{Script=Han}|^TCL/u);
      expect(stock.prevClose).toBeGreaterThan(0);
      expect(Math.round(stock.prevClose * 100)).toBeCloseTo(stock.prevClose * 100, 6);
    }
    expect(new Set(stocks.map((s) => s.code)).size).toBe(stocks.length);
    expect(new Set(stocks.map((s) => s.name)).size).toBe(stocks.length);
  });

  it('selects by codes or by size, always keeping 600519', () => {
    expect(selectStocks(stocks, ['600519', '000001']).map((s) => s.code)).toEqual(['600519', '000001']);
    expect(() => selectStocks(stocks, ['600519', '999999'])).toThrow(/999999/);
    const first = selectStocks(stocks, undefined, 10);
    expect(first).toHaveLength(10);
    expect(first.some((s) => s.code === '600519')).toBe(true);
    expect(selectStocks(stocks)).toHaveLength(stocks.length);
  });

  it('rejects a malformed list naming the line', () => {
    expect(() => parseStockList('code,name,market,prev_close\n600519,贵州茅台,SH,1825.2\n12345,坏,SH,1\n')).toThrow(/line 3/);
  });
});
