import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { STOCKS_PER_UPDATE, TradingPushes, parseTradingPeriods } from './mix-reference.js';
import type { TradingUser } from './mix-reference.js';
import { answers, freePort, startServerProcess } from './server-process.js';
import type { ServerProcess } from './server-process.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the reference trading schedule', () => {
  it('reads four multiples of 100 ms and refuses anything else', () => {
    expect(parseTradingPeriods('1000,1000,1000,15000')).toEqual({ balance: 1000, positions: 1000, pnl: 1000, orders: 15000 });
    expect(() => parseTradingPeriods('1000,1000,1000')).toThrow(/four multiples/);
    expect(() => parseTradingPeriods('1000,1000,1000,150')).toThrow(/four multiples/);
    expect(() => parseTradingPeriods('1000,1000,1000,15000,1')).toThrow(/four multiples/);
  });

  it('pushes every period once, and a tick that comes late pushes what it skipped in one write', () => {
    const schedule = new TradingPushes({ balance: 100, positions: 200, pnl: 200, orders: 500 });
    const writes = new Map<number, string[][]>();
    for (let i = 0; i < 3; i += 1) {
      const user: TradingUser = { id: schedule.nextId() };
      writes.set(user.id ?? 0, []);
      schedule.add(user, (frames) => writes.get(user.id ?? 0)?.push([...frames]));
    }
    schedule.tick(1_000_000);
    for (const list of writes.values()) {
      list.length = 0;
    }
    // One second in ten ticks, then one second in a single late tick: the same pushes either way.
    for (let t = 1; t <= 10; t += 1) {
      schedule.tick(1_000_000 + t * 100);
    }
    const onTime = [...writes.values()].map((list) => list.flat());
    for (const list of writes.values()) {
      list.length = 0;
    }
    schedule.tick(1_002_000 + 50);
    const late = [...writes.values()].map((list) => list);
    const count = (frames: string[], type: string): number => frames.filter((f) => f.startsWith(`42["${type}"`)).length;
    for (const frames of onTime) {
      expect([count(frames, 'balance_update'), count(frames, 'positions_update'), count(frames, 'pnl_update'), count(frames, 'orders_update')]).toEqual([10, 5, 5, 2]);
    }
    for (const list of late) {
      expect(list).toHaveLength(1);
      const frames = list[0] ?? [];
      expect([count(frames, 'balance_update'), count(frames, 'positions_update'), count(frames, 'pnl_update'), count(frames, 'orders_update')]).toEqual([10, 5, 5, 2]);
    }
  });
});

/** A WebSocket client that queues the text frames it receives. */
async function connect(url: string): Promise<{ ws: WebSocket; next: (match: (text: string) => boolean) => Promise<string> }> {
  const ws = new WebSocket(url);
  const queue: string[] = [];
  const waiting: (() => void)[] = [];
  ws.on('message', (data: Buffer) => {
    queue.push(data.toString('utf8'));
    for (const wake of waiting.splice(0)) {
      wake();
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => {
      resolve();
    });
    ws.once('error', reject);
  });
  const next = async (match: (text: string) => boolean): Promise<string> => {
    for (;;) {
      const index = queue.findIndex(match);
      if (index >= 0) {
        return queue.splice(0, index + 1).at(-1) ?? '';
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };
  return { ws, next };
}

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/;

describe('the reference server with the mixed routes (real process, loopback)', () => {
  let server: ServerProcess;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    server = await startServerProcess({
      label: 'uws-reference (mix)',
      cwd: ROOT,
      script: 'bench/src/reference-server.ts',
      env: { PORT: String(port), MIX_TRADING_PERIODS_MS: '100,200,200,300' },
      isReady: () => answers(`http://127.0.0.1:${port}/`, 404),
    });
  }, 60_000);

  afterAll(async () => {
    await server.stop();
  });

  it('speaks enough Socket.IO for a trading user: connect, the four pushes, unsubscribe', async () => {
    const { ws, next } = await connect(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
    expect(await next(() => true)).toMatch(/^0\{"sid":/);
    ws.send('40{"token":"any"}');
    expect(await next(() => true)).toMatch(/^40\{"sid":/);
    ws.send('42["subscribe_trading",{"types":["balance","positions","pnl","orders"]}]');
    for (const type of ['balance_update', 'positions_update', 'pnl_update', 'orders_update']) {
      const frame = await next((text) => text.startsWith(`42["${type}"`));
      const [event, payload] = JSON.parse(frame.slice(2)) as [string, { type: string; data: unknown; timestamp: string; user_id: number }];
      expect(event).toBe(type);
      expect(payload.type).toBe(type);
      expect(payload.timestamp).toMatch(TIMESTAMP);
      expect(typeof payload.data).toBe('object');
    }
    ws.send('42["unsubscribe_trading",{}]');
    expect(await next((text) => !text.includes('_update"'))).toBe('42["unsubscribed",{}]');
    ws.close();
  });

  it('sends a stock client one price_update a second, and answers subscribe and unsubscribe', async () => {
    const { ws, next } = await connect(`ws://127.0.0.1:${port}/ws/stock/prices`);
    ws.send('{"type":"subscribe","subscription_type":"strategy","target":"volume_wave"}');
    expect(await next(() => true)).toBe('{"type":"subscribed"}');
    const update = JSON.parse(await next((text) => text.includes('"price_update"'))) as { data: { code: string; timestamp: string }[]; count: number };
    expect(update.count).toBe(STOCKS_PER_UPDATE);
    expect(new Set(update.data.map((item) => item.code)).size).toBe(STOCKS_PER_UPDATE);
    expect(update.data[0]?.timestamp).toMatch(TIMESTAMP);
    ws.send('{"type":"unsubscribe","subscription_type":"strategy","target":"volume_wave"}');
    expect(await next((text) => !text.includes('"price_update"'))).toBe('{"type":"unsubscribed"}');
    ws.close();
  });
});
