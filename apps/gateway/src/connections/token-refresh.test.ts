// In-band token refresh on every protocol, with raw `ws` and socket.io-client connections against a real
// gateway: the connection outlives its original token, refusals change nothing, `token_expiring` comes first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_SECRET } from '@gw/auth';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { serverExpiry } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { openWebSocket } from '../testing/http.js';
import { startAllProtocols } from '../sdk/fixture.js';
import { handToken, metricValue } from '../protocols/socketio/harness.js';
import { refusedUpgrade } from '../protocols/signals/fixture.js';

/** Short-lived tokens: 3 s of life, the notice 1 s before `exp`. */
const LIFETIME_S = 3;
const nowS = (): number => Math.floor(Date.now() / 1000);
const tokenFor = (sub: string, lifetimeS = LIFETIME_S, secret = DEV_SECRET): string =>
  handToken({ sub, iat: nowS(), exp: nowS() + lifetimeS }, { alg: 'HS256', typ: 'JWT' }, secret);

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startAllProtocols({ TOKEN_EXPIRY_NOTICE_S: '1', MAX_CONNECTIONS_PER_USER: '0' });
}, 60_000);

afterAll(async () => {
  await gateway.shutdown();
});

/** A JSON-frame inbox over an open `ws` socket, waited on by predicate. */
async function rawClient(path: string, token: string | undefined) {
  const client = await openWebSocket(`${gateway.wsUrl}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  let cursor = 0;
  const next = async (match: (frame: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (cursor < client.messages.length) {
        const frame = JSON.parse(client.messages[cursor] ?? 'null') as Record<string, unknown>;
        cursor += 1;
        if (match(frame)) {
          return frame;
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`no matching frame within ${timeoutMs} ms; last: ${client.messages.slice(-3).join(' | ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return { ...client, next };
}

const ofType = (type: string) => (frame: Record<string, unknown>) => frame['type'] === type;

/**
 * Signals takes the token at the upgrade; the stock protocol (STOCK_REQUIRE_AUTH=false, the default) reads
 * none there, so its connections authenticate in band with a first `refresh_token`. On both, a refusal's
 * `details` starts with its reason.
 */
async function authenticated(protocol: string, path: string, token: string) {
  if (protocol === 'signals') {
    return rawClient(path, token);
  }
  const client = await rawClient(path, undefined);
  client.socket.send(JSON.stringify({ type: 'refresh_token', token }));
  await client.next(ofType('token_refreshed'));
  return client;
}

describe.each([
  { protocol: 'signals', path: '/ws/signals', sub: '41', probe: 'test', isProbeAnswer: (f: Record<string, unknown>) => f['is_test'] === true },
  { protocol: 'stock', path: '/ws/stock/prices', sub: '42', probe: '{"type":"ping"}', isProbeAnswer: ofType('pong') },
])('$protocol (raw WebSocket)', ({ protocol, path, sub, probe, isProbeAnswer }) => {
  it('refreshed at each token_expiring, stays open past three original lifetimes and keeps being served', async () => {
    const started = Date.now();
    const client = await authenticated(protocol, path, tokenFor(sub));
    let refreshes = 0;
    while (Date.now() < started + 3 * LIFETIME_S * 1000 + 500) {
      const expiring = await client.next(ofType('token_expiring'));
      expect(expiring['expires_in']).toBeLessThanOrEqual(1);
      client.socket.send(JSON.stringify({ type: 'refresh_token', token: tokenFor(sub) }));
      const refreshed = await client.next(ofType('token_refreshed'));
      expect(refreshed['expires_at']).toBeGreaterThanOrEqual(nowS() + LIFETIME_S - 1);
      expect(serverExpiry(gateway, protocol, Number(sub))).toBe((refreshed['expires_at'] as number) * 1000);
      refreshes += 1;
      client.socket.send(probe);
      await client.next(isProbeAnswer);
    }
    expect(refreshes).toBeGreaterThanOrEqual(3);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.socket.close();
  }, 30_000);

  it('refuses a different sub, a bad signature and an expired token; the old expiry stays; unknown frames unchanged', async () => {
    const client = await authenticated(protocol, path, tokenFor(sub, 600));
    const before = serverExpiry(gateway, protocol, Number(sub));
    expect(before).toBeDefined();
    const refused = [tokenFor('999', 600), tokenFor(sub, 600, 'not-the-gateway-secret-0123456789'), tokenFor(sub, -60), 'not.a.jwt'];
    const reasons: string[] = [];
    for (const token of refused) {
      client.socket.send(JSON.stringify({ type: 'refresh_token', token }));
      const error = await client.next((f) => f['type'] === 'error' && f['error'] === 'token_refresh_failed');
      reasons.push(String(error['details']).split(':')[0] ?? '');
    }
    expect(reasons).toEqual(['different_sub', 'bad_signature', 'expired', 'malformed']);
    expect(serverExpiry(gateway, protocol, Number(sub))).toBe(before);
    client.socket.send(probe);
    await client.next(isProbeAnswer);
    client.socket.close();
  });
});

describe('signals: other text is untouched by the refresh check', () => {
  it('answers unknown_command to text that mentions refresh_token but is no refresh frame', async () => {
    const client = await rawClient('/ws/signals', tokenFor('43', 600));
    for (const text of ['refresh_token', '{"type":"refresh_tokens","token":"x"}', '{"type":"refresh_token","token":5}']) {
      client.socket.send(text);
      expect(await client.next(ofType('error'))).toMatchObject({ error: 'unknown_command' });
    }
    client.socket.close();
  });
});

describe('stock: a connection without a token becomes authenticated by a refresh', () => {
  it('shows the user in the client list and then expires like any token', async () => {
    const client = await rawClient('/ws/stock/prices', undefined);
    await client.next(ofType('connected'));
    expect(serverExpiry(gateway, 'stock', 44)).toBeUndefined();
    client.socket.send(JSON.stringify({ type: 'refresh_token', token: tokenFor('44', 2) }));
    await client.next(ofType('token_refreshed'));
    const listed = [...gateway.clients.all()].filter((c) => c.protocol === 'stock').map((c) => c.userId);
    expect(listed).toContain(44);
    expect(await client.closed).toEqual({ code: 4401, reason: 'token_expired' });
  });
});

describe('socketio', () => {
  const connect = (token: string): Promise<TradingClient> => connectTradingClient(gateway.httpUrl, { auth: { token }, transports: ['websocket'] });

  it('refreshed at each token_expiring (ack and token_refreshed), connected past three original lifetimes', async () => {
    const started = Date.now();
    const client = await connect(tokenFor('45'));
    let refreshes = 0;
    while (Date.now() < started + 3 * LIFETIME_S * 1000 + 500) {
      const expiring = (await client.next('token_expiring')) as Record<string, unknown>;
      expect(expiring['expires_in']).toBeLessThanOrEqual(1);
      const ack = (await client.request('refresh_token', { token: tokenFor('45') })) as Record<string, unknown>;
      expect(ack).toMatchObject({ status: 'success' });
      expect(await client.next('token_refreshed')).toEqual(ack);
      expect(serverExpiry(gateway, 'socketio', 45)).toBe((ack['expires_at'] as number) * 1000);
      refreshes += 1;
      expect(await client.request('subscribe_trading', { types: ['balance'] })).toMatchObject({ status: 'success' });
    }
    expect(refreshes).toBeGreaterThanOrEqual(3);
    expect(client.socket.connected).toBe(true);
    client.close();
  }, 30_000);

  it('refuses a different sub, a bad signature and an expired token with error and ack; the old expiry stays', async () => {
    const client = await connect(tokenFor('46', 600));
    const before = serverExpiry(gateway, 'socketio', 46);
    const refusedCount = (): Promise<number> =>
      metricValue(gateway, /gateway_client_errors_total\{[^}]*protocol="socketio",code="token_refresh_failed"[^}]*\} (\d+)/);
    const failuresBefore = await refusedCount();
    const reasons: unknown[] = [];
    for (const token of [tokenFor('999', 600), tokenFor('46', 600, 'not-the-gateway-secret-0123456789'), tokenFor('46', -60)]) {
      const ack = (await client.request('refresh_token', { token })) as Record<string, unknown>;
      expect(ack).toMatchObject({ status: 'error', code: 'token_refresh_failed' });
      expect(await client.next('error')).toMatchObject({ code: 'token_refresh_failed', reason: ack['reason'] });
      reasons.push(ack['reason']);
    }
    expect(reasons).toEqual(['different_sub', 'bad_signature', 'expired']);
    expect(serverExpiry(gateway, 'socketio', 46)).toBe(before);
    expect(await refusedCount()).toBe(failuresBefore + 3);
    expect(client.socket.connected).toBe(true);
    client.close();
  });
});

describe('tokens must expire', () => {
  it('refuses a token without exp at the handshake with reason missing_exp, counted', async () => {
    const noExp = handToken({ sub: '47', iat: nowS() });
    const refused = await refusedUpgrade(`${gateway.wsUrl}/ws/signals`, { headers: { authorization: `Bearer ${noExp}` } });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'unauthorized', reason: 'missing_exp' });
    expect(await metricValue(gateway, /gateway_auth_failures_total\{[^}]*reason="missing_exp"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(1);
  });
});
