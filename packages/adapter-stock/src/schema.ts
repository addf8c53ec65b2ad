import { z } from 'zod';

/**
 * The wire format of `/ws/stock/prices` (the legacy stock price service's), as zod schemas. Inbound frames are parsed once with
 * {@link clientMessageSchema}; outbound frames are built by hand on the hot path and checked against these
 * schemas in tests only.
 */

export const subscriptionTypes = ['strategy', 'stock', 'market'] as const;
export const subscriptionTypeSchema = z.enum(subscriptionTypes);
export type SubscriptionType = z.infer<typeof subscriptionTypeSchema>;

/** `{"type": "subscribe"|"unsubscribe", "subscription_type": ..., "target": ...}`; extra fields are ignored. */
export const subscriptionRequestSchema = z.object({
  type: z.enum(['subscribe', 'unsubscribe']),
  subscription_type: subscriptionTypeSchema,
  target: z.string().trim().min(1).max(64),
});
export type SubscriptionRequest = z.infer<typeof subscriptionRequestSchema>;

export const pingSchema = z.object({ type: z.literal('ping') });

export const clientMessageSchema = z.discriminatedUnion('type', [subscriptionRequestSchema, pingSchema]);
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** The client message types, for metrics labels (anything else is counted as `unknown`). */
export const clientMessageTypes = ['subscribe', 'unsubscribe', 'ping'] as const;

/** `YYYY-MM-DDTHH:mm:ss`, Asia/Shanghai wall-clock time. */
const wireTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);

export const connectedFrameSchema = z.object({
  type: z.literal('connected'),
  client_id: z.string().regex(/^client_[0-9a-f]+$/),
  message: z.literal('WebSocket连接成功'),
  timestamp: wireTime,
});

export const subscribedFrameSchema = z.object({
  type: z.literal('subscribed'),
  subscription_type: subscriptionTypeSchema,
  target: z.string(),
  message: z.literal('订阅成功'),
  timestamp: wireTime,
  /** Accepted, but no running source serves the target now: prices arrive once one does. */
  warning: z.object({ code: z.literal('no_source'), message: z.string() }).optional(),
});

export type SubscribedFrame = z.infer<typeof subscribedFrameSchema>;

export const unsubscribedFrameSchema = z.object({
  type: z.literal('unsubscribed'),
  subscription_type: subscriptionTypeSchema,
  target: z.string(),
  message: z.literal('取消订阅成功'),
  timestamp: wireTime,
});

export const pongFrameSchema = z.object({ type: z.literal('pong'), timestamp: wireTime });

export const priceItemSchema = z.object({
  code: z.string().regex(/^\d{6}$/),
  name: z.string().min(1),
  price: z.number(),
  change: z.number(),
  change_percent: z.number(),
  volume: z.number().int().nonnegative(),
  timestamp: wireTime,
});
export type PriceItem = z.infer<typeof priceItemSchema>;

export const priceUpdateFrameSchema = z.object({
  type: z.literal('price_update'),
  data: z.array(priceItemSchema),
  count: z.number().int().nonnegative(),
  timestamp: wireTime,
});
export type PriceUpdateFrame = z.infer<typeof priceUpdateFrameSchema>;

export const errorFrameSchema = z.object({
  type: z.literal('error'),
  error: z.string(),
  details: z.string(),
  timestamp: wireTime,
});
export type ErrorFrame = z.infer<typeof errorFrameSchema>;

/**
 * In-band token refresh, the same frames on both raw WebSocket protocols (the connection pipeline reads
 * `refresh_token` before the protocol does and writes the answers): `token_refreshed` with the new `exp` in
 * unix seconds, `token_expiring` once before `exp`; a refusal is the error frame `token_refresh_failed`.
 */
export const refreshTokenFrameSchema = z.object({ type: z.literal('refresh_token'), token: z.string() });
export const tokenRefreshedFrameSchema = z.object({ type: z.literal('token_refreshed'), expires_at: z.number().int().nullable() });
export type TokenRefreshedFrame = z.infer<typeof tokenRefreshedFrameSchema>;
export const tokenExpiringFrameSchema = z.object({ type: z.literal('token_expiring'), expires_in: z.number().int().nonnegative() });
export type TokenExpiringFrame = z.infer<typeof tokenExpiringFrameSchema>;

export const serverFrameSchema = z.discriminatedUnion('type', [
  connectedFrameSchema,
  subscribedFrameSchema,
  unsubscribedFrameSchema,
  pongFrameSchema,
  priceUpdateFrameSchema,
  errorFrameSchema,
  tokenRefreshedFrameSchema,
  tokenExpiringFrameSchema,
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;
