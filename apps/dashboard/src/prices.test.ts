import { describe, expect, it } from 'vitest';
import { PriceBoard, priceRowsOf } from './prices.js';
import type { PriceRow } from './prices.js';

function row(code: string, price: number): PriceRow {
  return { code, name: `stock ${code}`, price, change: 0, changePercent: 0, volume: 100, timestamp: '2025-11-24T10:30:00' };
}

describe('priceRowsOf', () => {
  it("reads a price_update frame's stocks and skips items without a code or a price", () => {
    const frame = {
      type: 'price_update',
      data: [
        { code: '600519', name: '贵州茅台', price: 1850.5, change: 25.3, change_percent: 1.39, volume: 12_345_678, timestamp: '2025-11-24T10:30:01' },
        { code: '600036', price: 'n/a' },
        { name: 'no code', price: 1 },
        null,
        { code: '000001', price: 11.2 },
      ],
      count: 5,
    };
    expect(priceRowsOf(frame)).toEqual([
      { code: '600519', name: '贵州茅台', price: 1850.5, change: 25.3, changePercent: 1.39, volume: 12_345_678, timestamp: '2025-11-24T10:30:01' },
      { code: '000001', name: '000001', price: 11.2, change: undefined, changePercent: undefined, volume: undefined, timestamp: undefined },
    ]);
    expect(priceRowsOf({ type: 'price_update', data: 'oops' })).toEqual([]);
  });
});

describe('PriceBoard', () => {
  it('tells how each price moved and lists stocks by code', () => {
    const board = new PriceBoard();
    expect(board.apply([row('600519', 10), row('000001', 5)]).changes.map((c) => c.move)).toEqual(['new', 'new']);
    const { changes } = board.apply([row('600519', 11), row('000001', 4), row('300750', 7)]);
    expect(changes.map((c) => [c.row.code, c.move])).toEqual([
      ['600519', 'up'],
      ['000001', 'down'],
      ['300750', 'new'],
    ]);
    expect(board.apply([row('600519', 11)]).changes[0]?.move).toBe('same');
    expect(board.rows().map((r) => r.code)).toEqual(['000001', '300750', '600519']);
  });

  it('stays within maxRows by dropping the stocks updated longest ago', () => {
    const board = new PriceBoard(3);
    board.apply([row('000001', 1), row('000002', 1), row('000003', 1)]);
    board.apply([row('000001', 2)]);
    const { dropped } = board.apply([row('000004', 1), row('000005', 1)]);
    expect(dropped).toEqual(['000002', '000003']);
    expect(board.size).toBe(3);
    expect(board.rows().map((r) => r.code)).toEqual(['000001', '000004', '000005']);
  });
});
