import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import { createBusHost } from '@gw/bus-loops';
import type { BusHost } from '@gw/bus-loops';
import { createMemoryBus } from '@gw/bus-memory';
import type { SectionOutput } from '@gw/config';
import type { Logger } from '@gw/core';
import { createPromMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import { createSourceActivity, startClusterView } from '@gw/node-services';
import { createBusFromConfig } from '@gw/runtime';
import { runSource } from '@gw/source';
import type { DataSource } from '@gw/source';
import type { GatewayConfig } from '../config.js';
import { mergeNodeReports, nodeReport } from '../console/node-report.js';
import { NODE_REPORT_KIND } from '../console/snapshot.js';
import { loopEnv, loopMemberId } from './loop-env.js';

/** What a loop tells the supervisor once it listens. */
export interface LoopListening {
  type: 'loop_listening';
  index: number;
  ports: number[];
}

export function isLoopListening(message: unknown): message is LoopListening {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'loop_listening';
}

export interface SupervisorOptions {
  config: GatewayConfig;
  logger: Logger;
  loops: number;
  /** The node's id (its loops are `<node>~<index>` on the bus). */
  nodeId: string;
  /** Sources run once per node, here, not in the loops. */
  sources: readonly { source: DataSource; config: SectionOutput<DataSource['config']> }[];
}

export interface Supervisor {
  readonly ports: readonly number[];
  readonly bus: Bus;
  readonly metrics: GatewayMetrics;
  /** SIGTERM to every loop (each drains its clients), then the sources stop and the bus closes. Idempotent. */
  shutdown(): Promise<void>;
}

/** A loop that dies this many times within a minute is not started again: the node exits instead. */
const MAX_RESTARTS_PER_MINUTE = 5;
const LOOP_START_TIMEOUT_MS = 60_000;

/**
 * `port` if it is free on `host` right now (bound once exclusively, then released), or, for 0, a free port the
 * kernel chose: every loop then binds it with SO_REUSEPORT. A port in use is an error naming it.
 */
function freePort(host: string, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? new Error(`cannot listen on ${host}:${port}: the port is in use by another process`) : error);
    });
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') {
          reject(new Error('no port assigned'));
        } else {
          resolve(address.port);
        }
      });
    });
  });
}

/**
 * The node as several event-loop processes (node:cluster workers). Each loop is a whole gateway (uWS app,
 * adapters, connection pipeline) listening on the same ports — the kernel spreads connections over them
 * (SO_REUSEPORT) — and a member of the bus. The supervisor owns what must exist once per node: the embedded
 * bus (the loops reach it over a Unix socket, see @gw/bus-loops; with Redis every process connects itself),
 * the data sources, and the loops' lives (a loop that dies is started again; SIGTERM drains every loop).
 */
export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { config, logger, loops, nodeId } = options;
  const memberId = loopMemberId(nodeId, 'main');
  const registry = new Registry();
  const metrics = createPromMetrics({ registry, labels: { node: nodeId } });

  let host: BusHost | undefined;
  let bus: Bus;
  if (config.bus.redisUrl === undefined) {
    const socketPath = join(tmpdir(), `gateway-bus-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    host = await createBusHost({ socketPath, interestTtlMs: config.bus.interestTtlMs, logger: logger.child({ component: 'bus-host' }) });
    bus = createMemoryBus({ hub: host.hub, nodeId: memberId, interestTtlMs: config.bus.interestTtlMs });
  } else {
    bus = createBusFromConfig(config.bus, memberId, logger, metrics);
    await whenConnected(bus, config.bus.connectTimeoutMs);
  }

  // The loops bind the ports shared (SO_REUSEPORT); a port another process holds must still be an error.
  const ports = await Promise.all(config.server.ports.map((port) => freePort(config.server.host, port)));
  const privatePorts = await Promise.all(Array.from({ length: loops }, () => freePort('127.0.0.1')));

  const sourceActivity = createSourceActivity();
  const sourcesAbort = new AbortController();
  const sourceRuns = options.sources.map(({ source, config: sourceConfig }) =>
    runSource(source, sourceConfig, sourceActivity.watch(source.name, { bus, logger, metrics }), sourcesAbort.signal),
  );

  // The supervisor is a member of its node too: its sources' metrics and statuses are part of the node's
  // /metrics and console report, which any loop gathers from every member.
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

  let stopping = false;
  const restarts: number[] = [];
  const workers = new Map<number, Worker>();
  const generations = new Map<number, number>();
  const fork = (index: number): Promise<void> => {
    const generation = generations.get(index) ?? 0;
    generations.set(index, generation + 1);
    const worker = cluster.fork({
      ...loopEnv({ index, count: loops, generation, nodeId, busSocket: host?.socketPath, privatePorts }),
      PORT: ports.join(','),
    });
    workers.set(index, worker);
    const listening = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`event loop ${index} did not listen within ${LOOP_START_TIMEOUT_MS} ms`));
      }, LOOP_START_TIMEOUT_MS);
      worker.on('message', (message: unknown) => {
        if (isLoopListening(message) && message.index === index) {
          clearTimeout(timer);
          resolve();
        }
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`event loop ${String(index)} exited during startup (${signal || String(code)})`));
      });
    });
    worker.once('exit', (code, signal) => {
      if (workers.get(index) === worker) {
        workers.delete(index);
      }
      if (stopping) {
        return;
      }
      const now = Date.now();
      restarts.push(now);
      const recent = restarts.filter((at) => at >= now - 60_000);
      restarts.splice(0, restarts.length, ...recent);
      if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
        logger.fatal({ loop: index, code, signal }, 'event loops keep dying: stopping the node');
        void shutdown().finally(() => process.exit(1));
        return;
      }
      logger.error({ loop: index, code, signal }, 'event loop died: starting it again');
      fork(index).catch((error: unknown) => {
        logger.error({ err: error, loop: index }, 'event loop did not start again');
      });
    });
    return listening;
  };

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      stopping = true;
      lifecycle.draining = true;
      const exits = [...workers.values()].map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) {
              resolve();
              return;
            }
            worker.once('exit', () => {
              resolve();
            });
            worker.process.kill('SIGTERM');
          }),
      );
      await Promise.all(exits);
      sourcesAbort.abort();
      await Promise.all(sourceRuns);
      await view.stop();
      await bus.close();
      await host?.close();
    })();
    return shutdownPromise;
  };

  try {
    await Promise.all(Array.from({ length: loops }, (_, index) => fork(index)));
  } catch (error) {
    await shutdown();
    throw error;
  }
  logger.info({ loops, ports, privatePorts, bus: bus.kind, nodeId }, 'every event loop listening');
  return { ports, bus, metrics, shutdown };
}
