import { describe, expect, it } from 'vitest';
import type { Envelope } from '@gw/bus';
import type { WsConnection } from '@gw/connections';
import { createLogger } from '@gw/core';
import { noopMetrics } from '@gw/metrics';
import type { StockQuote } from '@gw/topics';
import type { TemplatedApp } from '@gw/uws';
import { stockAdapterConfig } from './config.js';
import { StockConnection } from './connection.js';
import { StockHub } from './hub.js';

/**
 * The hub's flush scheduling on its own, without sockets: each connection's link only records the frames the
 * hub sends it (the protocol over real sockets is tested in the gateway's stock tests).
 */
class RecordingLink {
  readonly frames: string[] = [];
  readonly clientId: string;
  closed = false;

  constructor(clientId: string) {
    this.clientId = clientId;
  }

  send(frame: string): boolean {
    this.frames.push(frame);
    return true;
  }

  bufferedAmount(): number {
    return 0;
  }

  subscribe(): void {}

  unsubscribe(): void {}
}

function quote(code: string, price: number): Envelope<StockQuote> {
  const data: StockQuote = {
    code,
    name: `stock ${code}`,
    market: 'SH',
    price,
    prev_close: price,
    open: price,
    high: price,
    low: price,
    change: 0,
    change_percent: 0,
    volume: 100,
    amount: 100 * price,
    timestamp: '2026-12-04T10:00:00',
    ts: Date.now(),
  };
  return { topic: `stock.quote.${code}`, data, publishedAt: Date.now() };
}

function pricesOf(frame: string): number[] {
  return (JSON.parse(frame) as { data: { price: number }[] }).data.map((item) => item.price);
}

/** Lets the event loop turn until `condition` holds; fails after far more turns than a flush takes. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !condition(); turn += 1) {
    if (turn === 10_000) {
      throw new Error(`not after 10,000 turns of the event loop: ${what}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('StockHub flush scheduling', () => {
  it('starts a flush that came due during the previous one once that one is written, instead of skipping it', async () => {
    const config = stockAdapterConfig.schema.parse({ flushSliceMs: '0' });
    const hub = new StockHub({ app: {} as TemplatedApp, metrics: noopMetrics, logger: createLogger({ level: 'silent' }), config });
    // Enough connections for the write phase to take several turns (a turn every 32 connections at slice 0).
    const links = Array.from({ length: 100 }, (_, i) => new RecordingLink(`c${i}`));
    for (const link of links) {
      const connection = new StockConnection(link as unknown as WsConnection<undefined>, { onMessage: () => undefined, onClose: () => undefined });
      hub.add(connection);
      expect(hub.subscribe(connection, 'stock', '600519')).toBe(true);
    }

    hub.onQuote(quote('600519', 10));
    hub.flush(Date.now());
    expect(links.some((link) => link.frames.length === 0)).toBe(true); // still being written
    hub.onQuote(quote('600519', 11));
    hub.flush(Date.now()); // due while the first is under way

    // Each connection gets one update per flush: the first at the price when it was written (the connections
    // written after the new quote arrived already get 11), the second at 11.
    await until(() => links.every((link) => link.frames.length === 2), 'two updates on every connection');
    expect(pricesOf(links[0]?.frames[0] ?? '')).toEqual([10]);
    for (const link of links) {
      expect(pricesOf(link.frames[1] ?? '')).toEqual([11]);
    }
  });
});
