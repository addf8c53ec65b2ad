import type { Principal, TokenVerifier } from '@gw/auth';
import type { Admission, UserSlot } from '@gw/uws';
import { AuthError, extractToken, isAuthError } from '@gw/auth';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { connectErrorOf, connectionLimitConnectError, drainingConnectError, unavailableConnectError } from './errors.js';
import type { TradingSocket } from './rooms.js';

export interface HandshakeDeps {
  verifier: TokenVerifier;
  metrics: GatewayMetrics;
  logger: Logger;
  lifecycle: { readonly draining: boolean };
  admission: Admission;
}

/** What the handshake leaves on `socket.data` for the connection handler. */
export interface HandshakeData {
  principal: Principal;
  /** The user's connection slot (MAX_CONNECTIONS_PER_USER), released when the socket disconnects. */
  slot: UserSlot;
}

function queryOf(query: Record<string, unknown>): URLSearchParams {
  const params = new URLSearchParams();
  const token = query['token'];
  if (typeof token === 'string') {
    params.set('token', token);
  }
  return params;
}

function headerOf(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers['authorization'];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The namespace middleware that authenticates every connection: the token from `auth.token`, the
 * `Authorization` header or `?token=` (in that order; `Bearer ` tolerated everywhere), verified by the
 * gateway's verifier. A refusal is a `connect_error` naming the reason, counted by reason; the token is never
 * logged.
 */
export function authenticate(deps: HandshakeDeps) {
  return (socket: TradingSocket, next: (error?: Error) => void): void => {
    if (deps.lifecycle.draining) {
      next(drainingConnectError());
      return;
    }
    const { handshake } = socket;
    const found = extractToken({
      auth: handshake.auth,
      authorization: headerOf(handshake.headers),
      query: queryOf(handshake.query),
    });
    const refuse = (error: unknown): void => {
      const connectError = connectErrorOf(error);
      if (isAuthError(error)) {
        deps.metrics.authFailure('socketio', error.reason);
        deps.logger.info({ reason: error.reason, from: found?.from, remote: handshake.address }, 'handshake refused');
      } else {
        deps.logger.error({ err: error, remote: handshake.address }, 'handshake failed: cannot verify tokens');
      }
      next(connectError);
    };
    if (found === undefined) {
      refuse(new AuthError('missing'));
      return;
    }
    deps.verifier
      .verify(found.token)
      .then(async (principal) => {
        const slot = await deps.admission.acquireUserSlot(principal.userId);
        if (slot === 'user_connection_limit') {
          deps.metrics.clientError('socketio', 'connection_limit');
          next(connectionLimitConnectError());
          return;
        }
        Object.assign(socket.data as HandshakeData, { principal, slot });
        next();
      }, refuse)
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, 'connection not admitted');
        next(unavailableConnectError());
      });
  };
}
