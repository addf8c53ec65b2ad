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

/**
 * One client of `/ws/stock/prices` as the protocol sees it: its subscriptions and the stocks changed since
 * its last price_update (bounded by what its subscriptions cover). The pipeline's connection (`link`) owns
 * the socket, its limits and its lifecycle.
 */
export class StockConnection implements ProtocolSession {
  readonly link: WsConnection<undefined>;
  readonly subs = new Map<string, StockSubscription>();
  /** Codes changed since the last price_update this connection got. */
  readonly pending = new Set<string>();
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
