import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createStockAdapter, stockAdapterConfig, subscribedFrameSchema } from '@gw/adapter-stock';
import type { Bus } from '@gw/bus';
import { MemoryHub, createMemoryBus } from '@gw/bus-memory';
import { createRedisBus, createRedisClients } from '@gw/bus-redis';
import { defineConfigSection, loadConfig } from '@gw/config';
import { createLogger, sleep } from '@gw/core';
import { createPromMetrics, renderMetrics } from '@gw/metrics';
import { runSource } from '@gw/source';
import type { DataSource } from '@gw/source';
import { listedStocks } from '@gw/source-stock-market';
import { formatShanghaiTime, quoteTopicDeclarations, stockTopics, strategyTopicDeclaration } from '@gw/topics';
import type { BuyList, StockQuote, StockUniverse } from '@gw/topics';
import { Registry } from 'prom-client';
import { startTestGateway } from '../../testing/gateway.js';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import { ADMIN_TOKEN, busVariants, stockClient } from './harness.js';
import type { StockClient } from './harness.js';

const emptyConfig = defineConfigSection({ name: 'golden-cross', schema: z.object({}), env: {} });
const moutai = listedStocks().find((s) => s.code === '600519')!;

/**
 * A strategy the gateway was never configured with, plus the one stock it quotes: what a data team's new
 * package does. It runs in its own "worker" (its own bus node), so the gateway learns of it only from the
 * announcement on the bus.
 */
const goldenCross: DataSource<typeof emptyConfig> = {
  name: 'golden-cross',
  description: 'quotes 600519 and lists it as a buy',
  config: emptyConfig,
  topics: [...quoteTopicDeclarations.filter((t) => t.kind === 'quotes'), strategyTopicDeclaration('golden_cross')],
  async run({ bus }, signal) {
    for (let price = 1_500; !signal.aborted; price += 0.01) {
      const now = Date.now();
      const info = { code: moutai.code, name: moutai.name, market: moutai.market };
      const quote: StockQuote = {
        ...info,
        price: Math.round(price * 100) / 100,
        prev_close: moutai.prevClose,
        open: moutai.prevClose,
        high: price,
        low: moutai.prevClose,
        change: 0,
        change_percent: 0,
        volume: 100,
        amount: 100 * price,
        timestamp: formatShanghaiTime(now),
        ts: now,
      };
      const list: BuyList = {
        strategy: 'golden_cross',
        updated_ms: now,
        stocks: [{ ...info, signal_ms: now, signal_time: formatShanghaiTime(now), signal_price: price, volume_ratio: 2 }],
      };
      const universe: StockUniverse = { source: 'golden-cross', stocks: [info], updated_ms: now };
      await Promise.all([
        bus.publishLatest(stockTopics.universe, universe),
        bus.publishLatest(stockTopics.quote(moutai.code), quote),
        bus.publishLatest(stockTopics.buyList('golden_cross'), list),
      ]).catch(() => undefined);
      await sleep(100, signal).catch(() => undefined);
    }
  },
};

describe.each(busVariants)('stock targets served by what sources announce, on the $name', ({ name, env }) => {
  let gateway: TestGateway;
  let hub: MemoryHub | undefined;
  const clients: StockClient[] = [];

  /** A second process on the same bus, as `pnpm worker --source golden-cross` would be. */
  function workerBus(): Bus {
    if (hub !== undefined) {
      return createMemoryBus({ nodeId: 'worker-1', hub });
    }
    return createRedisBus({ ...createRedisClients(env['REDIS_URL']!), prefix: env['REDIS_KEY_PREFIX']! });
  }

  beforeAll(async () => {
    // STOCK_STRATEGIES at its default (volume_wave, the legacy strategy): any other strategy must be announced.
    const fullEnv = { ADMIN_TOKEN, STOCK_PUSH_INTERVAL_MS: '100', ...env };
    const { stock } = loadConfig(fullEnv, { stock: stockAdapterConfig });
    hub = name === 'memory bus' ? new MemoryHub() : undefined;
    gateway = await startTestGateway({
      env: fullEnv,
      adapters: [createStockAdapter(stock)],
      ...(hub === undefined ? {} : { bus: createMemoryBus({ nodeId: 'gateway-1', hub }) }),
    });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  async function open(): Promise<StockClient> {
    const client = await stockClient(gateway);
    clients.push(client);
    await client.nextOfType('connected');
    return client;
  }

  it('warns while nothing serves a target, serves a new strategy from a worker once announced, and forgets it when it stops', async () => {
    const client = await open();
    // Nothing runs: the strategy is unknown; a stock or market is accepted, with the reason nothing will arrive.
    expect(await client.subscribe('strategy', 'golden_cross')).toMatchObject({ type: 'error', error: 'unknown_strategy' });
    expect(await client.subscribe('stock', '600519')).toMatchObject({
      type: 'subscribed',
      target: '600519',
      warning: { code: 'no_source', message: 'no running source publishes stock prices: prices of 600519 arrive once one starts' },
    });
    const market = await client.subscribe('market', 'sh');
    expect(market).toMatchObject({ type: 'subscribed', target: 'SH', warning: { code: 'no_source' } });
    // The warning is part of the declared frame (the AsyncAPI document and the SDK's types follow the schema).
    expect(subscribedFrameSchema.strict().safeParse(market).success).toBe(true);
    expect(await client.subscribe('strategy', 'volume_wave')).toMatchObject({
      type: 'subscribed',
      target: 'volume_wave',
      warning: { code: 'no_source', message: 'no running source publishes strategy volume_wave: its buy list arrives once one starts' },
    });
    const metrics = await httpGet(`${gateway.httpUrl}/metrics`);
    expect(metrics.body).toMatch(/gateway_client_errors_total\{protocol="stock",code="no_source"[^}]*\} 3\n/);

    const bus = workerBus();
    const abort = new AbortController();
    const workerMetrics = createPromMetrics({ registry: new Registry(), collectDefaultMetrics: false });
    const running = runSource(goldenCross, {}, { bus, logger: createLogger({ level: 'silent' }), metrics: workerMetrics }, abort.signal);
    try {
      // The gateway learns of the strategy from the announcement: no configuration, no adapter change.
      await expect
        .poll(async () => (await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=golden_cross`)).status, { timeout: 10_000 })
        .toBe(200);
      const subscribed = await client.subscribe('strategy', 'golden_cross');
      expect(subscribed).toEqual({ type: 'subscribed', subscription_type: 'strategy', target: 'golden_cross', message: '订阅成功', timestamp: expect.any(String) as string });
      const update = await client.next((f) => f.type === 'price_update', 10_000);
      expect(update['data']).toEqual([expect.objectContaining({ code: '600519', name: moutai.name })]);
      expect(await client.subscribe('stock', '600036')).toMatchObject({ type: 'error', error: 'unknown_stock' });
    } finally {
      abort.abort();
      await running;
      await bus.close();
    }
    // Its announcement is withdrawn with it: the strategy is unknown again, stock prices have no source.
    const later = await open();
    await expect
      .poll(async () => (await later.subscribe('strategy', 'golden_cross'))['error'], { timeout: 10_000, interval: 200 })
      .toBe('unknown_strategy');
    expect(await later.subscribe('stock', '600519')).toMatchObject({ type: 'subscribed', warning: { code: 'no_source' } });
    expect((await renderMetrics(workerMetrics)).body).not.toMatch(/gateway_source_errors_total\{source="golden-cross"/);
  });
});
