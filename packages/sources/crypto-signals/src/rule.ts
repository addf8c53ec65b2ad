/**
 * The signal rule: a simple moving-average crossover over the closes of closed bars. Pure (no clock, no I/O),
 * so it is tested on crafted series and behaves the same over the simulated market and over ccxt.
 *
 * For closed bar t with close C_t:
 *
 *   F_t = (C_{t-fast+1} + … + C_t) / fast        S_t = (C_{t-slow+1} + … + C_t) / slow        D_t = F_t − S_t
 *
 * - buy at t:  D_t > 0 and the latest earlier bar with D ≠ 0 had D < 0 (the fast SMA crossed above the slow one);
 * - sell at t: D_t < 0 and the latest earlier bar with D ≠ 0 had D > 0 (the fast SMA crossed below).
 *
 * |D| within a relative epsilon of S counts as 0 ("touching"): a touch neither signals nor resets the side, so
 * fast > slow, touch, fast > slow again is no new buy, and a flat series never signals. A bar counts only once
 * it is closed (`time + barMs <= now`): the forming bar's close still moves, and a signal on it could be
 * contradicted by the final close.
 */

/** One OHLCV bar. `time` is the bar's start in epoch milliseconds (exchange convention). */
export interface Bar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Window lengths of the two simple moving averages, in bars. `fast` must be smaller than `slow`. */
export interface CrossoverParams {
  fast: number;
  slow: number;
}

/** A crossing found on a closed bar. */
export interface CrossoverSignal {
  type: 'buy' | 'sell';
  /** The closed bar on which the crossing completed (its close is the signal's price). */
  bar: Bar;
  fastSma: number;
  slowSma: number;
}

export interface CrossoverInput {
  /** Recent bars of one symbol, in any order (sorted here; duplicates by `time` keep the last). */
  bars: readonly Bar[];
  /** Bar length in milliseconds (60000 for 1-minute bars). */
  barMs: number;
  /** The current time in epoch ms: bars whose end (`time + barMs`) is after it are still open and ignored. */
  now: number;
  params: CrossoverParams;
  /**
   * Only bars that start after this time may produce signals (the caller's per-symbol cursor: the newest bar it
   * already evaluated). Earlier bars still feed the averages and the side. Undefined: every closed bar.
   */
  after?: number | undefined;
}

export interface CrossoverResult {
  /** Crossings on closed bars newer than `after`, oldest first. */
  signals: CrossoverSignal[];
  /** Start time of the newest closed bar in the input (the next cursor), undefined when none is closed. */
  lastClosedTime: number | undefined;
}

/** Below this fraction of the slow SMA, the two averages are treated as equal (float noise of the sums). */
const RELATIVE_EPSILON = 1e-9;

/** The closed bars, ascending by time, one per time. */
export function closedBars(bars: readonly Bar[], barMs: number, now: number): Bar[] {
  const byTime = new Map<number, Bar>();
  for (const bar of bars) {
    if (bar.time + barMs <= now) {
      byTime.set(bar.time, bar);
    }
  }
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/**
 * Simple moving average of the `n` values ending at index `end` (inclusive); undefined when fewer than `n`
 * values exist there.
 */
export function sma(values: readonly number[], n: number, end: number): number | undefined {
  if (n < 1 || end < n - 1 || end >= values.length) {
    return undefined;
  }
  let sum = 0;
  for (let i = end - n + 1; i <= end; i += 1) {
    sum += values[i] ?? Number.NaN;
  }
  return sum / n;
}

/** Applies the crossover rule (see the module comment) to the closed bars of `input`. */
export function evaluateCrossovers(input: CrossoverInput): CrossoverResult {
  const { fast, slow } = input.params;
  if (!(Number.isInteger(fast) && Number.isInteger(slow) && fast >= 1 && fast < slow)) {
    throw new RangeError(`crossover needs whole numbers 1 <= fast < slow, got fast=${fast} slow=${slow}`);
  }
  const bars = closedBars(input.bars, input.barMs, input.now);
  const lastClosedTime = bars.at(-1)?.time;
  // Prefix sums make every SMA O(1): the window is up to a thousand bars, polled every few seconds.
  const prefix = [0];
  for (const bar of bars) {
    prefix.push((prefix.at(-1) ?? 0) + bar.close);
  }
  const mean = (n: number, end: number): number => ((prefix[end + 1] ?? 0) - (prefix[end + 1 - n] ?? 0)) / n;
  const signals: CrossoverSignal[] = [];
  let side: -1 | 1 | undefined;
  for (let t = slow - 1; t < bars.length; t += 1) {
    const bar = bars[t];
    if (bar === undefined) {
      continue;
    }
    const fastSma = mean(fast, t);
    const slowSma = mean(slow, t);
    const diff = fastSma - slowSma;
    if (Math.abs(diff) <= RELATIVE_EPSILON * Math.abs(slowSma)) {
      continue;
    }
    const now: -1 | 1 = diff > 0 ? 1 : -1;
    if (side !== undefined && now !== side && (input.after === undefined || bar.time > input.after)) {
      signals.push({ type: now === 1 ? 'buy' : 'sell', bar, fastSma, slowSma });
    }
    side = now;
  }
  return { signals, lastClosedTime };
}
