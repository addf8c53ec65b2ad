import { describe, expect, it } from 'vitest';
import { compareMessageIds, createEpoch, formatMessageId, parseMessageId } from './ids.js';
import { isValidTopic, parseTopicPattern } from './topics.js';

describe('message ids', () => {
  it('round-trips and compares within an epoch', () => {
    const epoch = createEpoch();
    expect(epoch).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(createEpoch()).not.toBe(epoch);
    const id = formatMessageId(epoch, 42);
    expect(parseMessageId(id)).toEqual({ epoch, seq: 42 });
    expect(parseMessageId(`${epoch}:0`)).toEqual({ epoch, seq: 0 });
    expect(compareMessageIds(`${epoch}:9`, `${epoch}:10`)).toBeLessThan(0);
    expect(compareMessageIds({ epoch, seq: 3 }, `${epoch}:3`)).toBe(0);
    expect(() => compareMessageIds('nope', `${epoch}:1`)).toThrow(RangeError);
  });

  it('rejects malformed ids without throwing', () => {
    const malformed = [
      '',
      ':',
      ':1',
      'abc:',
      'abc',
      'abc:-1',
      'abc:+1',
      'abc:01',
      'abc:1.5',
      'abc:1e3',
      'abc: 1',
      'a b:1',
      'a:b:1',
      `${'x'.repeat(33)}:1`,
      'abc:99999999999999999',
    ];
    for (const id of malformed) {
      expect(parseMessageId(id), id).toBeUndefined();
    }
  });
});

describe('topics', () => {
  it('accepts dot-separated names and prefix patterns only', () => {
    expect(parseTopicPattern('stock.quote.600519')).toEqual({ kind: 'exact', topic: 'stock.quote.600519' });
    expect(parseTopicPattern('stock.quote.*')).toEqual({ kind: 'prefix', prefix: 'stock.quote.' });
    expect(parseTopicPattern('*')).toEqual({ kind: 'prefix', prefix: '' });
    for (const bad of ['', 'a*b', '**', 'a b', '~x', 'x?', 'x[1]', 'a\\b', 'tab\t', 'x'.repeat(513)]) {
      expect(() => parseTopicPattern(bad), bad).toThrow(/invalid topic/);
    }
    expect(isValidTopic('trading.4.balance')).toBe(true);
    expect(isValidTopic('user:alice@example.com')).toBe(true);
  });
});
