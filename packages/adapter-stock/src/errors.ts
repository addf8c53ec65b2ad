import { z } from 'zod';

/**
 * The one mapping table of the stock protocol: every client-visible error code with its default `details`, and
 * every close code the server uses. An error frame never closes the connection by itself; closes are only for
 * abuse, slowness, expiry and shutdown.
 */
export const stockErrorCodes = [
  'invalid_json',
  'invalid_message',
  'unsupported_frame',
  'unknown_type',
  'missing_subscription_type',
  'invalid_subscription_type',
  'missing_target',
  'invalid_target',
  'unknown_stock',
  'unknown_strategy',
  'too_many_subscriptions',
  'message_too_large',
  'rate_limited',
] as const;
export type StockErrorCode = (typeof stockErrorCodes)[number];
export const stockErrorCodeSchema = z.enum(stockErrorCodes);

/** Default `details` per code (a specific sentence replaces it where the adapter knows more). */
export const stockErrorDetails: Readonly<Record<StockErrorCode, string>> = {
  invalid_json: 'the message is not valid JSON',
  invalid_message: 'expected a JSON object with a string "type"',
  unsupported_frame: 'binary frames are not supported; send JSON text',
  unknown_type: 'type must be subscribe, unsubscribe or ping',
  missing_subscription_type: 'subscription_type is required (strategy, stock or market)',
  invalid_subscription_type: 'subscription_type must be strategy, stock or market',
  missing_target: 'target is required (a strategy name, a 6-digit stock code, or SH, SZ or BJ)',
  invalid_target: 'target is not valid for this subscription_type',
  unknown_stock: 'no such stock',
  unknown_strategy: 'no such strategy',
  too_many_subscriptions: 'subscription limit reached for this connection',
  message_too_large: 'message too large',
  rate_limited: 'too many messages; slow down',
};

/**
 * Close codes. 1xxx are standard; 4xxx are this gateway's. Reconnecting is right after 1001 (server restart),
 * after 4401 with a fresh token, and after 4408/4429 with a back-off; after 1009 fix the client first.
 */
export const stockCloseCodes = {
  /** Server shutdown / drain. */
  goingAway: { code: 1001, reason: 'going away' },
  /** A frame above STOCK_MAX_FRAME_BYTES (not parsed). Above 1 MiB uWS itself drops the connection (1006). */
  frameTooLarge: { code: 1009, reason: 'message too big' },
  /** The connection's token expired (STOCK_REQUIRE_AUTH). */
  tokenExpired: { code: 4401, reason: 'token_expired' },
  /** Output stayed above STOCK_MAX_BUFFERED_BYTES for STOCK_SLOW_CLIENT_TIMEOUT_MS. */
  slowConsumer: { code: 4408, reason: 'slow_consumer' },
  /** Sustained messages over STOCK_MAX_MESSAGES_PER_SEC. */
  rateLimited: { code: 4429, reason: 'rate_limited' },
} as const;

/** The error frame `{"type":"error","error":code,"details":...,"timestamp":...}`. */
export function errorFrame(code: StockErrorCode, details: string | undefined, timestamp: string): string {
  return JSON.stringify({ type: 'error', error: code, details: details ?? stockErrorDetails[code], timestamp });
}
