import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balanceSchema, ordersSchema, pnlSchema, positionsSchema } from '@gw/topics';
import { loadCcxt } from './ccxt.js';
import { startOfDay } from './day.js';
import { classifyFailure } from './errors.js';
import { createCcxtClient, quirksOf } from './exchange.js';
import type { ExchangeClient } from './exchange.js';
import { computePnl, mapBalance, mapOrders, mapPositions } from './mapping.js';
import { sampleAccount, startFakeBybit } from './testing/index.js';
import type { FakeBybit } from './testing/index.js';

// The real ccxt.bybit class, pointed at a local fake of Bybit's v5 API: proves the mapping from real exchange
// answers (through ccxt's own parsing) to the legacy trading service's payloads, and how ccxt's errors are classified.
describe('ccxt bybit against a fake Bybit v5 server', () => {
  let fake: FakeBybit;
  let client: ExchangeClient;
  const quirks = quirksOf('bybit');

  beforeAll(async () => {
    await loadCcxt();
    fake = await startFakeBybit();
    fake.setAccount('good-key', sampleAccount());
    client = createCcxtClient(
      { exchange: 'bybit', apiKey: 'good-key', secret: 'good-secret', baseUrl: fake.url },
      { timeoutMs: 2_000 },
    );
  });
  afterAll(async () => {
    await fake.close();
  });

  it('maps the wallet balance to the legacy balance fields', async () => {
    const balance = mapBalance(await client.fetchBalance(), 'USDT');
    expect(balanceSchema.parse(balance)).toEqual({ total_balance: 10000, available_balance: 8000, used_margin: 2000 });
    expect(fake.requestsOf('good-key', '/v5/account/wallet-balance')[0]?.query['accountType']).toBe('UNIFIED');
  });

  it('maps linear positions: BTCUSDT symbols and Buy/Sell sides', async () => {
    const positions = mapPositions(await client.fetchPositions(undefined, quirks.positions('USDT')));
    expect(positionsSchema.parse(positions)).toEqual([
      { symbol: 'BTCUSDT', side: 'Buy', size: 0.1, entry_price: 50000, mark_price: 50500, unrealized_pnl: 50 },
      { symbol: 'ETHUSDT', side: 'Sell', size: 2, entry_price: 3000, mark_price: 2975, unrealized_pnl: 50 },
    ]);
    const asked = fake.requestsOf('good-key', '/v5/position/list')[0];
    expect(asked?.query).toMatchObject({ category: 'linear', settleCoin: 'USDT' });
  });

  it('asks open orders with settleCoin=USDT and keeps the status Bybit reports', async () => {
    fake.account('good-key').orders.push({ orderId: '123457', symbol: 'ETHUSDT', side: 'Sell', qty: '1', price: '3200', orderStatus: 'PartiallyFilled', leavesQty: '0.4', cumExecQty: '0.6' });
    const orders = mapOrders(await client.fetchOpenOrders(undefined, undefined, undefined, quirks.openOrders('USDT')));
    expect(ordersSchema.parse(orders)).toEqual([
      { order_id: '123456', symbol: 'BTCUSDT', side: 'Buy', quantity: 0.1, price: 49000, status: 'New' },
      { order_id: '123457', symbol: 'ETHUSDT', side: 'Sell', quantity: 1, price: 3200, status: 'PartiallyFilled' },
    ]);
    const asked = fake.requestsOf('good-key', '/v5/order/realtime');
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.query['settleCoin'] === 'USDT' && r.query['category'] === 'linear')).toBe(true);
    fake.account('good-key').orders.pop();
  });

  it('computes pnl from positions (unrealized) and the closed-pnl list (realized, today)', async () => {
    const now = Date.now();
    const today = startOfDay(now, 'UTC');
    const account = fake.account('good-key');
    account.closedPnl = [
      { symbol: 'BTCUSDT', side: 'Sell', qty: '0.05', closedPnl: '30', avgEntryPrice: '49000', avgExitPrice: '49600', updatedTime: today + 1 },
      { symbol: 'ETHUSDT', side: 'Buy', qty: '1', closedPnl: '370', avgEntryPrice: '3100', avgExitPrice: '2730', updatedTime: today - 86_400_000 },
    ];
    const positions = await client.fetchPositions(undefined, quirks.positions('USDT'));
    const history = await client.fetchPositionsHistory(undefined, now - 7 * 86_400_000, quirks.historyLimit, quirks.history('USDT'));
    const pnl = computePnl(positions, history, today);
    expect(pnlSchema.parse(pnl)).toEqual({ total_pnl: 500, today_pnl: 30, unrealized_pnl: 100, realized_pnl: 400 });
    expect(fake.requestsOf('good-key', '/v5/position/closed-pnl').at(-1)?.query).toMatchObject({ category: 'linear', limit: '100' });
  });

  it('classifies a rejected key (retCode 10003) as an authentication failure', async () => {
    const bad = createCcxtClient({ exchange: 'bybit', apiKey: 'unknown-key', secret: 's', baseUrl: fake.url }, { timeoutMs: 2_000 });
    const error: unknown = await bad.fetchBalance().catch((e: unknown) => e);
    expect(classifyFailure(error)).toBe('auth');
    expect(String(error)).not.toContain('s"');
  });

  it('classifies retCode 10006 as rate limiting and a 502 or a reset connection as network errors', async () => {
    fake.failNext('good-key', { kind: 'retCode', retCode: 10006, retMsg: 'Too many visits!' });
    expect(classifyFailure(await client.fetchPositions(undefined, quirks.positions('USDT')).catch((e: unknown) => e))).toBe('rate_limit');
    fake.failNext('good-key', { kind: 'http', status: 502 });
    expect(classifyFailure(await client.fetchPositions(undefined, quirks.positions('USDT')).catch((e: unknown) => e))).toBe('network');
    fake.failNext('good-key', { kind: 'reset' });
    expect(classifyFailure(await client.fetchPositions(undefined, quirks.positions('USDT')).catch((e: unknown) => e))).toBe('network');
  });
});
