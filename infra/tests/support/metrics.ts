/**
 * The gateway's real metric names, read from a registry built by `createPromMetrics` (the same call the gateway
 * and the worker make), so the deployment files are checked against what the processes export, not a list
 * kept by hand.
 */
import { Registry } from 'prom-client';
import { createPromMetrics } from '@gw/metrics';

/** Metric families by name, with their Prometheus type. */
export async function metricFamilies(): Promise<Map<string, string>> {
  const metrics = createPromMetrics({ registry: new Registry() });
  if (metrics.registry === undefined) {
    throw new Error('createPromMetrics returned no registry');
  }
  const families = await metrics.registry.getMetricsAsJSON();
  return new Map(families.map((family) => [family.name, family.type.toString()]));
}

/**
 * Every metric name of the registry's namespaces written in `text` (PromQL, rule files, test series): the
 * gateway's own `gateway_*` and the standard Node process metrics `process_*` and `nodejs_*`.
 */
export function referencedMetricNames(text: string): Set<string> {
  return new Set(text.match(/\b(?:gateway|process|nodejs)_[a-z0-9_]+/g) ?? []);
}

/**
 * The family a series name belongs to: itself, or for a histogram's `_bucket`, `_sum` and `_count` series, the
 * histogram. Undefined when no family of `families` has it.
 */
export function familyOf(name: string, families: ReadonlyMap<string, string>): string | undefined {
  if (families.has(name)) {
    return name;
  }
  const histogram = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
  return histogram !== undefined && families.get(histogram) === 'histogram' ? histogram : undefined;
}
