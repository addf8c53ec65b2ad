// The SDK's in-band token refresh: each client answers `token_expiring` with a token from its `getToken` hook
// and stays connected (no disconnect, no reconnect) past three lifetimes of its tokens, still being served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SignalsClient, StockPricesClient, TradingClient } from '@gw/client';
import type { DisconnectInfo, SignalFrame, TokenRefreshedInfo } from '@gw/client';
import type { TestGateway } from '../testing/gateway.js';
import { token } from '../protocols/socketio/harness.js';
import { Inbox, TokenHook, fastReconnect, startAllProtocols } from './fixture.js';

const LIFETIME_S = 3;

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startAllProtocols({ TOKEN_EXPIRY_NOTICE_S: '1', STOCK_REQUIRE_AUTH: 'true' });
}, 60_000);

afterAll(async () => {
  await gateway.shutdown();
});

/** Waits for three refreshes, checking that the connection never dropped meanwhile. */
async function threeRefreshes(refreshed: Inbox<TokenRefreshedInfo>, disconnects: Inbox<DisconnectInfo>, started: number): Promise<void> {
  let refreshes = 0;
  // Refreshed until three lifetimes of the first token have passed: without refresh it would have been
  // closed (4401 / token_expired) at the first.
  while (refreshes < 3 || Date.now() < started + 3 * LIFETIME_S * 1000) {
    const info = await refreshed.next(() => true, 10_000);
    expect(info.expiresAt).toBeGreaterThan(Date.now() / 1000);
    refreshes += 1;
  }
  expect(disconnects.values).toEqual([]);
}

describe('@gw/client refreshes its token in band', () => {
  it('SignalsClient', async () => {
    const hook = new TokenHook(() => token(51, LIFETIME_S));
    const started = Date.now();
    const client = new SignalsClient({ url: `${gateway.wsUrl}/ws/signals`, WebSocket, reconnect: fastReconnect, getToken: hook.getToken });
    const refreshed = new Inbox<TokenRefreshedInfo>();
    const disconnects = new Inbox<DisconnectInfo>();
    const signals = new Inbox<SignalFrame>();
    client.onTokenRefreshed(refreshed.push);
    client.onDisconnect(disconnects.push);
    client.onSignal(signals.push);
    try {
      await threeRefreshes(refreshed, disconnects, started);
      expect(hook.calls).toBeGreaterThanOrEqual(4);
      expect(client.requestTestSignal()).toBe(true);
      expect(await signals.next((s) => s.is_test)).toMatchObject({ is_test: true });
    } finally {
      client.close();
    }
  }, 30_000);

  it('StockPricesClient', async () => {
    const hook = new TokenHook(() => token(52, LIFETIME_S));
    const started = Date.now();
    const client = new StockPricesClient({ url: `${gateway.wsUrl}/ws/stock/prices`, WebSocket, reconnect: fastReconnect, getToken: hook.getToken });
    const refreshed = new Inbox<TokenRefreshedInfo>();
    const disconnects = new Inbox<DisconnectInfo>();
    client.onTokenRefreshed(refreshed.push);
    client.onDisconnect(disconnects.push);
    try {
      await threeRefreshes(refreshed, disconnects, started);
      expect(await client.ping()).toMatchObject({ type: 'pong' });
    } finally {
      client.close();
    }
  }, 30_000);

  it('TradingClient', async () => {
    const hook = new TokenHook(() => token(53, LIFETIME_S));
    const started = Date.now();
    const client = new TradingClient({ url: gateway.httpUrl, reconnect: fastReconnect, getToken: hook.getToken });
    const refreshed = new Inbox<TokenRefreshedInfo>();
    const disconnects = new Inbox<DisconnectInfo>();
    client.onTokenRefreshed(refreshed.push);
    client.onDisconnect(disconnects.push);
    try {
      await threeRefreshes(refreshed, disconnects, started);
      expect(await client.subscribe(['balance'])).toMatchObject({ status: 'success' });
    } finally {
      client.close();
    }
  }, 30_000);
});
