import type { Bus } from '@gw/bus';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import { renderMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import type { AttachedAdapter, ClientDescription, ClientRegistry } from '@gw/connections';
import { sumNumericTree } from '@gw/node-services';
import type { BusProbe, ClusterView } from '@gw/node-services';
import { checkAdmin, route } from '@gw/uws';
import type { AdminAttemptLimiter, ClientAddressResolver, RequestInfo, TemplatedApp } from '@gw/uws';
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
  /** `ADMIN_TOKEN`, for the admin routes (`/api/websocket/clients`, `/api/cluster/nodes`, `?scope=cluster`). */
  adminToken: string | undefined;
  /** The pipeline's client-address resolver (TRUSTED_PROXIES). */
  clientAddresses?: ClientAddressResolver;
  /** The node's failed admin-token attempts per address. */
  adminAttempts?: AdminAttemptLimiter;
  /** The dashboard build to serve at `GET /` (default: apps/dashboard/dist). */
  dashboardDir?: string | undefined;
}

/**
 * `?scope=cluster`: every live gateway node (through the bus); anything else: this node. The cluster view is
 * an admin view (it names the nodes and triggers a gather on every one of them).
 */
function clusterScope(request: RequestInfo): boolean {
  return request.query.get('scope') === 'cluster';
}

/**
 * Liveness, readiness, metrics, the cross-protocol views and the home page: the routes every gateway has,
 * whatever its adapters. `GET /api/websocket/stats` keeps the legacy stock service's shape (its top-level
 * blocks come from the adapter that provides them) plus `protocols`, fed by each adapter's stats.
 */
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

  const localStats = (): Record<string, unknown> => {
    const data: Record<string, unknown> = {};
    for (const adapter of deps.adapters) {
      Object.assign(data, adapter.legacyStats?.() ?? {});
    }
    data['protocols'] = Object.fromEntries(deps.adapters.map((adapter) => [adapter.protocol, adapter.stats()]));
    return data;
  };
  deps.cluster.provide('stats', localStats);
  deps.cluster.provide('clients', () => deps.clients.describe());

  route(app, deps, 'get', '/api/websocket/stats', async (request) => {
    if (!clusterScope(request)) {
      return { status: 200, body: { code: 200, message: '获取统计信息成功', data: localStats() } };
    }
    checkAdmin(request, deps);
    const { answers, missing } = await deps.cluster.gather<Record<string, unknown>>('stats');
    const data = {
      ...(sumNumericTree(answers.map((a) => a.answer)) as Record<string, unknown>),
      scope: 'cluster',
      nodes: answers.map((a) => a.node_id).sort(),
      missing_nodes: missing,
    };
    return { status: 200, body: { code: 200, message: '获取统计信息成功', data } };
  });

  route(
    app,
    deps,
    'get',
    '/api/websocket/clients',
    async (request) => {
      if (!clusterScope(request)) {
        const clients = deps.clients.describe();
        return { status: 200, body: { code: 200, message: '获取客户端列表成功', data: { total: clients.length, clients } } };
      }
      const { answers, missing } = await deps.cluster.gather<ClientDescription[]>('clients');
      const clients = answers.flatMap(({ node_id, answer }) => answer.map((client) => ({ ...client, node_id })));
      return {
        status: 200,
        body: {
          code: 200,
          message: '获取客户端列表成功',
          data: { total: clients.length, clients, scope: 'cluster', nodes: answers.map((a) => a.node_id).sort(), missing_nodes: missing },
        },
      };
    },
    { admin: true },
  );

  // Admin: node ids, their load and whether they drain are for operators, not for the public side.
  route(
    app,
    deps,
    'get',
    '/api/cluster/nodes',
    async () => {
      const nodes = await deps.cluster.nodes();
      nodes.sort((a, b) => a.node_id.localeCompare(b.node_id));
      return { status: 200, body: { code: 200, node_id: deps.bus.nodeId, count: nodes.length, nodes } };
    },
    { admin: true },
  );

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
