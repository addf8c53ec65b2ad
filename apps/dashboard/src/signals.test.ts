import { describe, expect, it } from 'vitest';
import { SignalFeed, signalOf } from './signals.js';
import type { Signal } from './signals.js';

function signal(id: string | undefined, symbol = 'BTCUSDT'): Signal {
  return { type: 'buy', symbol, price: 1, timestamp: 1_720_000_000, isTest: id === undefined, id };
}

describe('signalOf', () => {
  it('reads a signal frame as the legacy signal service sends it (plus id)', () => {
    const frame = { type: 'sell', content: { symbol: 'ETHUSDT', price: 3500.5, timestamp: 1_720_000_000 }, is_test: false, id: 'k3Jd9aQx:1024' };
    expect(signalOf(frame)).toEqual({ type: 'sell', symbol: 'ETHUSDT', price: 3500.5, timestamp: 1_720_000_000, isTest: false, id: 'k3Jd9aQx:1024' });
  });

  it('ignores frames that are not signals', () => {
    expect(signalOf({ type: 'recovery', recovered: true, replayed: 0 })).toBeUndefined();
    expect(signalOf({ type: 'error', error: 'unknown_command' })).toBeUndefined();
  });
});

describe('SignalFeed', () => {
  it('keeps the newest first, at most maxEntries, and the last history id for ?since=', () => {
    const feed = new SignalFeed(3);
    for (const id of ['e:1', 'e:2', 'e:3', 'e:4']) {
      expect(feed.add(signal(id))).toBe(true);
    }
    expect(feed.entries().map((s) => s.id)).toEqual(['e:4', 'e:3', 'e:2']);
    expect(feed.lastId).toBe('e:4');
  });

  it('shows a replayed signal once, and test signals (no id) without moving the recovery position', () => {
    const feed = new SignalFeed();
    feed.add(signal('e:1'));
    expect(feed.add(signal('e:1'))).toBe(false);
    expect(feed.add(signal(undefined, 'TEST'))).toBe(true);
    expect(feed.entries()).toHaveLength(2);
    expect(feed.lastId).toBe('e:1');
  });
});
