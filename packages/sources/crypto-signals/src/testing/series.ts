/**
 * 30 falling closes (fast SMA below slow), 15 rising, 15 falling. With fast=5, slow=20 the rule gives exactly
 * one buy on bar 33 (close 69950) and one sell on bar 52 (close 70130); `rule.test.ts` shows the arithmetic.
 */
export function upThenDown(): number[] {
  const closes: number[] = [];
  for (let i = 0; i < 30; i += 1) {
    closes.push(70_000 - i * 10);
  }
  const bottom = closes[29] ?? 0;
  for (let i = 1; i <= 15; i += 1) {
    closes.push(bottom + i * 60);
  }
  const top = closes[44] ?? 0;
  for (let i = 1; i <= 15; i += 1) {
    closes.push(top - i * 60);
  }
  return closes;
}

/** Bars of {@link upThenDown} where the crossings complete, and their closes. */
export const expectedCrossings = [
  { type: 'buy', bar: 33, close: 69_950 },
  { type: 'sell', bar: 52, close: 70_130 },
] as const;
