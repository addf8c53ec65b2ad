import type { MarketDataFeed } from './feed.js';
import type { Bar } from './rule.js';

/**
 * The simulated market: a seeded random walk per symbol producing OHLCV bars, so the source (and everything
 * downstream of the `signals` topic) works on a machine without network. Same seed, same symbol → same series.
 *
 * Per bar: log(close/open) = κ·(log(mid) − log(open)) + σ·z with z ~ N(0, 1), i.e. a random walk with a weak
 * pull towards the middle of the symbol's realistic range, so prices stay plausible over days of running.
 * `open` is the previous close; `high`/`low` extend beyond open/close by a fraction of σ; `volume` is random.
 */

interface SymbolProfile {
  /** Realistic price range; the walk starts inside it and is pulled towards its middle. */
  min: number;
  max: number;
  /** Standard deviation of one bar's log return (1-minute bars). */
  sigma: number;
  /** Typical volume of one bar, in base units. */
  volume: number;
}

/** Ranges as seen in 2024–2025, good enough to look real on a dashboard. */
const profiles: Readonly<Record<string, SymbolProfile>> = {
  BTCUSDT: { min: 60_000, max: 100_000, sigma: 0.0012, volume: 40 },
  ETHUSDT: { min: 2_000, max: 5_000, sigma: 0.0016, volume: 600 },
  SOLUSDT: { min: 100, max: 260, sigma: 0.0022, volume: 9_000 },
  BNBUSDT: { min: 400, max: 900, sigma: 0.0015, volume: 1_500 },
  XRPUSDT: { min: 0.4, max: 3.2, sigma: 0.0025, volume: 900_000 },
  DOGEUSDT: { min: 0.06, max: 0.45, sigma: 0.003, volume: 5_000_000 },
  ADAUSDT: { min: 0.25, max: 1.2, sigma: 0.0025, volume: 1_000_000 },
};

/** Any other symbol: a mid-priced coin. */
const defaultProfile: SymbolProfile = { min: 1, max: 100, sigma: 0.002, volume: 10_000 };

/** Strength of the pull towards the middle of the range, per bar (half-life of a deviation ≈ 700 bars). */
const MEAN_REVERSION = 0.001;

/** Bars kept per symbol; requests ask for far fewer. */
const MAX_BARS = 2_000;

/** 32-bit FNV-1a: turns the seed and the symbol into one PRNG state. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for a simulation (not for anything secret). Values in [0, 1). */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Rounds like an exchange's tick size would: cents above 1, four decimals below, eight for dust. */
function roundPrice(price: number): number {
  const decimals = price >= 1 ? 2 : price >= 0.01 ? 4 : 8;
  const factor = 10 ** decimals;
  return Math.round(price * factor) / factor;
}

class SymbolWalk {
  readonly #random: () => number;
  readonly #profile: SymbolProfile;
  readonly #bars: Bar[] = [];
  #spare: number | undefined;

  constructor(seed: number, symbol: string) {
    this.#random = mulberry32(hash32(`${seed}:${symbol}`));
    this.#profile = profiles[symbol] ?? defaultProfile;
  }

  /** Standard normal (Box–Muller, both values used). */
  #gaussian(): number {
    if (this.#spare !== undefined) {
      const spare = this.#spare;
      this.#spare = undefined;
      return spare;
    }
    const u = 1 - this.#random();
    const v = this.#random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  #next(time: number, open: number): Bar {
    const { min, max, sigma, volume } = this.#profile;
    const pull = MEAN_REVERSION * (Math.log(Math.sqrt(min * max)) - Math.log(open));
    const close = open * Math.exp(pull + sigma * this.#gaussian());
    const wick = (): number => Math.abs(this.#gaussian()) * sigma * 0.3;
    return {
      time,
      open: roundPrice(open),
      high: roundPrice(Math.max(open, close) * (1 + wick())),
      low: roundPrice(Math.min(open, close) * (1 - wick())),
      close: roundPrice(close),
      volume: Math.round(volume * (0.3 + 1.4 * this.#random()) * 1000) / 1000,
    };
  }

  /** Bars from `fromTime` (filled once, on first use) up to the bar containing `now`, oldest first. */
  advance(fromTime: number, currentTime: number, barMs: number): Bar[] {
    let last = this.#bars.at(-1);
    if (last === undefined) {
      const { min, max } = this.#profile;
      // Start in the middle half of the range, so the walk has room both ways.
      const start = min + (max - min) * (0.25 + 0.5 * this.#random());
      last = this.#next(fromTime, start);
      this.#bars.push(last);
    }
    while (last.time < currentTime) {
      last = this.#next(last.time + barMs, last.close);
      this.#bars.push(last);
    }
    if (this.#bars.length > MAX_BARS) {
      this.#bars.splice(0, this.#bars.length - MAX_BARS);
    }
    return this.#bars;
  }
}

/** Options of {@link createSimulatedFeed}. */
export interface SimulatedFeedOptions {
  /** Bar length in ms; the walk models 1-minute bars, shown faster when this is shorter. */
  barMs: number;
  /** PRNG seed: same seed and symbol, same series. */
  seed: number;
  /** Clock (epoch ms). @default Date.now */
  now?: () => number;
}

/**
 * The simulated market as a {@link MarketDataFeed}. Bars start on multiples of `barMs`; the first request for
 * a symbol back-fills its history so the averages are defined at once. The newest bar returned is the one
 * still forming. It polls right after each bar closes.
 */
export function createSimulatedFeed(options: SimulatedFeedOptions): MarketDataFeed {
  const { barMs, seed } = options;
  const now = options.now ?? Date.now;
  const walks = new Map<string, SymbolWalk>();
  return {
    barMs,
    closeGraceMs: 0,
    prepare: () => Promise.resolve(),
    recentBars(symbol, limit) {
      const currentTime = Math.floor(now() / barMs) * barMs;
      let walk = walks.get(symbol);
      if (walk === undefined) {
        walk = new SymbolWalk(seed, symbol);
        walks.set(symbol, walk);
      }
      const bars = walk.advance(currentTime - (limit - 1) * barMs, currentTime, barMs);
      return Promise.resolve(bars.slice(-limit));
    },
    nextPollDelayMs(at) {
      // Just after the forming bar closes (a few ms late, so it is closed by every clock reading).
      return barMs - (at % barMs) + 5;
    },
  };
}
