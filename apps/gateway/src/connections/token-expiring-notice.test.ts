// `token_expiring` when less than the notice (TOKEN_EXPIRY_NOTICE_S, default 60 s) is left: it comes at once,
// on every protocol, with the seconds actually left. A gateway of its own (one Socket.IO adapter per process),
// at the default notice.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TestGateway } from '../testing/gateway.js';
import { openWebSocket } from '../testing/http.js';
import { startAllProtocols } from '../sdk/fixture.js';
import { handToken } from '../protocols/socketio/harness.js';

const nowS = (): number => Math.floor(Date.now() / 1000);
/** A token with 20 s left: less than the default 60 s notice. */
const shortToken = (sub: string): string => handToken({ sub, iat: nowS(), exp: nowS() + 20 });

let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startAllProtocols({ MAX_CONNECTIONS_PER_USER: '0' });
}, 60_000);

afterAll(async () => {
  await gateway.shutdown();
});

const expiringOf = (messages: string[]): Record<string, unknown> | undefined =>
  messages.map((m) => JSON.parse(m) as Record<string, unknown>).find((frame) => frame['type'] === 'token_expiring');

describe('token_expiring with less left than the notice', () => {
  it('comes at once, with the seconds actually left, on every protocol', async () => {
    const signals = await openWebSocket(`${gateway.wsUrl}/ws/signals`, { headers: { authorization: `Bearer ${shortToken('81')}` } });
    const stock = await openWebSocket(`${gateway.wsUrl}/ws/stock/prices`);
    stock.socket.send(JSON.stringify({ type: 'refresh_token', token: shortToken('82') }));
    const trading = await connectTradingClient(gateway.httpUrl, { auth: { token: shortToken('83') }, transports: ['websocket'] });
    try {
      await expect.poll(() => expiringOf(signals.messages)).toBeDefined();
      await expect.poll(() => expiringOf(stock.messages)).toBeDefined();
      const socketio = (await trading.next('token_expiring')) as Record<string, unknown>;
      // Told while most of the 20 s are still left (not at the end), and never more than is left.
      for (const notice of [expiringOf(signals.messages), expiringOf(stock.messages), socketio]) {
        expect(notice?.['expires_in']).toBeGreaterThan(10);
        expect(notice?.['expires_in']).toBeLessThanOrEqual(20);
      }
    } finally {
      signals.socket.close();
      stock.socket.close();
      trading.close();
    }
  });
});
