import type { Principal } from '@gw/auth';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { InboundRateLimit, expiresAtSeconds, isRefreshRefused, noteRefreshedExpiry, refreshFailureDetails } from '@gw/connections';
import type { ConnectedClient, ConnectionPipeline, SweptConnection } from '@gw/connections';
import { tradingTypes } from '@gw/topics';
import type { TradingType } from '@gw/topics';
import { errorEvent } from './errors.js';
import type { ProtocolErrorCode } from './errors.js';
import type { DataStream, TradingRooms, TradingSocket } from './rooms.js';
import { UNDECODABLE_EVENT } from './tolerant-parser.js';
import { inboundEvents, refreshTokenRequestSchema, requestedTypes, subscriptionRequestSchema, typesNotAList } from './schema.js';
import type {
  ErrorEventPayload,
  InboundEvent,
  RequestFailedPayload,
  SubscribedPayload,
  TokenRefreshedPayload,
  UnsubscribedPayload,
} from './schema.js';

export interface ConnectionDeps {
  rooms: TradingRooms;
  metrics: GatewayMetrics;
  logger: Logger;
  /**
   * The connection pipeline's pieces: the client registry, the expiry sweep, the exception boundary, the gate
   * (in-band token refresh) and the client-address resolver (TRUSTED_PROXIES).
   */
  connections: Pick<ConnectionPipeline, 'clients' | 'sweep' | 'boundary' | 'gate' | 'clientAddresses'>;
  limits: { messagesPerSecond: number; messageBurst: number };
  /** The protocol's message counters (stats endpoint). */
  counters: { sent: number; received: number };
}

interface Subscription {
  stream: DataStream;
  /** `stream.sent` when this socket joined: its share of the room's pushes is `stream.sent - sentAtJoin`. */
  sentAtJoin: number;
}

type Ack = (payload: unknown) => void;

/**
 * One authenticated Socket.IO connection of the trading protocol: its subscriptions and its inbound events.
 * Its lifecycle pieces are the pipeline's: the inbound rate limit, token expiry (the pipeline's sweep), the
 * client registry, and the exception boundary every event runs in. Inbound payloads are validated here
 * (schema.ts); a bad one is answered with an `error` event and the socket keeps working.
 */
export class TradingConnection implements ConnectedClient, SweptConnection {
  readonly clientId: string;
  readonly protocol = 'socketio' as const;
  readonly userId: number | string;
  readonly remoteAddress: string;
  readonly connectedAt = new Date().toISOString();
  messagesReceived = 0;
  readonly #socket: TradingSocket;
  /** Replaced by each accepted refresh (same `sub`, so the user's rooms stay the same). */
  #principal: Principal;
  /** Refreshes are applied in the order the client sent them. */
  #refreshing: Promise<void> = Promise.resolve();
  readonly #deps: ConnectionDeps;
  readonly #logger: Logger;
  readonly #subscriptions = new Map<TradingType, Subscription>();
  readonly #rate: InboundRateLimit;
  #sentDirect = 0;
  #sentLeft = 0;
  #inStatusRoom = false;
  /** The token's `exp` (ms), read by the pipeline's sweep. */
  expiresAt: number | undefined;
  expiringNoticeSent = false;
  overBoundSince = 0;
  #closed = false;

  constructor(socket: TradingSocket, principal: Principal, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#principal = principal;
    this.#deps = deps;
    this.clientId = `sio_${socket.id}`;
    this.userId = principal.userId;
    const headers = socket.handshake.headers;
    this.remoteAddress = deps.connections.clientAddresses.clientAddress(socket.handshake.address, (name) => {
      const value = headers[name];
      return Array.isArray(value) ? value.join(', ') : value;
    });
    this.#logger = deps.logger.child({ client_id: this.clientId, user_id: principal.userId, client: this.remoteAddress });
    this.#rate = new InboundRateLimit(deps.limits);
    this.expiresAt = principal.expiresAt;
  }

  /** Messages written to this socket: direct replies plus its share of every room push since it joined. */
  get messagesSent(): number {
    let sent = this.#sentDirect + this.#sentLeft;
    for (const { stream, sentAtJoin } of this.#subscriptions.values()) {
      sent += stream.sent - sentAtJoin;
    }
    return sent;
  }

  subscriptions(): string[] {
    return [...this.#subscriptions.keys()];
  }

  /** Server shutdown: close the transport (not a Socket.IO disconnect), so the client reconnects elsewhere. */
  close(): void {
    this.#socket.conn.close();
  }

  start(): void {
    const { clients, sweep, boundary } = this.#deps.connections;
    clients.add(this);
    sweep.track(this);
    // Every inbound event is handled here, inside the exception boundary; `next` is never called, so nothing
    // reaches per-event listeners.
    this.#socket.use(([event, ...args], _next) => {
      const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
      const handled = boundary.run('socketio', this.clientId, 'event', () => {
        this.#onPacket(event, args, ack);
      });
      if (!handled) {
        const error = this.#sendError('internal_error', 'internal error');
        ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
      }
    });
    this.#socket.on('disconnect', (reason) => {
      boundary.run('socketio', this.clientId, 'disconnect', () => {
        this.#onDisconnect(reason);
      });
    });
    this.#send('connected', { message: '连接成功', user_id: this.userId, authenticated: true });
    this.#logger.info('client connected');
  }

  #send(event: 'connected' | 'subscribed' | 'unsubscribed' | 'error' | 'token_refreshed' | 'token_expiring', payload: object): void {
    (this.#socket.emit as (event: string, payload: object) => boolean)(event, payload);
    this.#sentDirect += 1;
    this.#deps.counters.sent += 1;
    this.#deps.metrics.messagesSent('socketio', event, 1);
  }

  #sendError(code: ProtocolErrorCode, message: string, extra?: Record<string, unknown>): ErrorEventPayload {
    const payload = errorEvent(code, message, extra);
    this.#send('error', payload);
    this.#deps.metrics.clientError('socketio', code);
    return payload;
  }

  #onPacket(event: unknown, args: unknown[], ack: Ack | undefined): void {
    if (this.#closed) {
      return;
    }
    const name = typeof event === 'string' && (inboundEvents as readonly string[]).includes(event) ? (event as InboundEvent) : undefined;
    this.messagesReceived += 1;
    this.#deps.counters.received += 1;
    this.#deps.metrics.messageReceived('socketio', name ?? 'unknown');
    const verdict = this.#rate.take();
    if (verdict !== 'ok') {
      this.#onOverRate(verdict, ack);
      return;
    }
    if (event === UNDECODABLE_EVENT) {
      const reason = typeof args[0] === 'string' ? args[0] : 'undecodable';
      const error = this.#sendError('bad_request', `the packet could not be decoded as Socket.IO (${reason}); it was dropped`);
      ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
      return;
    }
    if (name === undefined) {
      const shown = typeof event === 'string' ? event.slice(0, 64) : typeof event;
      const error = this.#sendError('unknown_command', `unknown event ${JSON.stringify(shown)}; expected ${inboundEvents.join(' or ')}`);
      ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
      return;
    }
    if (name === 'refresh_token') {
      this.#refresh(args[0], ack);
    } else if (name === 'subscribe_trading') {
      this.#subscribe(args[0], ack);
    } else {
      this.#unsubscribe(args[0], ack);
    }
  }

  #onOverRate(verdict: 'limited' | 'abusive', ack: Ack | undefined): void {
    if (verdict === 'abusive') {
      this.#deps.metrics.clientError('socketio', 'rate_limited');
      this.#logger.warn('client over the message rate for too long: disconnecting');
      this.#socket.disconnect(true);
      return;
    }
    // One error per second at most: answering every dropped message would amplify the flood.
    if (this.#rate.shouldAnswer()) {
      const error = this.#sendError('rate_limited', `over ${this.#deps.limits.messagesPerSecond} messages per second; message dropped`);
      ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
    } else {
      this.#deps.metrics.clientError('socketio', 'rate_limited');
    }
  }

  /** Reads a request payload; undefined (after answering the error) when it cannot be read. */
  #readTypes(event: InboundEvent, payload: unknown, ack: Ack | undefined): { valid: TradingType[]; invalid: string[] } | undefined {
    let value = payload;
    // Some clients send the payload as a JSON string; a short one is read, never a large one.
    if (typeof value === 'string' && value.length <= 4096 && value.trimStart().startsWith('{')) {
      try {
        value = JSON.parse(value) as unknown;
      } catch {
        // Reported below as not an object.
      }
    }
    const notAList = typesNotAList(value);
    if (notAList !== undefined) {
      const error = this.#sendError('invalid_types', `${notAList} must be a list, e.g. {"${notAList}": ["balance", "pnl"]}; nothing was ${event === 'subscribe_trading' ? 'subscribed' : 'unsubscribed'}`, {
        valid_types: [...tradingTypes],
      });
      ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
      return undefined;
    }
    const parsed = subscriptionRequestSchema.safeParse(value ?? {});
    if (!parsed.success) {
      const detail = parsed.error.issues[0]?.message ?? 'invalid';
      const error = this.#sendError(
        'bad_request',
        `${event} expects {"types": ["balance", "positions", "pnl", "orders"]} (or "subscribeTypes"): ${detail}`,
      );
      ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
      return undefined;
    }
    const types = requestedTypes(parsed.data);
    if (types.invalid.length > 0) {
      this.#sendError('invalid_types', `unknown types: ${types.invalid.join(', ')}; valid types are ${tradingTypes.join(', ')}`, {
        invalid_types: types.invalid,
        valid_types: [...tradingTypes],
      });
    }
    return types;
  }

  #subscribe(payload: unknown, ack: Ack | undefined): void {
    const types = this.#readTypes('subscribe_trading', payload, ack);
    if (types === undefined) {
      return;
    }
    const added = types.valid.filter((type) => !this.#subscriptions.has(type));
    for (const type of added) {
      const stream = this.#deps.rooms.data(this.#principal, type);
      this.#subscriptions.set(type, { stream, sentAtJoin: stream.sent });
      this.#deps.metrics.subscriptionAdded('socketio', type);
    }
    const reply: SubscribedPayload = {
      status: 'success',
      types: types.valid,
      user_id: this.userId,
      subscriptions: this.subscriptions() as TradingType[],
    };
    // The reply goes out before any data, as the legacy service did: subscribed, then the latest values.
    this.#send('subscribed', reply);
    ack?.(reply);
    if (added.length > 0) {
      void this.#join(added);
    }
  }

  async #join(types: readonly TradingType[]): Promise<void> {
    try {
      // The status stream first: an account error the source reports because of the new interest must find
      // this socket already listening.
      if (!this.#inStatusRoom) {
        this.#inStatusRoom = true;
        await this.#deps.rooms.status(this.#principal).join(this.#socket, this);
      }
      const joins: Promise<void>[] = [];
      for (const type of types) {
        const subscription = this.#subscriptions.get(type);
        if (subscription !== undefined) {
          joins.push(subscription.stream.join(this.#socket, this));
        }
      }
      await Promise.all(joins);
    } catch (error) {
      this.#logger.error({ err: error }, 'joining trading streams failed');
    }
  }

  #unsubscribe(payload: unknown, ack: Ack | undefined): void {
    const types = this.#readTypes('unsubscribe_trading', payload, ack);
    if (types === undefined) {
      return;
    }
    this.#leave(types.valid);
    const reply: UnsubscribedPayload = {
      status: 'success',
      types: types.valid,
      user_id: this.userId,
      subscriptions: this.subscriptions() as TradingType[],
    };
    this.#send('unsubscribed', reply);
    ack?.(reply);
  }

  #leave(types: readonly TradingType[]): void {
    let removed = 0;
    for (const type of types) {
      const subscription = this.#subscriptions.get(type);
      if (subscription === undefined) {
        continue;
      }
      this.#subscriptions.delete(type);
      this.#sentLeft += subscription.stream.sent - subscription.sentAtJoin;
      removed += 1;
      this.#deps.metrics.subscriptionRemoved('socketio', type);
      subscription.stream.leave(this.#socket, this).catch((error: unknown) => {
        this.#logger.error({ err: error }, 'leaving a trading stream failed');
      });
    }
    if (removed > 0 && this.#subscriptions.size === 0 && this.#inStatusRoom) {
      this.#inStatusRoom = false;
      this.#deps.rooms
        .status(this.#principal)
        .leave(this.#socket, this)
        .catch((error: unknown) => {
          this.#logger.error({ err: error }, 'leaving the trading status stream failed');
        });
    }
  }

  /**
   * `refresh_token` `{"token"}`: verified by the pipeline's gate (same `sub`). Accepted: the sweep reads the new
   * expiry, a new `token_expiring` will come, and the client gets `token_refreshed` and the ack
   * `{"status": "success", "expires_at"}`. Refused: nothing changes; `error` `{code: "token_refresh_failed",
   * message, reason}` and the ack `{"status": "error", "code": "token_refresh_failed", ...}`.
   */
  #refresh(payload: unknown, ack: Ack | undefined): void {
    const parsed = refreshTokenRequestSchema.safeParse(payload);
    const token = parsed.success ? parsed.data.token : undefined;
    this.#refreshing = this.#refreshing
      .then(async () => {
        const outcome = await this.#deps.connections.gate.refresh({ protocol: 'socketio', token, current: this.#principal });
        if (this.#closed) {
          return;
        }
        if (isRefreshRefused(outcome)) {
          const error = this.#sendError('token_refresh_failed', refreshFailureDetails(outcome.refused), { reason: outcome.refused });
          ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
          return;
        }
        this.#principal = outcome.principal;
        noteRefreshedExpiry(this, outcome.principal.expiresAt);
        const reply: TokenRefreshedPayload = { status: 'success', expires_at: expiresAtSeconds(outcome.principal) };
        this.#send('token_refreshed', reply);
        ack?.(reply);
      })
      .catch((error: unknown) => {
        this.#deps.connections.boundary.report('socketio', this.clientId, 'refresh', error);
        const failed = this.#sendError('internal_error', 'internal error');
        ack?.({ status: 'error', ...failed } satisfies RequestFailedPayload);
      });
  }

  /** The token expires soon (the pipeline's sweep): the client should send `refresh_token` now. */
  onExpiring(expiresInS: number): void {
    this.#send('token_expiring', { expires_in: expiresInS });
  }

  /** The token expired (the pipeline's sweep): tell the client why, then disconnect. */
  onExpired(): void {
    this.#deps.metrics.authFailure('socketio', 'expired');
    this.#sendError('token_expired', 'token expired');
    this.#logger.info('token expired: disconnecting');
    this.#socket.disconnect(true);
  }

  /** Socket.IO bounds its own output (uWS `maxBackpressure`): the sweep never calls this. */
  onSlowConsumer(): void {
    this.#socket.disconnect(true);
  }

  #onDisconnect(reason: string): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#deps.connections.sweep.untrack(this);
    this.#leave([...this.#subscriptions.keys()]);
    this.#deps.connections.clients.remove(this.clientId);
    this.#deps.metrics.connectionClosed('socketio', reason);
    this.#logger.info({ reason }, 'client disconnected');
  }
}
