import { describe, expect, it } from 'vitest';
import type { StockBar, StockBars } from '@gw/topics';
import { VolumeWaveBook, buyRatio, exitReason } from './rule.js';
import type { VolumeWaveParams } from './rule.js';

const MINUTE = 60_000;
const T0 = Date.parse('2025-11-24T09:30:00+08:00');
const params: VolumeWaveParams = { lookback: 5, volumeMultiple: 2, holdBars: 4, maxStocks: 10 };

/** Bars from [close, volume] pairs, one minute apart; low/high 0.1 around open/close. */
function bars(rows: [close: number, volume: number][], start = 0): StockBar[] {
  let open = rows[0]?.[0] ?? 10;
  return rows.map(([close, volume], i) => {
    const bar: StockBar = {
      t: T0 + (start + i) * MINUTE,
      time: '',
      open,
      high: Math.max(open, close) + 0.1,
      low: Math.min(open, close) - 0.1,
      close,
      volume,
    };
    open = close;
    return bar;
  });
}

function window(code: string, list: StockBar[]): StockBars {
  return { code, name: '贵州茅台', market: 'SH', interval_ms: MINUTE, bars: list };
}

const calm: [number, number][] = [
  [10, 1_000],
  [10.01, 1_100],
  [10, 900],
  [10.02, 1_000],
  [10.01, 1_000],
];

describe('volume_wave rule', () => {
  it('buys on a volume spike (≥ k × the mean of the previous n bars) with a rising close', () => {
    const list = bars([...calm, [10.2, 2_000]]);
    expect(buyRatio(list, 5, params)).toBeCloseTo(2_000 / 1_000, 6);
  });

  it('does not buy without enough history, below k, on a falling or flat close, or after zero volume', () => {
    expect(buyRatio(bars([...calm, [10.2, 2_000]]), 4, params)).toBeUndefined();
    expect(buyRatio(bars([...calm, [10.2, 1_999]]), 5, params)).toBeUndefined();
    expect(buyRatio(bars([...calm, [9.9, 5_000]]), 5, params)).toBeUndefined();
    expect(buyRatio(bars([...calm, [10.01, 5_000]]), 5, params)).toBeUndefined();
    expect(buyRatio(bars([[10, 0], [10, 0], [10, 0], [10, 0], [10, 0], [10.5, 100]]), 5, params)).toBeUndefined();
  });

  it('sells below the signal bar’s low (stop) or holdBars after the signal bar (time)', () => {
    const [signal] = bars([[10.2, 2_000]], 5);
    const holding = { signal: signal!, volumeRatio: 2 };
    const [dip] = bars([[signal!.low - 0.01, 500]], 6);
    expect(exitReason(dip!, holding, MINUTE, params)).toBe('stop');
    const [later] = bars([[10.3, 500]], 8);
    expect(exitReason(later!, holding, MINUTE, params)).toBeUndefined();
    const [expired] = bars([[10.3, 500]], 9);
    expect(exitReason(expired!, holding, MINUTE, params)).toBe('time');
  });
});

describe('VolumeWaveBook', () => {
  it('processes only new bars and reports buy then sell transitions', () => {
    const book = new VolumeWaveBook(params);
    const history = bars(calm);
    expect(book.update(window('600519', history))).toEqual([]);
    expect(book.size).toBe(0);

    const withSpike = [...history, ...bars([[10.2, 2_500]], 5)];
    const [buy] = book.update(window('600519', withSpike));
    expect(buy).toMatchObject({ type: 'buy', code: '600519', reason: 'volume_spike', volumeRatio: 2.5 });
    expect(book.size).toBe(1);
    expect(book.buyList()).toEqual([
      expect.objectContaining({ code: '600519', name: '贵州茅台', market: 'SH', signal_price: 10.2, volume_ratio: 2.5, signal_ms: T0 + 5 * MINUTE }),
    ]);
    // The same window again changes nothing.
    expect(book.update(window('600519', withSpike))).toEqual([]);

    const afterSpike = [...withSpike, ...bars([[10.25, 900], [10.3, 1_000], [10.28, 1_000]], 6)];
    expect(book.update(window('600519', afterSpike))).toEqual([]);
    const expired = [...afterSpike, ...bars([[10.3, 1_000]], 9)];
    expect(book.update(window('600519', expired))).toEqual([expect.objectContaining({ type: 'sell', reason: 'time' })]);
    expect(book.size).toBe(0);
    expect(book.buyList()).toEqual([]);
  });

  it('a new spike while held renews the signal bar without a second buy', () => {
    const book = new VolumeWaveBook(params);
    book.update(window('000001', bars(calm)));
    const first = [...bars(calm), ...bars([[10.2, 3_000]], 5)];
    expect(book.update(window('000001', first))).toHaveLength(1);
    const second = [...first, ...bars([[10.22, 900], [10.5, 9_000]], 6)];
    expect(book.update(window('000001', second))).toEqual([]);
    expect(book.buyList()[0]).toMatchObject({ signal_price: 10.5, signal_ms: T0 + 7 * MINUTE });
  });

  it('stops out when a bar closes below the signal bar’s low', () => {
    const book = new VolumeWaveBook(params);
    book.update(window('300750', bars(calm)));
    const spike = [...bars(calm), ...bars([[10.2, 3_000]], 5)];
    book.update(window('300750', spike));
    const dump = [...spike, ...bars([[9.5, 1_000]], 6)];
    expect(book.update(window('300750', dump))).toEqual([expect.objectContaining({ type: 'sell', reason: 'stop' })]);
  });

  it('derives the state of a first window silently (history is not re-announced)', () => {
    const book = new VolumeWaveBook(params);
    expect(book.update(window('600519', [...bars(calm), ...bars([[10.2, 3_000]], 5)]))).toEqual([]);
    expect(book.size).toBe(1);
  });

  it('never holds more than maxStocks', () => {
    const book = new VolumeWaveBook({ ...params, maxStocks: 2 });
    const codes = ['600000', '600004', '600009'];
    for (const code of codes) {
      book.update(window(code, bars(calm)));
    }
    for (const code of codes) {
      book.update(window(code, [...bars(calm), ...bars([[10.2, 3_000]], 5)]));
    }
    expect(book.buyList().map((e) => e.code)).toEqual(['600000', '600004']);
  });
});
