/** A connection as the sweep sees it: its token's expiry and, for transports the pipeline writes to, its output. */
export interface SweptConnection {
  /** `exp` of the connection's token in ms since the epoch; undefined when it never expires. Mutable (refresh). */
  expiresAt: number | undefined;
  /** The `token_expiring` notice for the current `expiresAt` was sent. Set by the sweep, cleared by a refresh. */
  expiringNoticeSent: boolean;
  /** Bytes written but not yet sent; undefined when the transport bounds its own output (Socket.IO). */
  bufferedAmount?(): number;
  /** Output bound and how long it may stay over it before the connection counts as a slow consumer. */
  readonly slowConsumer?: { maxBufferedBytes: number; graceMs: number };
  /** Since when the output has been over the bound (0: it is not). Owned by the sweep. */
  overBoundSince: number;
  /** The token expires in `expiresInS` seconds: tell the client to refresh it (once per token). */
  onExpiring(expiresInS: number): void;
  /** The token expired: close it (once; the sweep forgets the connection first). */
  onExpired(): void;
  /** Over the output bound for longer than the grace: close it (once; the sweep forgets the connection first). */
  onSlowConsumer(): void;
}

/** How often every connection is checked: expiry is enforced within this period of `exp`. */
export const SWEEP_PERIOD_MS = 250;

/** How long before `exp` a connection is told its token is expiring (`TOKEN_EXPIRY_NOTICE_S`, default 60 s). */
export const DEFAULT_EXPIRY_NOTICE_MS = 60_000;

/**
 * One timer per process for every connection of every protocol, instead of timers per connection (memory and
 * timer-wheel cost per idle connection): tells connections their token is expiring (once, `expiryNoticeMs`
 * before `exp`, or at once when less remains), closes connections whose token expired, and slow consumers. A
 * pass over 10,000 connections is a few hundred microseconds.
 */
export class ConnectionSweep {
  readonly #connections = new Set<SweptConnection>();
  readonly #timer: NodeJS.Timeout;
  readonly #onError: (error: unknown) => void;
  readonly #expiryNoticeMs: number;

  constructor(options: { periodMs?: number; expiryNoticeMs?: number; onError: (error: unknown) => void }) {
    this.#onError = options.onError;
    this.#expiryNoticeMs = options.expiryNoticeMs ?? DEFAULT_EXPIRY_NOTICE_MS;
    this.#timer = setInterval(() => {
      this.sweep(Date.now());
    }, options.periodMs ?? SWEEP_PERIOD_MS);
    this.#timer.unref();
  }

  get size(): number {
    return this.#connections.size;
  }

  track(connection: SweptConnection): void {
    this.#connections.add(connection);
  }

  untrack(connection: SweptConnection): void {
    this.#connections.delete(connection);
  }

  /** One pass (the timer's; callable directly). A failing close is reported and the pass goes on. */
  sweep(now: number): void {
    for (const connection of this.#connections) {
      try {
        if (connection.expiresAt !== undefined && now >= connection.expiresAt) {
          this.#connections.delete(connection);
          connection.onExpired();
          continue;
        }
        if (connection.expiresAt !== undefined && !connection.expiringNoticeSent && now >= connection.expiresAt - this.#expiryNoticeMs) {
          connection.expiringNoticeSent = true;
          this.#notifyExpiring(connection, Math.max(0, Math.ceil((connection.expiresAt - now) / 1000)));
        }
        const bound = connection.slowConsumer;
        if (bound === undefined || connection.bufferedAmount === undefined) {
          continue;
        }
        if (connection.bufferedAmount() <= bound.maxBufferedBytes) {
          connection.overBoundSince = 0;
        } else if (connection.overBoundSince === 0) {
          connection.overBoundSince = now;
          if (bound.graceMs === 0) {
            this.#connections.delete(connection);
            connection.onSlowConsumer();
          }
        } else if (now - connection.overBoundSince >= bound.graceMs) {
          this.#connections.delete(connection);
          connection.onSlowConsumer();
        }
      } catch (error) {
        this.#connections.delete(connection);
        this.#onError(error);
      }
    }
  }

  /** A notice that fails is reported; the connection stays tracked, so its expiry is still enforced. */
  #notifyExpiring(connection: SweptConnection, expiresInS: number): void {
    try {
      connection.onExpiring(expiresInS);
    } catch (error) {
      this.#onError(error);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#connections.clear();
  }
}
