export type { GatewayMetrics, PollResult, Protocol } from './types.js';
export {
  DEFAULT_METRICS_PREFIX,
  DELIVERY_LATENCY_BUCKETS,
  LOOP_BLOCK_BUCKETS,
  REALTIME_PROTOCOLS,
  SOURCE_POLL_BUCKETS,
  createPromMetrics,
} from './prom.js';
export type { PromMetricsOptions } from './prom.js';
export { noopMetrics } from './noop.js';
export { renderMetrics } from './http.js';
export type { RenderedMetrics } from './http.js';
