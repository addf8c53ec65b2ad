import { formatShanghaiTime } from '@gw/topics';
import type { BuyListEntry, StockBar, StockBars } from '@gw/topics';

/**
 * The volume_wave rule, evaluated on each completed 1-minute bar of a stock (bar `i`, with `n` = lookback):
 *
 * - **buy** when bar `i`'s volume is at least `k` × the mean volume of the `n` bars before it (and that mean is
 *   above zero), and its close is above the previous bar's close (a volume spike on a rising price). The stock
 *   joins the buy list; the triggering bar is its "signal bar".
 * - while held, another qualifying bar becomes the new signal bar (no new buy signal).
 * - **sell** (the stock leaves the list) on the first non-qualifying bar that either closes below the signal
 *   bar's low (`stop`), or comes `holdBars` or more bars after the signal bar (`time`: the wave is over).
 */
export interface VolumeWaveParams {
  /** n: bars in the volume baseline. */
  lookback: number;
  /** k: how many times the baseline the signal bar's volume must be. */
  volumeMultiple: number;
  /** Bars after the signal bar at which a stock leaves the list when no new spike came. */
  holdBars: number;
  /** The buy list never holds more than this; further buys wait until stocks leave. */
  maxStocks: number;
}

export const defaultVolumeWaveParams: VolumeWaveParams = { lookback: 20, volumeMultiple: 2.5, holdBars: 20, maxStocks: 200 };

/** Whether `bars[i]` is a buy bar; returns its volume ratio (volume / baseline mean) when it is. */
export function buyRatio(bars: readonly StockBar[], i: number, params: VolumeWaveParams): number | undefined {
  const bar = bars[i];
  const previous = bars[i - 1];
  if (bar === undefined || previous === undefined || i < params.lookback) {
    return undefined;
  }
  let sum = 0;
  for (let j = i - params.lookback; j < i; j += 1) {
    sum += bars[j]?.volume ?? 0;
  }
  const mean = sum / params.lookback;
  if (mean <= 0 || bar.volume < params.volumeMultiple * mean || !(bar.close > previous.close)) {
    return undefined;
  }
  return bar.volume / mean;
}

export type ExitReason = 'stop' | 'time';

export interface Holding {
  signal: StockBar;
  volumeRatio: number;
}

/** Why a held stock leaves the list at `bar`, or undefined to keep it. */
export function exitReason(bar: StockBar, holding: Holding, intervalMs: number, params: VolumeWaveParams): ExitReason | undefined {
  if (bar.close < holding.signal.low) {
    return 'stop';
  }
  if ((bar.t - holding.signal.t) / intervalMs >= params.holdBars) {
    return 'time';
  }
  return undefined;
}

export interface Transition {
  type: 'buy' | 'sell';
  code: string;
  bar: StockBar;
  volumeRatio: number;
  reason: 'volume_spike' | ExitReason;
}

interface CodeState {
  name: string;
  market: BuyListEntry['market'];
  /** Start time of the last bar processed. */
  lastT: number;
  holding: Holding | undefined;
}

/**
 * The strategy's state over all stocks. `update` takes a stock's latest bars window (as published on
 * `stock.bars.1m.<code>`), processes the bars it has not seen yet in order, and returns the buy/sell
 * transitions they caused. The first window of a stock is processed silently (`initial: true` transitions are
 * not returned): that is history, and re-announcing it on every restart would duplicate signals.
 */
export class VolumeWaveBook {
  readonly params: VolumeWaveParams;
  readonly #codes = new Map<string, CodeState>();
  #held = 0;

  constructor(params: VolumeWaveParams) {
    this.params = params;
  }

  get size(): number {
    return this.#held;
  }

  update(window: StockBars): Transition[] {
    const { bars } = window;
    let state = this.#codes.get(window.code);
    const initial = state === undefined;
    if (state === undefined) {
      state = { name: window.name, market: window.market, lastT: -Infinity, holding: undefined };
      this.#codes.set(window.code, state);
    }
    const transitions: Transition[] = [];
    for (const [i, bar] of bars.entries()) {
      if (bar.t <= state.lastT) {
        continue;
      }
      state.lastT = bar.t;
      const ratio = buyRatio(bars, i, this.params);
      if (ratio !== undefined) {
        if (state.holding === undefined) {
          if (this.#held >= this.params.maxStocks) {
            continue;
          }
          this.#held += 1;
          state.holding = { signal: bar, volumeRatio: ratio };
          transitions.push({ type: 'buy', code: window.code, bar, volumeRatio: ratio, reason: 'volume_spike' });
        } else {
          state.holding = { signal: bar, volumeRatio: ratio };
        }
        continue;
      }
      if (state.holding !== undefined) {
        const reason = exitReason(bar, state.holding, window.interval_ms, this.params);
        if (reason !== undefined) {
          transitions.push({ type: 'sell', code: window.code, bar, volumeRatio: state.holding.volumeRatio, reason });
          state.holding = undefined;
          this.#held -= 1;
        }
      }
    }
    return initial ? [] : transitions;
  }

  /** The current buy list, most recent signal first. */
  buyList(): BuyListEntry[] {
    const entries: BuyListEntry[] = [];
    for (const [code, state] of this.#codes) {
      const holding = state.holding;
      if (holding !== undefined) {
        entries.push({
          code,
          name: state.name,
          market: state.market,
          signal_ms: holding.signal.t,
          signal_time: formatShanghaiTime(holding.signal.t),
          signal_price: holding.signal.close,
          volume_ratio: Math.round(holding.volumeRatio * 100) / 100,
        });
      }
    }
    return entries.sort((a, b) => b.signal_ms - a.signal_ms || a.code.localeCompare(b.code));
  }
}
