import type { AuthFailureReason } from '@gw/auth';
import { statusLine } from '@gw/uws';
import type { HttpResponse } from '@gw/uws';

/**
 * Why a handshake is refused before a connection exists, in one form for every protocol: the raw WebSocket
 * protocols answer the upgrade request with `status` and the JSON body `{"code": status, "message", "error",
 * "reason"?}` (the gateway's REST error form); Socket.IO turns the same refusal into a `connect_error`.
 * `error` is the machine code; `reason` (401 only) is the token's failure reason (`expired`, `bad_signature`...).
 */
export interface Refusal {
  status: 400 | 401 | 403 | 429 | 500 | 503;
  error: RefusalCode;
  message: string;
  reason?: AuthFailureReason;
}

export type RefusalCode =
  | 'bad_request'
  | 'unauthorized'
  | 'token_expired'
  | 'too_many_connections'
  | 'connection_limit'
  | 'draining'
  | 'auth_unavailable'
  | 'bus_unavailable'
  | 'internal';

/** Every refusal the pipeline makes, but `unauthorized` (which carries @gw/auth's sentence) and `bad_request`. */
export const refusals = {
  draining: { status: 503, error: 'draining', message: 'the gateway is shutting down: reconnect to another node' },
  too_many_connections: {
    status: 429,
    error: 'too_many_connections',
    message: 'too many connection attempts from this address: retry later with backoff',
  },
  connection_limit: {
    status: 429,
    error: 'connection_limit',
    message: 'this user already has the maximum number of open connections (MAX_CONNECTIONS_PER_USER)',
  },
  auth_unavailable: { status: 503, error: 'auth_unavailable', message: 'token verification is unavailable right now, try again' },
  bus_unavailable: { status: 503, error: 'bus_unavailable', message: 'cannot admit connections right now, try again' },
  internal: { status: 500, error: 'internal', message: 'internal error' },
} as const satisfies Record<string, Refusal>;

/** A 400 naming what is wrong with the request (e.g. a bad `?symbols=` item). */
export function badRequest(message: string): Refusal {
  return { status: 400, error: 'bad_request', message };
}

/** Answers a WebSocket upgrade request with the refusal instead of opening the socket. Corked: callable after an await. */
export function refuseUpgrade(res: HttpResponse, refusal: Refusal): void {
  const body: Record<string, unknown> = { code: refusal.status, message: refusal.message, error: refusal.error };
  if (refusal.reason !== undefined) {
    body['reason'] = refusal.reason;
  }
  res.cork(() => {
    res.writeStatus(statusLine(refusal.status)).writeHeader('content-type', 'application/json; charset=utf-8').end(JSON.stringify(body));
  });
}
