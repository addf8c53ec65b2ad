import type { Registry } from 'prom-client';

/** The client-facing protocols, plus `http` for the REST API. */
export type Protocol = 'socketio' | 'stock' | 'signals' | 'http';

/** How a poll of a data source ended. */
export type PollResult = 'changed' | 'unchanged' | 'error';

/** How a source gets an account's (or a feed's) data: pushed by the upstream's stream, or polled. */
export type SourceMode = 'stream' | 'poll';

/**
 * Everything the gateway counts, in its own vocabulary. Adapters, sources and the bus call these methods and
 * never touch prom-client. Implementations: `createPromMetrics` (prom-client over an injected Registry) and
 * `noopMetrics` (tests that do not look at metrics).
 *
 * Hot-path rule: the per-message methods take a `count` so a fan-out to N clients is one call, not N.
 */
export interface GatewayMetrics {
  connectionOpened(protocol: Protocol): void;
  /**
   * A connection closed; `code` says why when known (the WebSocket close code, or Socket.IO's disconnect reason),
   * counted in `connections_closed_total` (the console's closes by code).
   */
  connectionClosed(protocol: Protocol, code?: number | string): void;
  /** A refused handshake or an expired token; `reason` is an AuthFailureReason of @gw/auth. */
  authFailure(protocol: Protocol, reason: string): void;
  /** `count` messages of `type` written to sockets (one call per fan-out). */
  messagesSent(protocol: Protocol, type: string, count?: number): void;
  messageReceived(protocol: Protocol, type: string): void;
  subscriptionAdded(protocol: Protocol, kind: string): void;
  subscriptionRemoved(protocol: Protocol, kind: string, count?: number): void;
  /**
   * One message fanned out: seconds from its publish (Envelope.publishedAt, or the arrival of the request that
   * published it) to the moment the last write of the fan-out was handed to the sockets. Call it once per
   * message per fan-out, after the writes.
   */
  deliveryLatency(protocol: Protocol, seconds: number): void;
  /** A message not written because the client's output buffer was over its bound (conflated or dropped). */
  backpressureDropped(protocol: Protocol, count?: number): void;
  /** A connection closed because its output buffer stayed over its bound. */
  backpressureDisconnected(protocol: Protocol): void;
  /** An error answer sent to a client (bad input, limits), by its machine code. */
  clientError(protocol: Protocol, code: string): void;
  busConnected(connected: boolean): void;
  busReconnected(): void;
  /** The bus probe's round trip in seconds (receive time minus the send time the probe carries). */
  busLag(seconds: number): void;
  /** Seconds since the bus probe last came back (the readiness rule's input). */
  busProbeAge(seconds: number): void;
  busMessagePublished(kind: 'live' | 'latest' | 'history'): void;
  sourcePoll(source: string, result: PollResult, seconds: number): void;
  /** `kind`: auth, network, rate_limit, invalid_data, internal. */
  sourceError(source: string, kind: string): void;
  httpRequest(route: string, status: number): void;
  /** How many accounts (or feeds) of `source` are in `mode` now (a gauge the source sets on every change). */
  sourceModeCount(source: string, mode: SourceMode, count: number): void;
  /** A stream of `source` was connected again after it had failed. */
  sourceStreamReconnected(source: string): void;
  /** One synchronous step of the stock interval flush: how long it held the event loop, in seconds. */
  stockFlushSlice(seconds: number): void;
  /** Seconds from the upstream event's own timestamp to its publish on the bus. */
  sourceEventLatency(source: string, seconds: number): void;
  /** The registry behind these metrics (for `GET /metrics`); undefined for the no-op implementation. */
  readonly registry: Registry | undefined;
}
