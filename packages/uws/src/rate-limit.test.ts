import { describe, expect, it } from 'vitest';
import { MessageRateLimiter } from './rate-limit.js';

describe('MessageRateLimiter', () => {
  it('allows the limit per second, limits past it, and resets each second', () => {
    const limiter = new MessageRateLimiter(3);
    expect([1, 2, 3, 4].map(() => limiter.hit(1_000))).toEqual(['ok', 'ok', 'ok', 'limited']);
    expect(limiter.hit(2_000)).toBe('ok');
  });

  it('calls a burst of ten times the limit abusive', () => {
    const limiter = new MessageRateLimiter(2);
    const verdicts = Array.from({ length: 21 }, () => limiter.hit(5_000));
    expect(verdicts.at(-2)).toBe('limited');
    expect(verdicts.at(-1)).toBe('abusive');
  });

  it('calls three consecutive seconds over the limit abusive, but forgives a good second in between', () => {
    const limiter = new MessageRateLimiter(1);
    const flood = (t: number): string => [limiter.hit(t), limiter.hit(t)][1]!;
    expect(flood(0)).toBe('limited');
    expect(flood(1_000)).toBe('limited');
    limiter.hit(2_000); // one message only: under the limit
    expect(flood(3_000)).toBe('limited');
    expect(flood(4_000)).toBe('limited');
    expect(flood(5_000)).toBe('abusive');
  });
});
