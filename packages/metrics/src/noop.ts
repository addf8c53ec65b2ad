import type { GatewayMetrics } from './types.js';

function ignore(): void {
  // Deliberately empty: the no-op implementation counts nothing.
}

/**
 * Metrics that record nothing, for tests and tools that do not look at metrics. `registry` is undefined, so
 * `renderMetrics` answers an empty exposition. Frozen, because it is one shared instance.
 */
export const noopMetrics: GatewayMetrics = Object.freeze({
  registry: undefined,
  connectionOpened: ignore,
  connectionClosed: ignore,
  authFailure: ignore,
  messagesSent: ignore,
  messageReceived: ignore,
  subscriptionAdded: ignore,
  subscriptionRemoved: ignore,
  deliveryLatency: ignore,
  backpressureDropped: ignore,
  backpressureDisconnected: ignore,
  clientError: ignore,
  busConnected: ignore,
  busReconnected: ignore,
  busLag: ignore,
  busProbeAge: ignore,
  busMessagePublished: ignore,
  sourcePoll: ignore,
  sourceError: ignore,
  httpRequest: ignore,
  sourceModeCount: ignore,
  sourceStreamReconnected: ignore,
  stockFlushSlice: ignore,
  sourceEventLatency: ignore,
});
