import { afterEach, describe, expect, it } from 'vitest';
import { TestRedisServer, startTestSource, stopTestSources } from '@gw/source-testing';
import { createMemoryBus } from '@gw/bus-memory';
import type { Bus } from '@gw/bus';
import { buyListSchema, signalsTopic, stockTopics } from '@gw/topics';
import type { BuyList, Signal, StockBar, StockBars, StockUniverse } from '@gw/topics';
import { VOLUME_WAVE_STRATEGY, volumeWaveSource } from './source.js';

const MINUTE = 60_000;
const T0 = Date.parse('2025-11-24T09:30:00+08:00');
function bar(i: number, close: number, volume: number): StockBar {
  return { t: T0 + i * MINUTE, time: '', open: close, high: close + 0.05, low: close - 0.05, close, volume };
}

function calmBars(n: number): StockBar[] {
  return Array.from({ length: n }, (_, i) => bar(i, 10 + (i % 2) * 0.01, 1_000));
}

function start(bus: Bus): void {
  startTestSource(
    volumeWaveSource,
    { VOLUME_WAVE_LOOKBACK: '5', VOLUME_WAVE_MULTIPLE: '2', VOLUME_WAVE_HOLD_BARS: '3', VOLUME_WAVE_PUBLISH_DELAY_MS: '10' },
    bus,
  );
}

afterEach(stopTestSources);

describe('volume-wave source', () => {
  it('loads history from the bus, publishes the buy list and appends buy/sell signals', async () => {
    const bus = createMemoryBus();
    const window = (code: string, bars: StockBar[]): StockBars => ({ code, name: code === '600519' ? '贵州茅台' : '平安银行', market: code === '600519' ? 'SH' : 'SZ', interval_ms: MINUTE, bars });
    // History already on the bus before the strategy starts: one stock is in a wave at its last bar.
    const universe: StockUniverse = { source: 'test', stocks: [{ code: '600519', name: '贵州茅台', market: 'SH' }, { code: '000001', name: '平安银行', market: 'SZ' }], updated_ms: T0 };
    await bus.publishLatest(stockTopics.bars('600519'), window('600519', [...calmBars(10), bar(10, 10.3, 5_000)]));
    await bus.publishLatest(stockTopics.bars('000001'), window('000001', calmBars(11)));
    await bus.publishLatest(stockTopics.universe, universe);
    const signals: Signal[] = [];
    await bus.subscribe<Signal>(signalsTopic, (m) => signals.push(m.data));

    start(bus);
    const listOf = async (): Promise<string[]> => {
      const latest = await bus.latest<BuyList>(stockTopics.buyList(VOLUME_WAVE_STRATEGY));
      return latest === undefined ? ['(none)'] : buyListSchema.parse(latest.data).stocks.map((s) => s.code);
    };
    await expect.poll(listOf).toEqual(['600519']);
    expect(signals).toEqual([]); // history is not re-announced

    // Live: 000001 spikes on a rising close → buy; 600519 expires → sell.
    await bus.publishLatest(stockTopics.bars('000001'), window('000001', [...calmBars(11), bar(11, 10.4, 4_000)]));
    await expect.poll(listOf).toEqual(['000001', '600519']);
    await bus.publishLatest(stockTopics.bars('600519'), window('600519', [...calmBars(10), bar(10, 10.3, 5_000), bar(11, 10.31, 900), bar(12, 10.32, 900), bar(13, 10.33, 900)]));
    await expect.poll(listOf).toEqual(['000001']);
    expect(signals).toEqual([
      { type: 'buy', content: { symbol: '000001', price: 10.4, timestamp: expect.any(Number) as number }, source: 'volume_wave' },
      { type: 'sell', content: { symbol: '600519', price: 10.33, timestamp: expect.any(Number) as number }, source: 'volume_wave' },
    ]);
    const history = await bus.readSince<Signal>(signalsTopic, `${(await bus.position(signalsTopic))!.split(':')[0]!}:0`);
    expect(history.messages).toHaveLength(2);
  });
});

describe('volume-wave source on Redis', () => {
  let redis: TestRedisServer | undefined;
  afterEach(async () => {
    await stopTestSources();
    await redis?.stop();
    redis = undefined;
  });

  it('publishes its buy list again at once when Redis comes back empty, although nothing changed', async () => {
    const server = (redis = await TestRedisServer.start());
    const bus = await server.bus();
    const universe: StockUniverse = { source: 'test', stocks: [{ code: '600519', name: '贵州茅台', market: 'SH' }], updated_ms: T0 };
    await bus.publishLatest(stockTopics.bars('600519'), { code: '600519', name: '贵州茅台', market: 'SH', interval_ms: MINUTE, bars: [...calmBars(10), bar(10, 10.3, 5_000)] });
    await bus.publishLatest(stockTopics.universe, universe);
    start(bus);
    const buyList = stockTopics.buyList(VOLUME_WAVE_STRATEGY);
    const codes = async (): Promise<string[] | undefined> => {
      const [list] = await server.latest([buyList]);
      return list === undefined ? undefined : buyListSchema.parse(list).stocks.map((s) => s.code);
    };
    await expect.poll(codes).toEqual(['600519']);

    // No bar arrives afterwards: only the bus coming back can explain a new publication.
    await server.restart();
    const restartedAt = Date.now();
    await expect.poll(codes, { timeout: 5_000, interval: 20 }).toEqual(['600519']);
    expect(Date.now() - restartedAt).toBeLessThan(5_000);
  });
});
