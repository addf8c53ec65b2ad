import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { errorFrameSchema, stockErrorCodes } from '@gw/adapter-stock';
import { listedStocks } from '@gw/source-stock-market';
import type { TestGateway } from '../../testing/gateway.js';
import { httpGet } from '../../testing/http.js';
import { startStalledReader } from '../../testing/stalled-reader.js';
import type { StalledReader } from '../../testing/stalled-reader.js';
import { ADMIN_TOKEN, Feed, busVariants, stalledSubscriber, startStockGateway, stockClient, token, until } from './harness.js';
import type { StockClient } from './harness.js';

interface Stats {
  data: { connections: { active_connections: number }; protocols: Record<string, Record<string, number>> };
}

describe.each(busVariants)('stock protocol input, limits and admin API on the $name', ({ env }) => {
  let gateway: TestGateway;
  let feed: Feed;
  const clients: StockClient[] = [];

  const open = async (): Promise<StockClient> => {
    const client = await stockClient(gateway);
    clients.push(client);
    await client.nextOfType('connected');
    return client;
  };

  const stats = async (): Promise<Stats['data']> => ((await httpGet(`${gateway.httpUrl}/api/websocket/stats`)).json() as Stats).data;

  beforeAll(async () => {
    gateway = await startStockGateway(
      {
        ...env,
        STOCK_PUSH_INTERVAL_MS: '100',
        STOCK_STRATEGIES: 'volume_wave,test_wave',
        STOCK_MAX_SUBSCRIPTIONS: '4',
        STOCK_MAX_MESSAGE_BYTES: '512',
        STOCK_MAX_FRAME_BYTES: '4096',
        STOCK_MESSAGES_PER_SECOND: '20',
        STOCK_MAX_BUFFERED_BYTES: '16384',
        STOCK_SLOW_CLIENT_TIMEOUT_MS: '500',
      },
      'none',
    );
    feed = new Feed(gateway);
    await feed.universe();
    await feed.quote('600519', 1826);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  it('answers each bad input with an error frame and keeps the connection open', async () => {
    const client = await open();
    const cases: [unknown, string][] = [
      ['{"type": "subscribe", ', 'invalid_json'],
      ['hello', 'invalid_json'],
      [[1, 2], 'invalid_message'],
      [42, 'invalid_message'],
      [{ subscription_type: 'stock', target: '600519' }, 'invalid_message'],
      [{ type: 7 }, 'invalid_message'],
      [{ type: 'subscribe_all' }, 'unknown_type'],
      [{ type: 'subscribe', target: '600519' }, 'missing_subscription_type'],
      [{ type: 'subscribe', subscription_type: 'fund', target: '600519' }, 'invalid_subscription_type'],
      [{ type: 'unsubscribe', subscription_type: ['stock'], target: '600519' }, 'invalid_subscription_type'],
      [{ type: 'subscribe', subscription_type: 'stock' }, 'missing_target'],
      [{ type: 'subscribe', subscription_type: 'stock', target: '  ' }, 'missing_target'],
      [{ type: 'subscribe', subscription_type: 'stock', target: 600519 }, 'invalid_target'],
      [{ type: 'subscribe', subscription_type: 'stock', target: '60051' }, 'invalid_target'],
      [{ type: 'subscribe', subscription_type: 'stock', target: '999999' }, 'unknown_stock'],
      [{ type: 'subscribe', subscription_type: 'market', target: 'HK' }, 'invalid_target'],
      [{ type: 'subscribe', subscription_type: 'strategy', target: 'Volume Wave!' }, 'invalid_target'],
      [{ type: 'subscribe', subscription_type: 'strategy', target: 'no_such_strategy' }, 'unknown_strategy'],
    ];
    for (const [input, code] of cases) {
      client.send(typeof input === 'string' ? input : JSON.stringify(input));
      const frame = errorFrameSchema.parse(await client.next());
      expect(frame.error, JSON.stringify(input)).toBe(code);
      expect(stockErrorCodes).toContain(frame.error);
      expect(frame.details.length).toBeGreaterThan(0);
    }
    client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(errorFrameSchema.parse(await client.next()).error).toBe('unsupported_frame');
    // Still open and working.
    client.send({ type: 'ping' });
    expect(await client.next()).toMatchObject({ type: 'pong' });
    expect(await client.subscribe('stock', '600519')).toMatchObject({ type: 'subscribed' });
  });

  it('accepts market targets in any case and treats repeated or unknown unsubscribes as harmless', async () => {
    const client = await open();
    expect(await client.subscribe('market', 'sh')).toMatchObject({ type: 'subscribed', target: 'SH' });
    expect(await client.subscribe('market', 'SH')).toMatchObject({ type: 'subscribed', target: 'SH' });
    client.send({ type: 'unsubscribe', subscription_type: 'stock', target: '000001' });
    expect(await client.nextOfType('unsubscribed')).toMatchObject({ subscription_type: 'stock', target: '000001' });
    const row = (await stats()).protocols['stock']!;
    expect(row['subscriptions']).toBe(1);
  });

  it('refuses messages over STOCK_MAX_MESSAGE_BYTES with an error, and closes with 1009 over STOCK_MAX_FRAME_BYTES', async () => {
    const client = await open();
    client.send({ type: 'ping', padding: 'x'.repeat(600) });
    expect(errorFrameSchema.parse(await client.next())).toMatchObject({ error: 'message_too_large' });
    client.send({ type: 'ping' });
    expect(await client.next()).toMatchObject({ type: 'pong' });
    client.send({ type: 'ping', padding: 'x'.repeat(5_000) });
    const closed = await client.closed;
    expect(closed.code).toBe(1009);
  });

  it('limits subscriptions per connection', async () => {
    const client = await open();
    for (const code of ['600519', '601318', '600036', '000001']) {
      expect(await client.subscribe('stock', code)).toMatchObject({ type: 'subscribed' });
    }
    const refused = errorFrameSchema.parse(await client.subscribe('stock', '300750'));
    expect(refused.error).toBe('too_many_subscriptions');
    client.send({ type: 'unsubscribe', subscription_type: 'stock', target: '601318' });
    await client.nextOfType('unsubscribed');
    expect(await client.subscribe('stock', '300750')).toMatchObject({ type: 'subscribed' });
  });

  it('serves a watchlist of 200 subscribes at once: the subscription cap bounds it, not the rate limit', async () => {
    const codes = listedStocks()
      .slice(0, 200)
      .map((stock) => stock.code);
    expect(codes).toHaveLength(200);
    await feed.universe([...new Set([...Feed.codes, ...codes])]);
    // The gateway learns the universe from the bus after the publish resolved (on Redis, a moment later): a code
    // only the new universe lists is accepted once it has.
    const newCode = codes.find((code) => !Feed.codes.includes(code)) ?? '';
    const probe = await open();
    await until(async () => (await probe.subscribe('stock', newCode)).type === 'subscribed', 10_000, 'the new universe');
    await probe.close();
    const client = await open();
    for (let i = 0; i < 10; i += 1) {
      client.socket.send('{not json');
      client.send({ type: 'ping' });
    }
    for (const code of codes) {
      client.send({ type: 'subscribe', subscription_type: 'stock', target: code });
    }
    await until(() => client.received().filter((f) => f.type === 'subscribed' || f.type === 'error').length >= 210, 10_000, '210 answers');
    const answers = client.received();
    expect(answers.filter((f) => f.type === 'pong')).toHaveLength(10);
    expect(answers.filter((f) => f.type === 'error' && f['error'] === 'invalid_json')).toHaveLength(10);
    expect(answers.filter((f) => f.type === 'subscribed')).toHaveLength(4);
    expect(answers.filter((f) => f.type === 'error' && f['error'] === 'too_many_subscriptions')).toHaveLength(196);
    expect(answers.filter((f) => f['error'] === 'rate_limited')).toHaveLength(0);
    await feed.universe();
  });

  it('answers messages over the burst with rate_limited (at most once a second), and closes a flood with 4429', async () => {
    const client = await open();
    for (let i = 0; i < 260; i += 1) {
      client.send({ type: 'ping' });
    }
    await until(() => client.received().some((f) => f['error'] === 'rate_limited'), 5_000, 'a rate_limited error');
    await until(() => client.received().filter((f) => f.type === 'pong').length >= 250, 5_000, '250 pongs');
    const errors = client.received().filter((f) => f['error'] === 'rate_limited');
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThan(10);
    // The bucket refills at STOCK_MESSAGES_PER_SECOND: a ping is answered again shortly, and the connection stayed open.
    const pongs = (): number => client.received().filter((f) => f.type === 'pong').length;
    const before = pongs();
    await until(
      () => {
        client.send({ type: 'ping' });
        return pongs() > before;
      },
      5_000,
      'a pong after the refill',
    );

    const flooder = await open();
    for (let i = 0; i < 800 && flooder.socket.readyState === flooder.socket.OPEN; i += 1) {
      flooder.send({ type: 'ping' });
    }
    expect(await flooder.closed).toEqual({ code: 4429, reason: 'rate_limited' });
    expect((await stats()).protocols['stock']!['rate_limit_closes']).toBeGreaterThanOrEqual(1);
  });

  it('holds price updates for a client that does not read, then closes it with 4408 and counts it', async () => {
    // A strategy covering every SH stock: each manual push is a ~50 KB frame.
    const sh = listedStocks().filter((s) => s.market === 'SH').map((s) => s.code);
    await feed.universe([...new Set([...Feed.codes, ...sh])]);
    await Promise.all(sh.map((code) => feed.quote(code, 10)));
    await feed.buyList('test_wave', sh);
    const before = (await stats()).protocols['stock']!;
    const stalled = await stalledSubscriber(Number(new URL(gateway.httpUrl).port), 'strategy', 'test_wave');
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
    try {
      let round = 0;
      await until(
        async () => {
          round += 1;
          for (let i = 0; i < 10; i += 1) {
            await httpGet(`${gateway.httpUrl}/api/websocket/push/prices?strategy=test_wave`, { method: 'POST', headers: admin });
          }
          // Keep it due for a conflated update too: that is where the bound is checked.
          await Promise.all(sh.slice(0, 10).map((code) => feed.quote(code, 10 + (round % 50) / 100)));
          return (await stats()).protocols['stock']!['slow_consumer_closes']! > before['slow_consumer_closes']!;
        },
        15_000,
        'the slow consumer to be closed',
      );
    } finally {
      stalled.kill();
    }
    const metrics = (await httpGet(`${gateway.httpUrl}/metrics`)).body;
    expect(metrics).toMatch(/gateway_backpressure_disconnects_total\{[^}]*protocol="stock"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/gateway_backpressure_dropped_total\{[^}]*protocol="stock"[^}]*\} [1-9]/);
    // A reading client was not affected.
    const reader = await open();
    expect(await reader.subscribe('stock', '600519')).toMatchObject({ type: 'subscribed' });
  });

  describe('REST', () => {
    it('requires the admin token for the client list and manual pushes', async () => {
      for (const headers of [{}, { Authorization: 'Bearer wrong' }]) {
        const list = await httpGet(`${gateway.httpUrl}/api/websocket/clients`, { headers });
        expect(list.status).toBe(401);
        expect(list.json()).toMatchObject({ code: 401, error: 'unauthorized' });
        const push = await httpGet(`${gateway.httpUrl}/api/websocket/push/prices?strategy=volume_wave`, { method: 'POST', headers });
        expect(push.status).toBe(401);
      }
      // Stats stay public, as the legacy service's.
      expect((await httpGet(`${gateway.httpUrl}/api/websocket/stats`)).status).toBe(200);
    });

    it('answers an unknown strategy with 404 and a missing one with 400', async () => {
      const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
      const push = await httpGet(`${gateway.httpUrl}/api/websocket/push/prices?strategy=nope`, { method: 'POST', headers: admin });
      expect(push.status).toBe(404);
      expect(push.json()).toEqual({ code: 404, error: 'not_found', message: 'unknown strategy "nope" (known: volume_wave, test_wave)', strategy: 'nope' });
      const buy = await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=nope`);
      expect(buy.status).toBe(404);
      const missing = await httpGet(`${gateway.httpUrl}/api/signals/buy`);
      expect(missing.status).toBe(400);
      expect(missing.json()).toMatchObject({ code: 400, error: 'bad_request' });
      const missingPush = await httpGet(`${gateway.httpUrl}/api/websocket/push/prices`, { method: 'POST', headers: admin });
      expect(missingPush.status).toBe(400);
    });

    it('serves an empty buy list (not an error) before the strategy has published one', async () => {
      // No volume_wave source runs on this gateway.
      const res = await httpGet(`${gateway.httpUrl}/api/signals/buy?strategy=volume_wave`);
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ code: 200, data: { strategy: 'volume_wave', count: 0, updated_at: null, signals: [] } });
    });
  });
});

describe('stock protocol authentication and liveness', () => {
  let gateway: TestGateway;

  beforeAll(async () => {
    gateway = await startStockGateway({ STOCK_REQUIRE_AUTH: 'true', STOCK_IDLE_TIMEOUT_S: '8' }, 'none');
    await new Feed(gateway).universe();
  });

  afterAll(async () => {
    await gateway.shutdown();
  });

  it('is open by default and requires a token with STOCK_REQUIRE_AUTH=true', async () => {
    await expect(stockClient(gateway)).rejects.toThrow(/401/);
    await expect(stockClient(gateway, { headers: { Authorization: 'Bearer not-a-token' } })).rejects.toThrow(/401/);
    const byHeader = await stockClient(gateway, { headers: { Authorization: `Bearer ${await token(4)}` } });
    expect(await byHeader.next()).toMatchObject({ type: 'connected' });
    const byQuery = await stockClient(gateway, {}, `?token=${await token('7')}`);
    await byQuery.next();
    const listed = await httpGet(`${gateway.httpUrl}/api/websocket/clients`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    const users = (listed.json() as { data: { clients: { user_id: unknown }[] } }).data.clients.map((c) => c.user_id).sort();
    expect(users).toEqual([4, 7]);
    await byHeader.close();
    await byQuery.close();
    const metrics = (await httpGet(`${gateway.httpUrl}/metrics`)).body;
    expect(metrics).toMatch(/gateway_auth_failures_total\{[^}]*protocol="stock",reason="missing"[^}]*\} 1/);
  });

  it('closes a connection with 4401 when its token expires', async () => {
    const client = await stockClient(gateway, { headers: { Authorization: `Bearer ${await token(4, 2)}` } });
    await client.next();
    const started = Date.now();
    expect(await client.closed).toEqual({ code: 4401, reason: 'token_expired' });
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it('drops a peer that stops answering WebSocket pings (idle timeout)', { timeout: 40_000 }, async () => {
    const stalled = await stalledSubscriberWithToken(gateway);
    const active = async (): Promise<number> =>
      ((await httpGet(`${gateway.httpUrl}/api/websocket/stats`)).json() as Stats).data.connections.active_connections;
    try {
      expect(await active()).toBe(1);
      await until(async () => (await active()) === 0, 30_000, 'the dead peer to be dropped');
    } finally {
      stalled.kill();
    }
  });
});

/** The stalled python client, through a gateway that requires a token: the token goes in ?token=. */
async function stalledSubscriberWithToken(gateway: TestGateway): Promise<StalledReader> {
  return startStalledReader({ port: Number(new URL(gateway.httpUrl).port), path: `/ws/stock/prices?token=${await token(9)}` });
}
