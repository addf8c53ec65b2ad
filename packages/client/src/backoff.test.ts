import { describe, expect, it } from 'vitest';
import { RetrySchedule, reconnectDelay, resolveReconnectOptions } from './backoff.js';

describe('reconnect backoff', () => {
  it('defaults to the legacy signal service advice: 1 s, doubling, at most 30 s', () => {
    const noJitter = resolveReconnectOptions({ jitter: 0 });
    const delays = Array.from({ length: 8 }, (_, attempt) => reconnectDelay(attempt, noJitter));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    // However long a client has been retrying.
    expect(reconnectDelay(10_000, noJitter)).toBe(30_000);
  });

  it('spreads each wait by up to half of itself, never under the initial delay nor over the maximum', () => {
    const lowest = resolveReconnectOptions({ random: () => 0 });
    const highest = resolveReconnectOptions({ random: () => 0.999_999 });
    expect([0, 1, 2, 4, 5].map((attempt) => reconnectDelay(attempt, lowest))).toEqual([1_000, 2_000, 4_000, 16_000, 30_000]);
    expect([0, 1, 2, 4, 5].map((attempt) => reconnectDelay(attempt, highest))).toEqual([1_500, 3_000, 6_000, 24_000, 30_000]);
    const seen = new Set(Array.from({ length: 200 }, () => reconnectDelay(0, resolveReconnectOptions())));
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...seen)).toBeLessThanOrEqual(1_500);
    expect(seen.size).toBeGreaterThan(50); // clients of a restarted gateway do not come back together
  });

  it('refuses settings that would never reconnect sensibly', () => {
    expect(() => resolveReconnectOptions({ initialDelayMs: 0 })).toThrow(RangeError);
    expect(() => resolveReconnectOptions({ initialDelayMs: 500, maxDelayMs: 100 })).toThrow(/maxDelayMs must be at least/);
    expect(() => resolveReconnectOptions({ multiplier: 0.5 })).toThrow(/multiplier/);
    expect(() => resolveReconnectOptions({ jitter: 2 })).toThrow(/jitter/);
    expect(() => resolveReconnectOptions({ maxDelayMs: Number.POSITIVE_INFINITY })).toThrow(/maxDelayMs/);
  });

  it('counts failed attempts until a connection succeeds, then starts over', () => {
    const schedule = new RetrySchedule(resolveReconnectOptions({ initialDelayMs: 100, maxDelayMs: 1_000, jitter: 0 }));
    expect([schedule.nextDelay(), schedule.nextDelay(), schedule.nextDelay()]).toEqual([100, 200, 400]);
    expect(schedule.attempt).toBe(3);
    schedule.reset();
    expect(schedule.nextDelay()).toBe(100);
  });
});
