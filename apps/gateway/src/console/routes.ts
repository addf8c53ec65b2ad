import type { Bus } from '@gw/bus';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { startWorkerRoster } from '@gw/node-services';
import type { ClusterView, SourceStatus } from '@gw/node-services';
import { route } from '@gw/uws';
import type { TemplatedApp } from '@gw/uws';
import { mergeNodeReports, nodeReport } from './node-report.js';
import { NODE_REPORT_KIND, clusterSnapshot } from './snapshot.js';

export interface ConsoleDeps {
  bus: Bus;
  metrics: GatewayMetrics;
  logger: Logger;
  cluster: ClusterView;
  lifecycle: { readonly draining: boolean };
  /** ISO time this node started. */
  startedAt: string;
  /** The sources this node runs itself. */
  sources: () => SourceStatus[];
  adminToken: string | undefined;
}

/** How long a worker that went down stays on the console (as down) before it is forgotten. */
const FORGET_WORKERS_AFTER_MS = 10 * 60_000;

/**
 * The operator console's data: this node answers the cluster's `console.node` question with its own figures,
 * and `GET /api/console/snapshot` (admin) gathers every node's answer through the bus, so whichever node a
 * load balancer picks answers for the whole cluster. Returns what to stop at shutdown.
 */
export async function registerConsoleRoutes(app: TemplatedApp, deps: ConsoleDeps): Promise<{ stop(): Promise<void> }> {
  deps.cluster.provide(NODE_REPORT_KIND, () => nodeReport({ ...deps, nodeId: deps.cluster.nodeId }), mergeNodeReports);
  const roster = await startWorkerRoster({ bus: deps.bus, forgetAfterMs: FORGET_WORKERS_AFTER_MS });
  route(
    app,
    deps,
    'get',
    '/api/console/snapshot',
    async () => ({ status: 200, headers: { 'cache-control': 'no-store' }, body: await clusterSnapshot(deps.cluster, roster) }),
    { admin: true },
  );
  return { stop: () => roster.stop() };
}
