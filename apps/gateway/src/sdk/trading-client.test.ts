import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectedSchema, pushSchemas, subscribedSchema } from '@gw/adapter-socketio';
import { TradingClient } from '@gw/client';
import type {
  ConnectedPayload,
  DisconnectInfo,
  GatewayClientError,
  PushPayload,
  TradingClientOptions,
  TradingType,
} from '@gw/client';
import type { TestGateway } from '../testing/gateway.js';
import { startTradingGateway, token } from '../protocols/socketio/harness.js';
import { Inbox, TokenHook, closeFromServer, fastReconnect, serverSubscriptions } from './fixture.js';

const opened: TradingClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) {
    client.close();
  }
});

function open(gateway: TestGateway, options: Partial<TradingClientOptions> & { getToken: TradingClientOptions['getToken'] }) {
  const client = new TradingClient({ url: gateway.httpUrl, reconnect: fastReconnect, ackTimeoutMs: 3_000, ...options });
  opened.push(client);
  const inbox = {
    balances: new Inbox<PushPayload<'balance'>>(),
    pnls: new Inbox<PushPayload<'pnl'>>(),
    orders: new Inbox<PushPayload<'orders'>>(),
    connects: new Inbox<ConnectedPayload>(),
    disconnects: new Inbox<DisconnectInfo>(),
    errors: new Inbox<GatewayClientError>(),
  };
  client.onBalanceUpdate(inbox.balances.push);
  client.onPnlUpdate(inbox.pnls.push);
  client.onOrdersUpdate(inbox.orders.push);
  client.onConnect(inbox.connects.push);
  client.onDisconnect(inbox.disconnects.push);
  client.onError(inbox.errors.push);
  return { client, ...inbox };
}

describe('TradingClient against the gateway', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startTradingGateway();
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  it('connects with auth.token, subscribes with the acknowledgement and receives typed pushes', async () => {
    const { client, balances, pnls, connects } = open(gateway, { getToken: () => token(4) });
    const connected = await connects.next();
    expect(connectedSchema.parse(connected)).toEqual({ message: '连接成功', user_id: 4, authenticated: true });

    const ack = await client.subscribe(['balance', 'pnl']);
    expect(subscribedSchema.parse(ack)).toMatchObject({ status: 'success', types: ['balance', 'pnl'], user_id: 4 });
    const balance = await balances.next();
    expect(pushSchemas.balance_update.parse(balance)).toEqual(balance);
    expect(pushSchemas.pnl_update.parse(await pnls.next())).toMatchObject({ type: 'pnl_update', user_id: 4 });
    expect(client.types()).toEqual(['balance', 'pnl']);

    await client.unsubscribe(['pnl']);
    expect(client.types()).toEqual(['balance']);
    expect(serverSubscriptions(gateway, 'socketio')).toEqual([['balance']]);
  });

  it('surfaces error events and keeps only the types the server accepted', async () => {
    const { client, connects, errors } = open(gateway, { getToken: () => token(4) });
    await connects.next();
    // A JavaScript caller is not stopped by the types: the server's answer is reported.
    const ack = await client.subscribe(['orders', 'candles' as TradingType]);
    expect(ack.types).toEqual(['orders']);
    expect(await errors.next()).toMatchObject({ source: 'server', code: 'invalid_types', details: { invalid_types: ['candles'] } });
    expect(client.types()).toEqual(['orders']);
  });

  it('reconnects by itself after the server closes the transport, and subscribes again', async () => {
    const { client, balances, orders, connects, disconnects } = open(gateway, { getToken: () => token(7) });
    await connects.next();
    await client.subscribe(['balance', 'orders']);
    await balances.next();

    expect(closeFromServer(gateway, 'socketio')).toBe(1);
    expect(await disconnects.next()).toEqual({ reason: 'transport close' });
    balances.skipAll();
    orders.skipAll();
    await connects.next();
    // The latest values are pushed at once after the resubscription.
    expect((await balances.next()).user_id).toBe(7);
    expect((await orders.next()).user_id).toBe(7);
    expect(serverSubscriptions(gateway, 'socketio')).toEqual([['balance', 'orders']]);
  });

  it('gets a fresh token after the server disconnects an expired one (error token_expired) whose refresh was refused, then resubscribes', async () => {
    // The first token lives two seconds; the hook's answer to `token_expiring` names another user, which the
    // server refuses, so the token runs out and the server disconnects. An accepted in-band refresh is
    // token-refresh.test.ts's subject.
    const hook = new TokenHook((call) => (call === 2 ? token(5, '1h') : token(4, call === 1 ? 2 : '1h')));
    const { client, balances, connects, disconnects, errors } = open(gateway, { getToken: hook.getToken });
    await connects.next();
    await client.subscribe(['balance']);
    await balances.next();

    expect(await errors.next()).toMatchObject({ source: 'server', code: 'token_refresh_failed' });
    expect(await errors.next()).toMatchObject({ source: 'server', code: 'token_expired', message: 'token expired' });
    expect(await disconnects.next()).toEqual({ reason: 'io server disconnect' });
    balances.skipAll();
    await connects.next();
    expect(hook.calls).toBe(3);
    await balances.next();
  });

  it('answers a connect_error "token expired" with the next token from the hook', async () => {
    const hook = new TokenHook((call) => token(4, call === 1 ? -60 : '1h'));
    const { connects, errors } = open(gateway, { getToken: hook.getToken });
    expect(await errors.next()).toMatchObject({ source: 'connection', code: 'token_expired', message: 'unauthorized: token expired' });
    await connects.next();
    expect(hook.calls).toBe(2);
  });

  it('settles a subscribe made while disconnected with the next connection\'s acknowledgement', async () => {
    const hook = new TokenHook(() => token(9));
    const { client, connects, disconnects } = open(gateway, { getToken: hook.getToken, transports: ['websocket'] });
    await connects.next();
    await client.subscribe(['balance']);
    hook.hold();
    closeFromServer(gateway, 'socketio');
    await disconnects.next();

    const first = client.subscribe(['pnl']);
    const second = client.subscribe(['orders']);
    hook.release();
    const [a, b] = await Promise.all([first, second]);
    expect(a).toBe(b); // one resubscription answers every call made while away
    expect(a.subscriptions.sort()).toEqual(['balance', 'orders', 'pnl']);
    expect(serverSubscriptions(gateway, 'socketio')).toEqual([['balance', 'orders', 'pnl']]);
  });

  it('stops reconnecting on close() and rejects what waits for a reconnection', async () => {
    const hook = new TokenHook(() => token(4));
    const { client, connects, disconnects } = open(gateway, { getToken: hook.getToken });
    await connects.next();
    hook.hold();
    closeFromServer(gateway, 'socketio');
    await disconnects.next();
    const pending = client.subscribe(['balance']);
    client.close();
    hook.release();
    await expect(pending).rejects.toMatchObject({ code: 'closed' });
    await expect.poll(() => gateway.clients.countFor('socketio')).toBe(0);
    expect(client.state).toBe('closed');
  });
});
