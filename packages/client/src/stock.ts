import { deferred } from './deferred.js';
import type { Deferred } from './deferred.js';
import type { Listener } from './emitter.js';
import { GatewayClientError, clientError } from './errors.js';
import { ClientEvents } from './lifecycle.js';
import type { ClientState, ConnectionEvents } from './lifecycle.js';
import { ReconnectingWebSocket } from './reconnecting-websocket.js';
import type { WebSocketClientOptions } from './reconnecting-websocket.js';
import { RequestQueue } from './request-queue.js';
import type { TokenProvider } from './token.js';
import type {
  ConnectedFrame,
  PongFrame,
  PriceUpdateFrame,
  StockErrorFrame,
  StockServerFrame,
  SubscribedFrame,
  SubscriptionType,
  UnsubscribedFrame,
} from './wire-types.js';

export interface StockPricesClientOptions extends WebSocketClientOptions {
  /** `ws(s)://HOST:PORT/ws/stock/prices`. */
  url: string | URL;
  /** Only for a gateway with `STOCK_REQUIRE_AUTH=true`; without it no token is sent. */
  getToken?: TokenProvider;
  /** Most targets this client keeps (the server's `STOCK_MAX_SUBSCRIPTIONS`). @default 100 */
  maxSubscriptions?: number;
  /** Requests sent per second, at most; half the server's `STOCK_MAX_MESSAGES_PER_SEC`. @default 10 */
  maxMessagesPerSecond?: number;
  /** A request unanswered this long means the connection is stuck: it is dropped and reopened. @default 10000 */
  requestTimeoutMs?: number;
}

/** One subscription: a strategy (`volume_wave`), a 6-digit stock code, or a market (`SH`, `SZ`, `BJ`). */
export interface StockTarget {
  kind: SubscriptionType;
  target: string;
}

interface StockEvents extends ConnectionEvents<ConnectedFrame> {
  prices: PriceUpdateFrame;
}

type StockRequest =
  | { readonly type: 'subscribe'; readonly text: string; readonly key: string }
  | { readonly type: 'unsubscribe'; readonly text: string; readonly done: Deferred<UnsubscribedFrame | undefined> }
  | { readonly type: 'ping'; readonly text: string; readonly done: Deferred<PongFrame> };

/** Requests held besides the resubscriptions: pings and unsubscribes in flight. */
const EXTRA_QUEUE_CAPACITY = 32;

function normalize(kind: SubscriptionType, target: string): StockTarget {
  const trimmed = target.trim();
  // The server answers markets in upper case; one spelling keeps one entry per target.
  return { kind, target: kind === 'market' ? trimmed.toUpperCase() : trimmed };
}

function keyOf(target: StockTarget): string {
  return `${target.kind}:${target.target}`;
}

function serverError(frame: StockErrorFrame): GatewayClientError {
  return new GatewayClientError('server', frame.error, frame.details, { details: frame });
}

/**
 * Client of the stock price protocol (`/ws/stock/prices`, the legacy stock price service's).
 *
 * The client keeps the set of targets it was asked to follow (bounded by `maxSubscriptions`) and subscribes every
 * one of them again after each reconnect, paced under the server's rate limit; `onPrices` receives the
 * snapshots and updates of all of them. Calls made while disconnected are not queued as messages: `subscribe`
 * records the target and its promise settles when the next connection confirms it, `unsubscribe` just forgets
 * the target, and `ping` rejects with `not_connected`. A target the server refuses (`unknown_stock`, ...) is
 * dropped: the `subscribe` promise rejects, or `onError` reports it when it was a resubscription.
 */
export class StockPricesClient extends ClientEvents<StockEvents> {
  readonly #connection: ReconnectingWebSocket;
  readonly #url: URL;
  readonly #maxSubscriptions: number;
  readonly #requests: RequestQueue<StockRequest>;
  /** The targets to follow, by key; resubscribed on every connection. */
  readonly #targets = new Map<string, StockTarget>();
  /** `subscribe` promises not settled yet, by target key (one per target: repeated calls share it). */
  readonly #confirmations = new Map<string, Deferred<SubscribedFrame>>();
  #ready = false;
  #clientId: string | undefined;

  constructor(options: StockPricesClientOptions) {
    super();
    this.#url = new URL(String(options.url));
    this.#maxSubscriptions = options.maxSubscriptions ?? 100;
    this.#requests = new RequestQueue<StockRequest>({
      perSecond: options.maxMessagesPerSecond ?? 10,
      capacity: this.#maxSubscriptions + EXTRA_QUEUE_CAPACITY,
      replyTimeoutMs: options.requestTimeoutMs ?? 10_000,
      send: (text) => this.#connection.send(text),
      onTimeout: (request) => {
        this.events.emit('error', clientError('timeout', `no reply to ${request.text} in time: reconnecting`));
        this.#connection.restart('request timeout');
      },
    });
    this.#connection = new ReconnectingWebSocket(options, options.getToken, {
      url: () => new URL(this.#url.href),
      opened: () => {
        // Ready once the server's `connected` frame arrives.
      },
      message: (text) => {
        this.#onFrame(text);
      },
      closed: (info) => {
        this.#onConnectionLost();
        this.events.emit('disconnect', info);
      },
      reconnecting: (info) => {
        this.events.emit('reconnecting', info);
      },
      tokenRefreshed: (info) => {
        this.events.emit('tokenRefreshed', info);
      },
      error: (error) => {
        this.events.emit('error', error);
      },
    });
    this.#connection.start();
  }

  /** Every `price_update`: the snapshot after each (re)subscription, conflated changes, manual pushes. */
  onPrices(listener: Listener<PriceUpdateFrame>): () => void {
    return this.events.on('prices', listener);
  }

  get state(): ClientState {
    const state = this.#connection.state;
    return state === 'connected' && !this.#ready ? 'connecting' : state;
  }

  /** The server's id for the current connection (`client_<hex>`), undefined while disconnected. */
  get clientId(): string | undefined {
    return this.#clientId;
  }

  /** The targets this client follows (and resubscribes after a reconnect). */
  targets(): StockTarget[] {
    return [...this.#targets.values()];
  }

  /**
   * Follows a target. Resolves with the server's `subscribed` (now, or on the next connection when disconnected);
   * rejects with the server's code when it refuses the target (`unknown_stock`, `unknown_strategy`,
   * `invalid_target`, ...), with `too_many_subscriptions` over `maxSubscriptions`, with `cancelled` when
   * `unsubscribe` comes first and with `closed` on `close()`.
   */
  subscribe(kind: SubscriptionType, target: string): Promise<SubscribedFrame> {
    const wanted = normalize(kind, target);
    const key = keyOf(wanted);
    const pending = this.#confirmations.get(key);
    if (pending !== undefined) {
      return pending.promise;
    }
    if (this.state === 'closed') {
      return Promise.reject(clientError('closed', 'the client is closed'));
    }
    if (!this.#targets.has(key) && this.#targets.size >= this.#maxSubscriptions) {
      return Promise.reject(clientError('too_many_subscriptions', `at most ${this.#maxSubscriptions} targets (maxSubscriptions)`));
    }
    const confirmation = deferred<SubscribedFrame>();
    this.#targets.set(key, wanted);
    this.#confirmations.set(key, confirmation);
    if (this.#ready) {
      this.#sendSubscribe(key, wanted);
    }
    return confirmation.promise;
  }

  /**
   * Stops following a target. Connected: resolves with the server's `unsubscribed`. Disconnected: resolves
   * with undefined at once (the next connection simply does not subscribe it).
   */
  unsubscribe(kind: SubscriptionType, target: string): Promise<UnsubscribedFrame | undefined> {
    const wanted = normalize(kind, target);
    const key = keyOf(wanted);
    if (this.state === 'closed') {
      return Promise.reject(clientError('closed', 'the client is closed'));
    }
    this.#targets.delete(key);
    this.#confirmations.get(key)?.reject(clientError('cancelled', `unsubscribed from ${key} before the server confirmed it`));
    this.#confirmations.delete(key);
    if (!this.#ready) {
      return Promise.resolve(undefined);
    }
    const done = deferred<UnsubscribedFrame | undefined>();
    const text = JSON.stringify({ type: 'unsubscribe', subscription_type: wanted.kind, target: wanted.target });
    if (!this.#requests.enqueue({ type: 'unsubscribe', text, done })) {
      return Promise.reject(clientError('queue_full', 'too many requests waiting to be sent'));
    }
    return done.promise;
  }

  /** The protocol's heartbeat: resolves with the `pong`; rejects with `not_connected` when disconnected. */
  ping(): Promise<PongFrame> {
    if (!this.#ready) {
      return Promise.reject(clientError(this.state === 'closed' ? 'closed' : 'not_connected', 'no open connection'));
    }
    const done = deferred<PongFrame>();
    if (!this.#requests.enqueue({ type: 'ping', text: '{"type":"ping"}', done })) {
      return Promise.reject(clientError('queue_full', 'too many requests waiting to be sent'));
    }
    return done.promise;
  }

  close(): void {
    this.#connection.close();
    this.#ready = false;
    const closed = clientError('closed', 'the client is closed');
    for (const request of this.#requests.drain()) {
      if (request.type !== 'subscribe') {
        request.done.reject(closed);
      }
    }
    for (const confirmation of this.#confirmations.values()) {
      confirmation.reject(closed);
    }
    this.#confirmations.clear();
  }

  #sendSubscribe(key: string, target: StockTarget): void {
    const text = JSON.stringify({ type: 'subscribe', subscription_type: target.kind, target: target.target });
    // Capacity covers maxSubscriptions resubscriptions plus extras, so a subscribe is refused only while
    // unsubscribes and pings fill the extra room: the target stays and the next connection subscribes it.
    if (!this.#requests.enqueue({ type: 'subscribe', text, key })) {
      this.events.emit('error', clientError('queue_full', `subscribe ${key} postponed to the next connection: too many requests waiting`));
    }
  }

  #onConnected(frame: ConnectedFrame): void {
    this.#ready = true;
    this.#clientId = frame.client_id;
    this.events.emit('connect', frame);
    for (const [key, target] of this.#targets) {
      this.#sendSubscribe(key, target);
    }
  }

  #onConnectionLost(): void {
    this.#ready = false;
    this.#clientId = undefined;
    for (const request of this.#requests.drain()) {
      switch (request.type) {
        case 'subscribe':
          break; // still a target: the next connection subscribes it and settles its promise
        case 'unsubscribe':
          request.done.resolve(undefined); // a new connection starts with no subscriptions
          break;
        case 'ping':
          request.done.reject(clientError('not_connected', 'the connection was lost before the pong'));
          break;
      }
    }
  }

  #onFrame(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { type?: unknown }).type !== 'string') {
      this.events.emit('error', clientError('invalid_frame', `not a stock protocol frame: ${text.slice(0, 100)}`));
      return;
    }
    const frame = parsed as StockServerFrame;
    switch (frame.type) {
      case 'connected':
        this.#onConnected(frame);
        return;
      case 'price_update':
        this.events.emit('prices', frame);
        return;
      case 'error':
        // A refused token refresh answers the refresh, not the oldest request in flight.
        if (frame.error === 'token_refresh_failed') {
          this.events.emit('error', serverError(frame));
          return;
        }
        this.#onReply(frame);
        return;
      case 'subscribed':
      case 'unsubscribed':
      case 'pong':
        this.#onReply(frame);
        return;
      case 'token_expiring':
      case 'token_refreshed':
        // Answered by the connection itself (in-band token refresh).
        return;
      default:
        // A frame type newer than this client: ignored, as the contract allows additions.
        return;
    }
  }

  /** Every request gets one reply, in order: the reply answers the oldest request in flight. */
  #onReply(frame: Exclude<StockServerFrame, ConnectedFrame | PriceUpdateFrame>): void {
    const request = this.#requests.takeReply();
    if (request === undefined) {
      if (frame.type === 'error') {
        this.events.emit('error', serverError(frame));
      }
      return;
    }
    const expected = { subscribe: 'subscribed', unsubscribe: 'unsubscribed', ping: 'pong' }[request.type];
    if (frame.type !== expected && frame.type !== 'error') {
      // Out of step with the server: start over on a fresh connection rather than misattribute replies.
      this.events.emit('error', clientError('invalid_frame', `expected ${expected} or error, got ${frame.type}: reconnecting`));
      this.#connection.restart('out of step');
      return;
    }
    switch (request.type) {
      case 'subscribe':
        this.#settleSubscribe(request.key, frame);
        return;
      case 'unsubscribe':
        if (frame.type === 'error') {
          request.done.reject(serverError(frame));
        } else {
          request.done.resolve(frame as UnsubscribedFrame);
        }
        return;
      case 'ping':
        if (frame.type === 'error') {
          request.done.reject(serverError(frame));
        } else {
          request.done.resolve(frame as PongFrame);
        }
        return;
    }
  }

  #settleSubscribe(key: string, frame: Exclude<StockServerFrame, ConnectedFrame | PriceUpdateFrame>): void {
    const confirmation = this.#confirmations.get(key);
    this.#confirmations.delete(key);
    if (frame.type !== 'error') {
      confirmation?.resolve(frame as SubscribedFrame);
      return;
    }
    const error = serverError(frame);
    if (frame.error === 'rate_limited') {
      // Dropped by the server, not refused: said (maxMessagesPerSecond is over the server's limit), then sent
      // again after a one-second pause.
      this.events.emit('error', error);
      this.#requests.skipWindow();
      const target = this.#targets.get(key);
      if (target !== undefined) {
        if (confirmation !== undefined) {
          this.#confirmations.set(key, confirmation);
        }
        this.#sendSubscribe(key, target);
      }
      return;
    }
    this.#targets.delete(key);
    if (confirmation === undefined) {
      this.events.emit('error', error); // a resubscription the server now refuses
    } else {
      confirmation.reject(error);
    }
  }
}
