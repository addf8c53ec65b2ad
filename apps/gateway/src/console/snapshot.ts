import { sumNumericTree } from '@gw/node-services';
import type { ClusterView, SourceStatus, WorkerListing, WorkerRoster } from '@gw/node-services';
import type { NodeReport, ProtocolFigures } from './node-report.js';

/** The question every gateway node answers for the console (through the bus). */
export const NODE_REPORT_KIND = 'console.node';

/**
 * How a source is doing: `down` its process is gone; `failing` its last error is newer than its last
 * publish; `waiting` it has published nothing yet; `ok` otherwise.
 */
export type SourceHealth = 'ok' | 'waiting' | 'failing' | 'down';

/** One source of the cluster, in whichever process runs it. */
export interface SourceRow {
  name: string;
  process: 'gateway' | 'worker';
  node_id: string;
  health: SourceHealth;
  last_publish_age_ms: number | null;
  publishes: number;
  errors: number;
  last_error_kind: string | null;
  /** Accounts or feeds per delivery mode (`stream`, `poll`), for sources that have modes. */
  modes: Record<string, number> | null;
}

/** `GET /api/console/snapshot`: the whole cluster at one moment. */
export interface ConsoleSnapshot {
  /** Epoch milliseconds on the node that answered. */
  generated_at: number;
  /** The node that gathered this snapshot (behind a load balancer, any of them). */
  served_by: string;
  /** One report per gateway node that answered, by node id. */
  nodes: NodeReport[];
  /** Live nodes that did not answer in time: their numbers are missing from `totals`. */
  missing_nodes: string[];
  /** Every protocol's figures summed over `nodes`. */
  totals: Record<string, ProtocolFigures>;
  workers: { worker_id: string; state: 'up' | 'down'; last_seen_age_ms: number; started_at: string | null }[];
  sources: SourceRow[];
}

export function sourceHealth(status: SourceStatus, processUp: boolean): SourceHealth {
  if (!processUp) {
    return 'down';
  }
  if (status.last_error_at !== null && (status.last_publish_at === null || status.last_error_at > status.last_publish_at)) {
    return 'failing';
  }
  return status.last_publish_at === null ? 'waiting' : 'ok';
}

function sourceRow(status: SourceStatus, process: SourceRow['process'], nodeId: string, processUp: boolean, now: number): SourceRow {
  return {
    name: status.name,
    process,
    node_id: nodeId,
    health: sourceHealth(status, processUp),
    last_publish_age_ms: status.last_publish_at === null ? null : Math.max(0, now - status.last_publish_at),
    publishes: status.publishes,
    errors: status.errors,
    last_error_kind: status.last_error_kind,
    modes: status.modes ?? null,
  };
}

/** Asks every gateway node for its report, lists the workers, and puts it together. */
export async function clusterSnapshot(cluster: ClusterView, roster: WorkerRoster, now: () => number = Date.now): Promise<ConsoleSnapshot> {
  const [gathered, workers] = await Promise.all([cluster.gather<NodeReport>(NODE_REPORT_KIND), roster.workers()]);
  const nodes = gathered.answers.map((a) => a.answer).sort((a, b) => a.node_id.localeCompare(b.node_id));
  const at = now();
  const sources = [
    ...nodes.flatMap((node) => node.sources.map((status) => sourceRow(status, 'gateway', node.node_id, true, at))),
    ...workers.flatMap((worker: WorkerListing) =>
      (worker.summary?.sources ?? []).map((status) => sourceRow(status, 'worker', worker.worker_id, worker.state === 'up', at)),
    ),
  ];
  return {
    generated_at: at,
    served_by: cluster.nodeId,
    nodes,
    missing_nodes: gathered.missing,
    totals: (sumNumericTree(nodes.map((node) => node.protocols)) ?? {}) as Record<string, ProtocolFigures>,
    workers: workers.map((worker) => ({
      worker_id: worker.worker_id,
      state: worker.state,
      last_seen_age_ms: Math.max(0, at - worker.last_seen_at),
      started_at: worker.summary?.started_at ?? null,
    })),
    sources,
  };
}
