import { afterEach, describe, expect, it } from 'vitest';
import type { Env } from '@gw/config';
import { startFakeBybitSocket } from '@gw/source-trading/testing';
import type { FakeBybitSocket } from '@gw/source-trading/testing';
import { createCryptoSignalsSource } from './index.js';
import { startFakeBybit } from './testing/fake-bybit.js';
import type { FakeBybit, FakeBybitOptions } from './testing/fake-bybit.js';
import { runWithEnv } from './testing/harness.js';
import type { RunningSource } from './testing/harness.js';
import { expectedCrossings, upThenDown } from './testing/series.js';

/**
 * mode=ccxt with the exchange's public kline stream: ccxt's real `pro.bybit` (watchOHLCV) against the fake
 * Bybit v5 public WebSocket (`/v5/public/spot`, topic `kline.1.BTCUSDT`), with REST from the fake v5 server.
 */

const KLINE = '/v5/market/kline';
const SPOT = '/v5/public/spot';
const TOPIC = 'kline.1.BTCUSDT';

const streamEnv: Env = {
  CRYPTO_SIGNALS_MODE: 'ccxt',
  CRYPTO_SIGNALS_SYMBOLS: 'BTCUSDT',
  // An hour between polls: whatever is signalled within a test came from the stream or its snapshot.
  CRYPTO_SIGNALS_POLL_MS: '3600000',
  CRYPTO_SIGNALS_BACKOFF_MS: '50',
  CRYPTO_SIGNALS_BACKOFF_MAX_MS: '400',
};

let rest: FakeBybit | undefined;
let socket: FakeBybitSocket | undefined;
let running: RunningSource | undefined;

afterEach(async () => {
  await running?.stop();
  await socket?.close();
  await rest?.close();
  running = undefined;
  socket = undefined;
  rest = undefined;
});

async function start(fake: Partial<FakeBybitOptions>, env: Env = {}): Promise<{ rest: FakeBybit; socket: FakeBybitSocket; source: RunningSource }> {
  rest = await startFakeBybit({ series: { BTCUSDT: upThenDown() }, initialBars: 30, barsPerRequest: 0, ...fake });
  socket = await startFakeBybitSocket({ secretOf: () => undefined });
  running = await runWithEnv(createCryptoSignalsSource({ apiBaseUrl: rest.url, streamBaseUrl: socket.url }), { ...streamEnv, ...env });
  return { rest, socket, source: running };
}

/** Bybit's v5 kline push for bar `index` of the fake's series (`confirm`: the bar's last tick). */
function klinePush(fake: FakeBybit, index: number, close: number, confirm: boolean): unknown {
  const start = fake.barTime(index);
  const at = start + (confirm ? 59_999 : 30_000);
  const row = {
    start,
    end: start + 59_999,
    interval: '1',
    open: String(close),
    close: String(close),
    high: String(close + 5),
    low: String(close - 5),
    volume: '12.5',
    turnover: String(12.5 * close),
    confirm,
    timestamp: at,
  };
  return { topic: TOPIC, data: [row], ts: at, type: 'snapshot' };
}

function expectedSignals(fake: FakeBybit): unknown[] {
  return expectedCrossings.map(({ type, bar, close }) => ({
    type,
    content: { symbol: 'BTCUSDT', price: close, timestamp: (fake.barTime(bar) + 60_000) / 1000 },
    source: 'crypto-signals',
  }));
}

const wait = { timeout: 10_000, interval: 20 };

describe('crypto-signals from the exchange kline stream (fake Bybit v5 public WebSocket)', () => {
  it('signals a crossover when the exchange confirms its bar closed, never on a forming bar, without polling', async () => {
    const { rest: fake, socket: ws, source } = await start({});
    await expect.poll(() => ws.subscribers(SPOT, TOPIC), wait).toBe(1);
    // The first push shows the subscription works: then the REST snapshot, then pushes only.
    ws.publish(SPOT, TOPIC, klinePush(fake, 30, upThenDown()[30]! * 3, false));
    await expect.poll(() => source.modes.get('stream'), wait).toBe(1);
    const snapshots = fake.requestsTo(KLINE).length;
    expect(snapshots).toBe(1);

    const closes = upThenDown();
    for (let index = 30; index < closes.length; index += 1) {
      const close = closes[index]!;
      // Forming ticks with a close no crossing could survive: only the confirmed close may count.
      ws.publish(SPOT, TOPIC, klinePush(fake, index, close * 3, false));
      ws.publish(SPOT, TOPIC, klinePush(fake, index, close, true));
      const crossing = expectedCrossings.findIndex((c) => c.bar === index);
      if (crossing >= 0) {
        // Signalled at the bar's close: before the next bar was pushed.
        await expect.poll(() => source.signals.length, wait).toBe(crossing + 1);
      }
    }
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    expect(fake.requestsTo(KLINE)).toHaveLength(snapshots);
    expect(source.eventLatencies).toHaveLength(2);
    expect(source.errors).toEqual([]);
  });

  it('reconnects a dropped stream, and its REST snapshot signals the crossings made while it was down', async () => {
    // The second REST answer shows the whole series: both crossings happened while the stream was away.
    const { rest: fake, socket: ws, source } = await start({ barsPerRequest: 30 });
    await expect.poll(() => ws.subscribers(SPOT, TOPIC), wait).toBe(1);
    ws.publish(SPOT, TOPIC, klinePush(fake, 30, upThenDown()[30]!, false));
    await expect.poll(() => source.modes.get('stream'), wait).toBe(1);
    expect(source.signals).toHaveLength(0);

    ws.drop();
    await expect.poll(() => ws.subscribers(SPOT, TOPIC), wait).toBe(1);
    ws.publish(SPOT, TOPIC, klinePush(fake, 59, upThenDown()[59]!, false));
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    await expect.poll(() => ws.subscribers(SPOT, TOPIC), wait).toBe(1);
    await expect.poll(() => source.reconnects.count, wait).toBe(1);
    expect(source.modes.get('stream')).toBe(1);
    expect(fake.requestsTo(KLINE)).toHaveLength(2);
    expect(source.errors.map((e) => e.kind)).toEqual(['network']);
  });

  it('polls while the stream cannot be used, and streams again once it can', async () => {
    socket = await startFakeBybitSocket({ secretOf: () => undefined });
    socket.refuseConnections(true);
    const ws = socket;
    rest = await startFakeBybit({ series: { BTCUSDT: upThenDown() }, initialBars: 30, barsPerRequest: 3 });
    const fake = rest;
    running = await runWithEnv(createCryptoSignalsSource({ apiBaseUrl: fake.url, streamBaseUrl: ws.url }), { ...streamEnv, CRYPTO_SIGNALS_POLL_MS: '100' });
    const source = running;
    await expect.poll(() => source.signals.length, wait).toBe(2);
    expect(source.signals.map((m) => m.data)).toEqual(expectedSignals(fake));
    expect(source.modes.get('poll')).toBe(1);
    expect(source.errors.length).toBeGreaterThanOrEqual(1);
    expect(source.errors.every((e) => e.kind === 'network')).toBe(true);

    ws.refuseConnections(false);
    await expect.poll(() => ws.subscribers(SPOT, TOPIC), wait).toBe(1);
    ws.publish(SPOT, TOPIC, klinePush(fake, 59, upThenDown()[59]!, false));
    await expect.poll(() => source.modes.get('stream'), wait).toBe(1);
  });
});
