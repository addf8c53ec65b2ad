import { everyOnGrid } from '@gw/core';
import { uWS } from '@gw/uws';
import type { TemplatedApp } from '@gw/uws';

/**
 * The mixed scenario's trading and stock traffic at the least cost a uWebSockets.js server can write it: the
 * floor the gateway's mixed rows are compared with. Added to the minimal reference app (`referenceApp(…, { mix })`),
 * whose `/ws` + `POST /pub` carry the signals.
 *
 * - `/socket.io/`: just enough Engine.IO v4 / Socket.IO v4 over WebSocket for wsload's `--sio` mode (open
 *   packet, namespace connect, `subscribe_trading`, `unsubscribe_trading` answered with `unsubscribed`). A
 *   subscribed user is pushed each type at its period (`tradingPeriodsMs`; by default the trading defaults:
 *   balance 10 s, positions and pnl 5 s, orders 15 s — the gateway pushes only changes, and the paper exchange
 *   changes them at nearly every poll), on a 100 ms grid with a phase per user, one corked write per user and
 *   tick. No auth, no exchange, no change detection: each push is one template filled with fresh numbers.
 * - `/ws/stock/prices`: every connection joins one uWS topic; once a second one `price_update` of
 *   {@link STOCKS_PER_UPDATE} stocks is published to it (the gateway sends each subscription set its own frame
 *   of its changed stocks, about as large: the reference shares one). `subscribe` is answered `subscribed`,
 *   `unsubscribe` `unsubscribed` (and leaves the topic).
 *
 * Timestamps are the legacy services' `YYYY-MM-DDTHH:mm:ss` in UTC+8, as wsload's `--ts-offset-min 480` reads them.
 * Returns a function that stops the timers.
 */
export function addMixRoutes(app: TemplatedApp, options: MixOptions = {}): () => void {
  const trading = new TradingPushes(options.tradingPeriodsMs ?? DEFAULT_PERIODS_MS);
  app.ws<TradingUser>('/socket.io/', {
    compression: uWS.DISABLED,
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 1024 * 1024,
    idleTimeout: 0,
    open: (ws) => {
      ws.send('0{"sid":"reference","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}');
    },
    message: (ws, message) => {
      const text = Buffer.from(message).toString('utf8');
      const user = ws.getUserData();
      if (text.startsWith('40')) {
        user.id = trading.nextId();
        ws.send('40{"sid":"reference"}');
      } else if (text.startsWith('42["subscribe_trading"')) {
        trading.add(user, (frames) => {
          ws.cork(() => {
            for (const frame of frames) {
              ws.send(frame);
            }
          });
        });
      } else if (text.startsWith('42["unsubscribe_trading"')) {
        trading.remove(user);
        ws.send('42["unsubscribed",{}]');
      } else if (text === '2') {
        ws.send('3');
      }
    },
    close: (ws) => {
      trading.remove(ws.getUserData());
    },
  });
  app.ws('/ws/stock/prices', {
    compression: uWS.DISABLED,
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 4 * 1024 * 1024,
    idleTimeout: 0,
    open: (ws) => {
      ws.subscribe(STOCK_TOPIC);
    },
    message: (ws, message) => {
      const text = Buffer.from(message).toString('utf8');
      if (text.includes('"unsubscribe"')) {
        ws.unsubscribe(STOCK_TOPIC);
        ws.send('{"type":"unsubscribed"}');
      } else if (text.includes('"subscribe"')) {
        ws.send('{"type":"subscribed"}');
      }
    },
  });
  // The project's grid timer: a tick that fires a little early still runs once, a late one does not move the next.
  const tradingTimer = everyOnGrid(TICK_MS, () => {
    trading.tick(Date.now());
  });
  const stockTimer = everyOnGrid(1_000, () => {
    app.publish(STOCK_TOPIC, priceUpdate(Date.now()), false);
  });
  return () => {
    tradingTimer.stop();
    stockTimer.stop();
  };
}

const STOCK_TOPIC = 'stock';
/** The volume_wave strategy's 60 stocks and the connection's own one. */
export const STOCKS_PER_UPDATE = 61;
const TICK_MS = 100;

/** The push period of each trading type, in ms (multiples of 100). */
export interface TradingPeriods {
  balance: number;
  positions: number;
  pnl: number;
  orders: number;
}

export interface MixOptions {
  tradingPeriodsMs?: TradingPeriods;
}

/** The trading source's default poll intervals. */
const DEFAULT_PERIODS_MS: TradingPeriods = { balance: 10_000, positions: 5_000, pnl: 5_000, orders: 15_000 };

/** `1000,1000,1000,15000` (balance, positions, pnl, orders) as periods; throws on anything else. */
export function parseTradingPeriods(text: string): TradingPeriods {
  const [balance, positions, pnl, orders, ...rest] = text.split(',').map(Number);
  const periods = [balance, positions, pnl, orders];
  if (rest.length > 0 || !periods.every((ms) => ms !== undefined && Number.isInteger(ms) && ms >= TICK_MS && ms % TICK_MS === 0)) {
    throw new Error(`trading periods: expected four multiples of ${String(TICK_MS)} ms (balance,positions,pnl,orders), got "${text}"`);
  }
  return { balance: balance ?? 0, positions: positions ?? 0, pnl: pnl ?? 0, orders: orders ?? 0 };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export interface TradingUser {
  id?: number;
}

type Send = (frames: readonly string[]) => void;

/** The subscribed trading users, each with its phase on the 100 ms grid and its socket's send; `tick` pushes what is due. */
export class TradingPushes {
  readonly #users = new Map<TradingUser, { phase: number; send: Send }>();
  /** Each type with its period in ticks, in the order a user's due pushes are written. */
  readonly #periods: (readonly [keyof TradingPeriods, number])[];
  /** The least common multiple of the periods in ticks: a user's phase is drawn from it. */
  readonly #cycle: number;
  #ids = 0;
  #lastTick: number | undefined;

  constructor(periodsMs: TradingPeriods) {
    this.#periods = (Object.keys(PUSHES) as (keyof TradingPeriods)[]).map((type) => [type, periodsMs[type] / TICK_MS] as const);
    this.#cycle = this.#periods.reduce((lcm, [, ticks]) => (lcm * ticks) / gcd(lcm, ticks), 1);
  }

  nextId(): number {
    this.#ids += 1;
    return this.#ids;
  }

  add(user: TradingUser, send: Send): void {
    this.#users.set(user, { phase: ((user.id ?? 0) * 37) % this.#cycle, send });
  }

  remove(user: TradingUser): void {
    this.#users.delete(user);
  }

  /**
   * Pushes what is due at every tick since the last call (a timer late by more than a tick must not skip
   * pushes): all of a user's due frames in one corked write.
   */
  tick(now: number): void {
    const tick = Math.floor(now / TICK_MS);
    const first = this.#lastTick === undefined ? tick : Math.max(this.#lastTick + 1, tick - this.#cycle + 1);
    this.#lastTick = tick;
    const stamp = timestamp(now);
    const frames: string[] = [];
    for (const [user, { phase, send }] of this.#users) {
      const id = user.id ?? 0;
      frames.length = 0;
      for (let at = first + phase; at <= tick + phase; at += 1) {
        for (const [type, period] of this.#periods) {
          if (at % period === 0) {
            frames.push(PUSHES[type](id, stamp));
          }
        }
      }
      if (frames.length > 0) {
        send(frames);
      }
    }
  }
}

const UTC8_MS = 8 * 3_600_000;

function timestamp(ms: number): string {
  return new Date(ms + UTC8_MS).toISOString().slice(0, 19);
}

const price = (base: number): number => Math.round(base * (1 + (Math.random() - 0.5) / 50) * 100) / 100;

function sioEvent(type: string, data: string, stamp: string, id: number): string {
  return `42["${type}",{"type":"${type}","data":${data},"timestamp":"${stamp}","user_id":${String(id)}}]`;
}

function balanceUpdate(id: number, stamp: string): string {
  const total = price(10_000);
  const used = price(2_000);
  return sioEvent('balance_update', `{"total_balance":${String(total)},"available_balance":${String(Math.round((total - used) * 100) / 100)},"used_margin":${String(used)}}`, stamp, id);
}

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'] as const;

function positionsUpdate(id: number, stamp: string): string {
  const positions = SYMBOLS.map((symbol, i) => {
    const entry = price(100 * 10 ** (3 - i));
    return `{"symbol":"${symbol}","side":"${i % 2 === 0 ? 'Buy' : 'Sell'}","size":${String(0.1 * (i + 1))},"entry_price":${String(entry)},"mark_price":${String(price(entry))},"unrealized_pnl":${String(price(50))}}`;
  });
  return sioEvent('positions_update', `[${positions.join(',')}]`, stamp, id);
}

function pnlUpdate(id: number, stamp: string): string {
  return sioEvent('pnl_update', `{"total_pnl":${String(price(500))},"today_pnl":${String(price(50))},"unrealized_pnl":${String(price(100))},"realized_pnl":${String(price(400))}}`, stamp, id);
}

function ordersUpdate(id: number, stamp: string): string {
  const orders = [0, 1, 2, 3, 4].map((i) => {
    const symbol = SYMBOLS[i % SYMBOLS.length] ?? 'BTCUSDT';
    return `{"order_id":"${String(id * 100 + i)}","symbol":"${symbol}","side":"${i % 2 === 0 ? 'Buy' : 'Sell'}","quantity":0.1,"price":${String(price(49_000 / (i + 1)))},"status":"New"}`;
  });
  return sioEvent('orders_update', `[${orders.join(',')}]`, stamp, id);
}

function priceUpdate(now: number): string {
  const stamp = timestamp(now);
  const items: string[] = [];
  for (let i = 0; i < STOCKS_PER_UPDATE; i += 1) {
    const last = price(10 + i);
    items.push(
      `{"code":"${String(600_000 + i)}","name":"Stock ${String(i)}","price":${String(last)},"change":${String(price(0.5))},"change_percent":${String(price(1.2))},"volume":${String(1_000_000 + i * 7_919)},"timestamp":"${stamp}"}`,
    );
  }
  return `{"type":"price_update","data":[${items.join(',')}],"count":${String(STOCKS_PER_UPDATE)},"timestamp":"${stamp}"}`;
}

/** The template of each trading type's push. */
const PUSHES: Record<keyof TradingPeriods, (id: number, stamp: string) => string> = {
  balance: balanceUpdate,
  positions: positionsUpdate,
  pnl: pnlUpdate,
  orders: ordersUpdate,
};
