import type { Refusal } from '@gw/connections';
import { toGatewayError } from '@gw/core';
import type { GatewayErrorCode } from '@gw/core';
import type { TradingStatusCode } from '@gw/topics';
import type { ErrorEventPayload } from './schema.js';

/**
 * The one mapping from error codes to this protocol's wire forms:
 * - before the connection exists, a refused handshake is a `connect_error` whose message names the reason
 *   (`unauthorized: token expired`) and whose `data` carries `{code, reason}`;
 * - afterwards, every problem is an `error` event `{code, message, ...}`; the socket stays connected unless the
 *   table says `disconnect` (an expired token).
 *
 * Codes: every GatewayErrorCode, plus this protocol's own (`invalid_types`), the trading source's account
 * states (`exchange_auth_failed`, `no_account`), the pipeline's refusals (`draining`, `connection_limit`), a
 * refused in-band token refresh (`token_refresh_failed`, the connection stays as it was) and
 * `internal_error` (a handler failed: the exception boundary answered).
 */
export type ProtocolErrorCode =
  | GatewayErrorCode
  | TradingStatusCode
  | 'invalid_types'
  | 'draining'
  | 'connection_limit'
  | 'internal_error'
  | 'token_refresh_failed';

interface ErrorRule {
  /** Replaces the error's own message on the wire (internal details stay in the logs). */
  fixedMessage?: string;
  /** Close the connection after sending the error. */
  disconnect: boolean;
}

export const errorTable: Readonly<Record<ProtocolErrorCode, ErrorRule>> = {
  unauthorized: { disconnect: true },
  token_expired: { fixedMessage: 'token expired', disconnect: true },
  forbidden: { disconnect: false },
  bad_request: { disconnect: false },
  invalid_json: { disconnect: false },
  unknown_command: { disconnect: false },
  payload_too_large: { disconnect: false },
  unsupported_media_type: { disconnect: false },
  rate_limited: { disconnect: false },
  not_found: { disconnect: false },
  invalid_types: { disconnect: false },
  exchange_auth_failed: { disconnect: false },
  no_account: { disconnect: false },
  bus_unavailable: { fixedMessage: 'trading data is temporarily unavailable; retrying', disconnect: false },
  source_failed: { fixedMessage: 'trading data is temporarily unavailable; retrying', disconnect: false },
  draining: { fixedMessage: 'unavailable: server is shutting down, reconnect', disconnect: true },
  connection_limit: {
    fixedMessage: 'connection_limit: this user already has the maximum number of open connections',
    disconnect: true,
  },
  config_invalid: { fixedMessage: 'internal error', disconnect: false },
  uws_fallback: { fixedMessage: 'internal error', disconnect: false },
  internal: { fixedMessage: 'internal error', disconnect: false },
  internal_error: { fixedMessage: 'internal error: the message was not handled (reported to the operators)', disconnect: false },
  // A refused refresh changes nothing: the connection keeps its token until that one expires.
  token_refresh_failed: { disconnect: false },
};

/** The `error` event payload for a code. */
export function errorEvent(code: ProtocolErrorCode, message: string, extra: Record<string, unknown> = {}): ErrorEventPayload {
  return { ...extra, code, message: errorTable[code].fixedMessage ?? message };
}

/** The `error` event payload for anything thrown (`internal` unless it is a GatewayError). */
export function errorEventOf(error: unknown): ErrorEventPayload {
  const gatewayError = toGatewayError(error);
  return errorEvent(gatewayError.code, gatewayError.message);
}

/** What socket.io sends as `connect_error`: `message` for people, `data` for programs. */
export interface ConnectError extends Error {
  data: { code: ProtocolErrorCode; reason?: string };
}

function connectError(message: string, data: ConnectError['data']): ConnectError {
  return Object.assign(new Error(message), { data });
}

/**
 * The `connect_error` for a handshake the pipeline refused: its message (`unauthorized: token expired`, never
 * the token) and, for programs, `data: {code, reason?}` with the refusal's machine code.
 */
export function connectErrorOfRefusal(refusal: Refusal): ConnectError {
  const code: ProtocolErrorCode = refusal.error === 'auth_unavailable' || refusal.error === 'internal' ? 'internal' : refusal.error === 'too_many_connections' ? 'rate_limited' : refusal.error;
  return connectError(refusal.message, refusal.reason === undefined ? { code } : { code, reason: refusal.reason });
}
