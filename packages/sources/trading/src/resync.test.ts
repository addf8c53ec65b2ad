import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Bus } from '@gw/bus';
import { TestRedisServer } from '@gw/source-testing';
import { tradingStatusTopic, tradingTopic } from '@gw/topics';
import { loadCcxt } from './ccxt.js';
import { resyncDelayMs } from './poller.js';
import { runTradingSource, sampleAccount, startFakeBybit, startFakeBybitStream, writeAccountsFile } from './testing/index.js';
import type { FakeBybit, FakeBybitExchange, RunningTradingSource } from './testing/index.js';

// The trading source on a real Redis (a private redis-server), which is SIGKILLed and started again empty: when
// the bus comes back, every watched type is fetched and published at once, not at its next scheduled poll.

/** Polls far apart: a value that is back within seconds of the restart was fetched by the resync. */
const slowPolls = {
  TRADING_BALANCE_INTERVAL_MS: '60000',
  TRADING_POSITIONS_INTERVAL_MS: '60000',
  TRADING_PNL_INTERVAL_MS: '60000',
  TRADING_ORDERS_INTERVAL_MS: '60000',
  TRADING_STREAM_SAFETY_POLL_MS: '60000',
  TRADING_REQUEST_TIMEOUT_MS: '3000',
  TRADING_STREAM: 'off',
};

/** The bound the contract's "latest values resent when the bus returns" is held to here. */
const backWithin = { timeout: 5_000, interval: 20 };

let redis: TestRedisServer;
let fake: FakeBybit;
let running: RunningTradingSource | undefined;

beforeAll(async () => {
  fake = await startFakeBybit();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(async () => {
  redis = await TestRedisServer.start();
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
  await redis.stop();
});

function bybitAccount(apiKey: string): Record<string, unknown> {
  // The secret is also the fake stream's: a stream account authenticates with it.
  fake.setAccount(apiKey, { ...sampleAccount(), secret: `${apiKey}-secret` });
  return { exchange: 'bybit', apiKey, secret: `${apiKey}-secret`, baseUrl: fake.url };
}

/** The trading source as a worker on the Redis bus. */
async function startWorker(accounts: Record<string, unknown>, env: Record<string, string> = {}, bus?: Bus): Promise<RunningTradingSource> {
  running = await runTradingSource({ ...slowPolls, ACCOUNTS_FILE: writeAccountsFile(accounts), ...env }, bus ?? (await redis.bus({ nodeId: 'worker' })));
  return running;
}

/** A topic's stored latest value as another process reads it (undefined while that process is disconnected). */
async function stored(bus: Bus, topic: string): Promise<unknown> {
  try {
    return (await bus.latest(topic))?.data;
  } catch {
    return undefined;
  }
}

describe('trading source: the bus comes back (Redis restarted empty)', () => {
  it('fetches and publishes every watched type at once, not at its next poll 60 s later', async () => {
    const worker = await startWorker({ '41': bybitAccount('resync-key') });
    const gateway = await redis.bus({ nodeId: 'gateway' });
    const balance = tradingTopic('41', 'balance');
    const orders = tradingTopic('41', 'orders');
    // The interest is the worker's own (a source embedded in a gateway): its bus declares it again before it
    // reports `connected`, so the source's resync finds it still watched (no new watch to explain a fetch).
    await worker.bus.declareInterest(balance);
    await worker.bus.declareInterest(orders);
    await expect.poll(() => stored(gateway, balance)).toEqual({ total_balance: 10000, available_balance: 8000, used_margin: 2000 });
    await expect.poll(() => stored(gateway, orders)).toEqual([expect.objectContaining({ order_id: '123456' })]);
    const balanceBefore = await stored(gateway, balance);
    const ordersBefore = await stored(gateway, orders);
    const fetches = (): number => fake.requestsOf('resync-key').length;
    const fetchedBefore = fetches();

    await redis.restart();
    const restartedAt = Date.now();
    await expect.poll(() => stored(gateway, balance), backWithin).toEqual(balanceBefore);
    await expect.poll(() => stored(gateway, orders), backWithin).toEqual(ordersBefore);
    expect(Date.now() - restartedAt).toBeLessThan(5_000);
    // Fetched again from the exchange (not a value kept in memory), and published although unchanged.
    expect(fetches()).toBeGreaterThanOrEqual(fetchedBefore + 2);
    expect(worker.on(balance).length).toBeGreaterThanOrEqual(2);
    // Nothing went wrong with the account.
    expect(await stored(gateway, tradingStatusTopic('41'))).toBeUndefined();
    expect(await worker.metricsText()).not.toMatch(/gateway_source_errors_total\{source="trading"/);
  });

  it('does not back off an account whose publishes failed during the outage: its polls go on, the new value lands at once', async () => {
    const worker = await startWorker(
      { '42': bybitAccount('outage-key') },
      {
        TRADING_BALANCE_INTERVAL_MS: '200',
        // A backoff would hold the account for a minute: the test would see no further poll.
        TRADING_RETRY_MIN_MS: '60000',
        TRADING_RETRY_MAX_MS: '60000',
      },
    );
    const gateway = await redis.bus({ nodeId: 'gateway' });
    const balance = tradingTopic('42', 'balance');
    await gateway.declareInterest(balance);
    await expect.poll(() => stored(gateway, balance)).toMatchObject({ total_balance: 10000 });
    const polls = (): number => fake.requestsOf('outage-key', '/v5/account/wallet-balance').length;

    await redis.kill();
    // A change during the outage: every poll now tries to publish it, and fails with bus_unavailable.
    fake.account('outage-key').walletBalance = '10100.00';
    const downFrom = polls();
    await expect.poll(polls).toBeGreaterThanOrEqual(downFrom + 3);

    await redis.restart();
    await expect.poll(() => stored(gateway, balance), backWithin).toMatchObject({ total_balance: 10100 });
    const upFrom = polls();
    await expect.poll(polls, backWithin).toBeGreaterThanOrEqual(upFrom + 3);
    // Not the exchange's failure: no error of any kind counted, no error status.
    expect(await worker.metricsText()).not.toMatch(/gateway_source_errors_total\{source="trading"/);
    expect(worker.on(tradingStatusTopic('42'))).toEqual([]);
  });

  it('takes a REST snapshot of an account in stream mode', async () => {
    const exchange: FakeBybitExchange = await startFakeBybitStream(fake);
    try {
      const worker = await startWorker(
        { '43': { ...bybitAccount('streaming-key'), streamBaseUrl: exchange.streamUrl } },
        { TRADING_STREAM: 'on', TRADING_STREAM_LINGER_MS: '200' },
      );
      const gateway = await redis.bus({ nodeId: 'gateway' });
      const orders = tradingTopic('43', 'orders');
      // The worker's own interest, as in the first test: still watched when the source resyncs.
      await worker.bus.declareInterest(orders);
      await expect.poll(() => worker.metricsText()).toMatch(/gateway_source_mode_accounts\{source="trading",mode="stream"\} 1/);
      await expect.poll(() => stored(gateway, orders)).toEqual([expect.objectContaining({ order_id: '123456' })]);
      const ordersBefore = await stored(gateway, orders);
      const snapshots = (): number => fake.requestsOf('streaming-key', '/v5/order/realtime').length;
      // The snapshot taken when the stream went live has landed: nothing else asks before the restart.
      await expect.poll(snapshots).toBeGreaterThanOrEqual(1);
      const before = snapshots();

      await redis.restart();
      await expect.poll(() => stored(gateway, orders), backWithin).toEqual(ordersBefore);
      expect(snapshots()).toBeGreaterThanOrEqual(before + 1);
      expect(await worker.metricsText()).toMatch(/gateway_source_mode_accounts\{source="trading",mode="stream"\} 1/);
    } finally {
      await running?.stop();
      running = undefined;
      await exchange.close();
    }
  });

  it('spreads the fetches of many accounts over one interval, a few at a time, at start and when the bus comes back', async () => {
    // Six accounts, two at a time: three groups over the shortest interval (positions, 3 s, not watched here),
    // so 0 s, 1 s and 2 s. Balances are polled every minute: every request in this test is a resync's.
    const env = { TRADING_MAX_CONCURRENCY: '2', TRADING_POSITIONS_INTERVAL_MS: '3000' };
    const users = ['50', '51', '52', '53', '54', '55'];
    const accounts = Object.fromEntries(users.map((user) => [user, bybitAccount(`spread-${user}`)]));
    const gateway = await redis.bus({ nodeId: 'gateway' });
    for (const user of users) {
      await gateway.declareInterest(tradingTopic(user, 'balance'));
    }
    const firstAfter = (from: number): number[] =>
      users
        .map((user) => fake.requestsOf(`spread-${user}`, '/v5/account/wallet-balance').find((r) => r.at >= from)?.at)
        .filter((at) => at !== undefined)
        .sort((a, b) => a - b);
    const expectSpread = (from: number): void => {
      const times = firstAfter(from);
      expect(times).toHaveLength(6);
      // Timers never fire early (1 ms of rounding aside): the later groups wait their turn...
      expect(times.filter((at) => at < from + 995).length).toBeLessThanOrEqual(2);
      expect(times[2]).toBeGreaterThanOrEqual(from + 995);
      expect(times[4]).toBeGreaterThanOrEqual(from + 1_995);
      // ...and all are asked within the interval (with room for a slow machine).
      expect(times[5]! - from).toBeLessThan(3_000 + 2_000);
    };

    // At start: the interest was declared before the source started.
    const workerBus = await redis.bus({ nodeId: 'worker' });
    let returnedAt = 0;
    workerBus.onStateChange((state) => {
      if (state === 'connected') {
        returnedAt = Date.now();
      }
    });
    await loadCcxt();
    const startedAt = Date.now();
    await startWorker(accounts, env, workerBus);
    await expect.poll(() => firstAfter(startedAt).length).toBe(6);
    expectSpread(startedAt);
    for (const user of users) {
      await expect.poll(() => stored(gateway, tradingTopic(user, 'balance'))).toMatchObject({ total_balance: 10000 });
    }

    // When the bus comes back: this listener runs before the source's (registered first).
    await redis.restart();
    await expect.poll(() => returnedAt).toBeGreaterThan(startedAt);
    await expect.poll(() => firstAfter(returnedAt).length, backWithin).toBe(6);
    expectSpread(returnedAt);
    for (const user of users) {
      await expect.poll(() => stored(gateway, tradingTopic(user, 'balance')), backWithin).toMatchObject({ total_balance: 10000 });
    }
  });

  it('stops polling, some seconds after the bus came back, what nobody declared interest in again', async () => {
    const worker = await startWorker({ '44': bybitAccount('gone-key'), '45': bybitAccount('kept-key') }, { TRADING_BALANCE_INTERVAL_MS: '300' });
    const gateway = await redis.bus({ nodeId: 'gateway' });
    const balance = tradingTopic('44', 'balance');
    await gateway.declareInterest(balance);
    await expect.poll(() => stored(gateway, balance)).toMatchObject({ total_balance: 10000 });
    const gaugeOf = (): Promise<string> => worker.metricsText();

    // The gateway dies with Redis: its interest is gone with the data, and nobody declares it again.
    await redis.kill();
    await gateway.close();
    await redis.restart();
    const reader = await redis.bus({ nodeId: 'reader' });
    // Still polled (and so published again) at first: another process could be about to declare it again...
    await expect.poll(() => stored(reader, balance), backWithin).toMatchObject({ total_balance: 10000 });
    expect(await gaugeOf()).toMatch(/gateway_source_mode_accounts\{source="trading",mode="poll"\} 1\n/);
    // ...then dropped.
    await expect.poll(gaugeOf, { timeout: 15_000 }).toMatch(/gateway_source_mode_accounts\{source="trading",mode="poll"\} 0\n/);
    const polls = fake.requestsOf('gone-key').length;
    // A clock of polls: an account somebody does watch, on the same interval, is polled three times more
    // meanwhile (a request already in flight at the drop may still arrive: at most one).
    await reader.declareInterest(tradingTopic('45', 'balance'));
    const kept = fake.requestsOf('kept-key').length;
    await expect.poll(() => fake.requestsOf('kept-key').length, backWithin).toBeGreaterThanOrEqual(kept + 3);
    expect(fake.requestsOf('gone-key').length).toBeLessThanOrEqual(polls + 1);
  });
});

describe('resyncDelayMs', () => {
  const config = { maxConcurrency: 8, balanceIntervalMs: 10_000, positionsIntervalMs: 5_000, pnlIntervalMs: 5_000, ordersIntervalMs: 15_000 };

  it('starts a few accounts at once, and many a group at a time, all within the shortest interval', () => {
    expect([0, 1, 7].map((i) => resyncDelayMs(i, 8, config))).toEqual([0, 0, 0]);
    expect([0, 7, 8, 15, 16].map((i) => resyncDelayMs(i, 24, config))).toEqual([0, 0, 1666, 1666, 3333]);
    const delays = Array.from({ length: 10_000 }, (_, i) => resyncDelayMs(i, 10_000, config));
    expect(Math.max(...delays)).toBeLessThan(5_000);
    // No more than one group (8 accounts) at the same moment.
    const perMoment = new Map<number, number>();
    for (const delay of delays) {
      perMoment.set(delay, (perMoment.get(delay) ?? 0) + 1);
    }
    expect(Math.max(...perMoment.values())).toBe(8);
  });
});
