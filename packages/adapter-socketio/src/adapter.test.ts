import { describe, expect, it } from 'vitest';
import { tradingStatusTopic, tradingTopic } from '@gw/topics';
import { connectTradingClient, startSocketIoServer } from './testing/index.js';

describe('socket.io adapter (alone on a uWS app)', () => {
  it('declares interest only while subscribed, relays account errors, and refuses a second adapter in the process', async () => {
    const server = await startSocketIoServer({ SOCKETIO_TIMESTAMP_TZ: 'Asia/Shanghai' });
    try {
      const client = await connectTradingClient(server.url, { auth: { token: await server.token(4) } });
      await client.next('connected');
      expect(await server.bus.interestedTopics('trading.')).toEqual([]);
      await client.request('subscribe_trading', { types: ['balance', 'orders'] });
      await expect.poll(() => server.bus.interestedTopics('trading.')).toEqual([tradingTopic('4', 'balance'), tradingTopic('4', 'orders')].sort());
      await server.bus.publish(tradingTopic('4', 'balance'), { total_balance: 1, available_balance: 1, used_margin: 0 });
      const push = (await client.next('balance_update')) as { timestamp: string };
      expect(push.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      await server.bus.publishLatest(tradingStatusTopic('4'), { state: 'error', code: 'exchange_auth_failed', message: 'key rejected', retryAt: Date.UTC(2030, 0, 1) });
      expect(await client.next('error')).toEqual({ code: 'exchange_auth_failed', message: 'key rejected', retry_at: '2030-01-01T00:00:00.000Z' });
      await client.request('unsubscribe_trading', {});
      await expect.poll(() => server.bus.interestedTopics('trading.')).toEqual([]);
      expect(server.adapter.stats()).toMatchObject({ connections: 1, total_connections: 1, subscriptions: 0 });
      await expect(startSocketIoServer()).rejects.toThrow(/only one Socket.IO adapter/);
      client.close();
    } finally {
      await server.close();
    }
  });
});
