import { DEV_SECRET, mintDevToken } from '@gw/auth';
import { createStockAdapter, stockAdapterConfig } from '@gw/adapter-stock';
import { whenConnected } from '@gw/bus';
import { loadConfig } from '@gw/config';
import { listedStocks, stockMarketSource } from '@gw/source-stock-market';
import type { ListedStock } from '@gw/source-stock-market';
import { volumeWaveSource } from '@gw/source-volume-wave';
import { formatShanghaiTime, stockTopics } from '@gw/topics';
import type { BuyList, StockQuote, StockUniverse } from '@gw/topics';
import { WebSocket } from 'ws';
import type { ClientOptions } from 'ws';
import { startTestGateway } from '../../testing/gateway.js';
import type { TestGateway } from '../../testing/gateway.js';
import { startStalledReader } from '../../testing/stalled-reader.js';
import type { StalledReader } from '../../testing/stalled-reader.js';

export const ADMIN_TOKEN = 'stock-admin-token';

/** Every stock test runs on the memory bus and on Redis (REDIS_URL, as CI sets it; a unique key prefix per run). */
export const busVariants = [
  { name: 'memory bus', env: {} as Record<string, string> },
  {
    name: 'redis bus',
    env: {
      REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      REDIS_KEY_PREFIX: `gwtest:stock:${process.pid}:${Math.random().toString(36).slice(2)}:`,
    },
  },
];

/** A gateway with the stock adapter; `sources: 'market'` also runs the simulated market and volume_wave. */
export async function startStockGateway(env: Record<string, string>, sources: 'market' | 'none'): Promise<TestGateway> {
  const fullEnv = { ADMIN_TOKEN, ...env };
  const { stock } = loadConfig(fullEnv, { stock: stockAdapterConfig });
  const gateway = await startTestGateway({
    env: fullEnv,
    adapters: [createStockAdapter(stock)],
    sources: sources === 'market' ? [stockMarketSource, volumeWaveSource] : [],
  });
  // A Redis bus connects in the background; tests publish on it right away.
  await whenConnected(gateway.bus, 10_000);
  return gateway;
}

export type Frame = Record<string, unknown> & { type: string };

/** A `ws` client of /ws/stock/prices that keeps every frame, with waits on what arrives next. */
export class StockClient {
  readonly socket: WebSocket;
  readonly frames: { at: number; frame: Frame }[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #cursor = 0;
  #waiters: (() => void)[] = [];

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data: Buffer) => {
      this.frames.push({ at: Date.now(), frame: JSON.parse(data.toString('utf8')) as Frame });
      for (const wake of this.#waiters.splice(0)) {
        wake();
      }
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString('utf8') });
        for (const wake of this.#waiters.splice(0)) {
          wake();
        }
      });
    });
  }

  static async open(url: string, options: ClientOptions = {}): Promise<StockClient> {
    const socket = new WebSocket(url, options);
    const client = new StockClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => {
        resolve();
      });
      socket.once('error', reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The next frame (after those already taken) matching `predicate`; frames skipped on the way are consumed. */
  async next(predicate: (frame: Frame) => boolean = () => true, timeoutMs = 15_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let entry = this.frames[this.#cursor]; entry !== undefined; entry = this.frames[this.#cursor]) {
        this.#cursor += 1;
        if (predicate(entry.frame)) {
          return entry.frame;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5).map((f) => f.frame))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  nextOfType(type: string, timeoutMs = 15_000): Promise<Frame> {
    return this.next((f) => f.type === type, timeoutMs);
  }

  /** Marks everything received so far as taken. */
  skipAll(): void {
    this.#cursor = this.frames.length;
  }

  /** Frames received after position `from` (default: all). */
  received(type?: string, from = 0): Frame[] {
    return this.frames.slice(from).map((f) => f.frame).filter((f) => type === undefined || f.type === type);
  }

  async subscribe(kind: string, target: string): Promise<Frame> {
    this.send({ type: 'subscribe', subscription_type: kind, target });
    return this.next((f) => f.type === 'subscribed' || f.type === 'error');
  }

  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) {
      this.socket.close();
      await this.closed;
    }
  }
}

export function stockClient(gateway: TestGateway, options: ClientOptions = {}, query = ''): Promise<StockClient> {
  return StockClient.open(`${gateway.wsUrl}/ws/stock/prices${query}`, options);
}

export function token(sub: string | number = 4, expiresIn: string | number = '1h'): Promise<string> {
  return mintDevToken({ secret: DEV_SECRET, sub, expiresIn });
}

function listed(code: string): ListedStock {
  const stock = listedStocks().find((s) => s.code === code);
  if (stock === undefined) {
    throw new Error(`${code} is not in the shipped universe`);
  }
  return stock;
}

/** A controlled feed: the test publishes the universe, quotes and buy lists itself (no source running). */
export class Feed {
  readonly #gateway: TestGateway;
  readonly #volume = new Map<string, number>();

  constructor(gateway: TestGateway) {
    this.#gateway = gateway;
  }

  static readonly codes = ['600519', '601318', '600036', '688981', '000001', '300750', '002594', '835185'];

  async universe(codes: readonly string[] = Feed.codes): Promise<void> {
    const universe: StockUniverse = {
      source: 'test',
      stocks: codes.map((code) => {
        const s = listed(code);
        return { code: s.code, name: s.name, market: s.market };
      }),
      updated_ms: Date.now(),
    };
    await this.#gateway.bus.publishLatest(stockTopics.universe, universe);
  }

  /** Publishes a quote for `code` at `price`; volume grows by 100 shares per quote. Returns the quote. */
  async quote(code: string, price: number): Promise<StockQuote> {
    const s = listed(code);
    const volume = (this.#volume.get(code) ?? 0) + 100;
    this.#volume.set(code, volume);
    const now = Date.now();
    const change = Math.round((price - s.prevClose) * 100) / 100;
    const quote: StockQuote = {
      code,
      name: s.name,
      market: s.market,
      price,
      prev_close: s.prevClose,
      open: s.prevClose,
      high: Math.max(price, s.prevClose),
      low: Math.min(price, s.prevClose),
      change,
      change_percent: Math.round((change / s.prevClose) * 10_000) / 100,
      volume,
      amount: volume * price,
      timestamp: formatShanghaiTime(now),
      ts: now,
    };
    await this.#gateway.bus.publishLatest(stockTopics.quote(code), quote);
    return quote;
  }

  async buyList(strategy: string, codes: readonly string[]): Promise<void> {
    const now = Date.now();
    const list: BuyList = {
      strategy,
      updated_ms: now,
      stocks: codes.map((code) => {
        const s = listed(code);
        return { code, name: s.name, market: s.market, signal_ms: now, signal_time: formatShanghaiTime(now), signal_price: s.prevClose, volume_ratio: 3 };
      }),
    };
    await this.#gateway.bus.publishLatest(stockTopics.buyList(strategy), list);
  }
}

/** A stock client that subscribes and then never reads (see startStalledReader). */
export function stalledSubscriber(port: number, kind: string, target: string): Promise<StalledReader> {
  return startStalledReader({
    port,
    path: '/ws/stock/prices',
    firstMessage: JSON.stringify({ type: 'subscribe', subscription_type: kind, target }),
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it holds (for hooks, where expect.poll is not allowed). */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(50);
  }
}
