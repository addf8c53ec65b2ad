import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectedSchema } from '@gw/adapter-socketio';
import { connectTradingClient, expectRefused } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { sleep } from '@gw/core';
import type { TestGateway } from '../../testing/gateway.js';
import { busVariants, handToken, metricValue, startTradingGateway, token } from './harness.js';

const ISSUER = 'gw-socketio-test';
const now = (): number => Math.floor(Date.now() / 1000);

describe.each(busVariants)('Socket.IO handshake ($name)', ({ env }) => {
  let gateway: TestGateway;
  const open: TradingClient[] = [];

  beforeAll(async () => {
    gateway = await startTradingGateway({ ...env, JWT_ISSUER: ISSUER }, false);
  });
  afterAll(async () => {
    for (const client of open) {
      client.close();
    }
    await gateway.shutdown();
  });

  async function connected(options: Parameters<typeof connectTradingClient>[1]): Promise<TradingClient> {
    const client = await connectTradingClient(gateway.httpUrl, options);
    open.push(client);
    return client;
  }

  const good = (sub: string | number = 4): Promise<string> => token(sub, '1h', ISSUER);

  for (const transports of [['websocket'], ['polling'], ['polling', 'websocket']] as const) {
    describe(`transports ${transports.join('+')}`, () => {
      it('accepts auth.token and sends `connected` to that socket only', async () => {
        const first = await connected({ transports: [...transports], auth: { token: await good(4) } });
        expect(connectedSchema.parse(await first.next('connected'))).toEqual({ message: '连接成功', user_id: 4, authenticated: true });
        const second = await connected({ transports: [...transports], auth: { token: await good(4) } });
        await second.next('connected');
        await sleep(100);
        expect(first.received('connected')).toHaveLength(1);
      });

      it('tolerates a Bearer prefix in auth.token', async () => {
        const client = await connected({ transports: [...transports], auth: { token: `Bearer ${await good(5)}` } });
        expect(await client.next('connected')).toMatchObject({ user_id: 5 });
      });

      it('accepts the Authorization header', async () => {
        const client = await connected({ transports: [...transports], extraHeaders: { Authorization: `Bearer ${await good(6)}` } });
        expect(await client.next('connected')).toMatchObject({ user_id: 6, authenticated: true });
      });

      it('accepts the token query parameter', async () => {
        const client = await connected({ transports: [...transports], query: { token: await good(7) } });
        expect(await client.next('connected')).toMatchObject({ user_id: 7 });
      });
    });
  }

  it('reports a non-numeric subject as a string user_id', async () => {
    const client = await connected({ auth: { token: await good('alice') } });
    expect(await client.next('connected')).toEqual({ message: '连接成功', user_id: 'alice', authenticated: true });
  });

  const refusals: [string, () => Promise<Record<string, unknown>>, string][] = [
    ['missing', () => Promise.resolve({}), 'unauthorized: token missing (Authorization: Bearer <token>, ?token= or Socket.IO auth.token)'],
    ['malformed', () => Promise.resolve({ auth: { token: 'not.a.jwt' } }), 'unauthorized: malformed token'],
    ['bad_signature', () => Promise.resolve({ auth: { token: handToken({ sub: '4', iss: ISSUER, exp: now() + 60 }, undefined, 'another-secret') } }), 'unauthorized: bad token signature'],
    ['expired', () => Promise.resolve({ auth: { token: handToken({ sub: '4', iss: ISSUER, exp: now() - 120 }) } }), 'unauthorized: token expired'],
    ['not_yet_valid', () => Promise.resolve({ auth: { token: handToken({ sub: '4', iss: ISSUER, nbf: now() + 600, exp: now() + 900 }) } }), 'unauthorized: token not yet valid'],
    ['wrong_algorithm', () => Promise.resolve({ auth: { token: handToken({ sub: '4', iss: ISSUER, exp: now() + 60 }, { alg: 'HS512', typ: 'JWT' }) } }), 'unauthorized: token algorithm not accepted'],
    ['missing_sub', () => Promise.resolve({ auth: { token: handToken({ iss: ISSUER, exp: now() + 60 }) } }), 'unauthorized: token has no subject'],
    ['invalid_claims', async () => ({ auth: { token: await token(4, '1h', 'someone-else') } }), 'unauthorized: token issuer or audience not accepted'],
  ];

  for (const [reason, options, message] of refusals) {
    it(`refuses ${reason} with a connect_error naming it, counted by reason`, async () => {
      const before = await metricValue(gateway, new RegExp(`gateway_auth_failures_total\\{[^}]*protocol="socketio",reason="${reason}"[^}]*\\} (\\d+)`));
      const error = await expectRefused(gateway.httpUrl, await options());
      expect(error.message).toBe(message);
      expect(error.data?.reason).toBe(reason);
      expect(error.data?.code).toBe(reason === 'expired' ? 'token_expired' : 'unauthorized');
      const after = await metricValue(gateway, new RegExp(`gateway_auth_failures_total\\{[^}]*protocol="socketio",reason="${reason}"[^}]*\\} (\\d+)`));
      expect(after).toBe(before + 1);
    });
  }

  it('refuses a bad token in the header or the query just the same', async () => {
    expect((await expectRefused(gateway.httpUrl, { extraHeaders: { Authorization: 'Bearer nope' } })).message).toBe('unauthorized: malformed token');
    expect((await expectRefused(gateway.httpUrl, { query: { token: 'nope' }, transports: ['polling'] })).message).toBe('unauthorized: malformed token');
  });

  it('counts connections and lists clients with their user ids', async () => {
    const client = await connected({ auth: { token: await good(44) } });
    await client.next('connected');
    const rows = gateway.clients.describe().filter((row) => row.protocol === 'socketio' && row.user_id === 44);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.client_id).toMatch(/^sio_/);
    expect(await metricValue(gateway, /gateway_connections\{[^}]*protocol="socketio"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(1);
  });
});

describe('Socket.IO drain', () => {
  it('refuses new connections while draining and closes open ones so clients reconnect elsewhere', async () => {
    const gateway = await startTradingGateway({ DRAIN_TIMEOUT_MS: '600' }, false);
    const client = await connectTradingClient(gateway.httpUrl, { auth: { token: await token(4) } });
    await client.next('connected');
    const disconnected = client.disconnected(5_000);
    const stopped = gateway.shutdown();
    await sleep(50);
    const refused = await connectTradingClient(gateway.httpUrl, { auth: { token: await token(4) }, transports: ['polling'] }).then(
      (c) => {
        c.close();
        return undefined;
      },
      (error: unknown) => error as Error,
    );
    expect(refused).toBeInstanceOf(Error);
    // A transport close (not "io server disconnect"): socket.io clients reconnect by themselves.
    expect(await disconnected).toBe('transport close');
    await stopped;
  });
});
