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
  /** Milliseconds since this node last received its own probe back from the bus. */
  lagMs(): number;
  /** True while probes come back in time. */
  healthy(): boolean;
  stop(): Promise<void>;
}

/**
 * Proves the bus carries messages, not just that its connection is up: the node publishes a probe on its own
 * topic every interval and measures how long ago one came back. A pub/sub connection that is "connected" but
 * delivers nothing (a wedged Redis subscriber, a full output buffer) shows as growing lag, which readiness
 * reports so a load balancer stops sending clients here. Exported as `gateway_bus_lag_seconds`.
 */
export async function startBusProbe(options: BusProbeOptions): Promise<BusProbe> {
  const { bus, metrics } = options;
  const topic = `cluster.probe.${bus.nodeId}`;
  let lastReceived = Date.now();
  const subscription: Subscription = await bus.subscribe(topic, () => {
    lastReceived = Date.now();
  });
  const lagMs = (): number => Math.max(0, Date.now() - lastReceived);
  const timer = setInterval(() => {
    metrics.busLag(lagMs() / 1000);
    bus.publish(topic, Date.now()).catch(() => undefined);
  }, options.intervalMs);
  timer.unref();
  bus.publish(topic, Date.now()).catch(() => undefined);
  return {
    lagMs,
    healthy: () => bus.state === 'connected' && lagMs() <= options.maxLagMs,
    stop: async () => {
      clearInterval(timer);
      await subscription.unsubscribe().catch(() => undefined);
    },
  };
}
