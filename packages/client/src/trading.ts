import { io } from 'socket.io-client';
import type { ManagerOptions, Socket } from 'socket.io-client';
import { RetrySchedule, resolveReconnectOptions } from './backoff.js';
import type { ReconnectOptions } from './backoff.js';
import { deferred } from './deferred.js';
import type { Deferred } from './deferred.js';
import type { Listener } from './emitter.js';
import { GatewayClientError, clientError } from './errors.js';
import { ClientEvents } from './lifecycle.js';
import type { ClientState, ConnectionEvents } from './lifecycle.js';
import { readToken } from './token.js';
import type { TokenProvider } from './token.js';
import type {
  ConnectedPayload,
  ErrorEventPayload,
  PushPayload,
  RequestFailedPayload,
  SubscribedPayload,
  TokenRefreshedPayload,
  TradingServerEvents,
  TradingType,
  UnsubscribedPayload,
} from './wire-types.js';

/** Every data type, as a record so that a type the server adds is a compile error here (`satisfies`). */
const everyType = { balance: true, positions: true, pnl: true, orders: true } as const satisfies Record<TradingType, true>;

/** The four data types in the protocol's order (a runtime copy: importing the server's would bundle zod). */
export const tradingTypes: readonly TradingType[] = Object.keys(everyType) as TradingType[];

export interface TradingClientOptions {
  /** The gateway's HTTP(S) origin, `http://HOST:PORT` (Socket.IO's path `/socket.io/` is added). */
  url: string | URL;
  /** The JWT for each (re)connect, sent as Socket.IO `auth.token`. */
  getToken: TokenProvider;
  /** Backoff between attempts (1 s doubling to 30 s with jitter by default). */
  reconnect?: ReconnectOptions;
  /** How long `subscribe`/`unsubscribe` wait for the server's acknowledgement. @default 10000 */
  ackTimeoutMs?: number;
  /** An attempt that has not connected by then fails and is retried. @default 10000 */
  connectTimeoutMs?: number;
  /** Engine.IO transports, in order. @default ['polling', 'websocket'] (Socket.IO's: works through any proxy) */
  transports?: ManagerOptions['transports'];
}

interface ClientToServerEvents {
  subscribe_trading: (payload: { types: TradingType[] }, ack: (reply: SubscribedPayload | RequestFailedPayload) => void) => void;
  unsubscribe_trading: (payload: { types: TradingType[] }, ack: (reply: UnsubscribedPayload | RequestFailedPayload) => void) => void;
  refresh_token: (payload: { token: string }, ack: (reply: TokenRefreshedPayload | RequestFailedPayload) => void) => void;
}

interface TradingEvents extends ConnectionEvents<ConnectedPayload> {
  balance_update: PushPayload<'balance'>;
  positions_update: PushPayload<'positions'>;
  pnl_update: PushPayload<'pnl'>;
  orders_update: PushPayload<'orders'>;
}

type Reply = SubscribedPayload | UnsubscribedPayload | RequestFailedPayload;

function isFailure(reply: Reply): reply is RequestFailedPayload {
  return reply.status === 'error';
}

/**
 * Client of the trading protocol (Socket.IO at `/socket.io/`, the legacy trading service's), built on socket.io-client.
 *
 * Reconnection is this client's own (Socket.IO's is switched off) so that every case — a lost transport, a
 * gateway restart, the server disconnecting an expired token, a refused handshake — goes through one loop:
 * wait the backoff delay, ask `getToken`, connect, subscribe the remembered types again. Nothing is emitted
 * while disconnected (Socket.IO's unbounded send buffer stays empty): `subscribe` remembers the types and its
 * promise settles with the acknowledgement of the next connection's resubscription; `unsubscribe` forgets them.
 */
export class TradingClient extends ClientEvents<TradingEvents> {
  readonly #socket: Socket<TradingServerEvents, ClientToServerEvents>;
  readonly #schedule: RetrySchedule;
  readonly #getToken: TokenProvider;
  readonly #ackTimeoutMs: number;
  /** The types to receive; subscribed again on every connection. */
  readonly #types = new Set<TradingType>();
  /** Settled by the next connection's resubscription (shared by every call made while disconnected). */
  #nextResubscription: Deferred<SubscribedPayload> | undefined;
  #token = '';
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: TradingClientOptions) {
    super();
    this.#schedule = new RetrySchedule(resolveReconnectOptions(options.reconnect));
    this.#getToken = options.getToken;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.#socket = io(String(options.url), {
      autoConnect: false,
      reconnection: false,
      // A manager of its own: socket.io-client otherwise shares one per URL, and with it the connection's fate.
      forceNew: true,
      timeout: options.connectTimeoutMs ?? 10_000,
      ...(options.transports === undefined ? {} : { transports: options.transports }),
      // Read on every CONNECT packet, so each attempt sends the token fetched just before it.
      auth: (send) => {
        send({ token: this.#token });
      },
    });
    this.#listen();
    queueMicrotask(() => {
      void this.#attempt();
    });
  }

  onBalanceUpdate(listener: Listener<PushPayload<'balance'>>): () => void {
    return this.events.on('balance_update', listener);
  }

  onPositionsUpdate(listener: Listener<PushPayload<'positions'>>): () => void {
    return this.events.on('positions_update', listener);
  }

  onPnlUpdate(listener: Listener<PushPayload<'pnl'>>): () => void {
    return this.events.on('pnl_update', listener);
  }

  onOrdersUpdate(listener: Listener<PushPayload<'orders'>>): () => void {
    return this.events.on('orders_update', listener);
  }

  get state(): ClientState {
    if (this.#closed) {
      return 'closed';
    }
    if (this.#socket.connected) {
      return 'connected';
    }
    return this.#timer === undefined ? 'connecting' : 'reconnecting';
  }

  /** The types this client receives (and subscribes again after a reconnect). */
  types(): TradingType[] {
    return [...this.#types];
  }

  /**
   * Receives `types` (all four by default) from now on, on this connection and every later one. Resolves with
   * the server's acknowledgement (`subscribed`), now or after the next connection when disconnected; rejects
   * with the server's code (`bad_request`, `rate_limited`), `timeout`, or `closed`.
   */
  async subscribe(types: readonly TradingType[] = tradingTypes): Promise<SubscribedPayload> {
    if (this.#closed) {
      throw clientError('closed', 'the client is closed');
    }
    for (const type of types) {
      this.#types.add(type);
    }
    if (!this.#socket.connected) {
      return this.#afterReconnect().promise;
    }
    try {
      return await this.#request('subscribe_trading', [...types]);
    } catch (error) {
      if (this.#mayReconnect()) {
        return this.#afterReconnect().promise; // lost before the acknowledgement: the resubscription answers
      }
      throw error;
    }
  }

  /**
   * Stops receiving `types` (all four by default). Resolves after the server's acknowledgement, or at once when
   * disconnected (the next connection simply does not subscribe them).
   */
  async unsubscribe(types: readonly TradingType[] = tradingTypes): Promise<void> {
    if (this.#closed) {
      throw clientError('closed', 'the client is closed');
    }
    for (const type of types) {
      this.#types.delete(type);
    }
    if (!this.#socket.connected) {
      return;
    }
    try {
      await this.#request('unsubscribe_trading', [...types]);
    } catch (error) {
      // Lost before the acknowledgement: the next connection does not subscribe these types anyway.
      if (!this.#mayReconnect()) {
        throw error;
      }
    }
  }

  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#socket.disconnect();
    this.#nextResubscription?.reject(clientError('closed', 'the client is closed'));
    this.#nextResubscription = undefined;
  }

  #listen(): void {
    const socket = this.#socket;
    socket.on('connect', () => {
      this.#schedule.reset();
      this.#resubscribe();
    });
    socket.on('connected', (payload) => {
      this.events.emit('connect', payload);
    });
    socket.on('connect_error', (error: Error & { data?: { code?: unknown } }) => {
      const code = typeof error.data?.code === 'string' ? error.data.code : 'connect_error';
      this.events.emit('error', new GatewayClientError('connection', code, error.message, { cause: error }));
      this.#retry();
    });
    socket.on('disconnect', (reason) => {
      this.events.emit('disconnect', { reason });
      this.#retry();
    });
    socket.on('token_expiring', () => {
      void this.#refreshToken();
    });
    socket.on('error', (payload: ErrorEventPayload) => {
      this.events.emit('error', new GatewayClientError('server', payload.code, payload.message, { details: payload }));
    });
    socket.on('balance_update', (push) => {
      this.events.emit('balance_update', push);
    });
    socket.on('positions_update', (push) => {
      this.events.emit('positions_update', push);
    });
    socket.on('pnl_update', (push) => {
      this.events.emit('pnl_update', push);
    });
    socket.on('orders_update', (push) => {
      this.events.emit('orders_update', push);
    });
  }

  /**
   * The server said the token expires soon: a new one from the hook goes out on the same connection
   * (`refresh_token`). A refusal also arrives as an `error` event (`token_refresh_failed`, reported by the
   * listener above); the old token stays until it expires, and the reconnect after that asks the hook again.
   */
  async #refreshToken(): Promise<void> {
    let token: string;
    try {
      token = await readToken(this.#getToken);
    } catch (error) {
      this.events.emit('error', error as GatewayClientError);
      return;
    }
    if (!this.#socket.connected) {
      return;
    }
    let reply: TokenRefreshedPayload | RequestFailedPayload;
    try {
      reply = (await this.#socket.timeout(this.#ackTimeoutMs).emitWithAck('refresh_token', { token })) as TokenRefreshedPayload | RequestFailedPayload;
    } catch {
      // Lost meanwhile: the reconnect asks the hook again, nothing to report.
      if (this.#isConnected()) {
        this.events.emit('error', clientError('timeout', `no answer to refresh_token within ${this.#ackTimeoutMs} ms`));
      }
      return;
    }
    if (reply.status === 'success') {
      this.#token = token;
      this.events.emit('tokenRefreshed', { expiresAt: reply.expires_at });
    }
  }

  /** A method, not the field, where an `await` lies between: the connection may have been lost meanwhile. */
  #isConnected(): boolean {
    return this.#socket.connected;
  }

  async #attempt(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed) {
      return;
    }
    try {
      this.#token = await readToken(this.#getToken);
    } catch (error) {
      this.events.emit('error', error as GatewayClientError);
      this.#retry();
      return;
    }
    if (!this.#isClosed()) {
      this.#socket.connect();
    }
  }

  #retry(): void {
    if (this.#closed || this.#timer !== undefined || this.#socket.connected) {
      return;
    }
    const delayMs = this.#schedule.nextDelay();
    this.#timer = setTimeout(() => {
      void this.#attempt();
    }, delayMs);
    this.events.emit('reconnecting', { attempt: this.#schedule.attempt, delayMs });
  }

  /** Methods, not fields, where an `await` lies between: the connection and `close()` may have changed. */
  #isClosed(): boolean {
    return this.#closed;
  }

  /** Disconnected but not closed: a reconnection will come. */
  #mayReconnect(): boolean {
    return !this.#socket.connected && !this.#closed;
  }

  #afterReconnect(): Deferred<SubscribedPayload> {
    this.#nextResubscription ??= deferred<SubscribedPayload>();
    return this.#nextResubscription;
  }

  #resubscribe(): void {
    const waiting = this.#nextResubscription;
    this.#nextResubscription = undefined;
    if (this.#types.size === 0) {
      waiting?.reject(clientError('cancelled', 'every type was unsubscribed before the connection came back'));
      return;
    }
    this.#request('subscribe_trading', [...this.#types]).then(
      (reply) => {
        waiting?.resolve(reply);
      },
      (error: unknown) => {
        if (this.#mayReconnect()) {
          // Lost again before the acknowledgement: the next connection's resubscription settles it.
          if (waiting !== undefined) {
            this.#afterReconnect().promise.then(waiting.resolve, waiting.reject);
          }
          return;
        }
        const failure = error instanceof GatewayClientError ? error : clientError('timeout', String(error));
        if (waiting === undefined) {
          this.events.emit('error', failure);
        } else {
          waiting.reject(failure);
        }
      },
    );
  }

  /** Emits with an acknowledgement; a failure reply or no reply in time rejects. */
  async #request(event: keyof ClientToServerEvents, types: TradingType[]): Promise<SubscribedPayload | UnsubscribedPayload> {
    let reply: Reply;
    try {
      reply = (await this.#socket.timeout(this.#ackTimeoutMs).emitWithAck(event, { types })) as Reply;
    } catch {
      throw this.#socket.connected
        ? clientError('timeout', `no acknowledgement of ${event} within ${this.#ackTimeoutMs} ms`)
        : clientError('not_connected', `the connection was lost before ${event} was acknowledged`);
    }
    if (isFailure(reply)) {
      throw new GatewayClientError('server', reply.code, reply.message, { details: reply });
    }
    if (event === 'subscribe_trading') {
      // Types the server did not accept are not kept for resubscription.
      for (const type of types) {
        if (!reply.types.includes(type)) {
          this.#types.delete(type);
        }
      }
    }
    return reply;
  }
}
