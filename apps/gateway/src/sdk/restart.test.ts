import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SignalsClient, StockPricesClient, TradingClient } from '@gw/client';
import type {
  DisconnectInfo,
  PriceUpdateFrame,
  PushPayload,
  SignalFrame,
  SignalRecovery,
  SignalsConnected,
} from '@gw/client';
import type { TestGateway } from '../testing/gateway.js';
import { buy, publishSignal, token } from '../protocols/signals/fixture.js';
import { Feed } from '../protocols/stock/harness.js';
import { freePort } from '../testing/net.js';
import { Inbox, TokenHook, fastReconnect, startAllProtocols } from './fixture.js';

/** Publishes a signal through the gateway's API and returns its id. */
async function publish(gateway: TestGateway, symbol: string, price: number): Promise<string> {
  const { status, json } = await publishSignal(gateway, buy(symbol, price));
  expect(status, JSON.stringify(json)).toBe(201);
  return json['id'] as string;
}

/**
 * The clients' promise to apps: a gateway that restarts (deploys, crashes) costs them nothing but a pause. On
 * the Redis bus the signal history and the latest values outlive the gateway process, so the restarted one
 * replays what the signals client missed and serves the current prices and trading values at once.
 */
describe('the three clients across a gateway restart on the same port (Redis bus)', () => {
  const env = {
    REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: `gwtest:sdk:${process.pid}:${Math.random().toString(36).slice(2)}:`,
  };
  const running: TestGateway[] = [];
  const clients: { close(): void }[] = [];
  afterAll(async () => {
    for (const client of clients) {
      client.close();
    }
    await Promise.all(running.map((gateway) => gateway.shutdown()));
  });

  it('reconnect by themselves and continue: signals recovered with since, stock and trading resubscribed', { timeout: 120_000 }, async () => {
    const port = await freePort();
    const first = await startAllProtocols({ ...env, PORT: String(port) });
    running.push(first);

    const signalsHook = new TokenHook(() => token(4));
    const signalsClient = new SignalsClient({ url: `${first.wsUrl}/ws/signals`, WebSocket, getToken: signalsHook.getToken, reconnect: fastReconnect });
    const stockClient = new StockPricesClient({ url: `${first.wsUrl}/ws/stock/prices`, WebSocket, reconnect: fastReconnect });
    const tradingClient = new TradingClient({ url: first.httpUrl, getToken: () => token(4), reconnect: fastReconnect });
    clients.push(signalsClient, stockClient, tradingClient);
    const signals = new Inbox<SignalFrame>();
    const recoveries = new Inbox<SignalRecovery>();
    const signalConnects = new Inbox<SignalsConnected>();
    const prices = new Inbox<PriceUpdateFrame>();
    const balances = new Inbox<PushPayload<'balance'>>();
    const disconnects = new Inbox<DisconnectInfo & { protocol: string }>();
    signalsClient.onSignal(signals.push);
    signalsClient.onRecovery(recoveries.push);
    signalsClient.onConnect(signalConnects.push);
    stockClient.onPrices(prices.push);
    tradingClient.onBalanceUpdate(balances.push);
    signalsClient.onDisconnect((info) => { disconnects.push({ ...info, protocol: 'signals' }); });
    stockClient.onDisconnect((info) => { disconnects.push({ ...info, protocol: 'stock' }); });
    tradingClient.onDisconnect((info) => { disconnects.push({ ...info, protocol: 'socketio' }); });

    // Before: each client receives on the first gateway.
    const feed = new Feed(first);
    await feed.universe();
    await feed.quote('600519', 1800);
    await signalConnects.next();
    const before = await publish(first, 'BTCUSDT', 1);
    expect((await signals.next()).id).toBe(before);
    await stockClient.subscribe('stock', '600519');
    await prices.next((u) => u.data.some((item) => item.price === 1800));
    await tradingClient.subscribe(['balance']);
    await balances.next();

    // The gateway goes away; the signals client is kept from reconnecting until signals were published.
    signalsHook.hold();
    await first.shutdown();
    const gone = [await disconnects.next(), await disconnects.next(), await disconnects.next()];
    expect(gone.map((d) => d.protocol).sort()).toEqual(['signals', 'socketio', 'stock']);
    prices.skipAll();
    balances.skipAll();

    // A new gateway process on the same port and the same Redis.
    const second = await startAllProtocols({ ...env, PORT: String(port) });
    running.push(second);
    expect(second.ports).toEqual([port]);
    const missed = [await publish(second, 'BTCUSDT', 2), await publish(second, 'ETHUSDT', 3)];

    // Stock and trading come back by themselves: the current price (kept in Redis) at once, then updates.
    await prices.next((u) => u.data.some((item) => item.code === '600519' && item.price === 1800));
    await new Feed(second).quote('600519', 1801);
    await prices.next((u) => u.data.some((item) => item.price === 1801));
    expect((await balances.next()).user_id).toBe(4);

    // Signals: reconnects with ?since= from before the restart; the history in Redis has what it missed.
    signalsHook.release();
    expect(await signalConnects.next()).toEqual({ since: before });
    expect(await recoveries.next()).toMatchObject({ since: before, recovered: true, replayed: 2 });
    expect((await signals.next()).id).toBe(missed[0]);
    expect((await signals.next()).id).toBe(missed[1]);
    expect(signals.values.map((s) => s.id)).toEqual([before, ...missed]);
    for (const client of [signalsClient, stockClient, tradingClient]) {
      expect(client.state).toBe('connected');
    }
  });
});
