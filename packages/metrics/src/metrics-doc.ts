import { Registry } from 'prom-client';
import { DEFAULT_METRICS_PREFIX, createPromMetrics } from './prom.js';

interface DocumentedMetric {
  name: string;
  type: string;
  labels: readonly string[];
  help: string;
}

/** Every metric a gateway or worker exports, read from a registry built the way the processes build theirs. */
async function registeredMetrics(): Promise<DocumentedMetric[]> {
  const metrics = createPromMetrics({ registry: new Registry() });
  const registry = metrics.registry;
  if (registry === undefined) {
    throw new Error('createPromMetrics returned no registry');
  }
  // Label names are declared on the metric objects; the JSON export only lists labels of observed series.
  const labelsOf = new Map(
    registry.getMetricsAsArray().map((metric) => [metric.name, (metric as unknown as { labelNames?: string[] }).labelNames ?? []]),
  );
  const families = await registry.getMetricsAsJSON();
  return families.map((family) => ({
    name: family.name,
    type: String(family.type),
    labels: labelsOf.get(family.name) ?? [],
    help: family.help,
  }));
}

/** A Markdown table cell: pipes would end the cell, and line breaks the row. */
function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function table(metrics: readonly DocumentedMetric[]): string {
  const rows = metrics.map(
    (m) => `| \`${m.name}\` | ${m.type} | ${m.labels.length === 0 ? '—' : m.labels.map((l) => `\`${l}\``).join(', ')} | ${cell(m.help)} |`,
  );
  return ['| metric | type | labels | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** The text of docs/metrics.md: every metric with its type, labels and meaning, generated from the registry. */
export async function metricsDoc(): Promise<string> {
  const metrics = await registeredMetrics();
  const own = metrics.filter((m) => m.name.startsWith(DEFAULT_METRICS_PREFIX));
  const standard = metrics.filter((m) => !m.name.startsWith(DEFAULT_METRICS_PREFIX));
  return `# Metrics

Every gateway serves \`GET /metrics\` on its client ports, every worker on \`METRICS_PORT\` (default 9464), in the
Prometheus text format. Both export the same families: a worker's connection and delivery series stay at zero,
a gateway's source series count the sources it runs itself.

Every series carries the label \`node\`: the process's \`NODE_ID\` (by default \`<hostname>-<random>\` for a
gateway, \`worker-<hostname>-<random>\` for a worker). Prometheus adds \`job\` and \`instance\` when it scrapes.
Histograms export \`_bucket\`, \`_sum\` and \`_count\` series; counters end in \`_total\`.

The alerts built on these metrics, and what to do when one fires, are in [runbook.md](runbook.md).

This file is generated from the registry: \`pnpm --filter @gw/metrics -s metrics-doc > docs/metrics.md\` (a test
checks it is current).

## Gateway metrics (\`${DEFAULT_METRICS_PREFIX}*\`)

Label values are bounded: \`protocol\` is one of \`socketio\`, \`stock\`, \`signals\` (and \`http\` for the REST
API); \`type\`, \`reason\`, \`code\`, \`kind\`, \`source\` and \`route\` come from the gateway's own code (route
patterns, never raw paths), never from what a client sends.

${table(own)}

## What each latency figure includes

All of them are taken with \`Date.now()\` (milliseconds); where the two ends are stamped by different processes,
clock skew between their hosts adds to the figure (a negative difference counts as 0).

- \`gateway_delivery_latency_seconds\`, one observation per message per fan-out, per protocol.
  - Starts at the envelope's \`publishedAt\`, stamped by the publisher when it hands the message to the bus: a
    source or worker when it publishes what a poll or an upstream event gave; \`POST /api/signals\` and the stock
    manual push (\`POST /api/websocket/push/prices\`) at the request's arrival, when uWS hands the route its
    headers, before the body is read and validated (the time travels with the message to every gateway).
  - Ends when the gateway has handed the last write of the fan-out to the sockets. \`app.publish\` to the uWS
    topics (signals, the Socket.IO rooms, the stock manual push) only queues the message: uWS writes it to every
    subscriber's socket after the publishing JavaScript returns, tens of milliseconds of system calls for
    thousands of subscribers; the time is taken after those writes (\`AfterPublishWrites\` in \`@gw/uws\`, one
    \`setImmediate\` per turn). A stock interval flush is measured after the last connection was written (a flush
    spread over several turns of the event loop, after its last turn).
  - Includes the bus (the Redis round trip and both connections), every wait in the receiving gateway's event
    loop before the fan-out runs (the receive callback is queued behind whatever else the loop is doing), the
    stock conflation wait (up to \`STOCK_PUSH_INTERVAL_MS\`, by design) and the fan-out's own work.
  - Excludes what happens after the write call returns: the socket's send buffers, the network to the client, and the client's own queueing and parsing. Snapshots and stored values sent on subscribe are not
    fresh deliveries and are not observed. Event-loop queueing before a publish request's handler runs is not
    seen either (the earliest time a handler can read is its own start).
- \`gateway_source_event_latency_seconds\`: from the upstream event's own timestamp (the exchange's clock) to the
  publish on the bus; the upstream's clock skew adds to it.
- \`gateway_bus_lag_seconds\` (and \`bus_lag_ms\` of \`GET /api/ready\`): the bus probe's round trip, receive time
  minus the send time the probe carries, the largest among the probes back in the last \`BUS_PROBE_INTERVAL_MS\`.
  It includes Redis, both connections and the event-loop queueing of the receive callback; it is never an age.
  A probe that has not come back yet counts only when it arrives (with its whole time out); readiness is the
  separate rule: not ready after \`BUS_MAX_LAG_MS\` without a probe back. That age is exported on its own,
  \`gateway_bus_probe_age_seconds\`: the figure to alert on when a bus stops delivering.
- \`gateway_stock_flush_slice_seconds\`: how long each synchronous step of the stock interval flush held the event
  loop (spreading the changed stocks to their connections, then writing them; each step on its own turn). The
  longest step is the flush's share of the worst event-loop stall; garbage collection during a step counts in it.
- \`nodejs_eventloop_lag_*\` (prom-client's delay monitor, sampling every 10 ms): how late the loop ran the
  monitor's timer, reset at every scrape, so \`_max\` is the longest stall since the previous scrape plus up to the
  10 ms resolution (an idle loop reads about 10 ms). Every delivery above pays this queueing; only
  \`nodejs_eventloop_lag_*\` shows it on its own. A node of several processes (\`LOOPS\` above 1) exports these
  per process, with the label \`process\` (\`loop-0\`, \`loop-1\`, …, \`sources\`): averaging the
  percentiles over processes would show one saturated loop beside an idle one as half as late. Every other family is merged
  over the node's processes (counters and histograms summed, gauges by their usual rule).

## Node.js process metrics (standard names)

prom-client's default metrics, under the names every Node.js dashboard and alert expects. The three
\`nodejs_active_*_total\` gauges keep their standard names although \`promtool check metrics\` reserves \`_total\`
for counters: that is its only remark on a scrape.

${table(standard)}
`;
}

if (process.argv[1]?.endsWith('metrics-doc.ts') === true) {
  process.stdout.write(await metricsDoc());
}
