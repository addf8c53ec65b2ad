import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTradingClient } from '@gw/adapter-socketio/testing';
import type { TradingClient } from '@gw/adapter-socketio/testing';
import { createSignalsAdapter, signalsAdapterConfig } from '@gw/adapter-signals';
import { loadConfig } from '@gw/config';
import { WebSocket } from 'ws';
import { busVariants, startTradingGateway, token } from '../protocols/socketio/harness.js';
import { startTestGateway } from '../testing/gateway.js';
import type { TestGateway } from '../testing/gateway.js';
import { openWebSocket } from '../testing/http.js';

const redis = busVariants.find((v) => v.name === 'redis bus')!.env;

/** The user's open connection slots, cluster-wide (what MAX_CONNECTIONS_PER_USER counts). */
async function slotsOf(gateway: TestGateway, user: number): Promise<number> {
  return (await gateway.bus.interestedTopics(`conn.user.${user}.`)).length;
}

/** A Socket.IO handshake that sends CONNECT and hangs up at once, before the server answers. */
async function abandonedHandshake(gateway: TestGateway, user: number): Promise<void> {
  const socket = new WebSocket(`${gateway.wsUrl}/socket.io/?EIO=4&transport=websocket&token=${await token(user)}`);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.on('message', (data: Buffer) => {
      if (data.toString().startsWith('0{')) {
        socket.send('40');
        socket.terminate();
      }
    });
    socket.on('close', () => {
      resolve();
    });
  });
}

describe('per-user slots are released on every path (MAX_CONNECTIONS_PER_USER=2, redis bus)', () => {
  let gateway: TestGateway;
  const open: TradingClient[] = [];

  beforeAll(async () => {
    const env = { ...redis, MAX_CONNECTIONS_PER_USER: '2' };
    gateway = await startTradingGateway(env, false);
  });
  afterAll(async () => {
    for (const client of open) {
      client.close();
    }
    await gateway.shutdown();
  });

  it('Socket.IO: handshakes abandoned after CONNECT hold no slot; the user can still connect twice', async () => {
    for (let i = 0; i < 8; i += 1) {
      await abandonedHandshake(gateway, 41);
    }
    // The user can still open its two connections (retried while abandoned handshakes still finish), and then
    // holds exactly two slots: none leaked.
    for (let i = 0; i < 2; i += 1) {
      let client: TradingClient | undefined;
      await expect
        .poll(async () => {
          client = await connectTradingClient(gateway.httpUrl, { transports: ['websocket'], reconnection: false, auth: { token: await token(41) } }).catch(() => undefined);
          return client !== undefined;
        })
        .toBe(true);
      if (client !== undefined) {
        open.push(client);
        await client.next('connected');
      }
    }
    await expect.poll(() => slotsOf(gateway, 41)).toBe(2);
    for (const client of open.splice(0)) {
      client.close();
    }
    await expect.poll(() => slotsOf(gateway, 41)).toBe(0);
  });
});

describe('raw WebSocket upgrades abandoned mid-handshake hold no slot (redis bus)', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    const env = { ...redis, MAX_CONNECTIONS_PER_USER: '1' };
    const { signals } = loadConfig(env, { signals: signalsAdapterConfig });
    gateway = await startTestGateway({ env, adapters: [createSignalsAdapter(signals)] });
  });
  afterAll(async () => {
    await gateway.shutdown();
  });

  it('a client that hangs up during the upgrade leaves the user free to connect', async () => {
    for (let i = 0; i < 8; i += 1) {
      const socket = new WebSocket(`${gateway.wsUrl}/ws/signals?token=${await token(42)}`);
      socket.on('error', () => undefined);
      // Hang up as soon as the request is written: the token check and the slot are still in flight.
      socket.on('upgrade', () => {
        socket.terminate();
      });
      await new Promise<void>((resolve) => {
        socket.once('close', () => {
          resolve();
        });
        setImmediate(() => {
          socket.terminate();
        });
      });
    }
    // Handshakes still in flight when the clients hung up release their slot when they find out: the user can
    // connect again, and then holds exactly one slot (its own), none leaked.
    let first: Awaited<ReturnType<typeof openWebSocket>> | undefined;
    await expect
      .poll(async () => {
        first = await openWebSocket(`${gateway.wsUrl}/ws/signals?token=${await token(42)}`).catch(() => undefined);
        return first !== undefined;
      })
      .toBe(true);
    await expect.poll(() => slotsOf(gateway, 42)).toBe(1);
    first?.socket.close();
    await first?.closed;
    await expect.poll(() => slotsOf(gateway, 42)).toBe(0);
  });
});
