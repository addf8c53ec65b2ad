import type { Bus, Subscription } from '@gw/bus';
import type { GatewayMetrics } from '@gw/metrics';

export interface BusProbeOptions {
  bus: Bus;
  metrics: GatewayMetrics;
  /** How often the probe is published. */
  intervalMs: number;
  /** Lag past which the node is not ready although the bus says "connected". */
  maxLagMs: number;
}

export interface BusProbe {
  /**
   * The bus's round trip in milliseconds: the last probe's receive time minus its send time, or, while a probe
   * is overdue, how long the oldest unanswered one has been out (so a bus that stopped delivering shows growing
   * lag rather than its last good figure).
   */
  lagMs(): number;
  /** True while the bus is connected and a probe came back within `maxLagMs` (the readiness rule). */
  healthy(): boolean;
  stop(): Promise<void>;
}

/**
 * Proves the bus carries messages, not just that its connection is up: the node publishes a probe carrying its
 * send time on its own topic every interval and measures the round trip when it comes back. A pub/sub
 * connection that is "connected" but delivers nothing (a wedged Redis subscriber, a full output buffer) shows
 * as growing lag, and as not ready once no probe came back for `maxLagMs`, so a load balancer stops sending
 * clients here. Exported as `gateway_bus_lag_seconds`.
 */
export async function startBusProbe(options: BusProbeOptions): Promise<BusProbe> {
  const { bus, metrics } = options;
  const topic = `cluster.probe.${bus.nodeId}`;
  let lastReceived = Date.now();
  let lastRoundTripMs = 0;
  /** Send time of the oldest probe not back yet (probes come back in order on one topic). */
  let oldestOutstanding: number | undefined;
  const subscription: Subscription = await bus.subscribe<number>(topic, (message) => {
    const now = Date.now();
    lastReceived = now;
    if (typeof message.data === 'number' && Number.isFinite(message.data)) {
      lastRoundTripMs = Math.max(0, now - message.data);
    }
    oldestOutstanding = undefined;
  });
  const lagMs = (): number => {
    const overdue = oldestOutstanding === undefined ? 0 : Date.now() - oldestOutstanding;
    return Math.max(lastRoundTripMs, overdue);
  };
  const send = (): void => {
    const sentAt = Date.now();
    oldestOutstanding ??= sentAt;
    bus.publish(topic, sentAt).catch(() => undefined);
  };
  const timer = setInterval(() => {
    metrics.busLag(lagMs() / 1000);
    send();
  }, options.intervalMs);
  timer.unref();
  send();
  return {
    lagMs,
    healthy: () => bus.state === 'connected' && Date.now() - lastReceived <= options.maxLagMs,
    stop: async () => {
      clearInterval(timer);
      await subscription.unsubscribe().catch(() => undefined);
    },
  };
}
