import { describe, expect, it } from 'vitest';
import { parseTradingTopic, tradingStatusTopic, tradingTopic, userSegment } from '@gw/topics';

describe('trading topics', () => {
  it('names per-user topics and reads them back', () => {
    expect(tradingTopic('4', 'balance')).toBe('trading.4.balance');
    expect(tradingStatusTopic('4')).toBe('trading.4.status');
    expect(parseTradingTopic('trading.4.orders')).toEqual({ sub: '4', type: 'orders' });
    expect(parseTradingTopic('trading.4.status')).toBeUndefined();
    expect(parseTradingTopic('trading.4.candles')).toBeUndefined();
    expect(parseTradingTopic('stock.quote.600519')).toBeUndefined();
  });

  it('percent-encodes subjects with dots, spaces or glob characters, round trip', () => {
    for (const sub of ['a.b', 'user@example.com', 'x*y?[z]', '用户 7', '%41']) {
      const topic = tradingTopic(sub, 'pnl');
      expect(topic.split('.')).toHaveLength(3);
      expect(topic).not.toMatch(/[\s*?[\]\\]/u);
      expect(parseTradingTopic(topic)).toEqual({ sub, type: 'pnl' });
    }
    expect(userSegment('alice_01-x')).toBe('alice_01-x');
  });
});
