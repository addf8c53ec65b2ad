/**
 * Writes grafana/dashboards/gateway.json from grafana/dashboard.ts: `pnpm --filter @gw/infra dashboard`.
 * The test `infra/tests/grafana.test.ts` fails when the file and the code differ.
 */
import { writeFileSync } from 'node:fs';
import { DASHBOARD_FILE, renderDashboard } from './render.js';

writeFileSync(DASHBOARD_FILE, renderDashboard());
console.log(`wrote ${DASHBOARD_FILE}`);
