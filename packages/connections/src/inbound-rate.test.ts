import { describe, expect, it } from 'vitest';
import { InboundRateLimit } from './inbound-rate.js';

describe('InboundRateLimit', () => {
  it('serves a whole burst at once, then refills at the rate', () => {
    const limit = new InboundRateLimit({ messagesPerSecond: 10, messageBurst: 200 }, 0);
    const verdicts = Array.from({ length: 201 }, () => limit.take(0));
    expect(verdicts.slice(0, 200).every((v) => v === 'ok')).toBe(true);
    expect(verdicts[200]).toBe('limited');
    expect(limit.take(100)).toBe('ok'); // 100 ms at 10/s: one token
    expect(limit.take(100)).toBe('limited');
  });

  it('closes a flood once its refused messages exceed the burst', () => {
    const limit = new InboundRateLimit({ messagesPerSecond: 5, messageBurst: 20 }, 0);
    const verdicts = Array.from({ length: 41 }, () => limit.take(0));
    expect(verdicts.filter((v) => v === 'ok')).toHaveLength(20);
    expect(verdicts[39]).toBe('limited');
    expect(verdicts[40]).toBe('abusive');
  });

  it('closes a client that keeps sending at twice the rate, never one that keeps to it', () => {
    const steady = new InboundRateLimit({ messagesPerSecond: 10, messageBurst: 20 }, 0);
    const twice = new InboundRateLimit({ messagesPerSecond: 10, messageBurst: 20 }, 0);
    let twiceClosedAt: number | undefined;
    for (let t = 0; t <= 60_000; t += 50) {
      if (t % 100 === 0) {
        expect(steady.take(t)).toBe('ok'); // 10 per second: always served
      }
      if (twice.take(t) === 'abusive' && twiceClosedAt === undefined) {
        twiceClosedAt = t;
      }
    }
    expect(twiceClosedAt).toBeDefined();
    expect(twiceClosedAt).toBeGreaterThan(2_000);
  });

  it('answers refused messages at most once per second', () => {
    const limit = new InboundRateLimit({ messagesPerSecond: 1, messageBurst: 1 }, 0);
    expect([limit.shouldAnswer(0), limit.shouldAnswer(500), limit.shouldAnswer(1_000)]).toEqual([true, false, true]);
  });
});
