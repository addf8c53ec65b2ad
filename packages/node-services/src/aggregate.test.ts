import { describe, expect, it } from 'vitest';
import { mergeMemberAnswers, mergeTree, sumNumericTree } from './aggregate.js';

describe('sumNumericTree', () => {
  it('adds numbers at every depth, merges keys, keeps the first of anything else', () => {
    const a = { connections: { total: 2, active: 1 }, protocols: { signals: { connections: 1 } }, name: 'a', list: [1] };
    const b = { connections: { total: 3, active: 0 }, protocols: { stock: { connections: 4 } }, name: 'b', list: [2] };
    expect(sumNumericTree([a, b])).toEqual({
      connections: { total: 5, active: 1 },
      protocols: { signals: { connections: 1 }, stock: { connections: 4 } },
      name: 'a',
      list: [1],
    });
    expect(sumNumericTree([])).toBeUndefined();
  });
});

describe('mergeTree', () => {
  it('applies a field rule at any depth and below it; sums the rest', () => {
    const answers = [
      { uptime_s: 10, started_at: '2026-01-01T00:00:05.000Z', stock: { quoted_stocks: 50, messages_sent: 3 }, limits: { a: 1, b: 9 } },
      { uptime_s: 30, started_at: '2026-01-01T00:00:01.000Z', stock: { quoted_stocks: 48, messages_sent: 4 }, limits: { a: 2, b: 3 } },
    ];
    expect(mergeTree(answers, { rules: { uptime_s: 'max', started_at: 'min', quoted_stocks: 'max', limits: 'first' } })).toEqual({
      uptime_s: 30,
      started_at: '2026-01-01T00:00:01.000Z',
      stock: { quoted_stocks: 50, messages_sent: 7 },
      limits: { a: 1, b: 9 },
    });
  });

  it('skips missing answers and fields', () => {
    expect(mergeTree([{ a: 1 }, undefined, null, { b: 2 }])).toEqual({ a: 1, b: 2 });
  });
});

describe('mergeMemberAnswers', () => {
  it('concatenates lists, at the top and inside objects', () => {
    expect(mergeMemberAnswers([[1, 2], [3]])).toEqual([1, 2, 3]);
    expect(mergeMemberAnswers([{ n: 1, rows: ['a'] }, { n: 2, rows: ['b', 'c'] }])).toEqual({ n: 3, rows: ['a', 'b', 'c'] });
  });
});
