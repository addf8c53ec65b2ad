import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '@gw/config';
import { createCryptoSignalsSource } from './index.js';
import { garbageAnswer, rateLimitAnswer, serverErrorAnswer, startFakeBybit } from './testing/fake-bybit.js';
import type { FakeBybit, FakeBybitOptions } from './testing/fake-bybit.js';
import { runWithEnv } from './testing/harness.js';
import type { RunningSource } from './testing/harness.js';
import { expectedCrossings, upThenDown } from './testing/series.js';

/**
 * mode=ccxt end to end: ccxt's real `bybit` class (no mocks) against the local fake Bybit v5 server, the
 * memory bus, and the source's own configuration parsing. Everything stays on 127.0.0.1.
 */

const KLINE = '/v5/market/kline';
const INSTRUMENTS = '/v5/market/instruments-info';

const baseEnv: Env = {
  CRYPTO_SIGNALS_MODE: 'ccxt',
  CRYPTO_SIGNALS_SYMBOLS: 'BTCUSDT',
  CRYPTO_SIGNALS_POLL_MS: '100',
  CRYPTO_SIGNALS_BACKOFF_MS: '50',
  CRYPTO_SIGNALS_BACKOFF_MAX_MS: '1000',
};

let server: FakeBybit | undefined;
let running: RunningSource | undefined;

afterEach(async () => {
  await running?.stop();
  await server?.close();
  running = undefined;
  server = undefined;
});

/** The fake serving the crafted series for BTCUSDT: 30 bars at first, then 3 more per kline answer. */
async function start(env: Env = {}, fake: Partial<FakeBybitOptions> = {}): Promise<{ server: FakeBybit; running: RunningSource }> {
  server = await startFakeBybit({ series: { BTCUSDT: upThenDown() }, initialBars: 30, barsPerRequest: 3, ...fake });
  running = await runWithEnv(createCryptoSignalsSource({ apiBaseUrl: server.url }), { ...baseEnv, ...env });
  return { server, running };
}

/** The signals the crafted series must produce, as the bus carries them. */
function expectedSignals(fake: FakeBybit, symbol = 'BTCUSDT'): unknown[] {
  return expectedCrossings.map(({ type, bar, close }) => ({
    type,
    content: { symbol, price: close, timestamp: (fake.barTime(bar) + 60_000) / 1000 },
    source: 'crypto-signals',
  }));
}

const wait = { timeout: 10_000, interval: 20 };

describe('crypto-signals over ccxt bybit (fake exchange on 127.0.0.1)', () => {
  it('publishes exactly the buy then the sell the served klines imply, and nothing for the forming bar', async () => {
    const { server: fake, running: source } = await start();
    await expect.poll(() => source.signals.length, wait).toBe(2);
    // The market keeps answering the full series (and its absurd forming bar): no further signal.
    const seen = fake.requestsTo(KLINE).length;
    await expect.poll(() => fake.requestsTo(KLINE).length, wait).toBeGreaterThanOrEqual(seen + 3);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    expect(source.signals.every((m) => m.topic === 'signals' && typeof m.id === 'string')).toBe(true);

    // loadMarkets once, public endpoints only, and the kline query ccxt builds for BTC/USDT spot.
    expect(new Set(fake.requests.map((r) => r.path))).toEqual(new Set([INSTRUMENTS, KLINE]));
    expect(fake.requestsTo(INSTRUMENTS).map((r) => r.query)).toEqual([{ category: 'spot' }]);
    for (const request of fake.requestsTo(KLINE)) {
      expect(request.query).toEqual({ category: 'spot', symbol: 'BTCUSDT', interval: '1', limit: '80' });
    }
    expect(source.errors).toEqual([]);
    expect(source.polls.filter((p) => p.result === 'changed').length).toBeGreaterThanOrEqual(3);
    expect(source.polls.every((p) => p.source === 'crypto-signals' && p.result !== 'error' && p.seconds >= 0)).toBe(true);
  });

  it('maps BTCUSDT to the linear perpetual BTC/USDT:USDT with CRYPTO_SIGNALS_MARKET_TYPE=linear', async () => {
    const { server: fake, running: source } = await start({ CRYPTO_SIGNALS_MARKET_TYPE: 'linear' });
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    expect(fake.requestsTo(INSTRUMENTS).map((r) => r.query)).toEqual(
      expect.arrayContaining([
        { category: 'linear', limit: '1000' },
        { category: 'linear', limit: '1000', status: 'PreLaunch' },
      ]),
    );
    expect(fake.requestsTo(INSTRUMENTS)).toHaveLength(2);
    expect(fake.requestsTo(KLINE)[0]?.query).toMatchObject({ category: 'linear', symbol: 'BTCUSDT', interval: '1' });
  });

  it('backs off exponentially on a rate-limit answer (429, retCode 10006), then recovers', async () => {
    const { server: fake, running: source } = await start(
      {},
      { intercept: (request, index) => (request.path === KLINE && index < 3 ? rateLimitAnswer() : undefined) },
    );
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    expect(source.errors.map((e) => e.kind)).toEqual(['rate_limit', 'rate_limit', 'rate_limit']);
    expect(source.polls.filter((p) => p.result === 'error')).toHaveLength(3);
    const at = fake.requestsTo(KLINE).map((r) => r.at);
    // Delays are 50, 100, 200 ms with half jitter: the third wait is at least 100 ms, all three 350 ms at most.
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(95);
    expect(at[3]! - at[0]!).toBeLessThan(3_000);
  });

  it('counts a 500 outage page and a 200 garbage body as errors, keeps running, then publishes', async () => {
    const answers = [serverErrorAnswer(), serverErrorAnswer(), garbageAnswer(), garbageAnswer()];
    const { server: fake, running: source } = await start(
      {},
      { intercept: (request, index) => (request.path === KLINE ? answers[index] : undefined) },
    );
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    expect(source.errors.map((e) => e.kind)).toEqual(['network', 'network', 'invalid_data', 'invalid_data']);
    expect(source.polls.filter((p) => p.result === 'error')).toHaveLength(4);
  });

  it('drops unknown symbols (not listed; refused by the exchange) without stopping the others', async () => {
    const { server: fake, running: source } = await start(
      { CRYPTO_SIGNALS_SYMBOLS: 'FOOUSDT,BTCUSDT,DOGEUSDT' },
      { listed: ['BTCUSDT', 'DOGEUSDT'] },
    );
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    // FOOUSDT is not in instruments-info: ccxt never asks for it. DOGEUSDT is listed but the kline answer is
    // retCode 10001 "Not supported symbols" (ccxt BadSymbol): asked once, then left out.
    const klineSymbols = fake.requestsTo(KLINE).map((r) => r.query['symbol']);
    expect(klineSymbols.filter((s) => s === 'FOOUSDT')).toHaveLength(0);
    expect(klineSymbols.filter((s) => s === 'DOGEUSDT')).toHaveLength(1);
    expect(source.errors.map((e) => e.kind)).toEqual(['invalid_data', 'invalid_data']);
  });

  it('retries loadMarkets after it failed (ccxt caches the rejection) and then works', async () => {
    const { server: fake, running: source } = await start(
      {},
      { intercept: (request, index) => (request.path === INSTRUMENTS && index === 0 ? serverErrorAnswer() : undefined) },
    );
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(fake.requestsTo(INSTRUMENTS)).toHaveLength(2);
    expect(source.errors.map((e) => e.kind)).toEqual(['network']);
  });

  it('publishes a signal the bus refused on a later poll, exactly once', async () => {
    server = await startFakeBybit({ series: { BTCUSDT: upThenDown() }, initialBars: 30, barsPerRequest: 3 });
    const fake = server;
    running = await runWithEnv(createCryptoSignalsSource({ apiBaseUrl: fake.url }), baseEnv, { failAppends: 2 });
    const source = running;
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    expect(source.errors.map((e) => e.kind)).toEqual(['internal', 'internal']);
  });

  it('stops promptly on abort while a request hangs', async () => {
    const { server: fake, running: source } = await start(
      {},
      { intercept: (request, index) => (request.path === KLINE && index >= 1 ? { ...rateLimitAnswer(), delayMs: 10_000 } : undefined) },
    );
    await expect.poll(() => fake.requestsTo(KLINE).length, wait).toBe(2);
    const took = await source.stop();
    running = undefined;
    // The hung request would take 10 s; run returns without waiting for it.
    expect(took).toBeLessThan(1_000);
    await expect(source.done).resolves.toBeUndefined();
    expect(source.errors).toEqual([]);
  });

  it('keeps one exchange per source across runs: markets are loaded once', async () => {
    server = await startFakeBybit({ series: { BTCUSDT: upThenDown() }, initialBars: 30 });
    const fake = server;
    const source = createCryptoSignalsSource({ apiBaseUrl: fake.url });
    for (let round = 1; round <= 2; round += 1) {
      const before = fake.requestsTo(KLINE).length;
      running = await runWithEnv(source, baseEnv);
      await expect.poll(() => fake.requestsTo(KLINE).length, wait).toBeGreaterThan(before);
      await running.stop();
      running = undefined;
    }
    expect(fake.requestsTo(INSTRUMENTS)).toHaveLength(1);
  });
});
