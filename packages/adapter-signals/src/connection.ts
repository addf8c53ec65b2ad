import type { ConnectedClient, MessageRateLimiter, ServerCloseReason, UserSlot, WebSocket } from '@gw/uws';
import { signalCloseCodes } from './errors.js';

/** Per-socket data uWS keeps for us (set at the upgrade). */
export interface SignalSocketData {
  connection: SignalConnection;
}

/** Where a recovering client stands while live signals are still catching up with its history read. */
export interface CatchUp {
  epoch: string;
  /** Highest seq already sent to this client. */
  lastSeq: number;
  /** Once live signals reach this seq, the client joins the uWS topics. */
  targetSeq: number;
  startedAt: number;
}

export interface SignalConnectionInit {
  clientId: string;
  userId: number | string;
  remoteAddress: string;
  /** Upper-case symbols of `?symbols=`, or undefined for every signal. */
  symbols: ReadonlySet<string> | undefined;
  since: string | undefined;
  expiresAt: number | undefined;
  rateLimiter: MessageRateLimiter;
  /** Counts of what was published to the topics this client joins, read when it joins and for `messagesSent`. */
  publishedCount: (symbols: ReadonlySet<string> | undefined) => number;
  /** The user's connection slot (MAX_CONNECTIONS_PER_USER), released when the connection closes. */
  slot: UserSlot;
}

/**
 * One signal client. Most deliveries reach it through uWS topic fan-out (`sig:all` or `sig:s:<SYMBOL>`), so
 * its sent count is derived from the topics' publish counters since it joined plus what was sent to it alone.
 */
export class SignalConnection implements ConnectedClient {
  readonly protocol = 'signals' as const;
  readonly clientId: string;
  readonly userId: number | string;
  readonly remoteAddress: string;
  readonly connectedAt = new Date().toISOString();
  readonly symbols: ReadonlySet<string> | undefined;
  readonly since: string | undefined;
  readonly expiresAt: number | undefined;
  readonly rateLimiter: MessageRateLimiter;
  readonly slot: UserSlot;
  messagesReceived = 0;
  ws: WebSocket<SignalSocketData> | undefined;
  closed = false;
  catchUp: CatchUp | undefined;
  /** Counter of the joined topics when it joined; undefined until it joins. */
  #topicBaseline: number | undefined;
  #sentAlone = 0;
  readonly #publishedCount: SignalConnectionInit['publishedCount'];

  constructor(init: SignalConnectionInit) {
    this.clientId = init.clientId;
    this.userId = init.userId;
    this.remoteAddress = init.remoteAddress;
    this.symbols = init.symbols;
    this.since = init.since;
    this.expiresAt = init.expiresAt;
    this.rateLimiter = init.rateLimiter;
    this.slot = init.slot;
    this.#publishedCount = init.publishedCount;
  }

  get messagesSent(): number {
    const viaTopics = this.#topicBaseline === undefined ? 0 : this.#publishedCount(this.symbols) - this.#topicBaseline;
    return viaTopics + this.#sentAlone;
  }

  wants(symbol: string): boolean {
    return this.symbols === undefined || this.symbols.has(symbol);
  }

  /** Sends a frame to this client alone (replay, test signals, errors). False when it is gone. */
  sendAlone(frame: string): boolean {
    if (this.closed || this.ws === undefined) {
      return false;
    }
    this.ws.send(frame, false);
    this.#sentAlone += 1;
    return true;
  }

  /** Joins the uWS topics: from now on live signals reach it by fan-out. */
  joinTopics(): void {
    const ws = this.ws;
    if (this.closed || ws === undefined) {
      return;
    }
    this.#topicBaseline = this.#publishedCount(this.symbols);
    if (this.symbols === undefined) {
      ws.subscribe('sig:all');
    } else {
      for (const symbol of this.symbols) {
        ws.subscribe(`sig:s:${symbol}`);
      }
    }
  }

  end(close: { code: number; reason: string }): void {
    if (!this.closed && this.ws !== undefined) {
      this.ws.end(close.code, close.reason);
    }
  }

  subscriptions(): string[] {
    return this.symbols === undefined ? ['signals:all'] : [...this.symbols].map((s) => `signals:${s}`);
  }

  close(_reason: ServerCloseReason): void {
    // The only server-initiated close reason today is shutdown: "going away", reconnect elsewhere.
    this.end(signalCloseCodes.goingAway);
  }
}
