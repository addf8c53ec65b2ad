import { z } from 'zod';
import type { Balance, Order, Pnl, Position } from '@gw/topics';

/**
 * From ccxt's unified structures (what ccxt returns for any exchange, and what the paper exchange returns too)
 * to the legacy trading service's payloads. The subset of each structure this needs is validated here: an exchange answer that
 * does not fit is an `invalid_data` error, never a crash or a malformed push.
 */

const num = z.number();
const optionalNum = num.nullish();

const balanceEntry = z.object({ free: optionalNum, used: optionalNum, total: optionalNum });

const unifiedPosition = z.object({
  symbol: z.string().min(1),
  side: z.string().nullish(),
  contracts: optionalNum,
  contractSize: optionalNum,
  entryPrice: optionalNum,
  markPrice: optionalNum,
  unrealizedPnl: optionalNum,
});

const unifiedOrder = z.object({
  id: z.string().min(1),
  symbol: z.string().min(1),
  side: z.string(),
  amount: optionalNum,
  remaining: optionalNum,
  price: optionalNum,
  status: z.string().nullish(),
  info: z.unknown(),
});

const unifiedClosedPnl = z.object({
  realizedPnl: optionalNum,
  timestamp: optionalNum,
  lastUpdateTimestamp: optionalNum,
});

/** Thrown when an exchange answer does not have the shape ccxt documents. */
export class InvalidExchangeData extends Error {
  override readonly name = 'InvalidExchangeData';
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new InvalidExchangeData(`${what}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'invalid'}`.trim());
  }
  return result.data;
}

// The schemas of whole answers, built once (a zod schema is costly to build, and these run at every poll).
const balanceRecord = z.record(z.string(), z.unknown());
const positionList = z.array(unifiedPosition);
const orderList = z.array(unifiedOrder);
const closedPnlList = z.array(unifiedClosedPnl);

/*
 * Hand-written checks of the same shapes, run first: every poll parses its answer, and a zod parse (which also
 * copies the value) costs several times the whole mapping. Each check accepts a subset of what its schema
 * accepts, so a value it passes is read as it is; a value it refuses goes through the schema, which names the
 * problem (or, if the check was only stricter, parses it).
 */

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `num.nullish()`: a finite number, null or undefined. */
function isOptionalNum(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'number' && Number.isFinite(value));
}

function isNonEmptyString(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}

function isBalanceEntry(value: unknown): boolean {
  return isObject(value) && isOptionalNum(value['free']) && isOptionalNum(value['used']) && isOptionalNum(value['total']);
}

function isUnifiedPosition(value: unknown): boolean {
  if (!isObject(value)) {
    return false;
  }
  const side = value['side'];
  return (
    isNonEmptyString(value['symbol']) &&
    (side === undefined || side === null || typeof side === 'string') &&
    isOptionalNum(value['contracts']) &&
    isOptionalNum(value['contractSize']) &&
    isOptionalNum(value['entryPrice']) &&
    isOptionalNum(value['markPrice']) &&
    isOptionalNum(value['unrealizedPnl'])
  );
}

function isUnifiedOrder(value: unknown): boolean {
  if (!isObject(value)) {
    return false;
  }
  const status = value['status'];
  return (
    isNonEmptyString(value['id']) &&
    isNonEmptyString(value['symbol']) &&
    typeof value['side'] === 'string' &&
    isOptionalNum(value['amount']) &&
    isOptionalNum(value['remaining']) &&
    isOptionalNum(value['price']) &&
    (status === undefined || status === null || typeof status === 'string')
  );
}

function isUnifiedClosedPnl(value: unknown): boolean {
  return isObject(value) && isOptionalNum(value['realizedPnl']) && isOptionalNum(value['timestamp']) && isOptionalNum(value['lastUpdateTimestamp']);
}

function isListOf(value: unknown, item: (entry: unknown) => boolean): boolean {
  if (!Array.isArray(value)) {
    return false;
  }
  for (const entry of value as unknown[]) {
    if (!item(entry)) {
      return false;
    }
  }
  return true;
}

const isPositionList = (value: unknown): boolean => isListOf(value, isUnifiedPosition);
const isOrderList = (value: unknown): boolean => isListOf(value, isUnifiedOrder);
const isClosedPnlList = (value: unknown): boolean => isListOf(value, isUnifiedClosedPnl);

/** `value` as `schema` reads it: checked by hand when `check` passes it, else parsed (and refused) by zod. */
function read<T>(check: (value: unknown) => boolean, schema: z.ZodType<T>, value: unknown, what: string): T {
  return check(value) ? (value as T) : parse(schema, value, what);
}

/** Rounds away float noise (8 decimals, like exchange quantities) and turns -0 into 0. */
export function round(value: number): number {
  const rounded = Math.round(value * 1e8) / 1e8;
  return rounded === 0 ? 0 : rounded;
}

const comparePositions = (a: Position, b: Position): number => a.symbol.localeCompare(b.symbol) || a.side.localeCompare(b.side);
const compareOrders = (a: Order, b: Order): number => (a.order_id < b.order_id ? -1 : a.order_id > b.order_id ? 1 : 0);

/**
 * Sorts `list` in place, stably, as `Array.prototype.sort` does: by insertion for the few items an account has
 * (the built-in sort allocates a work array at every call, and this runs at every poll), by the built-in past that.
 */
function sortSmall<T>(list: T[], compare: (a: T, b: T) => number): T[] {
  if (list.length > 16) {
    return list.sort(compare);
  }
  for (let i = 1; i < list.length; i += 1) {
    const item = list[i] as T;
    let j = i - 1;
    while (j >= 0 && compare(list[j] as T, item) > 0) {
      list[j + 1] = list[j] as T;
      j -= 1;
    }
    list[j + 1] = item;
  }
  return list;
}

/** `BTC/USDT:USDT` → `BTCUSDT`, `BTC/USDT` → `BTCUSDT`; an exchange id (`BTCUSDT`) stays as it is. */
export function legacySymbol(unified: string): string {
  let symbol = legacySymbols.get(unified);
  if (symbol === undefined) {
    const [pair = unified] = unified.split(':');
    symbol = pair.replace('/', '');
    if (legacySymbols.size >= maxLegacySymbols) {
      legacySymbols.clear();
    }
    legacySymbols.set(unified, symbol);
  }
  return symbol;
}

/** `legacySymbol` by unified symbol: an account's few symbols are mapped at every poll. Bounded (cleared when full). */
const legacySymbols = new Map<string, string>();
const maxLegacySymbols = 10_000;

/** ccxt's position side (`long`/`short`) and order side (`buy`/`sell`) as Bybit writes it: `Buy`/`Sell`. */
export function legacySide(side: string | null | undefined): 'Buy' | 'Sell' | undefined {
  const word = side?.toLowerCase();
  if (word === 'long' || word === 'buy') {
    return 'Buy';
  }
  if (word === 'short' || word === 'sell') {
    return 'Sell';
  }
  return undefined;
}

/** balance_update.data: the settlement coin's total, free and used amounts (ccxt `balance[coin]`). */
export function mapBalance(balances: unknown, coin: string): Balance {
  const all = read(isRecord, balanceRecord, balances, 'balance');
  const entry = all[coin] === undefined ? { free: 0, used: 0, total: 0 } : read(isBalanceEntry, balanceEntry, all[coin], `balance.${coin}`);
  const total = entry.total ?? (entry.free ?? 0) + (entry.used ?? 0);
  const free = entry.free ?? total - (entry.used ?? 0);
  const used = entry.used ?? total - free;
  return { total_balance: round(total), available_balance: round(free), used_margin: round(used) };
}

interface OpenPosition extends Position {
  /** For pnl: the unrealized pnl before rounding. */
  raw: number;
}

function openPositions(positions: unknown): OpenPosition[] {
  const list = read(isPositionList, positionList, positions, 'positions');
  const open: OpenPosition[] = [];
  for (const p of list) {
    const side = legacySide(p.side);
    const size = (p.contracts ?? 0) * (p.contractSize ?? 1);
    // Exchanges list flat positions too (size 0, no side); they are not positions to show.
    if (side === undefined || size === 0) {
      continue;
    }
    const raw = p.unrealizedPnl ?? 0;
    open.push({
      symbol: legacySymbol(p.symbol),
      side,
      size: round(Math.abs(size)),
      entry_price: round(p.entryPrice ?? 0),
      mark_price: round(p.markPrice ?? 0),
      unrealized_pnl: round(raw),
      raw,
    });
  }
  return open;
}

/** Throws InvalidExchangeData when `positions` is not a list of ccxt positions (what `mapPositions` reads). */
export function assertPositions(positions: unknown): void {
  read(isPositionList, positionList, positions, 'positions');
}

/** positions_update.data: open positions, sorted by symbol then side (a stable order for change detection). */
export function mapPositions(positions: unknown): Position[] {
  const open = openPositions(positions);
  const out: Position[] = [];
  for (const p of open) {
    out.push({ symbol: p.symbol, side: p.side, size: p.size, entry_price: p.entry_price, mark_price: p.mark_price, unrealized_pnl: p.unrealized_pnl });
  }
  return sortSmall(out, comparePositions);
}

/**
 * The order status as the exchange reports it: Bybit's `info.orderStatus` (`New`, `PartiallyFilled`, ...),
 * else another raw `info.status`, else ccxt's unified status mapped to the exchange's words.
 */
function exchangeStatus(order: z.infer<typeof unifiedOrder>): string {
  if (typeof order.info === 'object' && order.info !== null) {
    const info = order.info as Record<string, unknown>;
    for (const key of ['orderStatus', 'status']) {
      const value = info[key];
      if (typeof value === 'string' && value.length > 0) {
        return value;
      }
    }
  }
  const unified: Readonly<Record<string, string>> = { open: 'New', closed: 'Filled', canceled: 'Cancelled' };
  const status = order.status ?? 'open';
  return unified[status] ?? status;
}

/** orders_update.data: open orders, sorted by order id. `quantity` is the order's full amount. */
export function mapOrders(orders: unknown): Order[] {
  const list = read(isOrderList, orderList, orders, 'orders');
  const out: Order[] = [];
  for (const o of list) {
    const side = legacySide(o.side);
    if (side === undefined) {
      throw new InvalidExchangeData(`orders: order ${o.id} has side ${JSON.stringify(o.side)}`);
    }
    out.push({
      order_id: o.id,
      symbol: legacySymbol(o.symbol),
      side,
      quantity: round(o.amount ?? o.remaining ?? 0),
      price: round(o.price ?? 0),
      status: exchangeStatus(o),
    });
  }
  return sortSmall(out, compareOrders);
}

/**
 * pnl_update.data from open positions and the closed-pnl history:
 * - unrealized_pnl = Σ unrealizedPnl of open positions
 * - realized_pnl   = Σ realizedPnl of closed-pnl records in the history window (`history`)
 * - today_pnl      = Σ realizedPnl of those records closed at or after `startOfToday`
 * - total_pnl      = realized_pnl + unrealized_pnl
 */
export function computePnl(positions: unknown, history: unknown, startOfToday: number): Pnl {
  const unrealized = openPositions(positions).reduce((sum, p) => sum + p.raw, 0);
  const closed = read(isClosedPnlList, closedPnlList, history, 'closed pnl');
  let realized = 0;
  let today = 0;
  for (const record of closed) {
    const pnl = record.realizedPnl ?? 0;
    realized += pnl;
    const at = record.lastUpdateTimestamp ?? record.timestamp ?? 0;
    if (at >= startOfToday) {
      today += pnl;
    }
  }
  return {
    total_pnl: round(realized + unrealized),
    today_pnl: round(today),
    unrealized_pnl: round(unrealized),
    realized_pnl: round(realized),
  };
}
