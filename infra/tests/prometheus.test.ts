// Prometheus configuration and alert rules, checked by promtool (Debian's `prometheus` package) and against the
// metric names of a real registry.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { familyOf, metricFamilies, referencedMetricNames } from './support/metrics.js';
import { INFRA_DIR, run } from './support/processes.js';

const dir = `${INFRA_DIR}prometheus`;

/** The alerts the deployment promises (docs/runbook.md): each must exist in alerts.yml and be unit-tested. */
const REQUIRED_ALERTS = [
  'GatewayConnectionsDropped',
  'GatewayBusDisconnected',
  'GatewayDeliveryLatencyP99High',
  'GatewaySourceErrors',
  'GatewaySlowConsumerDisconnects',
  'GatewayBackpressureDrops',
];

interface RuleFile {
  groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
}

interface RuleTestFile {
  tests: { input_series: { series: string }[]; alert_rule_test?: { alertname: string }[] }[];
}

function readYaml(file: string): unknown {
  return parse(readFileSync(`${dir}/${file}`, 'utf8'));
}

describe('infra/prometheus', () => {
  it('promtool check config accepts prometheus.yml (and the rule files it names)', async () => {
    const result = await run('promtool', ['check', 'config', 'prometheus.yml'], { cwd: dir });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 1 rule files found');
  });

  it('promtool check rules accepts alerts.yml', async () => {
    const result = await run('promtool', ['check', 'rules', 'alerts.yml'], { cwd: dir });
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it('promtool test rules passes the unit tests of the alerts', async () => {
    const result = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: dir });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('has every required alert, and each alert of alerts.yml has a unit test', () => {
    const alerts = (readYaml('alerts.yml') as RuleFile).groups.flatMap((group) => group.rules.flatMap((rule) => rule.alert ?? []));
    const tested = new Set(
      (readYaml('alerts.test.yml') as RuleTestFile).tests.flatMap((test) => (test.alert_rule_test ?? []).map((t) => t.alertname)),
    );
    expect(alerts).toEqual(expect.arrayContaining(REQUIRED_ALERTS));
    expect(alerts.filter((alert) => !tested.has(alert))).toEqual([]);
  });

  it('has a docs/runbook.md entry for each alert, and none for an alert that no longer exists', () => {
    const alerts = (readYaml('alerts.yml') as RuleFile).groups.flatMap((group) => group.rules.flatMap((rule) => rule.alert ?? []));
    const runbook = readFileSync(`${INFRA_DIR}../docs/runbook.md`, 'utf8');
    const entries = [...runbook.matchAll(/^## (\w+) \((?:critical|warning)\)$/gm)].map((match) => match[1]);
    expect(entries.sort()).toEqual([...alerts].sort());
    for (const alert of alerts) {
      const section = runbook.split(`## ${alert} `)[1]?.split('\n## ')[0] ?? '';
      expect(section, alert).toMatch(/\*\*Means:\*\*[\s\S]+\*\*Confirm:\*\*[\s\S]+\*\*Do:\*\*/);
    }
  });

  it('uses only metric names the gateway exports, in the rules and in the test series', async () => {
    const families = await metricFamilies();
    const rules = readFileSync(`${dir}/alerts.yml`, 'utf8');
    const series = (readYaml('alerts.test.yml') as RuleTestFile)
      .tests.flatMap((test) => test.input_series.map((s) => s.series))
      .join('\n');
    const used = [...referencedMetricNames(rules), ...referencedMetricNames(series)];
    expect(used.length).toBeGreaterThan(5);
    expect(used.filter((name) => familyOf(name, families) === undefined)).toEqual([]);
  });

  it('scrapes both gateways on their client port and every worker on METRICS_PORT, as docker-compose.yml runs them', () => {
    const config = readYaml('prometheus.yml') as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    const targetsOf = (job: string): string[] =>
      config.scrape_configs.filter((c) => c.job_name === job).flatMap((c) => c.static_configs.flatMap((s) => s.targets));
    const compose = parse(readFileSync(`${INFRA_DIR}docker-compose.yml`, 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string>; command?: string[] }>;
    };
    const expected = (kind: 'gateway' | 'worker'): string[] =>
      Object.entries(compose.services)
        .filter(([name]) => name.startsWith(`${kind}-`))
        .map(([name, service]) => `${name}:${service.environment?.[kind === 'gateway' ? 'PORT' : 'METRICS_PORT'] ?? '?'}`);
    expect(targetsOf('gateway').sort()).toEqual(expected('gateway').sort());
    expect(targetsOf('worker').sort()).toEqual(expected('worker').sort());
  });
});
