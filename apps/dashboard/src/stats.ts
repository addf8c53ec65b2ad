import { asObject, numberAt } from './wire.js';
import type { JsonObject } from './wire.js';

/** One protocol's numbers from `GET /api/websocket/stats` (`data.protocols.<name>`). */
export interface ProtocolCounters {
  /** Open now. */
  readonly connections: number | undefined;
  /** Opened since the gateway started. */
  readonly totalConnections: number | undefined;
  readonly subscriptions: number | undefined;
  /** Counters since start; the page turns them into rates. */
  readonly messagesSent: number | undefined;
  readonly messagesReceived: number | undefined;
}

/** Protocol name → counters, from the body of `GET /api/websocket/stats`. */
export function protocolCountersOf(body: JsonObject): Map<string, ProtocolCounters> {
  const protocols = asObject(asObject(body['data'])?.['protocols']);
  const result = new Map<string, ProtocolCounters>();
  for (const [name, value] of Object.entries(protocols ?? {})) {
    const stats = asObject(value);
    result.set(name, {
      connections: numberAt(stats, 'connections'),
      totalConnections: numberAt(stats, 'total_connections'),
      subscriptions: numberAt(stats, 'subscriptions'),
      messagesSent: numberAt(stats, 'messages_sent'),
      messagesReceived: numberAt(stats, 'messages_received'),
    });
  }
  return result;
}
