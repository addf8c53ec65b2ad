import { Emitter } from './emitter.js';
import type { Listener } from './emitter.js';
import type { GatewayClientError } from './errors.js';

/** Why an open connection ended. `code` is the WebSocket close code (absent for Socket.IO, which has reasons). */
export interface DisconnectInfo {
  code?: number;
  reason: string;
}

/** A reconnection attempt is scheduled: `attempt` counts from 1 since the last successful connection. */
export interface ReconnectingInfo {
  attempt: number;
  delayMs: number;
}

/** The connection's token was replaced in band (after the server's `token_expiring`): its new expiry. */
export interface TokenRefreshedInfo {
  /** The new token's `exp`, unix seconds (null: the gateway accepts tokens without `exp`). */
  expiresAt: number | null;
}

/** Where a client stands: `reconnecting` while it waits for its next attempt. */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** The events every client has; `connect` carries what the protocol says on connecting. */
export interface ConnectionEvents<Connected> {
  connect: Connected;
  disconnect: DisconnectInfo;
  reconnecting: ReconnectingInfo;
  tokenRefreshed: TokenRefreshedInfo;
  error: GatewayClientError;
}

/**
 * Listener registration shared by the three clients. Every `on*` method returns a function that removes the
 * listener. Listeners are called synchronously, in registration order.
 */
export abstract class ClientEvents<Events extends ConnectionEvents<unknown>> {
  protected readonly events = new Emitter<Events>();

  /** A connection is established (after a reconnect too, once the client has resubscribed or is doing so). */
  onConnect(listener: Listener<Events['connect']>): () => void {
    return this.events.on('connect', listener);
  }

  /** An established connection ended; unless `close()` was called the client reconnects by itself. */
  onDisconnect(listener: Listener<Events['disconnect']>): () => void {
    return this.events.on('disconnect', listener);
  }

  /** The next attempt is scheduled after a backoff delay. */
  onReconnecting(listener: Listener<Events['reconnecting']>): () => void {
    return this.events.on('reconnecting', listener);
  }

  /**
   * The token was refreshed in band, without reconnecting: when the gateway says the token is expiring, the
   * client asks `getToken` for a new one and sends it. A refused refresh is reported through `onError`
   * (`token_refresh_failed`); the connection keeps its old token, and after it expires the client reconnects
   * with a fresh one as usual.
   */
  onTokenRefreshed(listener: Listener<Events['tokenRefreshed']>): () => void {
    return this.events.on('tokenRefreshed', listener);
  }

  /** Errors that are nobody's rejected promise: server error frames, refused connections, token hook failures. */
  onError(listener: Listener<Events['error']>): () => void {
    return this.events.on('error', listener);
  }

  abstract get state(): ClientState;

  /** Stops for good: closes the connection, cancels any reconnect, rejects what is pending with `closed`. */
  abstract close(): void;
}
