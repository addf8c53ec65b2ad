import type { ProtocolSession, WsConnection } from '@gw/connections';
import type { SubscriptionType } from './schema.js';

/** One subscription of a connection, and its key (`strategy:volume_wave`, `stock:600519`, `market:SH`). */
export interface StockSubscription {
  kind: SubscriptionType;
  target: string;
}

export function subscriptionKey(kind: SubscriptionType, target: string): string {
  return `${kind}:${target}`;
}

/** The uWS topic a strategy's subscribers join, for manual pushes (one serialization, one publish). */
export function strategyTopic(strategy: string): string {
  return `stock/strategy/${strategy}`;
}

/** Up to this many codes, a search reads the list; beyond, it builds a Set once (see `PendingCodes.has`). */
const LINEAR_SEARCH_MAX = 16;

/**
 * The stocks changed since a connection's last price_update, in the order they were marked, each once. One
 * array emptied in place rather than a Set: the flush refills it for every connection every interval, and a
 * long-lived Set allocates its new tables (at every `clear()` and every growth) straight in the old generation,
 * megabytes of garbage a second for the next full collection.
 */
export class PendingCodes {
  readonly #codes: string[] = [];
  #size = 0;
  /** The flush whose spread added every code here (no search needed for its next ones); -1: codes came otherwise. */
  #flush = -1;
  /** The last spread mark seen (see `addSpread`). */
  #mark = -1;
  /**
   * The codes as a Set, built only when a long list must be searched (a connection that missed flushes: held
   * after a snapshot, or a slow reader) and dropped when the list is emptied, so such a search stays O(1).
   */
  #index: Set<string> | undefined;

  get size(): number {
    return this.#size;
  }

  /** The code at `index` (0 ≤ index < size), in the order the codes were added. */
  at(index: number): string {
    return this.#codes[index] as string;
  }

  has(code: string): boolean {
    if (this.#size > LINEAR_SEARCH_MAX) {
      this.#index ??= new Set(this.#codes.slice(0, this.#size));
      return this.#index.has(code);
    }
    for (let i = 0; i < this.#size; i += 1) {
      if (this.#codes[i] === code) {
        return true;
      }
    }
    return false;
  }

  add(code: string): void {
    if (!this.has(code)) {
      this.#push(code);
    }
    this.#flush = -1;
  }

  /**
   * Adds `code` during the spread of flush number `flush`, where each changed code is spread once and `mark`
   * numbers that code's spread, so the same mark again is the same code reached through another subscription.
   * While only this spread added codes here, nothing needs to be searched: that is every connection written
   * at each flush, the common case.
   */
  addSpread(code: string, flush: number, mark: number): void {
    if (mark === this.#mark) {
      return;
    }
    this.#mark = mark;
    if (this.#size === 0) {
      this.#flush = flush;
    } else if (this.#flush !== flush && this.has(code)) {
      return;
    }
    this.#push(code);
  }

  /** Removes every code for which `drop` is true, keeping the others' order. */
  deleteWhere(drop: (code: string) => boolean): void {
    this.#index = undefined;
    let kept = 0;
    for (let i = 0; i < this.#size; i += 1) {
      const code = this.#codes[i] as string;
      if (!drop(code)) {
        this.#codes[kept] = code;
        kept += 1;
      }
    }
    this.#size = kept;
  }

  clear(): void {
    this.#size = 0;
    this.#flush = -1;
    this.#index = undefined;
  }

  #push(code: string): void {
    // Assigning past the end grows the array; within its length, the slot of an earlier code is reused.
    this.#codes[this.#size] = code;
    this.#size += 1;
    this.#index?.add(code);
  }
}

/**
 * One client of `/ws/stock/prices` as the protocol sees it: its subscriptions and the stocks changed since
 * its last price_update (bounded by what its subscriptions cover). The pipeline's connection (`link`) owns
 * the socket, its limits and its lifecycle.
 */
export class StockConnection implements ProtocolSession {
  readonly link: WsConnection<undefined>;
  readonly subs = new Map<string, StockSubscription>();
  /** Codes changed since the last price_update this connection got. */
  readonly pending = new PendingCodes();
  /** No conflated update before this time (a snapshot was just sent). */
  holdUntil = 0;
  /** Codes sent in a snapshot since the last flush, with the quote version sent (older changes are skipped). */
  snapshotted: Map<string, number> | undefined;
  /** Frames that reached it through a strategy's uWS topic (manual pushes). */
  fanOutSent = 0;
  readonly #onMessage: (connection: StockConnection, text: string) => void;
  readonly #onClose: (connection: StockConnection) => void;

  constructor(
    link: WsConnection<undefined>,
    handlers: { onMessage: (connection: StockConnection, text: string) => void; onClose: (connection: StockConnection) => void },
  ) {
    this.link = link;
    this.#onMessage = handlers.onMessage;
    this.#onClose = handlers.onClose;
  }

  get clientId(): string {
    return this.link.clientId;
  }

  get closed(): boolean {
    return this.link.closed;
  }

  /** Writes one text frame; false when the socket is closed or uWS dropped it. */
  send(text: string): boolean {
    return this.link.send(text);
  }

  subscriptions(): string[] {
    return [...this.subs.keys()];
  }

  sentByFanOut(): number {
    return this.fanOutSent;
  }

  onMessage(text: string): void {
    this.#onMessage(this, text);
  }

  onClose(): void {
    this.#onClose(this);
  }
}
