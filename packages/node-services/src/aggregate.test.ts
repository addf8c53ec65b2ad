import { describe, expect, it } from 'vitest';
import { sumNumericTree } from './aggregate.js';

describe('sumNumericTree', () => {
  it('adds numbers at every depth, merges keys, keeps the first of anything else', () => {
    const a = { connections: { total: 2, active: 1 }, protocols: { signals: { connections: 1 } }, name: 'a' };
    const b = { connections: { total: 3, active: 0 }, protocols: { stock: { connections: 4 } }, name: 'b' };
    expect(sumNumericTree([a, b])).toEqual({
      connections: { total: 5, active: 1 },
      protocols: { signals: { connections: 1 }, stock: { connections: 4 } },
      name: 'a',
    });
    expect(sumNumericTree([])).toBeUndefined();
  });
});
