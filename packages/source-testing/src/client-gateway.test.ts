import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import { z } from 'zod';
import { defineConfigSection } from '@gw/config';
import type { DataSource } from '@gw/source';
import { parseTradingTopic, tradingTopic, tradingTopicDeclaration, tradingTopicPrefix } from '@gw/topics';
import { startSourceGateway } from './client-gateway.js';
import type { SourceGateway } from './client-gateway.js';

/** The smallest trading source: the balance of every user whose balance someone watches, `1000 + <user>`. */
const balances: DataSource = {
  name: 'test-balances',
  description: 'Publishes a fixed balance for every watched user.',
  config: defineConfigSection({ name: 'test-balances', schema: z.object({}), env: {}, docs: {} }),
  topics: [tradingTopicDeclaration],
  async run({ bus }, signal) {
    const publish = (topic: string): void => {
      const data = parseTradingTopic(topic);
      if (data?.type === 'balance') {
        const total = 1000 + Number(data.sub);
        void bus.publishLatest(tradingTopic(data.sub, 'balance'), { total_balance: total, available_balance: total, used_margin: 0 });
      }
    };
    const watch = await bus.watchInterest(tradingTopicPrefix, (change) => {
      if (change.interested) {
        publish(change.topic);
      }
    });
    for (const topic of await bus.interestedTopics(tradingTopicPrefix)) {
      publish(topic);
    }
    await new Promise((resolve) => {
      signal.addEventListener('abort', resolve, { once: true });
    });
    await watch.unsubscribe();
  },
};

interface Received {
  event: string;
  payload: Record<string, unknown>;
}

/** A trading client as the legacy trading service's examples build it: socket.io-client, the JWT in `auth.token`. */
function connect(url: string, token: string | undefined): { socket: Socket; events: Received[]; connected: Promise<void> } {
  const socket = io(url, { auth: token === undefined ? {} : { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const events: Received[] = [];
  socket.onAny((event: string, payload: Record<string, unknown>) => events.push({ event, payload }));
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => {
      resolve();
    });
    socket.once('connect_error', reject);
  });
  return { socket, events, connected };
}

describe('startSourceGateway with the trading protocol (Socket.IO)', () => {
  let gateway: SourceGateway;

  beforeAll(async () => {
    gateway = await startSourceGateway({ protocol: 'trading', sources: [balances] });
  });

  afterAll(async () => {
    await gateway.close();
  });

  it("serves a source's trading data to its user's socket.io client, and to nobody else", async () => {
    const seven = connect(gateway.httpUrl, await gateway.token(7));
    const eight = connect(gateway.httpUrl, await gateway.token(8));
    try {
      await Promise.all([seven.connected, eight.connected]);
      for (const client of [seven, eight]) {
        expect(await client.socket.timeout(10_000).emitWithAck('subscribe_trading', { types: ['balance'] })).toMatchObject({ status: 'success', types: ['balance'] });
      }
      const balancesOf = (client: typeof seven): unknown[] => client.events.filter((e) => e.event === 'balance_update').map((e) => e.payload);
      await expect.poll(() => balancesOf(seven)).toEqual([expect.objectContaining({ type: 'balance_update', user_id: 7, data: { total_balance: 1007, available_balance: 1007, used_margin: 0 } })]);
      await expect.poll(() => balancesOf(eight)).toEqual([expect.objectContaining({ type: 'balance_update', user_id: 8, data: { total_balance: 1008, available_balance: 1008, used_margin: 0 } })]);
    } finally {
      seven.socket.disconnect();
      eight.socket.disconnect();
    }
  });

  it("refuses a client without a token through the connection pipeline's handshake gate", async () => {
    const anonymous = connect(gateway.httpUrl, undefined);
    try {
      await expect(anonymous.connected).rejects.toMatchObject({ data: { code: expect.any(String) as string } });
    } finally {
      anonymous.socket.disconnect();
    }
  });
});
