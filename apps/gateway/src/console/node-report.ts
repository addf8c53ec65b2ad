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
  /** The node this process belongs to (one of its event loops, or the whole node). */
  nodeId: string;
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
    node_id: deps.nodeId,
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

const BUS_STATE_RANK: Record<string, number> = { connected: 0 };

function sumRecords(records: readonly Record<string, number>[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const record of records) {
    for (const [key, value] of Object.entries(record)) {
      add(total, key, value);
    }
  }
  return total;
}

/**
 * The reports of one node's processes (its event loops and their supervisor) as one: counters and histograms
 * summed, the earliest start, draining if any process drains, the worst bus state and the largest lag, and
 * every process's sources.
 */
export function mergeNodeReports(reports: readonly NodeReport[]): NodeReport {
  const [first] = reports;
  if (first === undefined) {
    throw new TypeError('mergeNodeReports: no report');
  }
  const protocols: Record<string, ProtocolFigures> = {};
  for (const name of new Set(reports.flatMap((r) => Object.keys(r.protocols)))) {
    const parts = reports.flatMap((r) => (r.protocols[name] === undefined ? [] : [r.protocols[name]]));
    const sum = (pick: (p: ProtocolFigures) => number): number => parts.reduce((total, p) => total + pick(p), 0);
    protocols[name] = {
      connections: sum((p) => p.connections),
      opened: sum((p) => p.opened),
      messages_sent: sum((p) => p.messages_sent),
      messages_received: sum((p) => p.messages_received),
      subscriptions: sum((p) => p.subscriptions),
      auth_failures: sumRecords(parts.map((p) => p.auth_failures)),
      errors: sumRecords(parts.map((p) => p.errors)),
      closes: sumRecords(parts.map((p) => p.closes)),
      backpressure_dropped: sum((p) => p.backpressure_dropped),
      backpressure_disconnects: sum((p) => p.backpressure_disconnects),
      latency: { count: sum((p) => p.latency.count), sum: sum((p) => p.latency.sum), buckets: sumRecords(parts.map((p) => p.latency.buckets)) },
    };
  }
  const worstBus = reports.reduce((worst, r) => ((BUS_STATE_RANK[r.bus.state] ?? 1) > (BUS_STATE_RANK[worst.bus.state] ?? 1) ? r : worst), first);
  return {
    node_id: first.node_id,
    started_at: reports.map((r) => r.started_at).sort()[0] ?? first.started_at,
    draining: reports.some((r) => r.draining),
    bus: {
      kind: first.bus.kind,
      state: worstBus.bus.state,
      lag_ms: Math.max(...reports.map((r) => r.bus.lag_ms)),
      reconnects: reports.reduce((total, r) => total + r.bus.reconnects, 0),
      published: reports.reduce((total, r) => total + r.bus.published, 0),
    },
    protocols,
    sources: reports.flatMap((r) => r.sources),
  };
}
