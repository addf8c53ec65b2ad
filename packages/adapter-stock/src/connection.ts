import type { Principal } from '@gw/auth';
import { MessageRateLimiter } from '@gw/uws';
import type { ConnectedClient, ServerCloseReason, UserSlot, WebSocket } from '@gw/uws';
import { stockCloseCodes } from './errors.js';
import type { SubscriptionType } from './schema.js';

/** What uWS keeps per socket: filled at the upgrade, the connection attached at open. */
export interface StockSocketData {
  remoteAddress: string;
  principal: Principal | undefined;
  /** The user's connection slot (MAX_CONNECTIONS_PER_USER) when authenticated; released on close. */
  slot: UserSlot | undefined;
  connection: StockConnection | undefined;
}

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
 * One client of `/ws/stock/prices`: its socket, subscriptions, the stocks changed since its last price_update
 * (bounded by what its subscriptions cover), and its inbound rate limiter. Also the ConnectedClient the
 * gateway's client list and drain see.
 */
export class StockConnection implements ConnectedClient {
  readonly clientId: string;
  readonly protocol = 'stock' as const;
  readonly userId: number | string | null;
  readonly remoteAddress: string;
  readonly connectedAt: string;
  messagesSent = 0;
  messagesReceived = 0;
  readonly ws: WebSocket<StockSocketData>;
  readonly subs = new Map<string, StockSubscription>();
  /** Codes changed since the last price_update this connection got. */
  readonly pending = new Set<string>();
  /** No conflated update before this time (a snapshot was just sent). */
  holdUntil = 0;
  /** Codes sent in a snapshot since the last flush, with the quote version sent (older changes are skipped). */
  snapshotted: Map<string, number> | undefined;
  /** Since when the output buffer has been over the bound (0: it is not). */
  overBoundSince = 0;
  closed = false;
  readonly limiter: MessageRateLimiter;
  expiryTimer: NodeJS.Timeout | undefined;

  constructor(ws: WebSocket<StockSocketData>, clientId: string, maxMessagesPerSec: number) {
    const data = ws.getUserData();
    this.ws = ws;
    this.clientId = clientId;
    this.userId = data.principal?.userId ?? null;
    this.remoteAddress = data.remoteAddress;
    this.connectedAt = new Date().toISOString();
    this.limiter = new MessageRateLimiter(maxMessagesPerSec);
  }

  subscriptions(): string[] {
    return [...this.subs.keys()];
  }

  /** Writes one text frame; false when the socket is closed or uWS dropped it (over its hard backpressure bound). */
  send(text: string): boolean {
    if (this.closed) {
      return false;
    }
    this.messagesSent += 1;
    return this.ws.send(text, false, false) !== 2;
  }

  /** Closes with a code of the table in errors.ts (the close handler then cleans up). */
  end(close: { code: number; reason: string }): void {
    if (!this.closed) {
      this.ws.end(close.code, close.reason);
    }
  }

  close(_reason: ServerCloseReason): void {
    this.end(stockCloseCodes.goingAway);
  }
}
