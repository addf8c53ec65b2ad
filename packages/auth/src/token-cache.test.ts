import { describe, expect, it } from 'vitest';
import { TokenCache } from './token-cache.js';

/** A clock the test moves by hand: the cache's expiry is arithmetic on it, nothing waits. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

describe('TokenCache', () => {
  it('returns what was stored until its expiry, never at or after it', () => {
    const time = clock();
    const cache = new TokenCache<string>({ maxEntries: 10, now: time.now });
    cache.set('token-a', 'alice', time.now() + 1000);
    expect(cache.get('token-a')).toBe('alice');
    expect(cache.get('token-b')).toBeUndefined();
    time.advance(999);
    expect(cache.get('token-a')).toBe('alice');
    time.advance(1);
    expect(cache.get('token-a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('stores nothing whose expiry has already passed', () => {
    const time = clock();
    const cache = new TokenCache<string>({ maxEntries: 10, now: time.now });
    cache.set('past', 'x', time.now());
    cache.set('nan', 'x', Number.NaN);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const time = clock();
    const cache = new TokenCache<number>({ maxEntries: 3, now: time.now });
    for (const [i, token] of ['t1', 't2', 't3'].entries()) {
      cache.set(token, i, time.now() + 60_000);
    }
    expect(cache.get('t1')).toBe(0); // t1 is now the most recent; t2 the least
    cache.set('t4', 3, time.now() + 60_000);
    expect(cache.size).toBe(3);
    expect(cache.get('t2')).toBeUndefined();
    expect([cache.get('t1'), cache.get('t3'), cache.get('t4')]).toEqual([0, 2, 3]);
    for (let i = 0; i < 1000; i++) {
      cache.set(`many-${i}`, i, time.now() + 60_000);
    }
    expect(cache.size).toBe(3);
  });

  it('with 0 entries keeps nothing', () => {
    const cache = new TokenCache<string>({ maxEntries: 0 });
    cache.set('token', 'x', Date.now() + 60_000);
    expect(cache.enabled).toBe(false);
    expect(cache.get('token')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('tells tokens apart that differ in one character', () => {
    const cache = new TokenCache<string>({ maxEntries: 10 });
    cache.set('eyJhbGciOiJIUzI1NiJ9.e30.abc', 'first', Date.now() + 60_000);
    expect(cache.get('eyJhbGciOiJIUzI1NiJ9.e30.abd')).toBeUndefined();
    expect(cache.get('eyJhbGciOiJIUzI1NiJ9.e30.abc')).toBe('first');
  });
});
