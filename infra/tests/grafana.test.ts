// The Grafana dashboard: current with its generator, covering every metric family of a real registry, with
// queries that Prometheus's own parser (promtool) accepts, and provisioning that finds it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { DASHBOARD_FILE, renderDashboard } from '../grafana/render.js';
import { familyOf, metricFamilies, referencedMetricNames } from './support/metrics.js';
import { INFRA_DIR, run } from './support/processes.js';

interface PanelJson {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr?: string; refId?: string }[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
  uid: string;
  panels: PanelJson[];
  templating: { list: { name: string; query?: unknown }[] };
};
const queryPanels = dashboard.panels.filter((panel) => panel.type !== 'row');
const expressions = queryPanels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ''));

/**
 * A panel query as Prometheus would receive it: Grafana substitutes its variables before sending, so the test
 * does the same with values of the right shape (a regex for the multi-value variables, a duration).
 */
function asPrometheusQuery(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*');
}

const scratch = mkdtempSync(join(tmpdir(), 'infra-grafana-'));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

describe('infra/grafana', () => {
  it('dashboards/gateway.json is what grafana/dashboard.ts builds (regenerate: pnpm --filter @gw/infra dashboard)', () => {
    expect(readFileSync(DASHBOARD_FILE, 'utf8')).toBe(renderDashboard());
  });

  it('shows every gateway_* metric family of a real registry in some panel', async () => {
    const families = await metricFamilies();
    const shown = new Set(
      [...referencedMetricNames(expressions.join('\n'))].flatMap((name) => familyOf(name, families) ?? []),
    );
    const gatewayFamilies = [...families.keys()].filter((name) => name.startsWith('gateway_'));
    expect(gatewayFamilies.length).toBeGreaterThan(20);
    expect(gatewayFamilies.filter((name) => !shown.has(name))).toEqual([]);
  });

  it('queries only metric names the gateway exports', async () => {
    const families = await metricFamilies();
    const used = [...referencedMetricNames(expressions.join('\n'))];
    expect(used.filter((name) => familyOf(name, families) === undefined)).toEqual([]);
  });

  it('has PromQL that Prometheus parses (every query checked by promtool as a recording rule)', async () => {
    const rules = {
      groups: [
        {
          name: 'dashboard-queries',
          rules: expressions.map((expr, index) => ({ record: `dashboard:query_${index}`, expr: asPrometheusQuery(expr) })),
        },
      ],
    };
    const file = join(scratch, 'dashboard-queries.yml');
    writeFileSync(file, stringify(rules));
    const result = await run('promtool', ['check', 'rules', file], { cwd: scratch });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain(`SUCCESS: ${expressions.length} rules found`);
  });

  it('gives every panel a unique id and the datasource variable, and every query a refId', () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of queryPanels) {
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.targets?.every((target) => typeof target.refId === 'string'), panel.title).toBe(true);
    }
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'job', 'instance']);
  });

  it('is provisioned: the datasource and the dashboard folder match docker-compose.yml', () => {
    const datasources = parse(readFileSync(`${INFRA_DIR}grafana/provisioning/datasources/prometheus.yml`, 'utf8')) as {
      datasources: { type: string; url: string; isDefault?: boolean }[];
    };
    const providers = parse(readFileSync(`${INFRA_DIR}grafana/provisioning/dashboards/gateway.yml`, 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    const compose = parse(readFileSync(`${INFRA_DIR}docker-compose.yml`, 'utf8')) as {
      services: { grafana: { volumes: string[] }; prometheus: { ports: string[] } };
    };
    const prometheus = datasources.datasources.find((source) => source.type === 'prometheus');
    expect(prometheus?.isDefault).toBe(true);
    expect(prometheus?.url).toBe(`http://prometheus:${compose.services.prometheus.ports[0]?.split(':')[1] ?? '?'}`);
    // The folder Grafana reads dashboards from is the one compose mounts infra/grafana/dashboards on.
    expect(compose.services.grafana.volumes).toContain(`./grafana/dashboards:${providers.providers[0]?.options.path ?? '?'}:ro`);
    expect(compose.services.grafana.volumes).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});
