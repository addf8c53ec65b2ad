import { describe, expect, it } from 'vitest';
import { closedBars, evaluateCrossovers, sma } from './index.js';
import type { Bar } from './index.js';
import { upThenDown } from './testing/series.js';

const MINUTE = 60_000;

/** 1-minute bars from closes, starting at t=0; all closed at `now` = end of the last one. */
function barsOf(closes: readonly number[]): Bar[] {
  return closes.map((close, i) => ({ time: i * MINUTE, open: close, high: close, low: close, close, volume: 1 }));
}

const endOf = (bars: readonly Bar[]): number => (bars.at(-1)?.time ?? 0) + MINUTE;

const params = { fast: 5, slow: 20 };

describe('sma', () => {
  it('averages the n values ending at an index, undefined without enough values', () => {
    expect(sma([1, 2, 3, 4], 2, 3)).toBe(3.5);
    expect(sma([1, 2, 3, 4], 4, 3)).toBe(2.5);
    expect(sma([1, 2, 3, 4], 4, 2)).toBeUndefined();
    expect(sma([1, 2, 3, 4], 2, 4)).toBeUndefined();
  });
});

describe('evaluateCrossovers', () => {
  it('signals buy where the fast SMA crosses above the slow one', () => {
    const bars = barsOf(upThenDown().slice(0, 40));
    const { signals, lastClosedTime } = evaluateCrossovers({ bars, barMs: MINUTE, now: endOf(bars), params });
    // Bar 32: F = (69720+69710+69770+69830+69890)/5 = 69784 < S = 69796; bar 33: F = 69830 > S = 69800.
    expect(signals).toEqual([{ type: 'buy', bar: bars[33], fastSma: 69_830, slowSma: 69_800 }]);
    expect(lastClosedTime).toBe(39 * MINUTE);
  });

  it('signals sell where the fast SMA crosses below the slow one, after the buy', () => {
    const bars = barsOf(upThenDown());
    const { signals } = evaluateCrossovers({ bars, barMs: MINUTE, now: endOf(bars), params });
    expect(signals.map((s) => [s.type, s.bar.time / MINUTE, s.bar.close])).toEqual([
      ['buy', 33, 69_950],
      ['sell', 52, 70_130],
    ]);
    const sell = signals[1]!;
    expect(sell.fastSma).toBeLessThan(sell.slowSma);
  });

  it('gives nothing while the fast SMA stays on one side', () => {
    const falling = barsOf(Array.from({ length: 50 }, (_, i) => 100 - i * 0.5));
    const rising = barsOf(Array.from({ length: 50 }, (_, i) => 100 + i * 0.5));
    for (const bars of [falling, rising]) {
      expect(evaluateCrossovers({ bars, barMs: MINUTE, now: endOf(bars), params }).signals).toEqual([]);
    }
  });

  it('gives nothing on a flat series, nor when leaving it (no side to cross from)', () => {
    const flat = barsOf(Array.from({ length: 40 }, () => 0.1));
    expect(evaluateCrossovers({ bars: flat, barMs: MINUTE, now: endOf(flat), params }).signals).toEqual([]);
    const flatThenUp = barsOf([...Array.from({ length: 30 }, () => 0.1), 0.2, 0.3, 0.4]);
    expect(evaluateCrossovers({ bars: flatThenUp, barMs: MINUTE, now: endOf(flatThenUp), params }).signals).toEqual([]);
  });

  it('does not signal a touch: above, equal, above again is no new buy; above, equal, below is a sell', () => {
    const rising = Array.from({ length: 25 }, (_, i) => 100 + i);
    // 25 equal closes make F = S exactly (a touch), with fast above slow before it.
    const plateau = Array.from({ length: 25 }, () => 124);
    const evaluate = (closes: number[]): string[] => {
      const bars = barsOf(closes);
      return evaluateCrossovers({ bars, barMs: MINUTE, now: endOf(bars), params }).signals.map((s) => s.type);
    };
    expect(evaluate([...rising, ...plateau])).toEqual([]);
    expect(evaluate([...rising, ...plateau, 125, 126])).toEqual([]);
    expect(evaluate([...rising, ...plateau, 123, 122])).toEqual(['sell']);
  });

  it('needs `slow` closed bars before anything is compared', () => {
    const bars = barsOf(upThenDown()).slice(0, 19);
    expect(evaluateCrossovers({ bars, barMs: MINUTE, now: endOf(bars), params })).toEqual({
      signals: [],
      lastClosedTime: 18 * MINUTE,
    });
    expect(evaluateCrossovers({ bars: [], barMs: MINUTE, now: 0, params })).toEqual({ signals: [], lastClosedTime: undefined });
  });

  it('ignores the bar that is still open, and counts it once it has closed', () => {
    const bars = barsOf(upThenDown().slice(0, 34));
    const openSince = bars.at(-1)!.time;
    // One millisecond before bar 33 ends, its close still moves: no buy yet, and the cursor stays on bar 32.
    const during = evaluateCrossovers({ bars, barMs: MINUTE, now: openSince + MINUTE - 1, params });
    expect(during).toEqual({ signals: [], lastClosedTime: 32 * MINUTE });
    const after = evaluateCrossovers({ bars, barMs: MINUTE, now: openSince + MINUTE, params });
    expect(after.signals.map((s) => s.type)).toEqual(['buy']);
    // An open bar with an absurd close changes nothing about the closed ones.
    const withWildOpenBar = [...bars.slice(0, 33), { ...bars[33]!, close: 1 }];
    expect(evaluateCrossovers({ bars: withWildOpenBar, barMs: MINUTE, now: openSince + 1, params }).signals).toEqual([]);
  });

  it('reports each crossing once: bars at or before the cursor do not signal again', () => {
    const bars = barsOf(upThenDown());
    const input = { bars, barMs: MINUTE, now: endOf(bars), params };
    expect(evaluateCrossovers({ ...input, after: 33 * MINUTE }).signals.map((s) => s.type)).toEqual(['sell']);
    expect(evaluateCrossovers({ ...input, after: 32 * MINUTE }).signals.map((s) => s.type)).toEqual(['buy', 'sell']);
    expect(evaluateCrossovers({ ...input, after: 52 * MINUTE }).signals).toEqual([]);
  });

  it('accepts bars in any order and keeps the last of duplicates', () => {
    const bars = barsOf(upThenDown());
    const shuffled = [...bars].reverse();
    shuffled.push({ ...bars[33]! });
    expect(evaluateCrossovers({ bars: shuffled, barMs: MINUTE, now: endOf(bars), params }).signals.map((s) => s.bar.time / MINUTE)).toEqual([33, 52]);
    expect(closedBars(shuffled, MINUTE, endOf(bars))).toHaveLength(60);
  });

  it('rejects fast >= slow', () => {
    expect(() => evaluateCrossovers({ bars: [], barMs: MINUTE, now: 0, params: { fast: 20, slow: 20 } })).toThrow(RangeError);
  });
});
