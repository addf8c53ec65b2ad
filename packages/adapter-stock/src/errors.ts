import type { PipelineErrorCode } from '@gw/connections';
import { z } from 'zod';

/**
 * The one mapping table of the stock protocol: every client-visible error code with its default `details`. An
 * error frame never closes the connection by itself; closes (abuse, slowness, expiry, shutdown) are the
 * connection pipeline's, with the close codes shared by the raw WebSocket protocols (`closeCodes`).
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
  'internal_error',
  'token_refresh_failed',
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
  internal_error: 'internal error: the message was not handled (reported to the operators)',
  token_refresh_failed: 'the new token was refused; the current token stays in force',
};

/** The pipeline's own error codes in this protocol's words. */
export function stockCodeOf(code: PipelineErrorCode): StockErrorCode {
  return code === 'binary_not_supported' ? 'unsupported_frame' : code;
}

/** The error frame `{"type":"error","error":code,"details":...,"timestamp":...}`. */
export function errorFrame(code: StockErrorCode, details: string | undefined, timestamp: string): string {
  return JSON.stringify({ type: 'error', error: code, details: details ?? stockErrorDetails[code], timestamp });
}
