import { Registry } from 'prom-client';
import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import { connectLoopBus } from '@gw/bus-loops';
import type { SectionOutput } from '@gw/config';
import type { Logger } from '@gw/core';
import { createPromMetrics } from '@gw/metrics';
import { createSourceActivity, startClusterView } from '@gw/node-services';
import { createBusFromConfig } from '@gw/runtime';
import { runSource } from '@gw/source';
import type { DataSource } from '@gw/source';
import type { GatewayConfig } from '../config.js';
import { mergeNodeReports, nodeReport } from '../console/node-report.js';
import { NODE_REPORT_KIND } from '../console/snapshot.js';

/** What the sources process tells the supervisor once every source runs and the node sees its figures. */
export interface SourcesRunning {
  type: 'sources_running';
}

export function isSourcesRunning(message: unknown): message is SourcesRunning {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'sources_running';
}

export interface NodeSourcesOptions {
  config: GatewayConfig;
  logger: Logger;
  /** The node's id: this process is the member `memberId` of it, beside the event loops. */
  nodeId: string;
  memberId: string;
  /** The supervisor's embedded bus host (undefined: the node runs on Redis and connects itself). */
  busSocket: string | undefined;
  sources: readonly { source: DataSource; config: SectionOutput<DataSource['config']> }[];
}

export interface NodeSources {
  /** Stops the sources, then leaves the cluster view and closes the bus. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The node's data sources in a process of their own, forked by the supervisor of a node that runs several
 * event loops: a source's work (exchange polls, a market simulation) never delays the bus host's relaying nor
 * a loop's sockets. Sources run once per node, here. The process is a member of its node on the bus, so the
 * sources' metrics and statuses are part of the node's `/metrics` and console report, which any loop gathers.
 */
export async function startNodeSources(options: NodeSourcesOptions): Promise<NodeSources> {
  const { config, logger, nodeId, memberId } = options;
  const registry = new Registry();
  // Labelled with the member id, as a loop's are: the node's /metrics relabels them with the node (and keeps
  // this process's event-loop lag apart from the loops').
  const metrics = createPromMetrics({ registry, labels: { node: memberId } });
  let bus: Bus;
  if (options.busSocket === undefined) {
    bus = createBusFromConfig(config.bus, memberId, logger, metrics);
    await whenConnected(bus, config.bus.connectTimeoutMs);
  } else {
    bus = await connectLoopBus({ socketPath: options.busSocket, nodeId: memberId, interestTtlMs: config.bus.interestTtlMs });
  }

  const sourceActivity = createSourceActivity();
  const lifecycle = { draining: false };
  const startedAt = new Date().toISOString();
  const view = await startClusterView({
    bus,
    nodeId,
    logger,
    publishIntervalMs: config.limits.nodeSummaryIntervalMs,
    gatherTimeoutMs: config.limits.clusterGatherTimeoutMs,
    summary: () => ({ started_at: startedAt, connections: {}, draining: lifecycle.draining, bus: bus.state }),
  });
  view.provide('metrics', () => registry.getMetricsAsJSON());
  view.provide(
    NODE_REPORT_KIND,
    () => nodeReport({ bus, nodeId, metrics, startedAt, lifecycle, sources: () => sourceActivity.statuses() }),
    mergeNodeReports,
  );

  const abort = new AbortController();
  const runs = options.sources.map(({ source, config: sourceConfig }) =>
    runSource(source, sourceConfig, sourceActivity.watch(source.name, { bus, logger, metrics }), abort.signal),
  );
  logger.info({ sources: options.sources.map(({ source }) => source.name), bus: bus.kind, memberId }, 'sources running');

  let stopped: Promise<void> | undefined;
  return {
    stop: () => {
      stopped ??= (async () => {
        lifecycle.draining = true;
        abort.abort();
        await Promise.all(runs);
        await view.stop();
        await bus.close();
      })();
      return stopped;
    },
  };
}
