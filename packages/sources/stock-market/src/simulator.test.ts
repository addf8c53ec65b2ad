import { describe, expect, it } from 'vitest';
import { stockBarsSchema, stockQuoteSchema } from '@gw/topics';
import { seededRandom } from './random.js';
import { priceLimits, toFen } from './rules.js';
import { MarketSimulator } from './simulator.js';
import { listedStocks, selectStocks } from './universe.js';

const BAR_MS = 1_000;
const start = Date.parse('2025-11-24T09:30:00+08:00');

function simulator(codes: string[], waveProbability = 0.05): MarketSimulator {
  const stocks = selectStocks(listedStocks(), codes);
  return new MarketSimulator(stocks, { barIntervalMs: BAR_MS, barHistory: 30, waveProbability, random: seededRandom(7) }, start);
}

describe('simulated market', () => {
  it('trades on the 0.01 tick, inside each board’s daily limits, with cumulative volume', () => {
    const codes = ['600519', '688981', '300750', '835185', '000001'];
    const sim = simulator(codes, 0.3);
    const lastVolume = new Map<string, number>();
    const atLimitUp = new Set<string>();
    for (let i = 0; i < 20_000; i += 1) {
      const now = start + i * 20;
      const quote = sim.tick(now);
      expect(stockQuoteSchema.safeParse(quote).success).toBe(true);
      const fen = Math.round(quote.price * 100);
      expect(Math.abs(quote.price * 100 - fen)).toBeLessThan(1e-6);
      const book = sim.book(quote.code)!;
      const limits = priceLimits(toFen(quote.prev_close), book.limitPercent);
      expect(fen).toBeGreaterThanOrEqual(limits.down);
      expect(fen).toBeLessThanOrEqual(limits.up);
      if (fen === limits.up) {
        atLimitUp.add(quote.code);
      }
      expect(quote.volume).toBeGreaterThan(lastVolume.get(quote.code) ?? 0);
      expect(quote.volume % 100).toBe(0);
      lastVolume.set(quote.code, quote.volume);
      expect(quote.change).toBeCloseTo(quote.price - quote.prev_close, 6);
      expect(quote.high).toBeGreaterThanOrEqual(quote.price);
      expect(quote.low).toBeLessThanOrEqual(quote.price);
      expect(quote.timestamp).toMatch(/^2025-11-24T\d{2}:\d{2}:\d{2}$/);
      if (i % 50 === 49) {
        sim.closeBars(now - (now % BAR_MS));
      }
    }
    // Frequent upward waves push every board to its limit: the clamp, not luck, kept the prices inside.
    expect([...atLimitUp].sort()).toEqual([...codes].sort());
    expect(sim.book('688981')!.limitPercent).toBe(20);
    expect(sim.book('835185')!.limitPercent).toBe(30);
  });

  it('seeds a history of consistent bars ending where live trading starts', () => {
    const sim = simulator(['600519', '000001'], 0.1);
    sim.seedHistory(25, start);
    for (const window of sim.barWindows()) {
      expect(window.bars).toHaveLength(25);
      expect(window.bars.at(-1)!.t).toBe(start - BAR_MS);
      for (const [i, bar] of window.bars.entries()) {
        expect(bar.high).toBeGreaterThanOrEqual(Math.max(bar.open, bar.close));
        expect(bar.low).toBeLessThanOrEqual(Math.min(bar.open, bar.close));
        expect(bar.volume).toBeGreaterThan(0);
        if (i > 0) {
          expect(bar.t - window.bars[i - 1]!.t).toBe(BAR_MS);
        }
      }
      expect(stockBarsSchema.safeParse({ code: window.code, name: 'x', market: 'SH', interval_ms: BAR_MS, bars: window.bars }).success).toBe(true);
    }
    // The first live quote continues from the seeded state.
    const quote = sim.tick(start + 10);
    expect(quote.volume).toBeGreaterThan(0);
  });

  it('completes bars at each boundary, flat and empty for a stock without trades', () => {
    const sim = simulator(['600519', '000001']);
    sim.tick(start + 100);
    sim.tick(start + 200);
    const windows = sim.closeBars(start + BAR_MS);
    expect(windows.map((w) => w.bars.length)).toEqual([1, 1]);
    const idle = sim.closeBars(start + 2 * BAR_MS);
    for (const window of idle) {
      const bar = window.bars.at(-1)!;
      expect(bar.volume).toBe(0);
      expect(bar.open).toBe(bar.close);
      expect(bar.t).toBe(start + BAR_MS);
    }
  });

  it('rolls the trading day at Shanghai midnight: yesterday’s last price becomes the previous close', () => {
    const sim = simulator(['600519']);
    let last = sim.tick(start);
    for (let i = 1; i < 100; i += 1) {
      last = sim.tick(start + i * 100);
    }
    const nextDay = Date.parse('2025-11-25T09:30:00+08:00');
    const first = sim.quotes(nextDay)[0]!;
    expect(first.prev_close).toBe(last.price);
    expect(first.volume).toBe(0);
    expect(first.change).toBe(0);
  });
});
