import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tradingDataSchemas, tradingTopic } from '@gw/topics';
import { accountSchema } from './accounts.js';
import { loadCcxt } from './ccxt.js';
import { createCcxtStreamClient } from './exchange.js';
import { PRIVATE_PATH, runTradingSource, sampleAccount, startFakeBybit, startFakeBybitStream, writeAccountsFile } from './testing/index.js';
import type { FakeBybitExchange, RunningTradingSource } from './testing/index.js';

// ccxt's real pro.bybit class against the fake Bybit v5 REST and private WebSocket servers: pushes first,
// REST snapshots on (re)connect, polling as the fallback.

/** Polling intervals far longer than any test: whatever arrives quickly came from the stream. */
const slowPolls = {
  TRADING_BALANCE_INTERVAL_MS: '600000',
  TRADING_POSITIONS_INTERVAL_MS: '600000',
  TRADING_PNL_INTERVAL_MS: '600000',
  TRADING_ORDERS_INTERVAL_MS: '600000',
  TRADING_STREAM_SAFETY_POLL_MS: '600000',
  TRADING_STREAM_RETRY_MIN_MS: '100',
  TRADING_STREAM_RETRY_MAX_MS: '400',
  TRADING_STREAM_LINGER_MS: '200',
  TRADING_REQUEST_TIMEOUT_MS: '3000',
};

let exchange: FakeBybitExchange;
let running: RunningTradingSource | undefined;

beforeAll(async () => {
  exchange = await startFakeBybitStream(await startFakeBybit());
});
afterAll(async () => {
  await exchange.close();
  await exchange.rest.close();
});
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function account(apiKey: string, secret = `${apiKey}-secret`): Record<string, unknown> {
  exchange.rest.setAccount(apiKey, { ...sampleAccount(), secret });
  return { exchange: 'bybit', apiKey, secret, baseUrl: exchange.rest.url, streamBaseUrl: exchange.streamUrl };
}

async function start(accounts: Record<string, unknown>, env: Record<string, string> = {}): Promise<RunningTradingSource> {
  running = await runTradingSource({ ...slowPolls, ACCOUNTS_FILE: writeAccountsFile(accounts), ...env });
  return running;
}

// Polls are ten minutes apart: only a push can explain a value within this (generous, for a loaded machine) wait.
const wait = { timeout: 45_000, interval: 20 };
const streamMode = (source: RunningTradingSource): Promise<string> => source.metricsText();

describe('trading source: exchange streams', () => {
  it('pushes an order placed on the exchange, without a poll', async () => {
    const source = await start({ '31': account('stream-key') });
    const orders = tradingTopic('31', 'orders');
    await source.bus.declareInterest(orders);
    await expect.poll(() => source.on(orders).length, wait).toBe(1);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'stream-key'), wait).toBe(1);
    await expect.poll(() => streamMode(source), wait).toMatch(/gateway_source_mode_accounts\{source="trading",mode="stream"\} 1/);
    const restCalls = exchange.rest.requestsOf('stream-key', '/v5/order/realtime').length;

    exchange.placeOrder('stream-key', { orderId: 'o-2', symbol: 'ETHUSDT', side: 'Sell', qty: '1', price: '3200' });
    await expect.poll(() => source.on(orders).length, wait).toBe(2);
    expect(tradingDataSchemas.orders.parse(source.on(orders)[1]?.data)).toEqual([
      { order_id: '123456', symbol: 'BTCUSDT', side: 'Buy', quantity: 0.1, price: 49000, status: 'New' },
      { order_id: 'o-2', symbol: 'ETHUSDT', side: 'Sell', quantity: 1, price: 3200, status: 'New' },
    ]);
    // No REST request fetched it: the intervals are ten minutes.
    expect(exchange.rest.requestsOf('stream-key', '/v5/order/realtime')).toHaveLength(restCalls);
    expect(await source.metricsText()).toMatch(/gateway_source_event_latency_seconds_count\{source="trading"\} [1-9]/);

    exchange.cancelOrder('stream-key', 'o-2');
    await expect.poll(() => source.on(orders).length, wait).toBe(3);
    expect(tradingDataSchemas.orders.parse(source.on(orders)[2]?.data).map((o) => o.order_id)).toEqual(['123456']);
  });

  it('pushes fills as positions, balance and a recomputed pnl', async () => {
    const source = await start({ '32': account('fill-key') });
    for (const type of ['balance', 'positions', 'pnl', 'orders'] as const) {
      await source.bus.declareInterest(tradingTopic('32', type));
    }
    await expect.poll(() => source.on(tradingTopic('32', 'pnl')).length, wait).toBeGreaterThanOrEqual(1);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'execution', 'fill-key'), wait).toBe(1);
    await expect.poll(() => streamMode(source), wait).toMatch(/mode="stream"\} 1/);

    exchange.moveMarkPrice('fill-key', 'BTCUSDT', 51_000);
    await expect.poll(() => source.on(tradingTopic('32', 'positions')).at(-1)?.data, wait).toEqual([
      { symbol: 'BTCUSDT', side: 'Buy', size: 0.1, entry_price: 50000, mark_price: 51000, unrealized_pnl: 100 },
      { symbol: 'ETHUSDT', side: 'Sell', size: 2, entry_price: 3000, mark_price: 2975, unrealized_pnl: 50 },
    ]);
    await expect.poll(() => source.on(tradingTopic('32', 'pnl')).at(-1)?.data, wait).toMatchObject({ unrealized_pnl: 150 });

    // Selling 0.1 BTC at 49000 closes the long: -100 realized, the wallet moves, the position is gone.
    exchange.placeOrder('fill-key', { orderId: 'close-1', symbol: 'BTCUSDT', side: 'Sell', qty: '0.1', price: '49000' });
    exchange.fillOrder('fill-key', 'close-1');
    await expect.poll(() => source.on(tradingTopic('32', 'positions')).at(-1)?.data, wait).toEqual([
      { symbol: 'ETHUSDT', side: 'Sell', size: 2, entry_price: 3000, mark_price: 2975, unrealized_pnl: 50 },
    ]);
    await expect.poll(() => source.on(tradingTopic('32', 'balance')).at(-1)?.data, wait).toEqual({ total_balance: 9900, available_balance: 7900, used_margin: 2000 });
    await expect.poll(() => source.on(tradingTopic('32', 'pnl')).at(-1)?.data, wait).toMatchObject({ unrealized_pnl: 50, realized_pnl: 300 });
    expect(source.on(tradingTopic('32', 'orders')).at(-1)?.data).toEqual([
      { order_id: '123456', symbol: 'BTCUSDT', side: 'Buy', quantity: 0.1, price: 49000, status: 'New' },
    ]);
  });

  it('reconnects a dropped stream and its REST snapshot brings the change made while it was down', async () => {
    const source = await start({ '33': account('drop-key') });
    const orders = tradingTopic('33', 'orders');
    await source.bus.declareInterest(orders);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'drop-key'), wait).toBe(1);
    await expect.poll(() => streamMode(source), wait).toMatch(/mode="stream"\} 1/);
    const published = source.on(orders).length;

    exchange.socket.refuseConnections(true);
    exchange.socket.drop('drop-key');
    exchange.placeOrder('drop-key', { orderId: 'while-down', symbol: 'SOLUSDT', side: 'Buy', qty: '10', price: '150' });
    exchange.socket.refuseConnections(false);

    await expect.poll(() => source.on(orders).length, wait).toBe(published + 1);
    expect(tradingDataSchemas.orders.parse(source.on(orders).at(-1)?.data).map((o) => o.order_id)).toEqual(['123456', 'while-down']);
    await expect.poll(() => source.metricsText(), wait).toMatch(/gateway_source_stream_reconnects_total\{source="trading"\} 1/);
    expect(exchange.socket.authenticated('drop-key')).toBe(1);
  });

  it('falls back to polling when the exchange refuses the stream auth, and still publishes every type', async () => {
    exchange.rest.setAccount('bad-secret-key', { ...sampleAccount(), secret: 'the-real-secret' });
    const source = await start(
      { '34': { exchange: 'bybit', apiKey: 'bad-secret-key', secret: 'a-wrong-secret', baseUrl: exchange.rest.url, streamBaseUrl: exchange.streamUrl } },
      { TRADING_ORDERS_INTERVAL_MS: '200', TRADING_BALANCE_INTERVAL_MS: '200', TRADING_POSITIONS_INTERVAL_MS: '200', TRADING_PNL_INTERVAL_MS: '200', TRADING_STREAM_RETRY_MIN_MS: '60000' },
    );
    for (const type of ['balance', 'positions', 'pnl', 'orders'] as const) {
      await source.bus.declareInterest(tradingTopic('34', type));
    }
    await expect.poll(() => exchange.socket.ops.filter((op) => op.op === 'auth' && op.args[0] === 'bad-secret-key').length, wait).toBeGreaterThanOrEqual(1);
    await expect.poll(() => source.metricsText(), wait).toMatch(/gateway_source_mode_accounts\{source="trading",mode="poll"\} 1/);
    expect(exchange.socket.authenticated('bad-secret-key')).toBe(0);
    for (const type of ['balance', 'positions', 'pnl', 'orders'] as const) {
      await expect.poll(() => source.on(tradingTopic('34', type)).length, wait).toBeGreaterThanOrEqual(1);
    }
    exchange.placeOrder('bad-secret-key', { orderId: 'polled', symbol: 'ETHUSDT', side: 'Buy', qty: '1', price: '2900' });
    await expect.poll(() => source.on(tradingTopic('34', 'orders')).at(-1)?.data, wait).toEqual(
      expect.arrayContaining([expect.objectContaining({ order_id: 'polled' })]),
    );
  });

  it("keeps two users' streams apart and closes a stream when its last watcher leaves", async () => {
    const source = await start({ '35': account('alice-key'), '36': account('bob-key') });
    const alice = await source.bus.declareInterest(tradingTopic('35', 'orders'));
    await source.bus.declareInterest(tradingTopic('36', 'orders'));
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'alice-key'), wait).toBe(1);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'bob-key'), wait).toBe(1);
    await expect.poll(() => source.metricsText(), wait).toMatch(/mode="stream"\} 2/);
    exchange.placeOrder('alice-key', { orderId: 'alice-only', symbol: 'BTCUSDT', side: 'Buy', qty: '0.2', price: '48000' });
    await expect.poll(() => source.on(tradingTopic('35', 'orders')).at(-1)?.data, wait).toEqual(
      expect.arrayContaining([expect.objectContaining({ order_id: 'alice-only' })]),
    );
    expect(JSON.stringify(source.on(tradingTopic('36', 'orders')))).not.toContain('alice-only');

    await alice.release();
    await expect.poll(() => exchange.socket.authenticated('alice-key'), wait).toBe(0);
    expect(exchange.socket.authenticated('bob-key')).toBe(1);
  });

  it('measures a wallet push from its own creationTime', async () => {
    const source = await start({ '37': account('wallet-key') });
    const balance = tradingTopic('37', 'balance');
    await source.bus.declareInterest(balance);
    await expect.poll(() => source.on(balance).length, wait).toBe(1);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'wallet', 'wallet-key'), wait).toBe(1);
    await expect.poll(() => streamMode(source), wait).toMatch(/mode="stream"\} 1/);
    // Only balance is watched: a latency observed now can only be the wallet push's.
    expect(await source.metricsText()).not.toMatch(/gateway_source_event_latency_seconds_count\{source="trading"\} [1-9]/);

    exchange.setWallet('wallet-key', 12_000, 10_000);
    await expect.poll(() => source.on(balance).at(-1)?.data, wait).toEqual({ total_balance: 12000, available_balance: 10000, used_margin: 2000 });
    await expect.poll(() => source.metricsText(), wait).toMatch(/gateway_source_event_latency_seconds_count\{source="trading"\} 1\n/);
  });

  it('re-checks a streaming account over REST at the safety interval: a change the stream never pushed still arrives', async () => {
    const source = await start(
      { '38': account('drift-key') },
      { TRADING_BALANCE_INTERVAL_MS: '100', TRADING_STREAM_SAFETY_POLL_MS: '300' },
    );
    const balance = tradingTopic('38', 'balance');
    await source.bus.declareInterest(balance);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'wallet', 'drift-key'), wait).toBe(1);
    await expect.poll(() => streamMode(source), wait).toMatch(/mode="stream"\} 1/);
    await expect.poll(() => source.on(balance).length, wait).toBeGreaterThanOrEqual(1);

    // Changed on the exchange's books without a push (drift): only a REST re-check can find it.
    const drifted = exchange.rest.account('drift-key');
    drifted.walletBalance = '10500';
    drifted.availableToWithdraw = '8500';
    await expect.poll(() => source.on(balance).at(-1)?.data, wait).toEqual({ total_balance: 10500, available_balance: 8500, used_margin: 2000 });
    expect(await source.metricsText()).toMatch(/mode="stream"\} 1/);
  });

  it('polls after repeated stream failures, streams again once the exchange is back, and closes every stream on stop', async () => {
    const source = await start({ '39': account('flaky-key') });
    const orders = tradingTopic('39', 'orders');
    await source.bus.declareInterest(orders);
    await expect.poll(() => exchange.socket.subscribers('/v5/private', 'order', 'flaky-key'), wait).toBe(1);
    await expect.poll(() => streamMode(source), wait).toMatch(/mode="stream"\} 1/);

    // Dropped, and every reconnection refused: after TRADING_STREAM_MAX_FAILURES (3) failures in a row it polls.
    exchange.socket.refuseConnections(true);
    exchange.socket.drop('flaky-key');
    try {
      await expect.poll(() => source.metricsText(), wait).toMatch(/gateway_source_mode_accounts\{source="trading",mode="poll"\} 1/);
      exchange.placeOrder('flaky-key', { orderId: 'during-outage', symbol: 'SOLUSDT', side: 'Buy', qty: '5', price: '140' });
    } finally {
      exchange.socket.refuseConnections(false);
    }
    // The stream is retried with backoff: live again, its snapshot brings the order placed meanwhile.
    await expect.poll(() => source.metricsText(), wait).toMatch(/gateway_source_mode_accounts\{source="trading",mode="stream"\} 1/);
    await expect.poll(() => source.on(orders).at(-1)?.data, wait).toEqual(expect.arrayContaining([expect.objectContaining({ order_id: 'during-outage' })]));
    expect(await source.metricsText()).toMatch(/gateway_source_stream_reconnects_total\{source="trading"\} 1/);
    await expect.poll(() => exchange.socket.authenticated('flaky-key'), wait).toBe(1);

    await source.stop();
    running = undefined;
    await expect.poll(() => exchange.socket.authenticated('flaky-key'), wait).toBe(0);
  });

  it('opens no connection for a watch call still checking the account over REST when the stream closed', async () => {
    await loadCcxt();
    const spec = accountSchema.parse(account('late-key'));
    const client = spec.exchange === 'bybit' ? createCcxtStreamClient(spec, { timeoutMs: 3_000 }) : undefined;
    if (client === undefined) {
      throw new Error('expected a stream client for a Bybit account with a stream URL');
    }
    // As the source does before its first connection to a plain ws:// URL.
    await client.loadHttpProxyAgent();
    // ccxt asks REST whether the account is unified before it connects: held there, the call is in flight.
    const releaseCheck = exchange.rest.hold('/v5/user/query-api');
    const inFlight = client.watchOrders();
    await expect.poll(() => exchange.rest.requestsOf('late-key', '/v5/user/query-api').length, wait).toBeGreaterThanOrEqual(1);
    await client.close();
    releaseCheck();
    await expect(inFlight).rejects.toThrow(/closed/);
    expect(exchange.socket.ops.filter((op) => op.args[0] === 'late-key' || op.apiKey === 'late-key')).toEqual([]);

    // Opened again by its owner, the same client streams as before.
    client.reopen();
    const next = client.watchOrders();
    await expect.poll(() => exchange.socket.subscribers(PRIVATE_PATH, 'order', 'late-key'), wait).toBe(1);
    await client.close();
    await expect(next).rejects.toThrow(/closed/);
    expect(exchange.socket.authenticated('late-key')).toBe(0);
  });
});
