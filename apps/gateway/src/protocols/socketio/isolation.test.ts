import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushSchemas } from '@gw/adapter-socketio';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { sleep } from '@gw/core';
import type { TradingType } from '@gw/topics';
import type { TestGateway } from '../../testing/gateway.js';
import { busVariants, metricValue, startTradingGateway, token } from './harness.js';

const USERS = 50;
/** The issue asks for 20 s; SOCKETIO_ISOLATION_SECONDS shortens it for a quick local run. */
const SECONDS = Number(process.env['SOCKETIO_ISOLATION_SECONDS'] ?? 20);
const eventOf: Record<TradingType, string> = {
  balance: 'balance_update',
  positions: 'positions_update',
  pnl: 'pnl_update',
  orders: 'orders_update',
};

interface Watcher {
  user: number;
  types: TradingType[];
  client: TradingClient;
}

describe.each(busVariants)('Socket.IO isolation under load ($name)', ({ env }) => {
  let gateway: TestGateway;
  const watchers: Watcher[] = [];

  beforeAll(async () => {
    gateway = await startTradingGateway(env);
  });
  afterAll(async () => {
    for (const { client } of watchers) {
      client.close();
    }
    await gateway.shutdown();
  });

  it(`${USERS} users × 2 sockets for ${SECONDS} s: every push is the socket's own user's, of its own types`, { timeout: (SECONDS + 40) * 1000 }, async () => {
    for (let user = 100; user < 100 + USERS; user += 1) {
      const plans: TradingType[][] = [user % 2 === 0 ? ['balance', 'positions'] : ['pnl', 'orders'], ['balance', 'positions', 'pnl']];
      for (const types of plans) {
        const client = await connectTradingClient(gateway.httpUrl, {
          auth: { token: await token(user) },
          transports: watchers.length % 5 === 0 ? ['polling'] : ['websocket'],
        });
        watchers.push({ user, types, client });
      }
    }
    await Promise.all(
      watchers.map(async ({ client, types }) => {
        await client.next('connected');
        await client.request('subscribe_trading', { types });
      }),
    );
    // Every socket gets each of its types at least once (waited for, however loaded the machine), then the
    // pushes run on for SECONDS more before every one of them is checked.
    await expect
      .poll(() => watchers.every(({ client, types }) => types.every((type) => client.received(eventOf[type]).length > 0)), { timeout: 30_000 })
      .toBe(true);
    await sleep(SECONDS * 1000);

    let pushes = 0;
    for (const { user, types, client } of watchers) {
      const allowed = new Set(types.map((t) => eventOf[t]));
      for (const { event, payload } of client.events) {
        if (!event.endsWith('_update')) {
          continue;
        }
        pushes += 1;
        expect(allowed.has(event), `user ${user} got ${event} though subscribed to ${types.join(',')}`).toBe(true);
        const parsed = pushSchemas[event as keyof typeof pushSchemas].parse(payload);
        expect(parsed.user_id).toBe(user);
      }
      for (const type of types) {
        expect(client.received(eventOf[type]).length, `user ${user} never got ${type}`).toBeGreaterThanOrEqual(1);
      }
    }
    expect(pushes).toBeGreaterThan(watchers.length * 2);
    // Both sockets of a user receive the same pushes of a type they share (one room, one fan-out), once both
    // have joined: the second socket's pushes from its second one on appear in the same order for the first.
    const [a, b] = watchers.filter((w) => w.user === 100);
    const fromA = a!.client.received('balance_update').map((p) => JSON.stringify(p));
    const fromB = b!.client.received('balance_update').map((p) => JSON.stringify(p));
    expect(fromB.length).toBeGreaterThanOrEqual(4);
    const start = fromA.indexOf(fromB[1]!);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(fromA.slice(start, start + 3)).toEqual(fromB.slice(1, 4));
    expect(await metricValue(gateway, /gateway_messages_sent_total\{[^}]*protocol="socketio",type="balance_update"[^}]*\} (\d+)/)).toBeGreaterThan(0);
    expect(await metricValue(gateway, /gateway_delivery_latency_seconds_count\{[^}]*protocol="socketio"[^}]*\} (\d+)/)).toBeGreaterThan(0);
    expect(await metricValue(gateway, /gateway_subscriptions\{[^}]*protocol="socketio",kind="balance"[^}]*\} (\d+)/)).toBe(USERS + USERS / 2);
  });
});
