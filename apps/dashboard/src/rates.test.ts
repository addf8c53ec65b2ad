import { describe, expect, it } from 'vitest';
import { RateMeter } from './rates.js';

describe('RateMeter', () => {
  it('gives no rate for the first sample, then the per-second rate of each key', () => {
    const meter = new RateMeter();
    expect(meter.sample('stock:sent', 100, 10_000)).toBeUndefined();
    expect(meter.sample('signals:sent', 5, 10_000)).toBeUndefined();
    expect(meter.sample('stock:sent', 160, 12_000)).toBe(30);
    expect(meter.sample('signals:sent', 5, 12_000)).toBe(0);
    expect(meter.sample('stock:sent', 175, 12_500)).toBe(30);
  });

  it('gives no rate when a counter went down (gateway restarted) and resumes from the new value', () => {
    const meter = new RateMeter();
    meter.sample('stock:sent', 5_000, 1_000);
    expect(meter.sample('stock:sent', 10, 3_000)).toBeUndefined();
    expect(meter.sample('stock:sent', 30, 5_000)).toBe(10);
  });

  it('gives no rate for two samples at the same instant', () => {
    const meter = new RateMeter();
    meter.sample('k', 1, 1_000);
    expect(meter.sample('k', 2, 1_000)).toBeUndefined();
  });
});
