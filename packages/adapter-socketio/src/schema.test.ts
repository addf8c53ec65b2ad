import { describe, expect, it } from 'vitest';
import { GatewayError } from '@gw/core';
import { errorEvent, errorEventOf } from './errors.js';
import { requestedTypes, subscriptionRequestSchema, typesNotAList } from './schema.js';
import { createTimestampFormatter } from './timestamp.js';

function typesOf(payload: unknown): ReturnType<typeof requestedTypes> | 'bad' {
  const parsed = subscriptionRequestSchema.safeParse(payload);
  return parsed.success ? requestedTypes(parsed.data) : 'bad';
}

describe('subscription payloads', () => {
  it('reads types, subscribeTypes (types wins), and absent or empty as all four', () => {
    const all = { valid: ['balance', 'positions', 'pnl', 'orders'], invalid: [] };
    expect(typesOf({})).toEqual(all);
    expect(typesOf({ types: [] })).toEqual(all);
    expect(typesOf({ types: null })).toEqual(all);
    expect(typesOf({ subscribeTypes: ['orders', 'pnl'] })).toEqual({ valid: ['orders', 'pnl'], invalid: [] });
    expect(typesOf({ types: ['balance'], subscribeTypes: ['orders'] })).toEqual({ valid: ['balance'], invalid: [] });
    expect(typesOf({ types: 'pnl' })).toBe('bad');
    expect(typesNotAList({ types: 'pnl' })).toBe('types');
    expect(typesNotAList({ subscribeTypes: { pnl: true } })).toBe('subscribeTypes');
    expect(typesNotAList({ types: ['pnl'] })).toBeUndefined();
    expect(typesNotAList({ types: null })).toBeUndefined();
    expect(typesOf({ types: ['pnl', 'pnl', 'balance'], extra: true })).toEqual({ valid: ['pnl', 'balance'], invalid: [] });
  });

  it('keeps unknown entries apart (shortened) and refuses what is not an object or too long', () => {
    expect(typesOf({ types: ['balance', 'Balance', 7, { a: 1 }, 'x'.repeat(100)] })).toEqual({
      valid: ['balance'],
      invalid: ['Balance', '7', '(object)', `${'x'.repeat(40)}…`],
    });
    expect(typesOf(42)).toBe('bad');
    expect(typesOf([])).toBe('bad');
    expect(typesOf({ types: 5 })).toBe('bad');
    expect(typesOf({ types: Array.from({ length: 17 }, () => 'pnl') })).toBe('bad');
  });
});

describe('error mapping', () => {
  it('builds error events with fixed messages where the table says so', () => {
    expect(errorEvent('invalid_types', 'unknown types: x', { invalid_types: ['x'] })).toEqual({
      code: 'invalid_types',
      message: 'unknown types: x',
      invalid_types: ['x'],
    });
    expect(errorEventOf(new Error('secret stack detail'))).toEqual({ code: 'internal', message: 'internal error' });
    expect(errorEventOf(new GatewayError('rate_limited', { message: 'slow down' }))).toEqual({ code: 'rate_limited', message: 'slow down' });
  });
});

describe('timestamps', () => {
  it('formats YYYY-MM-DDTHH:mm:ss in the configured zone', () => {
    const at = Date.UTC(2025, 10, 10, 1, 2, 3, 456);
    expect(createTimestampFormatter('UTC')(at)).toBe('2025-11-10T01:02:03');
    expect(createTimestampFormatter('Asia/Shanghai')(at)).toBe('2025-11-10T09:02:03');
    const format = createTimestampFormatter('UTC');
    expect(format(at + 1000)).toBe('2025-11-10T01:02:04');
    expect(format(at + 1100)).toBe('2025-11-10T01:02:04');
  });
});
