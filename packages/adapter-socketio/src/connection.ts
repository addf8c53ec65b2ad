import type { Principal } from '@gw/auth';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import type { ClientRegistry, ConnectedClient } from '@gw/uws';
import { tradingTypes } from '@gw/topics';
import type { TradingType } from '@gw/topics';
import { errorEvent } from './errors.js';
import type { ProtocolErrorCode } from './errors.js';
import { TokenBucket } from './rate-limit.js';
import type { DataStream, TradingRooms, TradingSocket } from './rooms.js';
import { inboundEvents, requestedTypes, subscriptionRequestSchema } from './schema.js';
import type { ErrorEventPayload, InboundEvent, RequestFailedPayload, SubscribedPayload, UnsubscribedPayload } from './schema.js';

export interface ConnectionDeps {
  rooms: TradingRooms;
  metrics: GatewayMetrics;
  logger: Logger;
  clients: ClientRegistry;
  limits: { messagesPerSecond: number; messageBurst: number };
  /** The protocol's message counters (stats endpoint). */
  counters: { sent: number; received: number };
}

/** Longest single timer; a token valid for longer is re-armed (setTimeout caps at 2^31-1 ms). */
const maxTimerMs = 2_147_483_647;
/** Over-rate messages in a row after which the connection is closed as abusive. */
const abuseLimit = 200;

interface Subscription {
  stream: DataStream;
  /** `stream.sent` when this socket joined: its share of the room's pushes is `stream.sent - sentAtJoin`. */
  sentAtJoin: number;
}

type Ack = (payload: unknown) => void;

/**
 * One authenticated Socket.IO connection of the trading protocol: its subscriptions, its inbound rate limit,
 * its token's expiry, and its entry in the gateway's client registry. Inbound payloads are validated here
 * (schema.ts); a bad one is answered with an `error` event and the socket keeps working.
 */
export class TradingConnection implements ConnectedClient {
  readonly clientId: string;
  readonly protocol = 'socketio' as const;
  readonly userId: number | string;
  readonly remoteAddress: string;
  readonly connectedAt = new Date().toISOString();
  messagesReceived = 0;
  readonly #socket: TradingSocket;
  readonly #principal: Principal;
  readonly #deps: ConnectionDeps;
  readonly #logger: Logger;
  readonly #subscriptions = new Map<TradingType, Subscription>();
  readonly #bucket: TokenBucket;
  #sentDirect = 0;
  #sentLeft = 0;
  #overRate = 0;
  #lastRateError = 0;
  #expiryTimer: NodeJS.Timeout | undefined;
  #inStatusRoom = false;
  #closed = false;

  constructor(socket: TradingSocket, principal: Principal, deps: ConnectionDeps) {
    this.#socket = socket;
    this.#principal = principal;
    this.#deps = deps;
    this.clientId = `sio_${socket.id}`;
    this.userId = principal.userId;
    this.remoteAddress = socket.handshake.address;
    this.#logger = deps.logger.child({ client_id: this.clientId, user_id: principal.userId });
    this.#bucket = new TokenBucket(deps.limits.messagesPerSecond, deps.limits.messageBurst);
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
    this.#deps.clients.add(this);
    // Every inbound event is handled here; `next` is never called, so nothing reaches per-event listeners.
    this.#socket.use(([event, ...args], _next) => {
      this.#onPacket(event, args);
    });
    this.#socket.on('disconnect', (reason) => {
      this.#onDisconnect(reason);
    });
    this.#armExpiry();
    this.#send('connected', { message: '连接成功', user_id: this.userId, authenticated: true });
    this.#logger.info('client connected');
  }

  #send(event: 'connected' | 'subscribed' | 'unsubscribed' | 'error', payload: object): void {
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

  #onPacket(event: unknown, args: unknown[]): void {
    if (this.#closed) {
      return;
    }
    const ack = typeof args.at(-1) === 'function' ? (args.pop() as Ack) : undefined;
    const name = typeof event === 'string' && (inboundEvents as readonly string[]).includes(event) ? (event as InboundEvent) : undefined;
    this.messagesReceived += 1;
    this.#deps.counters.received += 1;
    this.#deps.metrics.messageReceived('socketio', name ?? 'unknown');
    if (!this.#bucket.take()) {
      this.#onOverRate(ack);
      return;
    }
    this.#overRate = 0;
    if (name === undefined) {
      const shown = typeof event === 'string' ? event.slice(0, 64) : typeof event;
      const error = this.#sendError('unknown_command', `unknown event ${JSON.stringify(shown)}; expected ${inboundEvents.join(' or ')}`);
      ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
      return;
    }
    if (name === 'subscribe_trading') {
      this.#subscribe(args[0], ack);
    } else {
      this.#unsubscribe(args[0], ack);
    }
  }

  #onOverRate(ack: Ack | undefined): void {
    this.#overRate += 1;
    if (this.#overRate >= abuseLimit) {
      this.#logger.warn({ overRate: this.#overRate }, 'client over the message rate for too long: disconnecting');
      this.#socket.disconnect(true);
      return;
    }
    // One error per second at most: answering every dropped message would amplify the flood.
    const now = Date.now();
    if (now - this.#lastRateError >= 1000) {
      this.#lastRateError = now;
      const error = this.#sendError('rate_limited', `over ${this.#deps.limits.messagesPerSecond} messages per second; message dropped`);
      ack?.({ status: 'error', ...error } satisfies RequestFailedPayload);
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

  #armExpiry(): void {
    const expiresAt = this.#principal.expiresAt;
    if (expiresAt === undefined) {
      return;
    }
    const remaining = expiresAt - Date.now();
    this.#expiryTimer = setTimeout(
      () => {
        if (Date.now() < expiresAt) {
          this.#armExpiry();
          return;
        }
        this.#deps.metrics.authFailure('socketio', 'expired');
        this.#sendError('token_expired', 'token expired');
        this.#logger.info('token expired: disconnecting');
        this.#socket.disconnect(true);
      },
      Math.max(0, Math.min(remaining, maxTimerMs)),
    );
    this.#expiryTimer.unref();
  }

  #onDisconnect(reason: string): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    clearTimeout(this.#expiryTimer);
    this.#leave([...this.#subscriptions.keys()]);
    this.#deps.clients.remove(this.clientId);
    this.#deps.metrics.connectionClosed('socketio');
    this.#logger.info({ reason }, 'client disconnected');
  }
}
