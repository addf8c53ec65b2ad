import { describe, expect, it } from 'vitest';
import { AuthError } from '@gw/auth';
import { GatewayError } from '@gw/core';
import { connectErrorOf, errorEvent, errorEventOf } from './errors.js';
import { TokenBucket } from './rate-limit.js';
import { requestedTypes, subscriptionRequestSchema } from './schema.js';
import { createTimestampFormatter } from './timestamp.js';

function typesOf(payload: unknown): ReturnType<typeof requestedTypes> | 'bad' {
  const parsed = subscriptionRequestSchema.safeParse(payload);
  return parsed.success ? requestedTypes(parsed.data) : 'bad';
}

describe('subscription payloads', () => {
  it('reads types, subscribeTypes (types wins), a single string, and absent or empty as all four', () => {
    const all = { valid: ['balance', 'positions', 'pnl', 'orders'], invalid: [] };
    expect(typesOf({})).toEqual(all);
    expect(typesOf({ types: [] })).toEqual(all);
    expect(typesOf({ types: null })).toEqual(all);
    expect(typesOf({ subscribeTypes: ['orders', 'pnl'] })).toEqual({ valid: ['orders', 'pnl'], invalid: [] });
    expect(typesOf({ types: ['balance'], subscribeTypes: ['orders'] })).toEqual({ valid: ['balance'], invalid: [] });
    expect(typesOf({ types: 'pnl' })).toEqual({ valid: ['pnl'], invalid: [] });
    expect(typesOf({ types: ['pnl', 'pnl', 'balance'], extra: true })).toEqual({ valid: ['pnl', 'balance'], invalid: [] });
  });

  it('keeps unknown entries apart (shortened) and refuses what is not an object or too long', () => {
    expect(typesOf({ types: ['balance', 'Balance', 7, { a: 1 }, 'x'.repeat(100)] })).toEqual({
      valid: ['balance'],
      invalid: ['Balance', '7', '{"a":1}', `${'x'.repeat(40)}…`],
    });
    expect(typesOf(42)).toBe('bad');
    expect(typesOf([])).toBe('bad');
    expect(typesOf({ types: 5 })).toBe('bad');
    expect(typesOf({ types: Array.from({ length: 17 }, () => 'pnl') })).toBe('bad');
  });
});

describe('error mapping', () => {
  it('keeps the auth reason in connect_error and hides internal details', () => {
    const expired = connectErrorOf(new AuthError('expired'));
    expect(expired.message).toBe('unauthorized: token expired');
    expect(expired.data).toEqual({ code: 'token_expired', reason: 'expired' });
    const internal = connectErrorOf(new GatewayError('internal', { message: 'JWKS at http://idp/ down' }));
    expect(internal.message).not.toContain('idp');
    expect(internal.data.code).toBe('internal');
  });

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

describe('timestamps and rate limits', () => {
  it('formats YYYY-MM-DDTHH:mm:ss in the configured zone', () => {
    const at = Date.UTC(2025, 10, 10, 1, 2, 3, 456);
    expect(createTimestampFormatter('UTC')(at)).toBe('2025-11-10T01:02:03');
    expect(createTimestampFormatter('Asia/Shanghai')(at)).toBe('2025-11-10T09:02:03');
    const format = createTimestampFormatter('UTC');
    expect(format(at + 1000)).toBe('2025-11-10T01:02:04');
    expect(format(at + 1100)).toBe('2025-11-10T01:02:04');
  });

  it('lets a burst through, then the refill rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
    expect(bucket.take(50)).toBe(false);
    expect(bucket.take(100)).toBe(true);
  });
});
