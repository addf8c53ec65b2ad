import { checkAdminToken } from '@gw/auth';
import type { Bus } from '@gw/bus';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { formatShanghaiTime, stockTopics } from '@gw/topics';
import type { PricePushRequest } from '@gw/topics';
import { route } from '@gw/uws';
import { sumNumericTree } from '@gw/uws';
import type { ClientDescription, ClientRegistry, ClusterView, ProtocolStats, RequestInfo, TemplatedApp } from '@gw/uws';
import type { StockHub } from './hub.js';

export interface StockRouteDeps {
  app: TemplatedApp;
  bus: Bus;
  hub: StockHub;
  clients: ClientRegistry;
  metrics: GatewayMetrics;
  logger: Logger;
  adminToken: string | undefined;
  protocolStats: () => Record<string, ProtocolStats>;
  cluster: ClusterView;
}

/** `?scope=cluster`: every live gateway node (through the bus); anything else: this node. */
function clusterScope(request: RequestInfo): boolean {
  return request.query.get('scope') === 'cluster';
}

function requireAdmin(request: RequestInfo, adminToken: string | undefined): void {
  if (!checkAdminToken(request.headers.get('authorization'), adminToken)) {
    throw new GatewayError('unauthorized', { message: 'admin token required: Authorization: Bearer <ADMIN_TOKEN>' });
  }
}

/** `?strategy=NAME`: required; 404 for a strategy this gateway does not serve. */
function strategyParam(request: RequestInfo, hub: StockHub): string {
  const strategy = request.query.get('strategy')?.trim() ?? '';
  if (strategy === '') {
    throw new GatewayError('bad_request', { message: 'the strategy query parameter is required (e.g. ?strategy=volume_wave)' });
  }
  if (!hub.hasStrategy(strategy)) {
    throw new GatewayError('not_found', {
      message: `unknown strategy "${strategy}" (known: ${hub.strategies.join(', ')})`,
      details: { strategy },
    });
  }
  return strategy;
}

/**
 * The REST side of the stock protocol (seed 004):
 * - `GET /api/websocket/stats`: the legacy blocks (this protocol's numbers) plus `protocols` (every protocol);
 * - `GET /api/websocket/clients` (admin): every connected client of every protocol;
 * - `POST /api/websocket/push/prices?strategy=NAME` (admin): push the strategy's prices to its subscribers on
 *   every gateway of the cluster (through the bus) now;
 * - `GET /api/signals/buy?strategy=NAME`: the strategy's buy list with current prices, from the cached latest
 *   values (nothing is computed per request).
 */
export function registerStockRoutes(deps: StockRouteDeps): void {
  const { app, hub } = deps;

  const localStats = (): Record<string, unknown> => ({ ...hub.legacyStats(), protocols: deps.protocolStats() });
  deps.cluster.provide('stats', localStats);
  deps.cluster.provide('clients', () => deps.clients.describe());

  route(app, deps, 'get', '/api/websocket/stats', async (request) => {
    if (!clusterScope(request)) {
      return { status: 200, body: { code: 200, message: '获取统计信息成功', data: localStats() } };
    }
    const { answers, missing } = await deps.cluster.gather<Record<string, unknown>>('stats');
    const data = {
      ...(sumNumericTree(answers.map((a) => a.answer)) as Record<string, unknown>),
      scope: 'cluster',
      nodes: answers.map((a) => a.node_id).sort(),
      missing_nodes: missing,
    };
    return { status: 200, body: { code: 200, message: '获取统计信息成功', data } };
  });

  route(app, deps, 'get', '/api/websocket/clients', async (request) => {
    requireAdmin(request, deps.adminToken);
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
  });

  route(app, deps, 'post', '/api/websocket/push/prices', async (request) => {
    requireAdmin(request, deps.adminToken);
    const strategy = strategyParam(request, hub);
    const now = Date.now();
    const stocks = hub.priceUpdate(hub.codesOf('strategy', strategy), now)?.count ?? 0;
    const localSubscribers = hub.subscribersOf(strategy);
    const push: PricePushRequest = { strategy, requested_ms: now };
    await deps.bus.publish(stockTopics.push, push);
    deps.logger.info({ strategy, stocks, localSubscribers }, 'manual price push');
    return {
      status: 200,
      body: {
        code: 200,
        message: '价格推送成功',
        data: { strategy, stocks, subscribers: localSubscribers, timestamp: formatShanghaiTime(now) },
      },
    };
  });

  route(app, deps, 'get', '/api/signals/buy', (request) => {
    const strategy = strategyParam(request, hub);
    const list = hub.buyList(strategy);
    const signals = (list?.stocks ?? []).map((entry) => {
      const quote = hub.quotes.get(entry.code)?.quote;
      return {
        code: entry.code,
        name: entry.name,
        market: entry.market,
        price: quote?.price ?? null,
        change: quote?.change ?? null,
        change_percent: quote?.change_percent ?? null,
        volume: quote?.volume ?? null,
        timestamp: quote?.timestamp ?? null,
        signal_time: entry.signal_time,
        signal_price: entry.signal_price,
        volume_ratio: entry.volume_ratio,
      };
    });
    return {
      status: 200,
      body: {
        code: 200,
        message: '获取买入信号成功',
        data: {
          strategy,
          count: signals.length,
          updated_at: list === undefined ? null : formatShanghaiTime(list.updated_ms),
          signals,
        },
      },
    };
  });
}
