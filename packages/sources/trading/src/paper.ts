import type { ExchangeClient } from './exchange.js';

/**
 * The embedded "paper" exchange: a simulated USDT-perpetual account per user, answering the same methods with
 * the same ccxt unified structures as a real exchange, so the trading source has one code path.
 *
 * The market is shared and deterministic: each symbol's price is a function of the step number (time divided
 * by the tick), smooth waves plus a little hashed noise, so prices repeat for every process and every user.
 * Each account starts from a state derived from its user id (balance, one position, a full book of resting
 * orders, a short closed-pnl history: about the state it would settle in, so its memory is about the same from
 * its first step as after hours) and evolves one step at a time: resting orders fill when the price crosses them (realizing pnl when they
 * reduce a position), positions are sometimes closed at market, new orders are placed. At every step the
 * account holds at least one open position and one resting order, so every payload field is exercised.
 */

interface MarketSpec {
  symbol: string;
  /** The exchange's own id of the market (`BTCUSDT`), as `info.symbol` gives it. */
  id: string;
  base: number;
  /** Typical position size in contracts (base coin). */
  lot: number;
  /** Price decimals. */
  decimals: number;
}

const markets: readonly MarketSpec[] = [
  { symbol: 'BTC/USDT:USDT', id: 'BTCUSDT', base: 65_000, lot: 0.05, decimals: 1 },
  { symbol: 'ETH/USDT:USDT', id: 'ETHUSDT', base: 3_400, lot: 0.8, decimals: 2 },
  { symbol: 'SOL/USDT:USDT', id: 'SOLUSDT', base: 150, lot: 12, decimals: 3 },
];

const leverage = 10;
/** Resting orders an account holds at most (new ones are placed only below it). */
const maxOrders = 4;
/** Steps replayed at most when an account catches up after a long pause (older steps are skipped). */
const maxCatchUp = 3_600;
/**
 * Closed-pnl records kept per account. An account starts with this many (its simulated past, see
 * `#seedHistory`), so its memory is the same from its first step on: with thousands of accounts, a history
 * that fills at a few records an hour would read as a slow leak for hours.
 */
const maxClosed = 8;
/** The simulated past of a new account spans this long before its start (inside the 7-day pnl window). */
const seededHistoryMs = 4 * 86_400_000;

/** 32-bit FNV-1a: stable seeds from strings. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A uniform number in [0, 1) from integers (a mulberry32 step). */
function unit(seed: number, step: number): number {
  let t = (seed ^ Math.imul(step, 0x9e3779b1)) + 0x6d2b79f5;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}

/** The item at `index` modulo the list's length (the lists here are constant and non-empty). */
function pick<T>(list: readonly T[], index: number): T {
  const item = list[((Math.floor(index) % list.length) + list.length) % list.length];
  if (item === undefined) {
    throw new Error('pick from an empty list');
  }
  return item;
}

function roundTo(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

function computePrice(market: MarketSpec, step: number): number {
  const seed = hash(market.symbol);
  const phase = (seed % 1000) / 159;
  const wave = 0.03 * Math.sin((2 * Math.PI * step) / 900 + phase) + 0.012 * Math.sin((2 * Math.PI * step) / 47 + phase * 2);
  const noise = 0.002 * (unit(seed, step) - 0.5);
  return roundTo(market.base * Math.exp(wave + noise), market.decimals);
}

/**
 * The last step each market's price was computed for, and that price: every account reads the same few prices
 * at the same step, many times per step.
 */
const priceCache = new Map<MarketSpec, { step: number; price: number }>();

/** The shared simulated price of a market at a step. */
export function paperPrice(market: MarketSpec, step: number): number {
  let cached = priceCache.get(market);
  if (cached === undefined) {
    cached = { step, price: computePrice(market, step) };
    priceCache.set(market, cached);
  } else if (cached.step !== step) {
    cached.step = step;
    cached.price = computePrice(market, step);
  }
  return cached.price;
}

interface PaperPosition {
  market: MarketSpec;
  side: 'long' | 'short';
  contracts: number;
  entryPrice: number;
  openedAt: number;
}

interface PaperOrder {
  id: string;
  /** `hash(id)`, the order's seed for partial fills (kept: it is needed at every step). */
  idHash: number;
  market: MarketSpec;
  side: 'buy' | 'sell';
  amount: number;
  filled: number;
  price: number;
  createdAt: number;
}

/**
 * A closed-pnl record as `fetchPositionsHistory` answers it (ccxt's unified position), built once when the
 * position closes and then handed out as it is at every call: the history is read at every pnl poll, and
 * building it again each time would cost more than keeping it built. Callers must not modify it.
 */
interface ClosedPnl {
  readonly info: { readonly closedPnl: string };
  readonly symbol: string;
  readonly side: 'long' | 'short';
  readonly contracts: number;
  readonly entryPrice: number;
  readonly lastPrice: number;
  readonly realizedPnl: number;
  readonly timestamp: number;
  readonly lastUpdateTimestamp: number;
}

export interface PaperExchangeOptions {
  /** Length of one simulated step (ms). */
  tickMs: number;
  /** Starting wallet balance; default derived from the user id (5 000 to 15 000 USDT). */
  startingBalance?: number | undefined;
  /** Clock (tests). */
  now?: () => number;
}

/** One simulated account (see the file comment). Methods resolve at once; nothing leaves the process. */
export class PaperExchange implements ExchangeClient {
  readonly id = 'paper';
  readonly #seed: number;
  readonly #tickMs: number;
  readonly #now: () => number;
  #step: number;
  #wallet: number;
  #positions: PaperPosition[] = [];
  #orders: PaperOrder[] = [];
  #closed: ClosedPnl[] = [];
  /** `fetchPositionsHistory`'s answer while `#closed` is unchanged and entirely in the asked window. */
  #closedView: readonly ClosedPnl[] | undefined;
  /**
   * Bumped by every step that may have changed positions or orders (a fill, a new order): answers are kept
   * until then (or, for positions, whose mark price moves, until the next step). Callers must not modify them.
   */
  #version = 0;
  #positionsView: { step: number; version: number; answer: readonly unknown[] } | undefined;
  #ordersView: { version: number; answer: readonly unknown[] } | undefined;
  #nextOrder = 1;

  constructor(user: string, options: PaperExchangeOptions) {
    this.#seed = hash(`paper:${user}`);
    this.#tickMs = Math.max(1, options.tickMs);
    this.#now = options.now ?? Date.now;
    this.#step = Math.floor(this.#now() / this.#tickMs);
    this.#wallet = options.startingBalance ?? 5_000 + Math.round(unit(this.#seed, 1) * 10_000);
    this.#openAtMarket(pick(markets, this.#seed), 0);
    for (let i = 0; i < maxOrders; i += 1) {
      this.#placeOrder(i);
    }
    this.#seedHistory();
  }

  fetchBalance(): Promise<unknown> {
    this.#advance();
    let unrealized = 0;
    let positionMargin = 0;
    for (const p of this.#positions) {
      unrealized += this.#unrealized(p);
      positionMargin += (p.contracts * this.#mark(p.market)) / leverage;
    }
    let orderMargin = 0;
    for (const o of this.#orders) {
      orderMargin += ((o.amount - o.filled) * o.price) / leverage;
    }
    const total = this.#wallet + unrealized;
    const used = positionMargin + orderMargin;
    const usdt = { free: total - used, used, total };
    return Promise.resolve({ info: { simulated: true }, USDT: usdt, free: { USDT: usdt.free }, used: { USDT: used }, total: { USDT: total } });
  }

  fetchPositions(): Promise<unknown> {
    this.#advance();
    // Asked for twice a step (positions and pnl): the same answer while the step and the positions are.
    if (this.#positionsView?.step !== this.#step || this.#positionsView.version !== this.#version) {
      this.#positionsView = { step: this.#step, version: this.#version, answer: Object.freeze(this.#positionAnswer()) };
    }
    return Promise.resolve(this.#positionsView.answer);
  }

  #positionAnswer(): unknown[] {
    return this.#positions.map((p) => ({
      info: { symbol: p.market.id, side: p.side === 'long' ? 'Buy' : 'Sell' },
      symbol: p.market.symbol,
      timestamp: p.openedAt,
      contracts: p.contracts,
      contractSize: 1,
      side: p.side,
      entryPrice: p.entryPrice,
      markPrice: this.#mark(p.market),
      unrealizedPnl: this.#unrealized(p),
      leverage,
    }));
  }

  fetchOpenOrders(): Promise<unknown> {
    this.#advance();
    // Orders change far less often than they are asked for: the same answer until one does.
    if (this.#ordersView?.version !== this.#version) {
      this.#ordersView = { version: this.#version, answer: Object.freeze(this.#orderAnswer()) };
    }
    return Promise.resolve(this.#ordersView.answer);
  }

  #orderAnswer(): unknown[] {
    return this.#orders.map((o) => ({
      info: { orderId: o.id, orderStatus: o.filled > 0 ? 'PartiallyFilled' : 'New' },
      id: o.id,
      symbol: o.market.symbol,
      timestamp: o.createdAt,
      type: 'limit',
      side: o.side,
      price: o.price,
      amount: o.amount,
      filled: o.filled,
      remaining: o.amount - o.filled,
      status: 'open',
    }));
  }

  fetchPositionsHistory(_symbols?: string[], since?: number): Promise<unknown> {
    this.#advance();
    const from = since ?? 0;
    const oldest = this.#closed[0];
    if (oldest === undefined || oldest.timestamp >= from) {
      // Everything is in the window (the usual case): the same answer until a position closes.
      this.#closedView ??= Object.freeze([...this.#closed]);
      return Promise.resolve(this.#closedView);
    }
    const records: unknown[] = [];
    for (const closed of this.#closed) {
      if (closed.timestamp >= from) {
        records.push(closed);
      }
    }
    return Promise.resolve(records);
  }

  #mark(market: MarketSpec): number {
    return paperPrice(market, this.#step);
  }

  #unrealized(p: PaperPosition): number {
    return (this.#mark(p.market) - p.entryPrice) * p.contracts * (p.side === 'long' ? 1 : -1);
  }

  #advance(): void {
    const target = Math.floor(this.#now() / this.#tickMs);
    if (target - this.#step > maxCatchUp) {
      this.#step = target - maxCatchUp;
    }
    while (this.#step < target) {
      this.#step += 1;
      this.#simulateStep();
    }
  }

  #simulateStep(): void {
    const at = this.#step * this.#tickMs;
    // A fill changes `#positions`, never `#orders`: the list is walked as it is (a copy only once one fills).
    const orders = this.#orders;
    for (let i = 0; i < orders.length; i += 1) {
      const order = orders[i] as PaperOrder;
      const price = this.#mark(order.market);
      const crossed = order.side === 'buy' ? price <= order.price : price >= order.price;
      if (crossed) {
        this.#orders = this.#orders.filter((o) => o !== order);
        this.#fill(order.market, order.side, order.amount - order.filled, order.price, at);
      } else if (order.filled === 0 && unit(this.#seed ^ order.idHash, this.#step) < 0.01) {
        // Some resting orders fill partly before they fill completely.
        order.filled = roundTo(order.amount / 2, 6);
        this.#fill(order.market, order.side, order.filled, order.price, at);
      }
    }
    const roll = unit(this.#seed, this.#step);
    if (roll < 0.01 && this.#positions.length > 1) {
      const position = pick(this.#positions, unit(this.#seed + 7, this.#step) * this.#positions.length);
      this.#fill(position.market, position.side === 'long' ? 'sell' : 'buy', position.contracts, this.#mark(position.market), at);
    } else if (roll > 0.98 && this.#orders.length < maxOrders) {
      this.#placeOrder(this.#step);
    }
    if (this.#positions.length === 0) {
      this.#openAtMarket(pick(markets, this.#step), this.#step);
    }
    this.#ensureOrders();
  }

  /** Applies a fill: reduces (realizing pnl) or flips an opposite position, grows a same-side one, or opens one. */
  #fill(market: MarketSpec, side: 'buy' | 'sell', qty: number, price: number, at: number): void {
    this.#version += 1;
    const want: PaperPosition['side'] = side === 'buy' ? 'long' : 'short';
    const position = this.#positions.find((p) => p.market === market);
    if (position === undefined) {
      this.#positions.push({ market, side: want, contracts: qty, entryPrice: price, openedAt: at });
      return;
    }
    if (position.side === want) {
      const contracts = position.contracts + qty;
      position.entryPrice = roundTo((position.entryPrice * position.contracts + price * qty) / contracts, market.decimals + 2);
      position.contracts = roundTo(contracts, 6);
      return;
    }
    const closedQty = Math.min(qty, position.contracts);
    const closedPnl = roundTo((price - position.entryPrice) * closedQty * (position.side === 'long' ? 1 : -1), 6);
    this.#wallet += closedPnl;
    this.#recordClosed(market, position.side, closedQty, position.entryPrice, price, at);
    position.contracts = roundTo(position.contracts - closedQty, 6);
    const rest = roundTo(qty - closedQty, 6);
    if (position.contracts <= 0) {
      this.#positions = this.#positions.filter((p) => p !== position);
      if (rest > 0) {
        this.#positions.push({ market, side: want, contracts: rest, entryPrice: price, openedAt: at });
      }
    }
  }

  #recordClosed(market: MarketSpec, side: PaperPosition['side'], contracts: number, entryPrice: number, lastPrice: number, at: number): void {
    const closedPnl = roundTo((lastPrice - entryPrice) * contracts * (side === 'long' ? 1 : -1), 6);
    this.#closed.push({
      info: { closedPnl: String(closedPnl) },
      symbol: market.symbol,
      side,
      contracts,
      entryPrice,
      lastPrice,
      realizedPnl: closedPnl,
      timestamp: at,
      lastUpdateTimestamp: at,
    });
    if (this.#closed.length > maxClosed) {
      this.#closed.shift();
    }
    this.#closedView = undefined;
  }

  /**
   * The account's simulated past: `maxClosed` positions closed over the days before its start, oldest first
   * (their pnl is not in the starting wallet: it is the history the wallet came from).
   */
  #seedHistory(): void {
    const start = this.#step * this.#tickMs;
    for (let i = 0; i < maxClosed; i += 1) {
      const market = pick(markets, this.#seed + 29 * i);
      const at = start - Math.round(seededHistoryMs * (1 - (i + unit(this.#seed + 31, i)) / maxClosed));
      const entryPrice = roundTo(market.base * (0.97 + unit(this.#seed + 37, i) * 0.06), market.decimals);
      const lastPrice = roundTo(entryPrice * (0.98 + unit(this.#seed + 41, i) * 0.04), market.decimals);
      const contracts = roundTo(market.lot * (0.5 + unit(this.#seed + 43, i)), 4);
      this.#recordClosed(market, unit(this.#seed + 47, i) < 0.5 ? 'long' : 'short', contracts, entryPrice, lastPrice, at);
    }
  }

  #openAtMarket(market: MarketSpec, salt: number): void {
    this.#version += 1;
    const side = unit(this.#seed + 3, salt) < 0.5 ? 'long' : 'short';
    const contracts = roundTo(market.lot * (0.5 + unit(this.#seed + 5, salt)), 4);
    const drift = 1 + (unit(this.#seed + 11, salt) - 0.5) * 0.04;
    const entryPrice = roundTo(paperPrice(market, this.#step) * drift, market.decimals);
    this.#positions.push({ market, side, contracts, entryPrice, openedAt: this.#step * this.#tickMs });
  }

  #ensureOrders(): void {
    if (this.#orders.length === 0) {
      this.#placeOrder(this.#step);
    }
  }

  #placeOrder(salt: number): void {
    this.#version += 1;
    const market = pick(markets, unit(this.#seed + 13, salt) * markets.length);
    const side = unit(this.#seed + 17, salt) < 0.5 ? 'buy' : 'sell';
    const distance = 0.005 + unit(this.#seed + 19, salt) * 0.03;
    const mark = paperPrice(market, this.#step);
    const price = roundTo(side === 'buy' ? mark * (1 - distance) : mark * (1 + distance), market.decimals);
    const amount = roundTo(market.lot * (0.2 + unit(this.#seed + 23, salt)), 4);
    const id = `paper-${(this.#seed % 100_000).toString().padStart(5, '0')}-${String(this.#nextOrder).padStart(6, '0')}`;
    this.#nextOrder += 1;
    this.#orders.push({ id, idHash: hash(id), market, side, amount, filled: 0, price, createdAt: this.#step * this.#tickMs });
  }
}
