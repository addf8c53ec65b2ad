import { fileURLToPath } from 'node:url';
import { buildGatewayDashboard } from './dashboard.js';

/** Where Grafana provisioning reads the dashboard (grafana/provisioning/dashboards/gateway.yml points here). */
export const DASHBOARD_FILE = fileURLToPath(new URL('dashboards/gateway.json', import.meta.url));

/** The dashboard file's exact text: the JSON model, two-space indented, one trailing newline. */
export function renderDashboard(): string {
  return `${JSON.stringify(buildGatewayDashboard(), null, 2)}\n`;
}
