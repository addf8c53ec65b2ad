import type { Bus } from '@gw/bus';
import { GatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import { renderMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import { route } from '@gw/uws';
import type { AttachedAdapter, ClientRegistry, TemplatedApp } from '@gw/uws';
import { homePage } from './home-page.js';

export interface SystemRouteDeps {
  bus: Bus;
  metrics: GatewayMetrics;
  logger: Logger;
  lifecycle: { readonly draining: boolean };
  adapters: readonly AttachedAdapter[];
  clients: ClientRegistry;
}

/** Liveness, readiness, metrics and the home page: the routes every gateway has, whatever its adapters. */
export function registerSystemRoutes(app: TemplatedApp, deps: SystemRouteDeps): void {
  const startedAt = Date.now();

  route(app, deps, 'get', '/api/health', () => ({
    status: 200,
    body: { status: 'ok', uptime_s: Math.round((Date.now() - startedAt) / 1000) },
  }));

  route(app, deps, 'get', '/api/ready', () => {
    const busConnected = deps.bus.state === 'connected';
    const ready = busConnected && !deps.lifecycle.draining;
    const checks = { bus: deps.bus.state, bus_kind: deps.bus.kind, draining: deps.lifecycle.draining };
    if (ready) {
      return { status: 200, body: { status: 'ready', node_id: deps.bus.nodeId, checks } };
    }
    const reason = deps.lifecycle.draining ? 'draining' : 'bus_disconnected';
    return {
      status: 503,
      body: { code: 503, message: `not ready: ${reason.replace('_', ' ')}`, error: reason, checks },
    };
  });

  route(app, deps, 'get', '/metrics', async () => {
    const { contentType, body } = await renderMetrics(deps.metrics);
    return { status: 200, contentType, body };
  });

  route(app, deps, 'get', '/', () => ({
    status: 200,
    contentType: 'text/html; charset=utf-8',
    body: homePage({ nodeId: deps.bus.nodeId, protocols: deps.adapters.map((a) => a.protocol) }),
  }));

  // uWS matches specific routes before wildcards, so this only answers what no route claims.
  route(app, deps, 'any', '/*', (request) => {
    throw new GatewayError('not_found', { message: `no route for ${request.method} ${request.path}` });
  });
}
