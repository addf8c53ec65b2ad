import { AggregatorRegistry } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Bus } from '@gw/bus';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import { renderMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import type { AttachedAdapter, ClientDescription, ClientRegistry } from '@gw/connections';
import { mergeTree } from '@gw/node-services';
import type { BusProbe, ClusterView, MergeRule } from '@gw/node-services';
import { checkAdmin, route } from '@gw/uws';
import type { AdminAttemptLimiter, ClientAddressResolver, RequestInfo, TemplatedApp } from '@gw/uws';
import { registerDashboardRoutes } from './dashboard/index.js';
import { processOf } from './loops/loop-env.js';

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
 * Stats fields that do not add up. Over one node's event loops: every loop caches the same quotes, and a count
 * of distinct subscribed targets cannot be summed (two loops' clients may want the same stock), so the node
 * reports the largest loop's, a lower bound of the true figure that is exact when the loops serve the same
 * targets. Over loops and nodes alike: an uptime is the oldest process's, a start time the earliest.
 */
const TIME_RULES: Readonly<Record<string, MergeRule>> = { uptime: 'max', uptime_s: 'max', started_at: 'min', start_time: 'min' };
const NODE_STATS_RULES: Readonly<Record<string, MergeRule>> = {
  ...TIME_RULES,
  quoted_stocks: 'max',
  total_targets: 'max',
  strategy_targets: 'max',
  stock_targets: 'max',
  market_targets: 'max',
};

/** One node's stats from its loops' (counters and open counts summed, `NODE_STATS_RULES` for the rest). */
export function mergeNodeStats(answers: readonly Record<string, unknown>[]): Record<string, unknown> {
  return mergeTree(answers, { rules: NODE_STATS_RULES }) as Record<string, unknown>;
}

/** The cluster's stats from its nodes' (summed as before multi-loop nodes existed, times excepted). */
export function mergeClusterStats(answers: readonly Record<string, unknown>[]): Record<string, unknown> {
  return (mergeTree(answers, { rules: TIME_RULES }) ?? {}) as Record<string, unknown>;
}

/** A registry's `getMetricsAsJSON()`: what each member answers to `metrics`. */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/**
 * Figures of one process that no merge keeps: prom-client would average the processes' event-loop delay
 * percentiles, so one saturated loop would read as half as late beside an idle one. They keep one series per
 * process, labelled `process` (see {@link processOf}).
 */
const PER_PROCESS_FAMILY = /^nodejs_eventloop_lag_/;

/**
 * One exposition for the whole node from its members' `getMetricsAsJSON()`, merged by prom-client's
 * aggregator (counters and histograms summed, gauges by their `aggregator` setting). A member whose `node`
 * label names itself (its member id) is relabelled with the node, so the members' series merge; the event-loop
 * lag families get the member's `process` label instead of being merged.
 */
async function renderNodeMetrics(nodeId: string, members: readonly string[], answer: MetricsJson): Promise<{ contentType: string; body: string }> {
  const memberIds = new Set(members);
  const relabelled = answer.map((family) => {
    const perProcess = PER_PROCESS_FAMILY.test(family.name);
    return {
      ...family,
      values: family.values.map((value) => {
        const node = value.labels['node'];
        if (typeof node !== 'string' || !memberIds.has(node)) {
          return value;
        }
        const labels = perProcess ? { ...value.labels, node: nodeId, process: processOf(nodeId, node) } : { ...value.labels, node: nodeId };
        return { ...value, labels };
      }),
    };
  });
  const registry = AggregatorRegistry.aggregate([relabelled]);
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * Liveness, readiness, metrics, the cross-protocol views and the home page: the routes every gateway has,
 * whatever its adapters. `GET /api/websocket/stats` keeps the legacy stock service's shape (its top-level
 * blocks come from the adapter that provides them) plus `protocols`, fed by each adapter's stats.
 */
export function registerSystemRoutes(app: TemplatedApp, deps: SystemRouteDeps): void {
  const startedAt = Date.now();
  const { nodeId } = deps.cluster;
  // A node of several processes (event loops): its node-local views ask every member through the bus. One
  // process keeps answering those from memory, synchronously.
  const multiMember = deps.cluster.memberId !== nodeId;

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
      return { status: 200, body: { status: 'ready', node_id: nodeId, checks } };
    }
    return {
      status: 503,
      body: { code: 503, message: `not ready: ${reason.replace('_', ' ')}`, error: reason, node_id: nodeId, checks },
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
  deps.cluster.provide('stats', localStats, mergeNodeStats);
  deps.cluster.provide('clients', () => deps.clients.describe());
  const ownMetrics = async (): Promise<MetricsJson> => (await deps.metrics.registry?.getMetricsAsJSON()) ?? [];
  deps.cluster.provide('metrics', ownMetrics);

  /**
   * This node's answer to `kind` over all its members; this process's own when the bus cannot be asked (the
   * local views stay up through a bus outage, as with one process).
   */
  const nodeWide = async <T>(kind: string, own: () => T | Promise<T>): Promise<{ answer: T; members: string[] }> => {
    try {
      const { answer, members, missing } = await deps.cluster.gatherNode<T>(kind);
      if (missing.length > 0) {
        deps.logger.warn({ kind, missing }, 'node-wide view without some of its members (no answer in time)');
      }
      return { answer: answer ?? (await own()), members };
    } catch (error) {
      deps.logger.warn({ err: error, kind }, 'node-wide view from this process alone (bus unavailable)');
      return { answer: await own(), members: [deps.cluster.memberId] };
    }
  };

  route(app, deps, 'get', '/api/websocket/stats', async (request) => {
    if (!clusterScope(request)) {
      const data = multiMember ? (await nodeWide('stats', localStats)).answer : localStats();
      return { status: 200, body: { code: 200, message: '获取统计信息成功', data } };
    }
    checkAdmin(request, deps);
    const { answers, missing } = await deps.cluster.gather<Record<string, unknown>>('stats');
    const data = {
      ...mergeClusterStats(answers.map((a) => a.answer)),
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
        const clients = multiMember ? (await nodeWide('clients', () => deps.clients.describe())).answer : deps.clients.describe();
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
      return { status: 200, body: { code: 200, node_id: nodeId, count: nodes.length, nodes } };
    },
    { admin: true },
  );

  route(app, deps, 'get', '/metrics', async () => {
    if (!multiMember) {
      const { contentType, body } = await renderMetrics(deps.metrics);
      return { status: 200, contentType, body };
    }
    const { answer, members } = await nodeWide<MetricsJson>('metrics', ownMetrics);
    const { contentType, body } = await renderNodeMetrics(nodeId, members, answer);
    return { status: 200, contentType, body };
  });

  registerDashboardRoutes(app, { logger: deps.logger, metrics: deps.metrics, distDir: deps.dashboardDir });

  // uWS matches specific routes before wildcards, so this only answers what no route claims.
  route(app, deps, 'any', '/*', (request) => {
    throw new GatewayError('not_found', { message: `no route for ${request.method} ${request.path}` });
  });
}
