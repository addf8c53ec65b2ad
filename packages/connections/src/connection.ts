import type { Principal } from '@gw/auth';
import type { UserSlot } from '@gw/node-services';
import type { WebSocket } from '@gw/uws';
import { closeCodes } from './close-codes.js';
import type { CloseCode } from './close-codes.js';
import type { InboundRateLimit } from './inbound-rate.js';
import type { ConnectedClient, ServerCloseReason } from './registry.js';
import type { SweptConnection } from './sweep.js';

/**
 * What a raw WebSocket protocol keeps per connection: its subscriptions and whatever its fan-out needs. The
 * pipeline calls it; it never sees the socket's lifecycle (limits, expiry, closes, errors are the pipeline's).
 */
export interface ProtocolSession {
  /** One text frame from the client, within the limits. May throw: the pipeline answers `internal_error`. */
  onMessage(text: string): void;
  /** The connection is gone (any reason). Release what the session holds. */
  onClose?(code: number): void;
  /** Current subscriptions, for the client list (`strategy:volume_wave`, `signals:all`). */
  subscriptions(): string[];
  /** Frames that reached this client by uWS topic fan-out (not through `send`), for its sent count. */
  sentByFanOut?(): number;
}

/** What uWS keeps per socket: the pipeline's connection, created at the upgrade. */
export interface SocketData {
  connection: WsConnection;
}

export interface WsConnectionInit<Context> {
  protocol: 'signals' | 'stock';
  clientId: string;
  remoteAddress: string;
  principal: Principal | undefined;
  slot: UserSlot;
  context: Context;
  rate: InboundRateLimit;
  slowConsumer: { maxBufferedBytes: number; graceMs: number };
  onExpiring: (connection: WsConnection<Context>, expiresInS: number) => void;
  onExpired: (connection: WsConnection<Context>) => void;
  onSlowConsumer: (connection: WsConnection<Context>) => void;
}

const noSession: ProtocolSession = { onMessage: () => undefined, subscriptions: () => [] };

/**
 * One raw WebSocket connection as the pipeline owns it: identity, token expiry, the user's slot, the inbound
 * rate limit, output accounting. The protocol reads `context` (what its `prepare` took from the upgrade
 * request) and talks to the client through `send`, topics and `end`.
 */
export class WsConnection<Context = unknown> implements ConnectedClient, SweptConnection {
  readonly protocol: 'signals' | 'stock';
  readonly clientId: string;
  readonly remoteAddress: string;
  readonly connectedAt = new Date().toISOString();
  /** Who the connection is; replaced by a refresh (same `sub`), or set by one on a connection without a user. */
  principal: Principal | undefined;
  readonly context: Context;
  /** The user's slot; a connection without a user gets one when a refresh makes it authenticated. */
  slot: UserSlot;
  readonly rate: InboundRateLimit;
  readonly slowConsumer: { maxBufferedBytes: number; graceMs: number };
  expiresAt: number | undefined;
  expiringNoticeSent = false;
  overBoundSince = 0;
  messagesReceived = 0;
  session: ProtocolSession = noSession;
  #ws: WebSocket<SocketData> | undefined;
  #closed = false;
  #sentDirect = 0;
  readonly #onExpiring: WsConnectionInit<Context>['onExpiring'];
  readonly #onExpired: WsConnectionInit<Context>['onExpired'];
  readonly #onSlowConsumer: WsConnectionInit<Context>['onSlowConsumer'];

  constructor(init: WsConnectionInit<Context>) {
    this.protocol = init.protocol;
    this.clientId = init.clientId;
    this.remoteAddress = init.remoteAddress;
    this.principal = init.principal;
    this.expiresAt = init.principal?.expiresAt;
    this.slot = init.slot;
    this.context = init.context;
    this.rate = init.rate;
    this.slowConsumer = init.slowConsumer;
    this.#onExpiring = init.onExpiring;
    this.#onExpired = init.onExpired;
    this.#onSlowConsumer = init.onSlowConsumer;
  }

  get userId(): number | string | null {
    return this.principal?.userId ?? null;
  }

  /** True once the socket closed (or before it opened): sends are dropped. */
  get closed(): boolean {
    return this.#closed || this.#ws === undefined;
  }

  get messagesSent(): number {
    return this.#sentDirect + (this.session.sentByFanOut?.() ?? 0);
  }

  /** @internal the pipeline binds the socket at `open` and unbinds it at `close`. */
  bind(ws: WebSocket<SocketData> | undefined): void {
    this.#ws = ws;
    if (ws === undefined) {
      this.#closed = true;
    }
  }

  /** Writes one text frame to this client alone; false when it is closed or uWS dropped it (over its hard bound). */
  send(frame: string): boolean {
    if (this.closed) {
      return false;
    }
    this.#sentDirect += 1;
    return this.#ws?.send(frame, false, false) !== 2;
  }

  /** Joins a uWS topic: `app.publish(topic, frame)` then reaches this client with no per-client work. */
  subscribe(topic: string): void {
    if (!this.closed) {
      this.#ws?.subscribe(topic);
    }
  }

  unsubscribe(topic: string): void {
    if (!this.closed) {
      this.#ws?.unsubscribe(topic);
    }
  }

  bufferedAmount(): number {
    return this.closed ? 0 : (this.#ws?.getBufferedAmount() ?? 0);
  }

  /** Closes with a code of the shared table (the pipeline's close handler then cleans up). */
  end(close: CloseCode): void {
    if (!this.closed) {
      this.#ws?.end(close.code, close.reason);
    }
  }

  subscriptions(): string[] {
    return this.session.subscriptions();
  }

  close(_reason: ServerCloseReason): void {
    // The only server-initiated close reason is shutdown: "going away", reconnect elsewhere.
    this.end(closeCodes.goingAway);
  }

  onExpiring(expiresInS: number): void {
    this.#onExpiring(this, expiresInS);
  }

  onExpired(): void {
    this.#onExpired(this);
  }

  onSlowConsumer(): void {
    this.#onSlowConsumer(this);
  }
}
