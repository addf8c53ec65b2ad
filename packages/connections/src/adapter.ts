import type { Bus } from '@gw/bus';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import type { AdminAttemptLimiter, ClientAddressResolver, TemplatedApp } from '@gw/uws';
import type { ClientProtocol } from './handshake.js';
import type { ConnectionPipeline } from './pipeline.js';

/** What every protocol adapter receives: narrow interfaces, infrastructure passed in, no environment. */
export interface AdapterDeps {
  app: TemplatedApp;
  bus: Bus;
  metrics: GatewayMetrics;
  logger: Logger;
  /** The connection pipeline: raw WebSocket protocols are served through it; Socket.IO uses its pieces. */
  connections: ConnectionPipeline;
  /** `ADMIN_TOKEN`, for the adapter's admin routes (`route(..., { admin: true })`). */
  adminToken: string | undefined;
  /** The pipeline's client-address resolver (`TRUSTED_PROXIES`), read by `route()` for the adapter's routes. */
  clientAddresses?: ClientAddressResolver;
  /** The node's failed admin-token attempts per address, read by `route()` for the adapter's admin routes. */
  adminAttempts?: AdminAttemptLimiter;
  /**
   * This process's place among the node's event loops (`LOOPS` > 1; absent with one loop): its index and every
   * loop's private port on 127.0.0.1, for a protocol whose one session spans several connections (Socket.IO
   * polling) to reach the loop that holds it.
   */
  loops?: { self: number; privatePorts: readonly number[] } | undefined;
}

/** Per-protocol counters for `GET /api/websocket/stats` (`data.protocols.<name>`). */
export interface ProtocolStats {
  connections: number;
  total_connections: number;
  subscriptions: number;
  messages_sent: number;
  messages_received: number;
  [extra: string]: unknown;
}

/** A protocol adapter once attached to the app. */
export interface AttachedAdapter {
  readonly protocol: ClientProtocol;
  stats(): ProtocolStats;
  /**
   * Top-level blocks this protocol contributes to `GET /api/websocket/stats` besides `protocols` (the stock
   * protocol's legacy `connections` and `subscriptions` blocks, which the legacy dashboards read).
   */
  legacyStats?(): object;
  /** Releases bus subscriptions and timers. Connections are closed by the server's drain before this. */
  close(): Promise<void>;
}

/**
 * How a protocol plugs into the gateway: its schemas, its message handling and its fan-out. It registers its
 * endpoint through `deps.connections` (which owns every connection's lifecycle) and its REST routes on the
 * app, and talks to data only through `deps.bus`. Adapters never import a data source or another adapter.
 */
export interface ProtocolAdapter {
  readonly protocol: ClientProtocol;
  attach(deps: AdapterDeps): AttachedAdapter | Promise<AttachedAdapter>;
}
