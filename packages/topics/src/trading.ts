import { z } from 'zod';

/**
 * Per-user trading data (the legacy trading service's). The trading source publishes each user's four data types as latest values,
 * one topic per (user, type); the Socket.IO adapter subscribes to the topics of the users connected to it and
 * declares interest in them, which is what makes the source poll that user's exchange account at all.
 *
 * Topic names: `trading.<user>.<type>` for data (`trading.4.balance`) and `trading.<user>.status` for the
 * account's state (an exchange that rejects the key, a missing account). `<user>` is the token's `sub`, kept
 * as is when it is made of `[A-Za-z0-9_-]` (every numeric id) and percent-encoded otherwise, so a topic always
 * has exactly three dot-separated parts and never contains a character the bus refuses.
 *
 * The payload of a data topic is exactly the `data` field of the legacy service's push (`balance_update.data`, ...);
 * the adapter adds `type`, `timestamp` and `user_id` when it writes to sockets.
 */

/** The four data types, in the legacy service's order. */
export const tradingTypes = ['balance', 'positions', 'pnl', 'orders'] as const;
export type TradingType = (typeof tradingTypes)[number];

/** Every trading topic starts with this (what the source watches interest for). */
export const tradingTopicPrefix = 'trading.';

/** The Socket.IO event that carries each type. */
export const tradingEvents = {
  balance: 'balance_update',
  positions: 'positions_update',
  pnl: 'pnl_update',
  orders: 'orders_update',
} as const satisfies Record<TradingType, string>;
export type TradingEvent = (typeof tradingEvents)[TradingType];

const plainSegment = /^[A-Za-z0-9_-]+$/;

/** The `<user>` part of a topic: `sub` itself when plain, otherwise every other byte as `%XX`. */
export function userSegment(sub: string): string {
  if (plainSegment.test(sub)) {
    return sub;
  }
  let out = '';
  for (const byte of Buffer.from(sub, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && plainSegment.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function subOfSegment(segment: string): string | undefined {
  if (plainSegment.test(segment)) {
    return segment;
  }
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** `trading.<user>.<type>` for a token subject (see `userSegment`). */
export function tradingTopic(sub: string, type: TradingType): string {
  return `${tradingTopicPrefix}${userSegment(sub)}.${type}`;
}

/** `trading.<user>.status`: the latest account status of that user (see `tradingStatusSchema`). */
export function tradingStatusTopic(sub: string): string {
  return `${tradingTopicPrefix}${userSegment(sub)}.status`;
}

export function isTradingType(value: unknown): value is TradingType {
  return typeof value === 'string' && (tradingTypes as readonly string[]).includes(value);
}

/** The user (`sub`) and type of a data topic; undefined for a status topic or anything else. */
export function parseTradingTopic(topic: string): { sub: string; type: TradingType } | undefined {
  if (!topic.startsWith(tradingTopicPrefix)) {
    return undefined;
  }
  const parts = topic.slice(tradingTopicPrefix.length).split('.');
  if (parts.length !== 2) {
    return undefined;
  }
  const [segment, type] = parts as [string, string];
  const sub = subOfSegment(segment);
  if (sub === undefined || sub.length === 0 || !isTradingType(type)) {
    return undefined;
  }
  return { sub, type };
}

/** A finite number (zod 4 numbers refuse Infinity and NaN). */
const amount = z.number();

/** `balance_update.data`: the account's balance in its settlement currency (USDT). */
export const balanceSchema = z.object({
  total_balance: amount,
  available_balance: amount,
  used_margin: amount,
});
export type Balance = z.infer<typeof balanceSchema>;

/** One open position: `symbol` like `BTCUSDT`, `side` `Buy` (long) or `Sell` (short). */
export const positionSchema = z.object({
  symbol: z.string().min(1),
  side: z.enum(['Buy', 'Sell']),
  size: amount,
  entry_price: amount,
  mark_price: amount,
  unrealized_pnl: amount,
});
export type Position = z.infer<typeof positionSchema>;
export const positionsSchema = z.array(positionSchema);

/** `pnl_update.data` (formulas in docs/protocols/trading.md). */
export const pnlSchema = z.object({
  total_pnl: amount,
  today_pnl: amount,
  unrealized_pnl: amount,
  realized_pnl: amount,
});
export type Pnl = z.infer<typeof pnlSchema>;

/** One open (resting) order; `status` as the exchange reports it (`New`, `PartiallyFilled`, ...). */
export const orderSchema = z.object({
  order_id: z.string().min(1),
  symbol: z.string().min(1),
  side: z.enum(['Buy', 'Sell']),
  quantity: amount,
  price: amount,
  status: z.string().min(1),
});
export type Order = z.infer<typeof orderSchema>;
export const ordersSchema = z.array(orderSchema);

/** The payload schema of each data topic. */
export const tradingDataSchemas = {
  balance: balanceSchema,
  positions: positionsSchema,
  pnl: pnlSchema,
  orders: ordersSchema,
} as const satisfies Record<TradingType, z.ZodType>;

/** The payload of each data topic, by type. */
export interface TradingData {
  balance: Balance;
  positions: Position[];
  pnl: Pnl;
  orders: Order[];
}

/** Why an account's data is not flowing; relayed to the user's sockets as an `error` event with this code. */
export const tradingStatusCodes = ['exchange_auth_failed', 'no_account'] as const;
export type TradingStatusCode = (typeof tradingStatusCodes)[number];

/**
 * The latest value of `trading.<user>.status`. `error` while the source cannot serve the account (published when
 * that starts and again whenever someone starts watching the account while it lasts); `ok` once it is served
 * again, or when nobody watches the account any more (so a stored error never outlives the polling that found it).
 */
export const tradingStatusSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('ok') }),
  z.object({
    state: z.literal('error'),
    code: z.enum(tradingStatusCodes),
    /** For people: what is wrong and what happens next. Never contains credentials. */
    message: z.string(),
    /** When the source tries the account again (ms since the epoch), if it will. */
    retryAt: z.number().optional(),
  }),
]);
export type TradingStatus = z.infer<typeof tradingStatusSchema>;
