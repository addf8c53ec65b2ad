import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  errorEventSchema,
  pushSchemas,
  requestFailedSchema,
  subscribedSchema,
  unsubscribedSchema,
} from '@gw/adapter-socketio';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { sleep } from '@gw/core';
import { sampleAccount, startFakeBybit, writeAccountsFile } from '@gw/source-trading/testing';
import type { FakeBybit } from '@gw/source-trading/testing';
import type { TestGateway } from '../../testing/gateway.js';
import { busVariants, startTradingGateway, token } from './harness.js';

const pushEvents = ['balance_update', 'positions_update', 'pnl_update', 'orders_update'] as const;

/** Every event a test client received must match its schema (outbound types checked in tests, not on the hot path). */
function checkAll(client: TradingClient): void {
  for (const { event, payload } of client.events) {
    if ((pushEvents as readonly string[]).includes(event)) {
      pushSchemas[event as (typeof pushEvents)[number]].parse(payload);
    } else if (event === 'subscribed') {
      subscribedSchema.parse(payload);
    } else if (event === 'unsubscribed') {
      unsubscribedSchema.parse(payload);
    } else if (event === 'error') {
      errorEventSchema.parse(payload);
    }
  }
}

describe.each(busVariants)('Socket.IO trading subscriptions ($name)', ({ env }) => {
  let gateway: TestGateway;
  let fake: FakeBybit;
  const clients: TradingClient[] = [];

  beforeAll(async () => {
    fake = await startFakeBybit();
    fake.setAccount('steady-key', sampleAccount());
    const accounts = writeAccountsFile({ '60': { exchange: 'bybit', apiKey: 'steady-key', secret: 'steady-secret', baseUrl: fake.url } });
    gateway = await startTradingGateway({ ...env, ACCOUNTS_FILE: accounts });
  });
  afterAll(async () => {
    for (const client of clients) {
      checkAll(client);
      client.close();
    }
    await gateway.shutdown();
    await fake.close();
  });

  async function client(sub: string | number, options: Parameters<typeof connectTradingClient>[1] = {}): Promise<TradingClient> {
    const c = await connectTradingClient(gateway.httpUrl, { auth: { token: await token(sub) }, ...options });
    clients.push(c);
    await c.next('connected');
    return c;
  }

  it('runs the legacy flow: subscribe {types}, subscribed, then only those pushes with the legacy payloads', async () => {
    const c = await client(4);
    c.socket.emit('subscribe_trading', { types: ['balance', 'pnl'] });
    expect(await c.next('subscribed')).toEqual({ status: 'success', types: ['balance', 'pnl'], user_id: 4, subscriptions: ['balance', 'pnl'] });
    const balance = pushSchemas.balance_update.parse(await c.next('balance_update'));
    expect(balance).toMatchObject({ type: 'balance_update', user_id: 4 });
    expect(Object.keys(balance.data).sort()).toEqual(['available_balance', 'total_balance', 'used_margin']);
    const pnl = pushSchemas.pnl_update.parse(await c.next('pnl_update'));
    expect(Object.keys(pnl.data).sort()).toEqual(['realized_pnl', 'today_pnl', 'total_pnl', 'unrealized_pnl']);
    expect(pnl.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    await sleep(500);
    expect(c.received('positions_update')).toHaveLength(0);
    expect(c.received('orders_update')).toHaveLength(0);
    // The subscribed reply came before any data.
    const first = c.events.findIndex((e) => e.event === 'subscribed');
    expect(c.events.findIndex((e) => e.event === 'balance_update')).toBeGreaterThan(first);
  });

  it('accepts subscribeTypes, and all four types when no list is given', async () => {
    const a = await client(5);
    a.socket.emit('subscribe_trading', { subscribeTypes: ['orders'] });
    expect(await a.next('subscribed')).toMatchObject({ types: ['orders'] });
    const order = pushSchemas.orders_update.parse(await a.next('orders_update'));
    expect(order.data.length).toBeGreaterThanOrEqual(1);
    const b = await client(5);
    b.socket.emit('subscribe_trading');
    expect(await b.next('subscribed')).toMatchObject({ types: ['balance', 'positions', 'pnl', 'orders'] });
    for (const event of pushEvents) {
      expect(await b.next(event)).toMatchObject({ type: event, user_id: 5 });
    }
    const positions = pushSchemas.positions_update.parse(await b.next('positions_update'));
    expect(positions.data[0]).toMatchObject({ side: expect.stringMatching(/^(Buy|Sell)$/) as unknown });
  });

  it('answers an acknowledgement callback with the subscribed payload', async () => {
    const c = await client(6);
    const ack = await c.request('subscribe_trading', { types: ['positions'] });
    expect(ack).toEqual({ status: 'success', types: ['positions'], user_id: 6, subscriptions: ['positions'] });
    expect(await c.next('subscribed')).toEqual(ack);
    const unack = await c.request('unsubscribe_trading', { types: ['positions'] });
    expect(unack).toEqual({ status: 'success', types: ['positions'], user_id: 6, subscriptions: [] });
  });

  it('reports unknown types with invalid_types and still subscribes the valid ones', async () => {
    const c = await client(7);
    const ack = await c.request('subscribe_trading', { types: ['balance', 'candles', 42] });
    expect(ack).toMatchObject({ status: 'success', types: ['balance'] });
    const error = errorEventSchema.parse(await c.next('error'));
    expect(error).toMatchObject({ code: 'invalid_types', invalid_types: ['candles', '42'] });
    expect(error.message).toContain('candles');
    await c.next('balance_update');
  });

  it('answers malformed payloads with a clear error and keeps working', async () => {
    const c = await client(8);
    const bad: [unknown, string][] = [
      [42, 'bad_request'],
      [[1, 2], 'bad_request'],
      [{ types: Array.from({ length: 1_000 }, () => 'balance') }, 'bad_request'],
      ['not json', 'bad_request'],
      // A type list must be a list: a single name (or anything else) subscribes nothing.
      [{ types: 'balance' }, 'invalid_types'],
      [{ types: 5 }, 'invalid_types'],
      [{ subscribeTypes: { balance: true } }, 'invalid_types'],
    ];
    for (const [payload, code] of bad) {
      const ack = requestFailedSchema.parse(await c.request('subscribe_trading', payload));
      expect(ack).toMatchObject({ status: 'error', code });
      expect(errorEventSchema.parse(await c.next('error'))).toMatchObject({ code });
    }
    expect(c.received('subscribed')).toHaveLength(0);
    const unknown = await c.request('get_everything', { now: true });
    expect(unknown).toMatchObject({ status: 'error', code: 'unknown_command' });
    expect(c.socket.connected).toBe(true);
    // A JSON string payload is read like an object.
    expect(await c.request('subscribe_trading', JSON.stringify({ types: ['pnl'] }))).toMatchObject({ status: 'success', types: ['pnl'] });
    await c.next('pnl_update');
  });

  it('serves a burst of 200 requests in full, then limits the rate with rate_limited errors, without disconnecting', async () => {
    const c = await client(9);
    const acks = await Promise.all(Array.from({ length: 200 }, () => c.request('unsubscribe_trading', { types: ['orders'] })));
    expect(acks.every((ack) => (ack as { status?: string }).status === 'success')).toBe(true);
    for (let i = 0; i < 100; i += 1) {
      c.socket.emit('unsubscribe_trading', { types: ['orders'] });
    }
    expect(await c.next('error', 5_000, (p) => (p as { code?: string }).code === 'rate_limited')).toMatchObject({ code: 'rate_limited' });
    expect(c.socket.connected).toBe(true);
    // The bucket refills at the configured rate: a request is served again shortly.
    await expect
      .poll(async () => ((await c.request('subscribe_trading', { types: ['balance'] })) as { status?: string }).status, { timeout: 15_000, interval: 100 })
      .toBe('success');
  });

  it('pushes the latest known value at once on subscribe, without waiting for an interval', async () => {
    const first = await client(60);
    first.socket.emit('subscribe_trading', { types: ['balance'] });
    await first.next('balance_update');
    const second = await client(60);
    const asked = Date.now();
    second.socket.emit('subscribe_trading', { types: ['balance'] });
    const push = pushSchemas.balance_update.parse(await second.next('balance_update', 2_000));
    // The account's data does not change (no push from polling): this push is the stored latest value.
    expect(second.events.find((e) => e.event === 'balance_update')!.at - asked).toBeLessThan(500);
    expect(push).toMatchObject({ user_id: 60, data: { total_balance: 10000, available_balance: 8000, used_margin: 2000 } });
  });

  it('pushes only changes: unchanged exchange data is not pushed again', async () => {
    const c = await client(60);
    c.socket.emit('subscribe_trading', { types: ['positions'] });
    await c.next('positions_update');
    const polls = fake.requestsOf('steady-key', '/v5/position/list').length;
    await expect.poll(() => fake.requestsOf('steady-key', '/v5/position/list').length, { timeout: 15_000 }).toBeGreaterThanOrEqual(polls + 3);
    expect(c.received('positions_update')).toHaveLength(1);
    fake.account('steady-key').positions[0]!.markPrice = '51000';
    const changed = pushSchemas.positions_update.parse(await c.next('positions_update', 3_000));
    expect(changed.data.find((p) => p.symbol === 'BTCUSDT')?.mark_price).toBe(51000);
    expect(c.received('positions_update')).toHaveLength(2);
  });

  it('stops pushes of a type after unsubscribe_trading', async () => {
    const c = await client(10);
    c.socket.emit('subscribe_trading', { types: ['positions', 'pnl'] });
    await c.next('positions_update');
    c.socket.emit('unsubscribe_trading', { types: ['positions'] });
    expect(await c.next('unsubscribed')).toEqual({ status: 'success', types: ['positions'], user_id: 10, subscriptions: ['pnl'] });
    // The reply is sent after the socket left the room: nothing of that type after it, while pnl goes on.
    const count = c.received('positions_update').length;
    const pnlCount = c.received('pnl_update').length;
    await expect.poll(() => c.received('pnl_update').length, { timeout: 10_000 }).toBeGreaterThan(pnlCount);
    expect(c.received('positions_update')).toHaveLength(count);
  });

  it('sends token_expired and disconnects when the token expires', async () => {
    const c = await connectTradingClient(gateway.httpUrl, { auth: { token: await token(11, 2) } });
    clients.push(c);
    await c.next('connected');
    c.socket.emit('subscribe_trading', { types: ['balance'] });
    const disconnected = c.disconnected(5_000);
    expect(await c.next('error', 5_000)).toMatchObject({ code: 'token_expired' });
    expect(await disconnected).toBe('io server disconnect');
  });

  it('serves the whole flow over the polling transport', async () => {
    const c = await client(12, { transports: ['polling'] });
    expect(await c.request('subscribe_trading', { types: ['orders', 'balance'] })).toMatchObject({ status: 'success', user_id: 12 });
    await c.next('orders_update');
    await c.next('balance_update');
    expect(c.socket.io.engine.transport.name).toBe('polling');
  });
});
