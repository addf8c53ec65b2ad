import { isAuthError } from '@gw/auth';
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
 * states (`exchange_auth_failed`, `no_account`) and `draining` (a refused handshake during shutdown).
 */
export type ProtocolErrorCode = GatewayErrorCode | TradingStatusCode | 'invalid_types' | 'draining' | 'connection_limit';

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
 * The `connect_error` for a refused handshake. A refused token keeps @gw/auth's sentence (`unauthorized: token
 * expired`, never the token); a failure of the gateway itself (JWKS unreachable) says so without details.
 */
export function connectErrorOf(error: unknown): ConnectError {
  if (isAuthError(error)) {
    return connectError(error.message, { code: error.code, reason: error.reason });
  }
  return connectError('unavailable: cannot verify tokens right now, try again', { code: 'internal' });
}

/** The `connect_error` when the user is at MAX_CONNECTIONS_PER_USER across the cluster. */
export function connectionLimitConnectError(): ConnectError {
  return connectError(errorTable.connection_limit.fixedMessage ?? 'connection_limit', { code: 'connection_limit' });
}

/** The `connect_error` when admission cannot be decided (the bus is down): the client retries later. */
export function unavailableConnectError(): ConnectError {
  return connectError(errorTable.bus_unavailable.fixedMessage ?? 'unavailable', { code: 'bus_unavailable' });
}

/** The `connect_error` while the server drains: the client's reconnection finds another node. */
export function drainingConnectError(): ConnectError {
  return connectError(errorTable.draining.fixedMessage ?? 'draining', { code: 'draining' });
}
