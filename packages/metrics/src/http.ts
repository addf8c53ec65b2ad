import { Registry } from 'prom-client';
import type { GatewayMetrics } from './types.js';

/** A rendered `GET /metrics` answer, independent of the HTTP server that sends it. */
export interface RenderedMetrics {
  /** The `Content-Type` header: the registry's own (Prometheus text 0.0.4 or OpenMetrics). */
  contentType: string;
  /** The exposition text. */
  body: string;
}

/**
 * Renders the exposition of `metrics.registry` for the `/metrics` route, free of any server library: the
 * gateway and the worker serve it from their own uWS apps.
 *
 * For metrics without a registry (`noopMetrics`) the body is empty with the Prometheus content type, which a
 * scraper reads as "no samples" rather than an error.
 */
export async function renderMetrics(metrics: GatewayMetrics): Promise<RenderedMetrics> {
  const registry = metrics.registry;
  if (registry === undefined) {
    return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: '' };
  }
  return { contentType: registry.contentType, body: await registry.metrics() };
}
