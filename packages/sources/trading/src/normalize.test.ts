import { describe, expect, it } from 'vitest';
import { canonical, sameData } from './normalize.js';

/** A deterministic generator (mulberry32), so the cases are the same at every run. */
function random(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), t | 1);
    r ^= r + Math.imul(r ^ (r >>> 7), r | 61);
    return ((r ^ (r >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const leaves: readonly unknown[] = [
  0, -0, 1, 1.000000001, 1.0000000001, -1e-9, 1e-9, 65_000.5, Number.NaN, Number.POSITIVE_INFINITY, 1e301,
  null, undefined, '', 'a', '0', 'null', true, false, () => 1,
];

/** A small JSON-like value: leaves, arrays and objects, some keys undefined, keys in any order. */
function value(next: () => number, depth: number): unknown {
  const roll = next();
  if (depth === 0 || roll < 0.5) {
    return leaves[Math.floor(next() * leaves.length)];
  }
  const size = Math.floor(next() * 3);
  if (roll < 0.7) {
    return Array.from({ length: size }, () => value(next, depth - 1));
  }
  const keys = ['a', 'b', 'c'].filter(() => next() < 0.6);
  const object: Record<string, unknown> = {};
  for (const key of next() < 0.5 ? keys : [...keys].reverse()) {
    object[key] = value(next, depth - 1);
  }
  return object;
}

describe('sameData', () => {
  it('is true exactly when the canonical texts are equal', () => {
    const next = random(7);
    let equalPairs = 0;
    for (let i = 0; i < 20_000; i += 1) {
      const a = value(next, 3);
      // Often a near copy, so that equal pairs are frequent too.
      const b = next() < 0.5 ? structuredCloneLike(a) : value(next, 3);
      const expected = canonical(a) === canonical(b);
      equalPairs += expected ? 1 : 0;
      expect(sameData(a, b), `${canonical(a)} vs ${canonical(b)}`).toBe(expected);
    }
    expect(equalPairs).toBeGreaterThan(1_000);
  });

  it('treats float noise, -0 and key order as no change, and anything else as a change', () => {
    expect(sameData({ total: 1.000000001, free: -0 }, { free: 0, total: 1.000000002 })).toBe(true);
    expect(sameData({ total: 1.00000001 }, { total: 1.00000002 })).toBe(false);
    expect(sameData({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameData([1, 2], [2, 1])).toBe(false);
    expect(sameData({ 0: 1 }, [1])).toBe(false);
    expect(sameData('1', 1)).toBe(false);
  });
});

/** A copy that keeps functions and undefined (structuredClone would refuse functions). */
function structuredCloneLike(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(structuredCloneLike);
  }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structuredCloneLike(v)]));
  }
  return value;
}
