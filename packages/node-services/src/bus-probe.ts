import type { Bus, Subscription } from '@gw/bus';
import type { GatewayMetrics } from '@gw/metrics';

export interface BusProbeOptions {
  bus: Bus;
  metrics: GatewayMetrics;
  /** How often the probe is published. */
  intervalMs: number;
  /** Readiness fails when no probe came back for this long, although the bus says "connected". */
  maxLagMs: number;
}

export interface BusProbe {
  /**
   * The bus's round trip in milliseconds, as measured by the probes themselves: a probe's receive time minus the
   * send time it carries. The figure is the largest round trip among the probes that came back during the last
   * probe interval (the last one measured, if none came back since; 0 before the first). Taking the largest
   * matters after a stall: the probes held meanwhile come back in one burst, oldest first, and only the oldest
   * shows how long the bus held them. It is never an age: a probe that has not come back yet measures nothing,
   * which is `healthy()`'s job.
   */
  lagMs(): number;
  /** True while the bus is connected and some probe came back within the last `maxLagMs` (the readiness rule). */
  healthy(): boolean;
  stop(): Promise<void>;
}

/**
 * Proves the bus carries messages, not just that its connection is up: the node publishes a probe carrying its
 * send time on its own topic every interval and measures the round trip when it comes back. The round trip
 * includes the bus itself (Redis and both connections) and the event-loop queueing of the receive callback.
 * Exported as `gateway_bus_lag_seconds` (updated when probes come back and at each interval), and the age of the
 * last probe back as `gateway_bus_probe_age_seconds` (at each interval), which is what alerts on a stall watch.
 *
 * Two figures, two jobs: the round trip (`lagMs`) says how slow the bus is when it delivers; the age of the last
 * probe back is only the readiness rule (`healthy`), so a pub/sub connection that is "connected" but delivers
 * nothing (a wedged Redis subscriber, a full output buffer) takes the node out of the load balancer after
 * `maxLagMs`, and its held probes show as a large round trip once they arrive.
 */
export async function startBusProbe(options: BusProbeOptions): Promise<BusProbe> {
  const { bus, metrics } = options;
  const topic = `cluster.probe.${bus.nodeId}`;
  let lastReceived = Date.now();
  /** What `lagMs()` answers (see there). */
  let reportedMs = 0;
  /** The largest round trip of the probes back since the last interval tick; undefined when none came back. */
  let windowMaxMs: number | undefined;
  const subscription: Subscription = await bus.subscribe<number>(topic, (message) => {
    const now = Date.now();
    lastReceived = now;
    if (typeof message.data !== 'number' || !Number.isFinite(message.data)) {
      return;
    }
    const roundTripMs = Math.max(0, now - message.data);
    windowMaxMs = Math.max(windowMaxMs ?? 0, roundTripMs);
    // A slower probe shows at once; a faster one waits for the tick, so a burst's worst is not overwritten.
    if (roundTripMs > reportedMs) {
      reportedMs = roundTripMs;
      metrics.busLag(reportedMs / 1000);
    }
  });
  const send = (): void => {
    bus.publish(topic, Date.now()).catch(() => undefined);
  };
  const timer = setInterval(() => {
    if (windowMaxMs !== undefined) {
      reportedMs = windowMaxMs;
      windowMaxMs = undefined;
    }
    metrics.busLag(reportedMs / 1000);
    metrics.busProbeAge((Date.now() - lastReceived) / 1000);
    send();
  }, options.intervalMs);
  timer.unref();
  send();
  return {
    lagMs: () => reportedMs,
    healthy: () => bus.state === 'connected' && Date.now() - lastReceived <= options.maxLagMs,
    stop: async () => {
      clearInterval(timer);
      await subscription.unsubscribe().catch(() => undefined);
    },
  };
}
