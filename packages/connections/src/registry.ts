import type { ClientProtocol } from './handshake.js';

/** Why the server closes a client; each protocol maps it to its own close form. */
export type ServerCloseReason = 'shutdown';

/**
 * One connected client of any protocol, as the cluster views, the client list and the drain see it. The
 * pipeline registers these (raw WebSocket connections) or the Socket.IO adapter does; the registry never
 * reaches into protocol details.
 */
export interface ConnectedClient {
  readonly clientId: string;
  readonly protocol: ClientProtocol;
  readonly userId: number | string | null;
  readonly remoteAddress: string;
  /** ISO-8601 time of the handshake. */
  readonly connectedAt: string;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  /** Current subscriptions of this client (protocol-specific strings such as `strategy:volume_wave`). */
  subscriptions(): string[];
  /** Closes the connection as "going away" (WebSocket 1001, Socket.IO transport close). */
  close(reason: ServerCloseReason): void;
}

/** Every live connection of this process, across protocols. */
export class ClientRegistry {
  readonly #clients = new Map<string, ConnectedClient>();

  add(client: ConnectedClient): void {
    this.#clients.set(client.clientId, client);
  }

  remove(clientId: string): void {
    this.#clients.delete(clientId);
  }

  has(clientId: string): boolean {
    return this.#clients.has(clientId);
  }

  get size(): number {
    return this.#clients.size;
  }

  all(): IterableIterator<ConnectedClient> {
    return this.#clients.values();
  }

  countFor(protocol: ClientProtocol): number {
    let n = 0;
    for (const client of this.#clients.values()) {
      if (client.protocol === protocol) {
        n += 1;
      }
    }
    return n;
  }

  /** Open connections by protocol (node summaries, stats). */
  countByProtocol(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const client of this.#clients.values()) {
      counts[client.protocol] = (counts[client.protocol] ?? 0) + 1;
    }
    return counts;
  }

  /** JSON rows for `GET /api/websocket/clients`. */
  describe(): ClientDescription[] {
    return [...this.#clients.values()].map((c) => ({
      client_id: c.clientId,
      protocol: c.protocol,
      user_id: c.userId,
      remote_address: c.remoteAddress,
      connected_at: c.connectedAt,
      subscriptions: c.subscriptions(),
      messages_sent: c.messagesSent,
      messages_received: c.messagesReceived,
    }));
  }
}

export interface ClientDescription {
  client_id: string;
  protocol: string;
  user_id: number | string | null;
  remote_address: string;
  connected_at: string;
  subscriptions: string[];
  messages_sent: number;
  messages_received: number;
}
