import type { Bus } from '@gw/bus';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import { renderMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import { route } from '@gw/uws';
import type { AttachedAdapter, ClientRegistry, ClusterView, TemplatedApp } from '@gw/uws';
import type { BusProbe } from './bus-probe.js';
import { registerDashboardRoutes } from './dashboard/index.js';

export interface SystemRouteDeps {
  probe: BusProbe;
  cluster: ClusterView;
  bus: Bus;
  metrics: GatewayMetrics;
  logger: Logger;
  lifecycle: { readonly draining: boolean };
  adapters: readonly AttachedAdapter[];
  clients: ClientRegistry;
  /** The dashboard build to serve at `GET /` (default: apps/dashboard/dist). */
  dashboardDir?: string | undefined;
}

/** Liveness, readiness, metrics and the home page: the routes every gateway has, whatever its adapters. */
export function registerSystemRoutes(app: TemplatedApp, deps: SystemRouteDeps): void {
  const startedAt = Date.now();

  route(app, deps, 'get', '/api/health', () => ({
    status: 200,
    body: { status: 'ok', uptime_s: Math.round((Date.now() - startedAt) / 1000) },
  }));

  route(app, deps, 'get', '/api/ready', () => {
    const checks = {
      bus: deps.bus.state,
      bus_kind: deps.bus.kind,
      bus_lag_ms: deps.probe.lagMs(),
      draining: deps.lifecycle.draining,
    };
    // Worst first: a draining node stays out whatever its bus does.
    const reason = deps.lifecycle.draining
      ? 'draining'
      : deps.bus.state !== 'connected'
        ? 'bus_disconnected'
        : !deps.probe.healthy()
          ? 'bus_stalled'
          : undefined;
    if (reason === undefined) {
      return { status: 200, body: { status: 'ready', node_id: deps.bus.nodeId, checks } };
    }
    return {
      status: 503,
      body: { code: 503, message: `not ready: ${reason.replace('_', ' ')}`, error: reason, node_id: deps.bus.nodeId, checks },
    };
  });

  route(app, deps, 'get', '/api/cluster/nodes', async () => {
    const nodes = await deps.cluster.nodes();
    nodes.sort((a, b) => a.node_id.localeCompare(b.node_id));
    return { status: 200, body: { code: 200, node_id: deps.bus.nodeId, count: nodes.length, nodes } };
  });

  route(app, deps, 'get', '/metrics', async () => {
    const { contentType, body } = await renderMetrics(deps.metrics);
    return { status: 200, contentType, body };
  });

  registerDashboardRoutes(app, { logger: deps.logger, metrics: deps.metrics, distDir: deps.dashboardDir });

  // uWS matches specific routes before wildcards, so this only answers what no route claims.
  route(app, deps, 'any', '/*', (request) => {
    throw new GatewayError('not_found', { message: `no route for ${request.method} ${request.path}` });
  });
}
