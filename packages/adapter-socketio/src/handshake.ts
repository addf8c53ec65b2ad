import type { Principal } from '@gw/auth';
import type { HandshakeGate } from '@gw/connections';
import { isRefusal } from '@gw/connections';
import type { UserSlot } from '@gw/node-services';
import { connectErrorOfRefusal } from './errors.js';
import type { TradingSocket } from './rooms.js';

/** What the handshake leaves on `socket.data` for the connection handler. */
export interface HandshakeData {
  principal: Principal;
  /** The user's connection slot (MAX_CONNECTIONS_PER_USER), released when the Engine.IO connection closes. */
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
 * The namespace middleware that authenticates every connection through the pipeline's handshake gate: the
 * token from `auth.token`, the `Authorization` header or `?token=`, verified, then the user's slot. A refusal
 * is a `connect_error` naming the reason. The slot is tied to the Engine.IO connection's `close`, so it is
 * released on every path: a normal disconnect, and a client that hangs up before socket.io emits `connection`.
 */
export function authenticate(gate: HandshakeGate) {
  return (socket: TradingSocket, next: (error?: Error) => void): void => {
    const { handshake } = socket;
    const isClosed = (): boolean => socket.conn.readyState !== 'open';
    void gate
      .authenticate({
        protocol: 'socketio',
        authMode: 'required',
        auth: handshake.auth,
        authorization: headerOf(handshake.headers),
        query: queryOf(handshake.query),
        isAborted: isClosed,
      })
      .then((outcome) => {
        if (outcome === 'aborted') {
          next(new Error('closed'));
          return;
        }
        if (isRefusal(outcome)) {
          next(connectErrorOfRefusal(outcome));
          return;
        }
        const { principal, slot } = outcome;
        if (principal === undefined || isClosed()) {
          slot.release();
          next(new Error('closed'));
          return;
        }
        socket.conn.once('close', () => {
          slot.release();
        });
        Object.assign(socket.data as HandshakeData, { principal, slot });
        next();
      });
  };
}
