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
