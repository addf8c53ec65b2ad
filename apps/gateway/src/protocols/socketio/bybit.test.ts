import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorEventSchema, pushSchemas } from '@gw/adapter-socketio';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { sleep } from '@gw/core';
import { sampleAccount, startFakeBybit, writeAccountsFile } from '@gw/source-trading/testing';
import type { FakeBybit } from '@gw/source-trading/testing';
import type { TestGateway } from '../../testing/gateway.js';
import { busVariants, metricValue, startTradingGateway, token } from './harness.js';

/** Bybit accounts through the whole gateway: real ccxt.bybit → fake Bybit v5 → trading source → bus → Socket.IO. */
describe.each(busVariants)('Socket.IO trading with Bybit accounts ($name)', ({ env }) => {
  let gateway: TestGateway;
  let fake: FakeBybit;
  const clients: TradingClient[] = [];

  beforeAll(async () => {
    fake = await startFakeBybit();
    for (const key of ['map-key', 'watch-key', 'idle-key', 'flaky-key']) {
      fake.setAccount(key, sampleAccount());
    }
    const account = (apiKey: string) => ({ exchange: 'bybit', apiKey, secret: `${apiKey}-secret`, baseUrl: fake.url });
    const accounts = writeAccountsFile({
      '70': account('map-key'),
      '71': account('watch-key'),
      '72': account('rejected-key'),
      '73': account('flaky-key'),
      '74': account('idle-key'),
    });
    // Backoff (400 → 800 ms) longer than the balance interval (300 ms), so backing off is visible.
    gateway = await startTradingGateway({ ...env, ACCOUNTS_FILE: accounts, TRADING_PNL_TZ: 'UTC', TRADING_RETRY_MIN_MS: '400', TRADING_RETRY_MAX_MS: '800' });
  });
  afterAll(async () => {
    for (const client of clients) {
      client.close();
    }
    await gateway.shutdown();
    await fake.close();
  });

  async function client(sub: number): Promise<TradingClient> {
    const c = await connectTradingClient(gateway.httpUrl, { auth: { token: await token(sub) } });
    clients.push(c);
    await c.next('connected');
    return c;
  }

  it("maps the exchange's data to the legacy trading service's payloads exactly, asking orders with settleCoin=USDT", async () => {
    const now = Date.now();
    const midnight = now - (now % 86_400_000);
    fake.account('map-key').closedPnl = [
      { symbol: 'BTCUSDT', side: 'Sell', qty: '0.05', closedPnl: '50', avgEntryPrice: '49000', avgExitPrice: '50000', updatedTime: midnight + 1 },
      { symbol: 'ETHUSDT', side: 'Buy', qty: '1', closedPnl: '350', avgEntryPrice: '3100', avgExitPrice: '2750', updatedTime: midnight - 3_600_000 },
    ];
    const c = await client(70);
    c.socket.emit('subscribe_trading', { types: ['balance', 'positions', 'pnl', 'orders'] });
    const balance = pushSchemas.balance_update.parse(await c.next('balance_update'));
    const positions = pushSchemas.positions_update.parse(await c.next('positions_update'));
    const pnl = pushSchemas.pnl_update.parse(await c.next('pnl_update'));
    const orders = pushSchemas.orders_update.parse(await c.next('orders_update'));
    expect(balance).toMatchObject({ type: 'balance_update', user_id: 70, data: { total_balance: 10000.0, available_balance: 8000.0, used_margin: 2000.0 } });
    expect(positions.data).toEqual([
      { symbol: 'BTCUSDT', side: 'Buy', size: 0.1, entry_price: 50000.0, mark_price: 50500.0, unrealized_pnl: 50.0 },
      { symbol: 'ETHUSDT', side: 'Sell', size: 2, entry_price: 3000, mark_price: 2975, unrealized_pnl: 50 },
    ]);
    expect(pnl.data).toEqual({ total_pnl: 500.0, today_pnl: 50.0, unrealized_pnl: 100.0, realized_pnl: 400.0 });
    expect(orders.data).toEqual([{ order_id: '123456', symbol: 'BTCUSDT', side: 'Buy', quantity: 0.1, price: 49000.0, status: 'New' }]);
    const asked = fake.requestsOf('map-key', '/v5/order/realtime');
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.query['settleCoin'] === 'USDT')).toBe(true);
  });

  it('fetches a user only while a socket is subscribed: not when only connected, stopping after the last one leaves', async () => {
    const c1 = await client(71);
    await sleep(500);
    expect(fake.requestsOf('watch-key')).toHaveLength(0);
    const c2 = await client(71);
    await c1.request('subscribe_trading', { types: ['balance'] });
    await c2.request('subscribe_trading', { types: ['balance'] });
    await c1.next('balance_update');
    await c2.next('balance_update');
    await c1.request('unsubscribe_trading', { types: ['balance'] });
    const during = fake.requestsOf('watch-key', '/v5/account/wallet-balance').length;
    await expect.poll(() => fake.requestsOf('watch-key', '/v5/account/wallet-balance').length, { timeout: 10_000 }).toBeGreaterThan(during);
    c2.close();
    // Once the interest is gone, at most the request already in flight lands; three intervals later, nothing more.
    await expect.poll(() => gateway.bus.interestedTopics('trading.71.'), { timeout: 10_000 }).toEqual([]);
    const after = fake.requestsOf('watch-key').length;
    await sleep(900);
    expect(fake.requestsOf('watch-key').length).toBeLessThanOrEqual(after + 1);
    expect(fake.requestsOf('idle-key')).toHaveLength(0);
  });

  it('sends exchange_auth_failed to every socket of that user only, and pauses the account', async () => {
    const a = await client(72);
    const b = await client(72);
    const other = await client(70);
    other.socket.emit('subscribe_trading', { types: ['balance'] });
    a.socket.emit('subscribe_trading', { types: ['balance', 'orders'] });
    b.socket.emit('subscribe_trading', { types: ['positions'] });
    for (const c of [a, b]) {
      const error = errorEventSchema.parse(await c.next('error', 5_000, (p) => (p as { code?: string }).code === 'exchange_auth_failed'));
      expect(error.message).not.toContain('rejected-key');
    }
    const asked = fake.requests.filter((r) => r.apiKey === 'rejected-key').length;
    await sleep(500);
    expect(fake.requests.filter((r) => r.apiKey === 'rejected-key').length).toBe(asked);
    expect(other.received('error').filter((p) => (p as { code?: string }).code === 'exchange_auth_failed')).toHaveLength(0);
    expect(a.socket.connected && b.socket.connected).toBe(true);
    // A socket subscribing while the account is paused is told at once.
    const late = await client(72);
    late.socket.emit('subscribe_trading', { types: ['pnl'] });
    expect(await late.next('error', 2_000, (p) => (p as { code?: string }).code === 'exchange_auth_failed')).toBeDefined();
    expect(await metricValue(gateway, /gateway_source_errors_total\{[^}]*source="trading",kind="auth"[^}]*\} (\d+)/)).toBeGreaterThan(0);
  });

  it('keeps the last good value through network errors, backs off, and counts them', async () => {
    const c = await client(73);
    c.socket.emit('subscribe_trading', { types: ['balance'] });
    const good = pushSchemas.balance_update.parse(await c.next('balance_update'));
    fake.failNext('flaky-key', { kind: 'http', status: 502 }, Number.POSITIVE_INFINITY);
    const from = fake.requestsOf('flaky-key').length;
    // Without backoff the polls would be 300 ms apart; backing off they are 400, then 800 ms apart at least.
    await expect.poll(() => fake.requestsOf('flaky-key').length - from, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    const failed = fake.requestsOf('flaky-key').slice(from);
    expect(failed[1]!.at - failed[0]!.at).toBeGreaterThanOrEqual(380);
    expect(failed[2]!.at - failed[1]!.at).toBeGreaterThanOrEqual(760);
    expect(c.received('balance_update')).toHaveLength(1);
    const late = await client(73);
    late.socket.emit('subscribe_trading', { types: ['balance'] });
    expect(pushSchemas.balance_update.parse(await late.next('balance_update')).data).toEqual(good.data);
    expect(await metricValue(gateway, /gateway_source_errors_total\{[^}]*source="trading",kind="network"[^}]*\} (\d+)/)).toBeGreaterThan(0);
    fake.clearFault('flaky-key');
    fake.account('flaky-key').walletBalance = '10250.50';
    expect(pushSchemas.balance_update.parse(await c.next('balance_update', 5_000)).data.total_balance).toBe(10250.5);
  });
});
