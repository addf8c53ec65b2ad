import { describe, expect, it } from 'vitest';
import { RECONNECT_MAX_MS, RECONNECT_MIN_MS, reconnectDelay } from './backoff.js';

describe('reconnectDelay', () => {
  it('doubles from 1 s and stays at 30 s, within [step / 2, step]', () => {
    const steps = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000];
    steps.forEach((step, attempt) => {
      expect(reconnectDelay(attempt, () => 0)).toBe(step / 2);
      expect(reconnectDelay(attempt, () => 1)).toBe(step);
    });
  });

  it('spreads reconnects with jitter and never leaves the bounds', () => {
    const delays = Array.from({ length: 200 }, (_, i) => reconnectDelay(i % 12));
    expect(new Set(delays).size).toBeGreaterThan(10);
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(RECONNECT_MIN_MS / 2);
      expect(delay).toBeLessThanOrEqual(RECONNECT_MAX_MS);
    }
  });
});
