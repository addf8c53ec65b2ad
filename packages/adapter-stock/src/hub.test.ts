import { describe, expect, it } from 'vitest';
import type { Envelope } from '@gw/bus';
import { loadConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import type { BuyList, StockQuote, StockUniverse } from '@gw/topics';
import type { TemplatedApp, WebSocket } from '@gw/uws';
import { stockAdapterConfig } from './config.js';
import { StockConnection } from './connection.js';
import type { StockSocketData } from './connection.js';
import { errorFrame } from './errors.js';
import { StockHub } from './hub.js';
import { priceUpdateFrameSchema, serverFrameSchema } from './schema.js';
import type { PriceUpdateFrame } from './schema.js';

const INTERVAL = 1_000;

class FakeSocket {
  readonly data: StockSocketData = { remoteAddress: '127.0.0.1', principal: undefined, slot: undefined, connection: undefined };
  readonly sent: string[] = [];
  readonly topics = new Set<string>();
  buffered = 0;
  ended: { code: number; reason: string } | undefined;
  getUserData(): StockSocketData {
    return this.data;
  }
  send(text: string): number {
    this.sent.push(text);
    return 1;
  }
  getBufferedAmount(): number {
    return this.buffered;
  }
  subscribe(topic: string): boolean {
    this.topics.add(topic);
    return true;
  }
  unsubscribe(topic: string): boolean {
    return this.topics.delete(topic);
  }
  end(code: number, reason: string): void {
    this.ended = { code, reason };
  }
  updates(): PriceUpdateFrame[] {
    return this.sent.map((t) => JSON.parse(t) as { type: string }).filter((f) => f.type === 'price_update').map((f) => priceUpdateFrameSchema.parse(f));
  }
}

function setup(env: Record<string, string> = {}): {
  hub: StockHub;
  published: { topic: string; frame: string }[];
  connect: () => { connection: StockConnection; socket: FakeSocket };
  quote: (code: string, price: number, market?: 'SH' | 'SZ') => void;
} {
  const { stock } = loadConfig({ STOCK_PUSH_INTERVAL_MS: String(INTERVAL), STOCK_STRATEGIES: 'volume_wave', ...env }, { stock: stockAdapterConfig });
  const published: { topic: string; frame: string }[] = [];
  const app = {
    publish: (topic: string, frame: string) => {
      published.push({ topic, frame });
      return true;
    },
  } as unknown as TemplatedApp;
  const hub = new StockHub({ app, metrics: noopMetrics, logger: createLogger({ level: 'silent' }), config: stock });
  const universe: StockUniverse = {
    source: 'test',
    stocks: [
      { code: '600519', name: '贵州茅台', market: 'SH' },
      { code: '601318', name: '中国平安', market: 'SH' },
      { code: '000001', name: '平安银行', market: 'SZ' },
    ],
    updated_ms: 0,
  };
  hub.onUniverse({ topic: 'stock.universe', data: universe, publishedAt: 0 });
  let volume = 0;
  return {
    hub,
    published,
    connect: () => {
      const socket = new FakeSocket();
      const connection = new StockConnection(socket as unknown as WebSocket<StockSocketData>, `client_${hub.totalConnections + 1}`, 20);
      hub.add(connection);
      return { connection, socket };
    },
    quote: (code, price, market) => {
      volume += 100;
      const quote: StockQuote = {
        code,
        name: code,
        market: market ?? (code.startsWith('6') ? 'SH' : 'SZ'),
        price,
        prev_close: price,
        open: price,
        high: price,
        low: price,
        change: 0,
        change_percent: 0,
        volume,
        amount: 0,
        timestamp: '2025-11-24T10:30:00',
        ts: volume,
      };
      const envelope: Envelope<StockQuote> = { topic: `stock.quote.${code}`, data: quote, publishedAt: Date.now() };
      hub.onQuote(envelope);
    },
  };
}

function buyList(codes: string[]): Envelope {
  const list: BuyList = {
    strategy: 'volume_wave',
    updated_ms: 1,
    stocks: codes.map((code) => ({ code, name: code, market: 'SH', signal_ms: 1, signal_time: '2025-11-24T10:30:00', signal_price: 1, volume_ratio: 3 })),
  };
  return { topic: 'stock.buylist.volume_wave', data: list, publishedAt: 0 };
}

describe('StockHub', () => {
  it('conflates every tick of an interval into one update per connection, each stock once, latest price', () => {
    const { hub, connect, quote } = setup();
    const { connection, socket } = connect();
    hub.subscribe(connection, 'stock', '600519');
    hub.subscribe(connection, 'market', 'SH');
    for (let i = 1; i <= 50; i += 1) {
      quote('600519', 1800 + i);
      quote('601318', 50 + i / 100);
    }
    quote('000001', 11);
    hub.flush(10_000);
    expect(socket.updates()).toEqual([
      expect.objectContaining({ count: 2, data: [expect.objectContaining({ code: '600519', price: 1850 }), expect.objectContaining({ code: '601318', price: 50.5 })] }),
    ]);
    hub.flush(11_000);
    expect(socket.updates()).toHaveLength(1);
  });

  it('shares one serialized fragment per stock across connections', () => {
    const { hub, connect, quote } = setup();
    const a = connect();
    const b = connect();
    hub.subscribe(a.connection, 'stock', '600519');
    hub.subscribe(b.connection, 'market', 'SH');
    quote('600519', 1826.5);
    hub.flush(10_000);
    const fragment = (s: FakeSocket): string => /"data":\[(.*)\],"count"/.exec(s.sent[0]!)![1]!;
    expect(fragment(a.socket)).toBe(fragment(b.socket));
    expect(hub.quotes.get('600519')!.fragment).toBe(fragment(a.socket));
  });

  it('sends a snapshot on subscribe, holds the next update one interval, and never re-sends what the snapshot had', () => {
    const { hub, connect, quote } = setup();
    quote('600519', 1800);
    quote('601318', 50);
    const { connection, socket } = connect();
    hub.subscribe(connection, 'market', 'SH');
    hub.sendSnapshot(connection, 'market', 'SH', 10_000);
    expect(socket.updates()[0]!.data.map((d) => d.code)).toEqual(['600519', '601318']);
    hub.flush(10_500); // the ticks from before the snapshot: already sent
    quote('600519', 1801);
    hub.flush(10_900); // changed, but held until 11 000
    expect(socket.updates()).toHaveLength(1);
    hub.flush(11_000);
    expect(socket.updates().map((u) => u.data.map((d) => [d.code, d.price]))).toEqual([
      [
        ['600519', 1800],
        ['601318', 50],
      ],
      [['600519', 1801]],
    ]);
  });

  it('follows buy list changes and drops pending stocks no subscription covers any more', () => {
    const { hub, connect, quote } = setup();
    quote('600519', 1800);
    quote('601318', 50);
    hub.flush(0);
    const { connection, socket } = connect();
    hub.subscribe(connection, 'strategy', 'volume_wave');
    expect(socket.topics).toEqual(new Set(['stock/strategy/volume_wave']));
    hub.onBuyList(buyList(['600519']));
    hub.flush(1_000);
    expect(socket.updates().at(-1)!.data.map((d) => d.code)).toEqual(['600519']);
    hub.onBuyList(buyList(['600519', '601318']));
    hub.flush(2_000);
    expect(socket.updates().at(-1)!.data.map((d) => d.code)).toEqual(['601318']);
    quote('600519', 1900);
    hub.onBuyList(buyList(['601318']));
    quote('601318', 51);
    hub.flush(3_000);
    expect(socket.updates().at(-1)!.data.map((d) => [d.code, d.price])).toEqual([['601318', 51]]);

    quote('601318', 52);
    hub.unsubscribe(connection, 'strategy', 'volume_wave');
    expect(socket.topics.size).toBe(0);
    hub.flush(4_000);
    expect(socket.updates()).toHaveLength(3);
  });

  it('pushes a strategy’s prices once through its uWS topic and counts every subscriber', () => {
    const { hub, published, connect, quote } = setup();
    quote('600519', 1800);
    hub.onBuyList(buyList(['600519', '601318']));
    const a = connect();
    const b = connect();
    hub.subscribe(a.connection, 'strategy', 'volume_wave');
    hub.subscribe(b.connection, 'strategy', 'volume_wave');
    expect(hub.pushStrategy('volume_wave', 0)).toEqual({ stocks: 1, clients: 2 });
    expect(published).toHaveLength(1);
    expect(published[0]!.topic).toBe('stock/strategy/volume_wave');
    expect(priceUpdateFrameSchema.parse(JSON.parse(published[0]!.frame))).toMatchObject({ count: 1 });
    expect(a.connection.messagesSent).toBe(1);
  });

  it('holds updates while a connection’s output is over the bound and closes it if that lasts', () => {
    const { hub, connect, quote } = setup({ STOCK_MAX_BUFFERED_BYTES: '16384', STOCK_SLOW_CLIENT_TIMEOUT_MS: '2000' });
    const { connection, socket } = connect();
    hub.subscribe(connection, 'stock', '600519');
    socket.buffered = 20_000;
    quote('600519', 1);
    hub.flush(1_000);
    quote('600519', 2);
    hub.flush(2_000);
    expect(socket.sent).toEqual([]);
    socket.buffered = 0;
    hub.flush(2_500);
    expect(socket.updates().map((u) => u.data[0]!.price)).toEqual([2]);

    socket.buffered = 20_000;
    quote('600519', 3);
    hub.flush(5_000);
    quote('600519', 4);
    hub.flush(7_000);
    expect(socket.ended).toEqual({ code: 4408, reason: 'slow_consumer' });
    expect(hub.slowConsumerCloses).toBe(1);
  });

  it('validates targets and limits subscriptions', () => {
    const { hub, connect } = setup({ STOCK_MAX_SUBSCRIPTIONS: '2' });
    expect(hub.checkTarget('stock', '600519')).toEqual({ ok: true, target: '600519' });
    expect(hub.checkTarget('stock', '999999')).toMatchObject({ ok: false, error: 'unknown_stock' });
    expect(hub.checkTarget('stock', 'abc')).toMatchObject({ ok: false, error: 'invalid_target' });
    expect(hub.checkTarget('market', 'bj')).toEqual({ ok: true, target: 'BJ' });
    expect(hub.checkTarget('market', 'NY')).toMatchObject({ ok: false, error: 'invalid_target' });
    expect(hub.checkTarget('strategy', 'volume_wave')).toEqual({ ok: true, target: 'volume_wave' });
    expect(hub.checkTarget('strategy', 'momentum')).toMatchObject({ ok: false, error: 'unknown_strategy' });
    const { connection } = connect();
    expect(hub.subscribe(connection, 'stock', '600519')).toBe(true);
    expect(hub.subscribe(connection, 'stock', '600519')).toBe(true);
    expect(hub.subscribe(connection, 'market', 'SH')).toBe(true);
    expect(hub.subscribe(connection, 'market', 'SZ')).toBe(false);
    expect(hub.legacyStats().subscriptions).toEqual({
      total_subscriptions: 2,
      total_clients: 1,
      total_targets: 2,
      strategy_targets: 0,
      stock_targets: 1,
      market_targets: 1,
    });
    hub.remove(connection);
    expect(hub.legacyStats()).toMatchObject({ connections: { active_connections: 0, total_connections: 1, total_subscriptions: 2 }, subscriptions: { total_subscriptions: 0, total_targets: 0 } });
  });

  it('builds error frames of the wire schema', () => {
    expect(serverFrameSchema.parse(JSON.parse(errorFrame('invalid_json', undefined, '2025-11-24T10:30:00')))).toEqual({
      type: 'error',
      error: 'invalid_json',
      details: 'the message is not valid JSON',
      timestamp: '2025-11-24T10:30:00',
    });
  });
});
