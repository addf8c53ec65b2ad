import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connectedFrameSchema, pongFrameSchema, priceUpdateFrameSchema, subscribedFrameSchema } from '@gw/adapter-stock';
import { StockPricesClient } from '@gw/client';
import type { ConnectedFrame, DisconnectInfo, GatewayClientError, PriceUpdateFrame, StockPricesClientOptions } from '@gw/client';
import type { TestGateway } from '../testing/gateway.js';
import { metricValue } from '../protocols/socketio/harness.js';
import { Feed, startStockGateway, token } from '../protocols/stock/harness.js';
import { Inbox, TokenHook, closeFromServer, fastReconnect, serverSubscriptions } from './fixture.js';

const opened: StockPricesClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) {
    client.close();
  }
});

function open(gateway: TestGateway, options: Partial<StockPricesClientOptions> = {}) {
  const client = new StockPricesClient({ url: `${gateway.wsUrl}/ws/stock/prices`, WebSocket, reconnect: fastReconnect, ...options });
  opened.push(client);
  const inbox = {
    prices: new Inbox<PriceUpdateFrame>(),
    connects: new Inbox<ConnectedFrame>(),
    disconnects: new Inbox<DisconnectInfo>(),
    errors: new Inbox<GatewayClientError>(),
  };
  client.onPrices(inbox.prices.push);
  client.onConnect(inbox.connects.push);
  client.onDisconnect(inbox.disconnects.push);
  client.onError(inbox.errors.push);
  return { client, ...inbox };
}

const hasCode = (code: string) => (update: PriceUpdateFrame) => update.data.some((item) => item.code === code);

describe('StockPricesClient against the gateway', () => {
  let gateway: TestGateway;
  let feed: Feed;

  beforeAll(async () => {
    gateway = await startStockGateway({ STOCK_PUSH_INTERVAL_MS: '50' }, 'none');
    feed = new Feed(gateway);
    await feed.universe();
    for (const [i, code] of Feed.codes.entries()) {
      await feed.quote(code, 10 + i);
    }
    await feed.buyList('volume_wave', ['600519', '000001']);
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  it('subscribes with a confirmation, receives snapshots and conflated updates, pings and unsubscribes', async () => {
    const { client, prices, connects } = open(gateway);
    const connected = await connects.next();
    expect(connectedFrameSchema.parse(connected)).toEqual(connected);
    expect(client.clientId).toBe(connected.client_id);

    const subscribed = await client.subscribe('stock', '600519');
    expect(subscribedFrameSchema.parse(subscribed)).toMatchObject({ subscription_type: 'stock', target: '600519' });
    const snapshot = await prices.next(hasCode('600519'));
    expect(priceUpdateFrameSchema.parse(snapshot)).toEqual(snapshot);

    expect(await client.subscribe('market', ' sz ')).toMatchObject({ subscription_type: 'market', target: 'SZ' });
    expect(client.targets()).toEqual([
      { kind: 'stock', target: '600519' },
      { kind: 'market', target: 'SZ' },
    ]);

    await feed.quote('600519', 1888.5);
    expect((await prices.next((u) => u.data.some((item) => item.code === '600519' && item.price === 1888.5))).type).toBe('price_update');

    const pong = await client.ping();
    expect(pongFrameSchema.parse(pong)).toEqual(pong);
    expect(await client.unsubscribe('stock', '600519')).toMatchObject({ type: 'unsubscribed', target: '600519' });
    expect(client.targets()).toEqual([{ kind: 'market', target: 'SZ' }]);
  });

  it('rejects a target the server refuses with its code, and forgets it', async () => {
    const { client, connects } = open(gateway);
    await connects.next();
    await expect(client.subscribe('stock', '999999')).rejects.toMatchObject({ source: 'server', code: 'unknown_stock' });
    await expect(client.subscribe('strategy', 'no_such_strategy')).rejects.toMatchObject({ code: 'unknown_strategy' });
    expect(client.targets()).toEqual([]);
    expect(serverSubscriptions(gateway, 'stock')).toEqual([[]]);
  });

  it('resubscribes every target after the server closes the connection', async () => {
    const { client, prices, connects, disconnects } = open(gateway);
    const first = await connects.next();
    await Promise.all([client.subscribe('stock', '601318'), client.subscribe('market', 'SH'), client.subscribe('strategy', 'volume_wave')]);
    expect(serverSubscriptions(gateway, 'stock')).toEqual([['market:SH', 'stock:601318', 'strategy:volume_wave']]);

    closeFromServer(gateway, 'stock');
    expect(await disconnects.next()).toEqual({ code: 1001, reason: 'going away' });
    prices.skipAll();
    const second = await connects.next();
    expect(second.client_id).not.toBe(first.client_id);

    // Snapshots of the three targets come again, then live updates.
    await prices.next(hasCode('000001')); // on the volume_wave buy list
    await expect.poll(() => serverSubscriptions(gateway, 'stock')).toEqual([['market:SH', 'stock:601318', 'strategy:volume_wave']]);
    await feed.quote('601318', 55.5);
    await prices.next((u) => u.data.some((item) => item.code === '601318' && item.price === 55.5));
  });

  it('remembers a subscribe made while disconnected and settles it with the next connection', async () => {
    const { client, connects, disconnects } = open(gateway);
    await connects.next();
    closeFromServer(gateway, 'stock');
    await disconnects.next();
    expect(client.state).not.toBe('connected');
    const later = client.subscribe('stock', '600036');
    await expect(client.ping()).rejects.toMatchObject({ code: 'not_connected' });
    expect(await later).toMatchObject({ type: 'subscribed', target: '600036' });
    expect(serverSubscriptions(gateway, 'stock')).toEqual([['stock:600036']]);
  });

  it('refuses targets over maxSubscriptions without sending them', async () => {
    const { client, connects } = open(gateway, { maxSubscriptions: 1 });
    await connects.next();
    await client.subscribe('stock', '600519');
    await expect(client.subscribe('stock', '601318')).rejects.toMatchObject({ source: 'client', code: 'too_many_subscriptions' });
    expect(serverSubscriptions(gateway, 'stock')).toEqual([['stock:600519']]);
  });

  it('rejects pending calls with closed on close() and stops reconnecting', async () => {
    const { client, connects, disconnects } = open(gateway);
    await connects.next();
    closeFromServer(gateway, 'stock');
    await disconnects.next();
    const pending = client.subscribe('market', 'BJ');
    client.close();
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    await expect.poll(() => gateway.clients.countFor('stock')).toBe(0);
  });
});

describe('StockPricesClient with STOCK_REQUIRE_AUTH and a strict rate limit', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startStockGateway({ STOCK_REQUIRE_AUTH: 'true', STOCK_MAX_MESSAGES_PER_SEC: '4' }, 'none');
    const feed = new Feed(gateway);
    await feed.universe();
    for (const code of Feed.codes) {
      await feed.quote(code, 20);
    }
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  it('asks getToken after close 4401 token_expired (its in-band refresh refused) and resubscribes everything, paced under the rate limit', async () => {
    // The first token lives three seconds; the hook's answer to `token_expiring` names another user, which the
    // server refuses (the connection keeps its old expiry), so the server closes with 4401 at `exp` and the
    // reconnect asks the hook again. An accepted in-band refresh is token-refresh.test.ts's subject.
    const hook = new TokenHook((call) => (call === 2 ? token(5, '1h') : token(4, call === 1 ? 3 : '1h')));
    // The server takes 4 messages a second; the client sends at most 2 per second, as it should at half.
    const { client, connects, disconnects, errors } = open(gateway, { getToken: hook.getToken, maxMessagesPerSecond: 2 });
    await connects.next();
    const targets = Feed.codes.slice(0, 6);
    await Promise.all(targets.map((code) => client.subscribe('stock', code)));
    const expected = targets.map((code) => `stock:${code}`).sort();
    expect(serverSubscriptions(gateway, 'stock')).toEqual([expected]);

    expect(await errors.next()).toMatchObject({ source: 'server', code: 'token_refresh_failed' });
    expect(await disconnects.next()).toEqual({ code: 4401, reason: 'token_expired' });
    await connects.next();
    expect(hook.calls).toBe(3);
    await expect.poll(() => serverSubscriptions(gateway, 'stock'), { timeout: 10_000 }).toEqual([expected]);
    // The refused refresh is the only error: the server never had to drop one of its messages.
    expect(errors.values.map((error) => error.code)).toEqual(['token_refresh_failed']);
    const received = (type: string): Promise<number> =>
      metricValue(gateway, new RegExp(`gateway_messages_received_total\\{[^}]*protocol="stock"[^}]*type="${type}"[^}]*\\} (\\d+)`));
    // At least the six resubscriptions (the token may expire before the first six were all sent).
    expect(await received('subscribe')).toBeGreaterThanOrEqual(6);
    expect(await received('rate_limited')).toBe(0);
  });
});
