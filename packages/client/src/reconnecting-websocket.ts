import { RetrySchedule, resolveReconnectOptions } from './backoff.js';
import type { ReconnectOptions } from './backoff.js';
import { GatewayClientError } from './errors.js';
import type { ClientState, DisconnectInfo, ReconnectingInfo, TokenRefreshedInfo } from './lifecycle.js';
import { readToken } from './token.js';
import type { TokenProvider } from './token.js';
import { OPEN, defaultTokenPlacement, resolveWebSocket } from './websocket.js';
import type { TokenPlacement, WebSocketConstructor, WebSocketLike } from './websocket.js';

/** Connection settings shared by the raw-WebSocket clients (signals, stock prices). */
export interface WebSocketClientOptions {
  /**
   * The WebSocket implementation. Default: the global `WebSocket` (browsers). Node 20 has none: pass `WebSocket`
   * from the `ws` package.
   */
  WebSocket?: WebSocketConstructor;
  /**
   * Where the token goes. Default: `header` (`Authorization: Bearer`) on Node with an injected implementation,
   * else `query` (`?token=`, the only way a browser can send it).
   */
  tokenIn?: TokenPlacement;
  /** Backoff between attempts (1 s doubling to 30 s with jitter by default). */
  reconnect?: ReconnectOptions;
  /** An attempt that has not opened by then is abandoned and retried. @default 10000 */
  connectTimeoutMs?: number;
}

/** What the protocol client on top does with the connection. */
export interface SocketHandler {
  /** The URL of the next attempt, without the token (the query may change between attempts: `since`). */
  url(): URL;
  opened(): void;
  /** A text frame (the protocols send text only; binary frames are ignored). */
  message(text: string): void;
  /** An open connection ended. */
  closed(info: DisconnectInfo): void;
  reconnecting(info: ReconnectingInfo): void;
  /** The server accepted an in-band token refresh. */
  tokenRefreshed(info: TokenRefreshedInfo): void;
  error(error: GatewayClientError): void;
}

/** `token_expiring` / `token_refreshed`, read only from frames that can be one of them (a cheap test first). */
function tokenFrameOf(text: string): { type: 'token_expiring' } | { type: 'token_refreshed'; expiresAt: number | null } | undefined {
  if (!text.includes('"token_')) {
    return undefined;
  }
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof frame !== 'object' || frame === null) {
    return undefined;
  }
  const { type, expires_at: expiresAt } = frame as { type?: unknown; expires_at?: unknown };
  if (type === 'token_expiring') {
    return { type };
  }
  if (type === 'token_refreshed') {
    return { type, expiresAt: typeof expiresAt === 'number' ? expiresAt : null };
  }
  return undefined;
}

/**
 * One logical connection that survives losses: connect (token from the hook), and after any loss or failed
 * attempt wait the backoff delay and connect again, until `close()`. Holds at most one socket and one timer;
 * nothing is queued while disconnected (`send` returns false).
 */
export class ReconnectingWebSocket {
  readonly #WebSocket: WebSocketConstructor;
  readonly #tokenIn: TokenPlacement;
  readonly #connectTimeoutMs: number;
  readonly #getToken: TokenProvider | undefined;
  readonly #handler: SocketHandler;
  readonly #schedule: RetrySchedule;
  #socket: WebSocketLike | undefined;
  #open = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: WebSocketClientOptions, getToken: TokenProvider | undefined, handler: SocketHandler) {
    this.#WebSocket = resolveWebSocket(options.WebSocket);
    this.#tokenIn = options.tokenIn ?? defaultTokenPlacement(options.WebSocket);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.#schedule = new RetrySchedule(resolveReconnectOptions(options.reconnect));
    this.#getToken = getToken;
    this.#handler = handler;
  }

  get state(): ClientState {
    if (this.#closed) {
      return 'closed';
    }
    if (this.#open) {
      return 'connected';
    }
    return this.#timer === undefined ? 'connecting' : 'reconnecting';
  }

  /** Starts the first attempt (on a later task, so listeners registered right after construction see it). */
  start(): void {
    queueMicrotask(() => {
      void this.#attempt();
    });
  }

  /** Sends a text frame on the open connection; false (nothing sent, nothing queued) when there is none. */
  send(text: string): boolean {
    const socket = this.#socket;
    if (!this.#open || socket?.readyState !== OPEN) {
      return false;
    }
    socket.send(text);
    return true;
  }

  /** Ends the current connection as if it had been lost (the client reconnects), e.g. after a reply timeout. */
  restart(reason: string): void {
    if (this.#socket !== undefined && !this.#closed) {
      this.#socket.close(4000, reason);
    }
  }

  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#socket?.close(1000, 'client closed');
  }

  async #attempt(): Promise<void> {
    if (this.#closed) {
      return;
    }
    let token: string | undefined;
    if (this.#getToken !== undefined) {
      try {
        token = await readToken(this.#getToken);
      } catch (error) {
        this.#failed(error as GatewayClientError);
        return;
      }
    }
    if (this.#isClosed()) {
      return;
    }
    const url = this.#handler.url();
    // Said in errors instead of the URL itself, which may carry the token.
    const where = `${url.origin}${url.pathname}`;
    let socket: WebSocketLike;
    try {
      if (token !== undefined && this.#tokenIn === 'query') {
        url.searchParams.set('token', token);
      }
      socket =
        token !== undefined && this.#tokenIn === 'header'
          ? new this.#WebSocket(url.href, [], { headers: { Authorization: `Bearer ${token}` } })
          : new this.#WebSocket(url.href);
    } catch (error) {
      this.#failed(new GatewayClientError('connection', 'connect_failed', `cannot connect to ${where}: ${String(error)}`, { cause: error }));
      return;
    }
    this.#watch(socket, where);
  }

  #watch(socket: WebSocketLike, where: string): void {
    this.#socket = socket;
    let opened = false;
    let failure: string | undefined;
    const timeout = setTimeout(() => {
      failure = `not open within ${this.#connectTimeoutMs} ms`;
      socket.close();
    }, this.#connectTimeoutMs);
    socket.addEventListener('open', () => {
      clearTimeout(timeout);
      if (this.#closed) {
        socket.close(1000, 'client closed');
        return;
      }
      opened = true;
      this.#open = true;
      this.#schedule.reset();
      this.#handler.opened();
    });
    socket.addEventListener('message', (event) => {
      if (this.#socket === socket && typeof event.data === 'string') {
        const tokenFrame = tokenFrameOf(event.data);
        if (tokenFrame?.type === 'token_expiring') {
          void this.#refreshToken(socket);
        } else if (tokenFrame?.type === 'token_refreshed') {
          this.#handler.tokenRefreshed({ expiresAt: tokenFrame.expiresAt });
        }
        this.#handler.message(event.data);
      }
    });
    socket.addEventListener('error', (event) => {
      // Browsers say nothing about why; `ws` does ("Unexpected server response: 401").
      if (typeof event.message === 'string' && event.message !== '') {
        failure ??= event.message;
      }
    });
    socket.addEventListener('close', (event) => {
      clearTimeout(timeout);
      if (this.#socket === socket) {
        this.#socket = undefined;
        this.#open = false;
      }
      if (opened) {
        this.#handler.closed({ code: event.code, reason: event.reason });
        this.#retry();
      } else {
        this.#failed(new GatewayClientError('connection', 'connect_failed', `cannot connect to ${where}: ${failure ?? `closed with code ${event.code}`}`));
      }
    });
  }

  /**
   * The server said the token expires soon: a new one from the hook goes out on the same connection
   * (`refresh_token`), so nothing is lost to a reconnect. Without a hook (a stock connection without a token)
   * there is nothing to refresh.
   */
  async #refreshToken(socket: WebSocketLike): Promise<void> {
    if (this.#getToken === undefined) {
      return;
    }
    let token: string;
    try {
      token = await readToken(this.#getToken);
    } catch (error) {
      this.#handler.error(error as GatewayClientError);
      return;
    }
    if (this.#socket === socket && socket.readyState === OPEN) {
      socket.send(JSON.stringify({ type: 'refresh_token', token }));
    }
  }

  /** A method, not the field, where an `await` lies between: `close()` may have run meanwhile. */
  #isClosed(): boolean {
    return this.#closed;
  }

  #failed(error: GatewayClientError): void {
    if (this.#closed) {
      return;
    }
    this.#handler.error(error);
    this.#retry();
  }

  #retry(): void {
    if (this.#closed) {
      return;
    }
    const delayMs = this.#schedule.nextDelay();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#attempt();
    }, delayMs);
    this.#handler.reconnecting({ attempt: this.#schedule.attempt, delayMs });
  }
}
