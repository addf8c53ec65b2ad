import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@gw/config';
import { signalSchema } from '@gw/topics';
import { closedBars, createCryptoSignalsSource, createSimulatedFeed, cryptoSignalsConfig, cryptoSignalsSource } from './index.js';
import { runWithEnv } from './testing/harness.js';

describe('simulated market feed', () => {
  it('is a seeded random walk: same seed and symbol, same bars; another seed, other bars', async () => {
    const clock = { now: 1_700_000_000_000 };
    const feed = (seed: number) => createSimulatedFeed({ barMs: 60_000, seed, now: () => clock.now });
    const a = await feed(7).recentBars('BTCUSDT', 50);
    const b = await feed(7).recentBars('BTCUSDT', 50);
    const c = await feed(8).recentBars('BTCUSDT', 50);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('returns contiguous, aligned bars ending with the one still forming, and extends them as time passes', async () => {
    const clock = { now: 1_700_000_012_345 };
    const barMs = 1_000;
    const feed = createSimulatedFeed({ barMs, seed: 1, now: () => clock.now });
    const first = await feed.recentBars('ETHUSDT', 30);
    expect(first).toHaveLength(30);
    expect(first.at(-1)?.time).toBe(1_700_000_012_000);
    expect(first.every((bar, i) => bar.time % barMs === 0 && (i === 0 || bar.time - first[i - 1]!.time === barMs))).toBe(true);
    expect(first.every((bar, i) => i === 0 || bar.open === first[i - 1]!.close)).toBe(true);
    expect(first.every((bar) => bar.low <= Math.min(bar.open, bar.close) && bar.high >= Math.max(bar.open, bar.close))).toBe(true);
    // Only the forming bar is not closed yet.
    expect(closedBars(first, barMs, clock.now)).toHaveLength(29);
    clock.now += 5 * barMs;
    const later = await feed.recentBars('ETHUSDT', 30);
    expect(later.at(-1)?.time).toBe(1_700_000_017_000);
    // History does not change once generated.
    expect(later.slice(0, 25)).toEqual(first.slice(5));
    expect(feed.nextPollDelayMs(1_700_000_017_400)).toBe(605);
  });

  it('keeps prices in realistic ranges per symbol over a day of 1-minute bars', async () => {
    const clock = { now: 1_700_000_000_000 };
    const feed = createSimulatedFeed({ barMs: 60_000, seed: 3, now: () => clock.now });
    const ranges: Record<string, [number, number]> = {
      BTCUSDT: [50_000, 115_000],
      ETHUSDT: [1_500, 6_000],
      SOLUSDT: [70, 320],
      BNBUSDT: [300, 1_100],
      XRPUSDT: [0.25, 4.5],
    };
    const closes = new Map<string, number[]>();
    for (let minute = 0; minute < 1_440; minute += 60) {
      for (const symbol of Object.keys(ranges)) {
        const bars = await feed.recentBars(symbol, 60);
        closes.set(symbol, [...(closes.get(symbol) ?? []), ...bars.map((bar) => bar.close)]);
      }
      clock.now += 60 * 60_000;
    }
    for (const [symbol, [min, max]] of Object.entries(ranges)) {
      const values = closes.get(symbol)!;
      expect(Math.min(...values), symbol).toBeGreaterThan(min);
      expect(Math.max(...values), symbol).toBeLessThan(max);
    }
  });
});

describe('crypto-signals in simulated mode (the embedded default)', () => {
  it('publishes valid buy/sell signals within a bounded time with a tiny bar length, alternating per symbol', async () => {
    const running = await runWithEnv(cryptoSignalsSource, { CRYPTO_SIGNALS_SIM_BAR_MS: '20' });
    try {
      await expect.poll(() => running.signals.length, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(6);
    } finally {
      await running.stop();
    }
    const symbols = new Set(['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT']);
    const lastType = new Map<string, string>();
    const nowSeconds = Date.now() / 1000;
    for (const { data } of running.signals) {
      expect(signalSchema.parse(data)).toEqual(data);
      expect(data.source).toBe('crypto-signals');
      expect(symbols.has(data.content.symbol)).toBe(true);
      expect(Math.abs(data.content.timestamp - nowSeconds)).toBeLessThan(30);
      if (data.content.symbol === 'BTCUSDT') {
        expect(data.content.price).toBeGreaterThan(50_000);
        expect(data.content.price).toBeLessThan(115_000);
      }
      // One signal per crossing: a symbol's signals alternate buy, sell, buy, ...
      expect(lastType.get(data.content.symbol)).not.toBe(data.type);
      lastType.set(data.content.symbol, data.type);
    }
    expect(running.errors).toEqual([]);
    expect(running.polls.some((p) => p.result === 'changed')).toBe(true);
  });

  it('stops promptly on abort', async () => {
    const running = await runWithEnv(createCryptoSignalsSource(), { CRYPTO_SIGNALS_SIM_BAR_MS: '60000' });
    await expect.poll(() => running.polls.length, { timeout: 5_000, interval: 10 }).toBeGreaterThanOrEqual(5);
    expect(await running.stop()).toBeLessThan(1_000);
  });
});

describe('crypto-signals configuration', () => {
  const load = (env: Record<string, string>) => loadConfig(env, { cryptoSignals: cryptoSignalsConfig }).cryptoSignals;

  it('defaults to the simulated market, five pairs and SMA 5/20', () => {
    expect(load({})).toMatchObject({
      mode: 'simulated',
      exchange: 'bybit',
      marketType: 'spot',
      symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT', 'XRPUSDT'],
      fast: 5,
      slow: 20,
      pollMs: 10_000,
      simBarMs: 5_000,
      signalHistory: { size: 1_000, maxAgeMs: 86_400_000 },
    });
    expect(cryptoSignalsSource.name).toBe('crypto-signals');
    expect(cryptoSignalsSource.topics.map((topic) => topic.pattern)).toEqual(['signals']);
  });

  it('normalises the symbol list and reads every variable', () => {
    const config = load({
      CRYPTO_SIGNALS_MODE: 'ccxt',
      CRYPTO_SIGNALS_EXCHANGE: 'binance',
      CRYPTO_SIGNALS_MARKET_TYPE: 'linear',
      CRYPTO_SIGNALS_SYMBOLS: 'btcusdt, ETHUSDT,,BTCUSDT',
      CRYPTO_SIGNALS_FAST: '9',
      CRYPTO_SIGNALS_SLOW: '21',
      CRYPTO_SIGNALS_POLL_MS: '2500',
      SIGNAL_HISTORY_SIZE: '50',
    });
    expect(config).toMatchObject({ mode: 'ccxt', exchange: 'binance', marketType: 'linear', symbols: ['BTCUSDT', 'ETHUSDT'], fast: 9, slow: 21, pollMs: 2_500, signalHistory: { size: 50 } });
  });

  it('fails at startup, by variable, when fast is not smaller than slow or a value is malformed', () => {
    expect(() => load({ CRYPTO_SIGNALS_FAST: '20', CRYPTO_SIGNALS_SLOW: '20' })).toThrow(/CRYPTO_SIGNALS_FAST: expected CRYPTO_SIGNALS_FAST smaller than CRYPTO_SIGNALS_SLOW \(20\)/);
    let caught: unknown;
    try {
      load({ CRYPTO_SIGNALS_MODE: 'live', CRYPTO_SIGNALS_MARKET_TYPE: 'inverse', CRYPTO_SIGNALS_SYMBOLS: 'BTC/USDT', CRYPTO_SIGNALS_POLL_MS: '5' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
      'CRYPTO_SIGNALS_MARKET_TYPE',
      'CRYPTO_SIGNALS_MODE',
      'CRYPTO_SIGNALS_POLL_MS',
      'CRYPTO_SIGNALS_SYMBOLS',
    ]);
  });
});
