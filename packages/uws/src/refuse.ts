import type { HttpResponse } from 'uWebSockets.js';
import { statusLine } from './http.js';

/**
 * Answers a WebSocket upgrade request with an HTTP error instead of opening the socket, in the gateway's JSON
 * error shape `{"code", "message", "error"}`. Corked, so it may be called after an await.
 */
export function refuseUpgrade(res: HttpResponse, status: number, error: string, message: string): void {
  res.cork(() => {
    res
      .writeStatus(statusLine(status))
      .writeHeader('content-type', 'application/json; charset=utf-8')
      .end(JSON.stringify({ code: status, message, error }));
  });
}

/** The refusals of admission control, as every raw-WebSocket protocol answers them. */
export const admissionRefusals = {
  ip_rate_limited: {
    status: 429,
    error: 'too_many_connections',
    message: 'too many connection attempts from this address: retry later with backoff',
  },
  user_connection_limit: {
    status: 429,
    error: 'connection_limit',
    message: 'this user already has the maximum number of open connections (MAX_CONNECTIONS_PER_USER)',
  },
} as const;
