import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus } from '@gw/bus-memory';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import { TestRedisServer, startTestSource, stopTestSources } from '@gw/source-testing';
import type { Bus } from '@gw/bus';
import { stockBarsSchema, stockQuoteSchema, stockTopics, stockUniverseSchema } from '@gw/topics';
import type { StockBars, StockQuote } from '@gw/topics';
import { replayConfig } from './config.js';
import { replaySource } from './source.js';

function start(env: Record<string, string>): Bus {
  return startTestSource(replaySource, env);
}

afterEach(stopTestSources);

function recording(lines: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-replay-'));
  const file = join(dir, 'ticks.csv');
  writeFileSync(file, ['timestamp,code,price,prev_close,volume', ...lines].join('\n'));
  return file;
}

describe('replay source', () => {
  it('plays ticks at the accelerated pace as the same quotes and bars the market publishes', async () => {
    // 3 minutes of recorded time; at 600× the pass takes 300 ms.
    const file = recording([
      '2025-11-24T09:30:00,600519,1826.00,1825.20,100',
      '2025-11-24T09:30:30,600519,1830.50,1825.20,400',
      '2025-11-24T09:31:10,600519,1828.00,1825.20,900',
      '2025-11-24T09:31:20,000001,11.60,11.52,5000',
      '2025-11-24T09:32:40,600519,1840.00,1825.20,1000',
      '2025-11-24T09:32:50,000001,11.40,11.52,9000',
    ]);
    const bus = start({ REPLAY_FILE: file, REPLAY_SPEED: '600', REPLAY_LOOP: 'false' });
    const quotes: StockQuote[] = [];
    const bars: StockBars[] = [];
    await bus.subscribe<StockQuote>(stockTopics.quotePattern, (m) => quotes.push(m.data));
    await bus.subscribe<StockBars>(stockTopics.barsPattern, (m) => bars.push(m.data));
    const startedAt = Date.now();
    await expect.poll(() => quotes.length, { timeout: 15_000 }).toBe(6);
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(2_000);

    const universe = stockUniverseSchema.parse((await bus.latest(stockTopics.universe))?.data);
    expect(universe).toMatchObject({ source: 'replay', stocks: [{ code: '600519', name: '贵州茅台', market: 'SH' }, { code: '000001', name: '平安银行', market: 'SZ' }] });
    expect(quotes.map((q) => [q.code, q.price, q.volume])).toEqual([
      ['600519', 1826, 100],
      ['600519', 1830.5, 400],
      ['600519', 1828, 900],
      ['000001', 11.6, 5000],
      ['600519', 1840, 1000],
      ['000001', 11.4, 9000],
    ]);
    const last = stockQuoteSchema.parse(quotes.at(-1));
    expect(last).toMatchObject({ change: -0.12, change_percent: -1.04, prev_close: 11.52, timestamp: '2025-11-24T09:32:50', high: 11.6, low: 11.4, open: 11.6 });

    await expect.poll(async () => (await bus.latest<StockBars>(stockTopics.bars('600519')))?.data.bars.length, { timeout: 15_000 }).toBe(3);
    const moutai = stockBarsSchema.parse((await bus.latest(stockTopics.bars('600519')))?.data);
    expect(moutai.bars.map((b) => [b.time, b.open, b.high, b.low, b.close, b.volume])).toEqual([
      ['2025-11-24T09:30:00', 1826, 1830.5, 1826, 1830.5, 400],
      ['2025-11-24T09:31:00', 1828, 1828, 1828, 1828, 500],
      ['2025-11-24T09:32:00', 1840, 1840, 1840, 1840, 100],
    ]);
  });

  it('loops with the timeline moving on, so bars keep completing', async () => {
    const file = recording(['2025-11-24T09:30:00,600519,1826.00,1825.20,100', '2025-11-24T09:30:50,600519,1827.00,1825.20,200']);
    const bus = start({ REPLAY_FILE: file, REPLAY_SPEED: '1000' });
    const times: string[] = [];
    await bus.subscribe<StockQuote>(stockTopics.quotePattern, (m) => times.push(m.data.timestamp));
    await expect.poll(() => times.length, { timeout: 15_000 }).toBeGreaterThanOrEqual(6);
    expect(times.slice(0, 4)).toEqual(['2025-11-24T09:30:00', '2025-11-24T09:30:50', '2025-11-24T09:31:50', '2025-11-24T09:32:40']);
    await expect.poll(async () => (await bus.latest<StockBars>(stockTopics.bars('600519')))?.data.bars.length ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('refuses a broken recording with the line that is wrong', async () => {
    const file = recording(['2025-11-24T09:30:00,600519,oops,1825.20,100']);
    const bus = createMemoryBus();
    const { replay } = loadConfig({ REPLAY_FILE: file }, { replay: replayConfig });
    await expect(replaySource.run({ config: replay, bus, logger: createLogger({ level: 'silent' }), metrics: noopMetrics }, new AbortController().signal)).rejects.toThrow(/line 2/);
    await bus.close();
  });
});

describe('replay source on Redis', () => {
  let redis: TestRedisServer | undefined;
  afterEach(async () => {
    await stopTestSources();
    await redis?.stop();
    redis = undefined;
  });

  it('publishes the universe and every last quote and bars again at once when Redis comes back empty', async () => {
    const server = (redis = await TestRedisServer.start());
    const file = recording(['2025-11-24T09:30:00,600519,1826.00,1825.20,100', '2025-11-24T09:31:10,600519,1828.00,1825.20,900', '2025-11-24T09:31:20,000001,11.60,11.52,5000']);
    // Played once, fast: the replay is finished (publishes nothing more) when Redis restarts.
    startTestSource(replaySource, { REPLAY_FILE: file, REPLAY_SPEED: '1000', REPLAY_LOOP: 'false' }, await server.bus());
    const topics = [stockTopics.universe, stockTopics.quote('600519'), stockTopics.quote('000001'), stockTopics.bars('600519'), stockTopics.bars('000001')];
    await expect.poll(() => server.latest(topics)).not.toContain(undefined);
    await expect.poll(async () => stockQuoteSchema.parse((await server.latest([stockTopics.quote('600519')]))[0]).price).toBe(1828);
    const before = await server.latest(topics);

    await server.restart();
    const restartedAt = Date.now();
    await expect.poll(() => server.latest(topics), { timeout: 5_000, interval: 20 }).not.toContain(undefined);
    expect(Date.now() - restartedAt).toBeLessThan(5_000);
    expect(await server.latest(topics)).toEqual(before);
  });
});
