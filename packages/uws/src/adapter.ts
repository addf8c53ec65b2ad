import type { TemplatedApp } from 'uWebSockets.js';
import type { TokenVerifier } from '@gw/auth';
import type { Bus } from '@gw/bus';
import type { Logger } from '@gw/core';
import type { GatewayMetrics, Protocol } from '@gw/metrics';
import type { ClientRegistry } from './clients.js';
import type { Admission, ClusterView } from './cluster.js';

/** What every protocol adapter receives: narrow interfaces, infrastructure passed in, no environment. */
export interface AdapterDeps {
  app: TemplatedApp;
  bus: Bus;
  verifier: TokenVerifier;
  metrics: GatewayMetrics;
  logger: Logger;
  clients: ClientRegistry;
  /** `ADMIN_TOKEN`, for the adapter's admin routes (checked with @gw/auth's checkAdminToken). */
  adminToken: string | undefined;
  /** While draining (after SIGTERM) adapters refuse new connections (HTTP 503 on the upgrade). */
  lifecycle: { readonly draining: boolean };
  /** Every attached protocol's stats by protocol (for the cross-protocol `GET /api/websocket/stats`). */
  protocolStats(): Record<string, ProtocolStats>;
  /** Connection admission: per-IP rate and per-user cluster-wide limits. */
  admission: Admission;
  /** The other gateway nodes (cluster-wide stats and client lists). */
  cluster: ClusterView;
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
  readonly protocol: Exclude<Protocol, 'http'>;
  stats(): ProtocolStats;
  /** Releases bus subscriptions and timers. Connections are closed by the server's drain before this. */
  close(): Promise<void>;
}

/**
 * How a protocol plugs into the gateway: register its routes and WebSocket behaviours on the shared uWS app,
 * register each connection in `deps.clients`, talk to data only through `deps.bus`. Adapters differ by path;
 * they never import a data source or another adapter.
 */
export interface ProtocolAdapter {
  readonly protocol: Exclude<Protocol, 'http'>;
  attach(deps: AdapterDeps): AttachedAdapter | Promise<AttachedAdapter>;
}
