import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { signalFrameSchema } from '@gw/adapter-signals';
import { SignalsClient } from '@gw/client';
import type { DisconnectInfo, GatewayClientError, SignalFrame, SignalRecovery, SignalsClientOptions, SignalsConnected } from '@gw/client';
import type { TestGateway } from '../testing/gateway.js';
import { buy, publishSignal, startSignalsGateway, token } from '../protocols/signals/fixture.js';
import { Inbox, TokenHook, closeFromServer, fastReconnect, sleep } from './fixture.js';

/** A SignalsClient on `gateway` with inboxes for everything it reports; closed after each test. */
function open(gateway: TestGateway, options: Partial<SignalsClientOptions> & { getToken: SignalsClientOptions['getToken'] }) {
  const client = new SignalsClient({ url: `${gateway.wsUrl}/ws/signals`, WebSocket, reconnect: fastReconnect, ...options });
  opened.push(client);
  const inbox = {
    signals: new Inbox<SignalFrame>(),
    recoveries: new Inbox<SignalRecovery>(),
    connects: new Inbox<SignalsConnected>(),
    disconnects: new Inbox<DisconnectInfo>(),
    errors: new Inbox<GatewayClientError>(),
  };
  client.onSignal(inbox.signals.push);
  client.onRecovery(inbox.recoveries.push);
  client.onConnect(inbox.connects.push);
  client.onDisconnect(inbox.disconnects.push);
  client.onError(inbox.errors.push);
  return { client, ...inbox };
}

const opened: SignalsClient[] = [];
afterEach(() => {
  for (const client of opened.splice(0)) {
    client.close();
  }
});

async function publish(gateway: TestGateway, symbol: string, price: number): Promise<string> {
  const { status, json } = await publishSignal(gateway, buy(symbol, price));
  expect(status).toBe(201);
  return json['id'] as string;
}

describe('SignalsClient against the gateway', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startSignalsGateway({ SIGNAL_HISTORY_SIZE: '100' });
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  it('receives typed signals, filtered by ?symbols=, with the token in a header (Node) or in ?token= (browsers)', async () => {
    const viaHeader = open(gateway, { getToken: () => token(4), symbols: ['BTCUSDT'] });
    const viaQuery = open(gateway, { getToken: () => token(5), tokenIn: 'query' });
    await Promise.all([viaHeader.connects.next(), viaQuery.connects.next()]);

    const eth = await publish(gateway, 'ETHUSDT', 3000);
    const btc = await publish(gateway, 'BTCUSDT', 75000);

    const first = await viaHeader.signals.next();
    expect(signalFrameSchema.parse(first)).toEqual(first);
    expect(first).toMatchObject({ type: 'buy', content: { symbol: 'BTCUSDT', price: 75000 }, is_test: false, id: btc });
    expect((await viaQuery.signals.next()).id).toBe(eth);
    expect((await viaQuery.signals.next()).id).toBe(btc);
    expect(viaHeader.client.lastSignalId).toBe(btc);
    expect(viaHeader.client.state).toBe('connected');

    // A test signal goes to the asking client alone and does not move its position.
    expect(viaHeader.client.requestTestSignal()).toBe(true);
    expect(await viaHeader.signals.next()).toMatchObject({ is_test: true, content: { symbol: 'BTCUSDT' } });
    expect(viaHeader.client.lastSignalId).toBe(btc);
    expect(viaHeader.signals.values.filter((s) => s.content.symbol === 'ETHUSDT')).toEqual([]);
  });

  it('reconnects by itself after the server closes the connection and recovers what it missed with ?since=, once each', async () => {
    const hook = new TokenHook(() => token(4));
    const { client, signals, recoveries, connects, disconnects } = open(gateway, { getToken: hook.getToken });
    expect(await connects.next()).toEqual({ since: undefined });
    const before = await publish(gateway, 'BTCUSDT', 1);
    expect((await signals.next()).id).toBe(before);

    hook.hold(); // the client waits in getToken: the test decides when it comes back
    expect(closeFromServer(gateway, 'signals')).toBe(1);
    expect(await disconnects.next()).toEqual({ code: 1001, reason: 'going away' });
    const missed = [await publish(gateway, 'BTCUSDT', 2), await publish(gateway, 'ETHUSDT', 3)];
    expect(client.requestTestSignal()).toBe(false); // nothing is queued while disconnected
    hook.release();

    expect(await connects.next()).toEqual({ since: before });
    expect(await recoveries.next()).toMatchObject({ since: before, recovered: true, replayed: 2 });
    expect((await signals.next()).id).toBe(missed[0]);
    expect((await signals.next()).id).toBe(missed[1]);
    const live = await publish(gateway, 'BTCUSDT', 4);
    expect((await signals.next()).id).toBe(live);
    expect(signals.values.map((s) => s.id)).toEqual([before, ...missed, live]);
    expect(hook.calls).toBe(2);
  });

  it('asks getToken again after close 4401 token_expired when the in-band refresh failed, reconnects and loses nothing', async () => {
    // The first token expires within two seconds. The server's `token_expiring` makes the client ask the hook
    // at once (in-band refresh, which token-refresh.test.ts covers when it succeeds); here that call fails, so
    // the token runs out and the server closes with 4401. The reconnect asks the hook again and gets an hour.
    const hook = new TokenHook(async (call) => {
      if (call === 2) {
        throw new Error('refresh endpoint down');
      }
      return token(4, call === 1 ? 2 : '1h');
    });
    const { signals, recoveries, connects, disconnects, errors } = open(gateway, { getToken: hook.getToken });
    await connects.next();
    const before = await publish(gateway, 'BTCUSDT', 10);
    expect((await signals.next()).id).toBe(before);

    expect(await errors.next()).toMatchObject({ source: 'token', code: 'token_failed', message: 'getToken failed: refresh endpoint down' });
    expect(await disconnects.next()).toEqual({ code: 4401, reason: 'token_expired' });
    expect(await connects.next()).toEqual({ since: before });
    expect(hook.calls).toBe(3);
    expect(await recoveries.next()).toMatchObject({ recovered: true, replayed: 0 });
    const after = await publish(gateway, 'BTCUSDT', 11);
    expect((await signals.next()).id).toBe(after);
  });

  it('reports a refused upgrade (expired token, HTTP 401) and retries with the next token from the hook', async () => {
    const hook = new TokenHook((call) => token(4, call === 1 ? -60 : '1h'));
    const { connects, errors } = open(gateway, { getToken: hook.getToken });
    const refused = await errors.next();
    expect(refused).toMatchObject({ source: 'connection', code: 'connect_failed' });
    expect(refused.message).toContain('401');
    expect(refused.message).not.toContain('token='); // the URL in messages never carries the token
    await connects.next();
    expect(hook.calls).toBe(2);
  });

  it('reports a getToken failure and retries it', async () => {
    const hook = new TokenHook(async (call) => {
      if (call === 1) {
        throw new Error('refresh endpoint down');
      }
      return token(4);
    });
    const { connects, errors } = open(gateway, { getToken: hook.getToken, tokenIn: 'query' });
    expect(await errors.next()).toMatchObject({ source: 'token', code: 'token_failed', message: 'getToken failed: refresh endpoint down' });
    await connects.next();
  });

  it('stops reconnecting on close()', async () => {
    const { client, connects, disconnects } = open(gateway, { getToken: () => token(4) });
    await connects.next();
    closeFromServer(gateway, 'signals');
    await disconnects.next();
    client.close(); // while it waits for its next attempt
    expect(client.state).toBe('closed');
    await sleep(600); // over twice the longest backoff of these tests: a reconnect would have happened by now
    await expect.poll(() => gateway.clients.countFor('signals')).toBe(0);
    expect(connects.values).toHaveLength(1);
  });
});

describe('SignalsClient recovery beyond the history', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startSignalsGateway({ SIGNAL_HISTORY_SIZE: '2' });
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  it('reports recovered: false with the first lost id when the history is too short, then replays what is kept', async () => {
    const hook = new TokenHook(() => token(4));
    const { signals, recoveries, connects, disconnects } = open(gateway, { getToken: hook.getToken });
    await connects.next();
    const before = await publish(gateway, 'BTCUSDT', 1);
    expect((await signals.next()).id).toBe(before);

    hook.hold();
    closeFromServer(gateway, 'signals');
    await disconnects.next();
    const missed: string[] = [];
    for (let price = 2; price <= 5; price += 1) {
      missed.push(await publish(gateway, 'BTCUSDT', price));
    }
    hook.release();

    const recovery = await recoveries.next();
    expect(recovery).toEqual({ since: before, recovered: false, reason: 'too_old', missedFrom: missed[0], replayed: 2 });
    expect((await signals.next()).id).toBe(missed[2]);
    expect((await signals.next()).id).toBe(missed[3]);
  });
});
