import type { Bus } from '@gw/bus';
import type { GatewayMetrics } from '@gw/metrics';
import type { SourceStatus } from '@gw/node-services';

/** A cumulative histogram: upper bound (as Prometheus writes it, `+Inf` last) → observations at or below it. */
export interface HistogramFigures {
  count: number;
  sum: number;
  buckets: Record<string, number>;
}

/** One protocol's numbers on one node, read from its metrics registry (the figures `/metrics` exports). */
export interface ProtocolFigures {
  connections: number;
  opened: number;
  messages_sent: number;
  messages_received: number;
  subscriptions: number;
  /** `gateway_auth_failures_total` by reason. */
  auth_failures: Record<string, number>;
  /** `gateway_client_errors_total` by code. */
  errors: Record<string, number>;
  /** `gateway_connections_closed_total` by close code (WebSocket) or disconnect reason (Socket.IO). */
  closes: Record<string, number>;
  backpressure_dropped: number;
  backpressure_disconnects: number;
  latency: HistogramFigures;
}

/** What one gateway node answers the console's question with. */
export interface NodeReport {
  node_id: string;
  started_at: string;
  draining: boolean;
  bus: { kind: string; state: string; lag_ms: number; reconnects: number; published: number };
  protocols: Record<string, ProtocolFigures>;
  /** The sources this gateway runs itself. */
  sources: SourceStatus[];
}

export interface NodeReportDeps {
  bus: Bus;
  metrics: GatewayMetrics;
  startedAt: string;
  lifecycle: { readonly draining: boolean };
  sources: () => SourceStatus[];
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

function emptyProtocol(): ProtocolFigures {
  return {
    connections: 0,
    opened: 0,
    messages_sent: 0,
    messages_received: 0,
    subscriptions: 0,
    auth_failures: {},
    errors: {},
    closes: {},
    backpressure_dropped: 0,
    backpressure_disconnects: 0,
    latency: { count: 0, sum: 0, buckets: {} },
  };
}

/** `record[key] += value`, starting at 0. */
function add(record: Record<string, number>, key: string, value: number): void {
  record[key] = (record[key] ?? 0) + value;
}

/**
 * This node's numbers for the operator console, read from the same registry `GET /metrics` renders, so the
 * console and a Prometheus scrape never disagree. Counters stay counters: the page turns successive
 * snapshots into rates.
 */
export async function nodeReport(deps: NodeReportDeps): Promise<NodeReport> {
  const families = (await deps.metrics.registry?.getMetricsAsJSON()) ?? [];
  const samples = new Map<string, Sample[]>(families.map((family) => [family.name, family.values as Sample[]]));
  const protocols: Record<string, ProtocolFigures> = {};
  const protocolOf = (sample: Sample): ProtocolFigures => {
    const name = String(sample.labels['protocol'] ?? 'unknown');
    return (protocols[name] ??= emptyProtocol());
  };
  const each = (family: string, apply: (sample: Sample, figures: ProtocolFigures) => void): void => {
    for (const sample of samples.get(family) ?? []) {
      apply(sample, protocolOf(sample));
    }
  };
  each('gateway_connections', (s, p) => (p.connections += s.value));
  each('gateway_connections_opened_total', (s, p) => (p.opened += s.value));
  each('gateway_messages_sent_total', (s, p) => (p.messages_sent += s.value));
  each('gateway_messages_received_total', (s, p) => (p.messages_received += s.value));
  each('gateway_subscriptions', (s, p) => (p.subscriptions += s.value));
  each('gateway_auth_failures_total', (s, p) => {
    add(p.auth_failures, String(s.labels['reason']), s.value);
  });
  each('gateway_connections_closed_total', (s, p) => {
    add(p.closes, String(s.labels['code']), s.value);
  });
  each('gateway_client_errors_total', (s, p) => {
    add(p.errors, String(s.labels['code']), s.value);
  });
  each('gateway_backpressure_dropped_total', (s, p) => (p.backpressure_dropped += s.value));
  each('gateway_backpressure_disconnects_total', (s, p) => (p.backpressure_disconnects += s.value));
  each('gateway_delivery_latency_seconds', (s, p) => {
    if (s.metricName?.endsWith('_bucket') === true) {
      add(p.latency.buckets, String(s.labels['le']), s.value);
    } else if (s.metricName?.endsWith('_count') === true) {
      p.latency.count += s.value;
    } else if (s.metricName?.endsWith('_sum') === true) {
      p.latency.sum += s.value;
    }
  });

  const total = (family: string): number => (samples.get(family) ?? []).reduce((sum, sample) => sum + sample.value, 0);
  return {
    node_id: deps.bus.nodeId,
    started_at: deps.startedAt,
    draining: deps.lifecycle.draining,
    bus: {
      kind: deps.bus.kind,
      state: deps.bus.state,
      lag_ms: Math.round(total('gateway_bus_lag_seconds') * 1000),
      reconnects: total('gateway_bus_reconnects_total'),
      published: total('gateway_bus_messages_published_total'),
    },
    protocols,
    sources: deps.sources(),
  };
}
