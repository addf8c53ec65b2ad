import { z } from 'zod';
import { tradingDataSchemas, tradingEvents, tradingTypes } from '@gw/topics';
import type { TradingData, TradingEvent, TradingType } from '@gw/topics';

/**
 * The wire messages of the trading protocol (the legacy trading service's; docs/contract.md section 3).
 *
 * Inbound payloads are parsed here once, at the edge, with `safeParse`: a client can send anything. Outbound
 * payloads are built by the adapter from typed values and are NOT parsed on the hot path; their schemas exist
 * so tests (and client developers) can check every event against one definition.
 */

/** Client → server events this protocol handles; anything else is answered with `unknown_command`. */
export const inboundEvents = ['subscribe_trading', 'unsubscribe_trading', 'refresh_token'] as const;
export type InboundEvent = (typeof inboundEvents)[number];

/** Most entries a type list may hold (four types exist; a few duplicates are tolerated, a flood is not). */
export const MAX_TYPE_ITEMS = 16;

/** A type list: names of types (anything else in it is reported back as an invalid type). */
const typeList = z.union([
  z.array(z.unknown()).max(MAX_TYPE_ITEMS, { error: `at most ${MAX_TYPE_ITEMS} types` }),
  z.null().transform(() => undefined),
]);

/**
 * `subscribe_trading` / `unsubscribe_trading` payload: `{"types": [...]}` or `{"subscribeTypes": [...]}`
 * (`types` wins when both are present). Other fields are ignored. Absent (no payload, `{}`) or an empty list
 * means all four types.
 */
export const subscriptionRequestSchema = z.object({
  types: typeList.optional(),
  subscribeTypes: typeList.optional(),
});
export type SubscriptionRequest = z.infer<typeof subscriptionRequestSchema>;

/** What a valid request asks for: known types (deduplicated, in the order given) and the rejected entries. */
export interface RequestedTypes {
  valid: TradingType[];
  /** Entries that are not one of the four types, as short strings for the `invalid_types` error. */
  invalid: string[];
}

/**
 * A short, bounded description of a rejected entry for the `invalid_types` error. Built without serializing
 * the entry: a client value can be nested thousands of levels deep, and its text must not cost more than it.
 */
function describeEntry(entry: unknown): string {
  if (typeof entry === 'string') {
    return entry.length > 40 ? `${entry.slice(0, 40)}…` : entry;
  }
  if (entry === null || typeof entry === 'number' || typeof entry === 'boolean') {
    return String(entry);
  }
  return Array.isArray(entry) ? '(a list)' : `(${typeof entry})`;
}

/** The field holding a type list that is present but not a list (`"types": "balance"`), if any. */
export function typesNotAList(payload: unknown): 'types' | 'subscribeTypes' | undefined {
  if (typeof payload !== 'object' || payload === null) {
    return undefined;
  }
  for (const field of ['types', 'subscribeTypes'] as const) {
    const value = (payload as Record<string, unknown>)[field];
    if (value !== undefined && value !== null && !Array.isArray(value)) {
      return field;
    }
  }
  return undefined;
}

/** Splits a parsed request into known and unknown types (absent or empty list → all four). */
export function requestedTypes(request: SubscriptionRequest): RequestedTypes {
  const list = request.types ?? request.subscribeTypes;
  if (list === undefined || list.length === 0) {
    return { valid: [...tradingTypes], invalid: [] };
  }
  const valid: TradingType[] = [];
  const invalid: string[] = [];
  for (const entry of list) {
    if (typeof entry === 'string' && (tradingTypes as readonly string[]).includes(entry)) {
      if (!valid.includes(entry as TradingType)) {
        valid.push(entry as TradingType);
      }
    } else {
      invalid.push(describeEntry(entry));
    }
  }
  return { valid, invalid };
}

// ---- Outbound (server → client)

/** `connected`, to the new socket only. */
export const connectedSchema = z.object({
  message: z.literal('连接成功'),
  user_id: z.union([z.number(), z.string()]),
  authenticated: z.literal(true),
});
export type ConnectedPayload = z.infer<typeof connectedSchema>;

/** `subscribed`, and the acknowledgement of `subscribe_trading`. `subscriptions`: every type the socket now has. */
export const subscribedSchema = z.object({
  status: z.literal('success'),
  types: z.array(z.enum(tradingTypes)),
  user_id: z.union([z.number(), z.string()]),
  subscriptions: z.array(z.enum(tradingTypes)),
});
export type SubscribedPayload = z.infer<typeof subscribedSchema>;

/** `unsubscribed`, and the acknowledgement of `unsubscribe_trading`. */
export const unsubscribedSchema = z.object({
  status: z.literal('success'),
  types: z.array(z.enum(tradingTypes)),
  user_id: z.union([z.number(), z.string()]),
  subscriptions: z.array(z.enum(tradingTypes)),
});
export type UnsubscribedPayload = z.infer<typeof unsubscribedSchema>;

/** `error`: `code` is machine-readable (see errors.ts), `message` for people; extra fields per code. */
export const errorEventSchema = z
  .object({
    code: z.string().min(1),
    message: z.string(),
  })
  .catchall(z.unknown());
export type ErrorEventPayload = z.infer<typeof errorEventSchema>;

/** The acknowledgement of a request that could not be read at all. */
export const requestFailedSchema = z
  .object({ status: z.literal('error'), code: z.string(), message: z.string() })
  .catchall(z.unknown());
export type RequestFailedPayload = z.infer<typeof requestFailedSchema>;

/** `refresh_token` payload: `{"token": "<JWT>"}` (a bare token string is tolerated). */
export const refreshTokenRequestSchema = z.union([z.object({ token: z.string() }), z.string().transform((token) => ({ token }))]);

/** `token_refreshed` event and the successful `refresh_token` ack: the new `exp`, unix seconds (null: none). */
export const tokenRefreshedSchema = z.object({ status: z.literal('success'), expires_at: z.number().int().nullable() });
export type TokenRefreshedPayload = z.infer<typeof tokenRefreshedSchema>;

/** `token_expiring`: sent once, `TOKEN_EXPIRY_NOTICE_S` before `exp`; refresh before `expires_in` seconds pass. */
export const tokenExpiringSchema = z.object({ expires_in: z.number().int().nonnegative() });
export type TokenExpiringPayload = z.infer<typeof tokenExpiringSchema>;

/** `YYYY-MM-DDTHH:mm:ss`, as the legacy service wrote it. */
export const legacyTimestampSchema = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);

/** A data push of one type: `{"type": "<event>", "data": ..., "timestamp", "user_id"}`. */
export interface PushPayload<T extends TradingType = TradingType> {
  type: (typeof tradingEvents)[T];
  data: TradingData[T];
  timestamp: string;
  user_id: number | string;
}

function pushSchema<T extends TradingType>(type: T) {
  return z.object({
    type: z.literal(tradingEvents[type]),
    data: tradingDataSchemas[type],
    timestamp: legacyTimestampSchema,
    user_id: z.union([z.number(), z.string()]),
  });
}

/** Schema of each push event, by event name. */
export const pushSchemas = {
  balance_update: pushSchema('balance'),
  positions_update: pushSchema('positions'),
  pnl_update: pushSchema('pnl'),
  orders_update: pushSchema('orders'),
} as const satisfies Record<TradingEvent, z.ZodType>;

/** Server → client events, typed for socket.io's generic `Server`. */
export interface ServerToClientEvents {
  connected: (payload: ConnectedPayload) => void;
  subscribed: (payload: SubscribedPayload) => void;
  unsubscribed: (payload: UnsubscribedPayload) => void;
  error: (payload: ErrorEventPayload) => void;
  token_refreshed: (payload: TokenRefreshedPayload) => void;
  token_expiring: (payload: TokenExpiringPayload) => void;
  balance_update: (payload: PushPayload<'balance'>) => void;
  positions_update: (payload: PushPayload<'positions'>) => void;
  pnl_update: (payload: PushPayload<'pnl'>) => void;
  orders_update: (payload: PushPayload<'orders'>) => void;
}
