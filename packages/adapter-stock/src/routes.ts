import type { Bus } from '@gw/bus';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { formatShanghaiTime, stockTopics } from '@gw/topics';
import type { PricePushRequest } from '@gw/topics';
import { route } from '@gw/uws';
import type { RequestInfo, TemplatedApp } from '@gw/uws';
import type { StockHub } from './hub.js';

export interface StockRouteDeps {
  app: TemplatedApp;
  bus: Bus;
  hub: StockHub;
  metrics: GatewayMetrics;
  logger: Logger;
  adminToken: string | undefined;
}

/** `?strategy=NAME`: required; 404 for a strategy this gateway does not serve. */
function strategyParam(request: RequestInfo, hub: StockHub): string {
  const strategy = request.query.get('strategy')?.trim() ?? '';
  if (strategy === '') {
    throw new GatewayError('bad_request', { message: 'the strategy query parameter is required (e.g. ?strategy=volume_wave)' });
  }
  if (!hub.hasStrategy(strategy)) {
    throw new GatewayError('not_found', {
      message: `unknown strategy "${strategy.slice(0, 64)}" (known: ${hub.strategies.join(', ')})`,
      details: { strategy: strategy.slice(0, 64) },
    });
  }
  return strategy;
}

/**
 * The REST side of the stock protocol (the cross-protocol `GET /api/websocket/stats` and
 * `GET /api/websocket/clients` are the gateway's system routes):
 * - `POST /api/websocket/push/prices?strategy=NAME` (admin): push the strategy's prices to its subscribers on
 *   every gateway of the cluster (through the bus) now;
 * - `GET /api/signals/buy?strategy=NAME`: the strategy's buy list with current prices, from the cached latest
 *   values (nothing is computed per request).
 */
export function registerStockRoutes(deps: StockRouteDeps): void {
  const { app, hub } = deps;

  route(
    app,
    deps,
    'post',
    '/api/websocket/push/prices',
    async (request) => {
    // Every gateway measures the push's delivery latency from the request's arrival (it travels as `requested_ms`).
    const requestedAt = request.receivedAt;
    const strategy = strategyParam(request, hub);
    const stocks = hub.priceUpdate(hub.codesOf('strategy', strategy), requestedAt)?.count ?? 0;
    const localSubscribers = hub.subscribersOf(strategy);
    const push: PricePushRequest = { strategy, requested_ms: requestedAt };
    await deps.bus.publish(stockTopics.push, push);
    deps.logger.info({ strategy, stocks, localSubscribers }, 'manual price push');
    return {
      status: 200,
      body: {
        code: 200,
        message: '价格推送成功',
        data: { strategy, stocks, subscribers: localSubscribers, timestamp: formatShanghaiTime(requestedAt) },
      },
    };
    },
    { admin: true },
  );

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
