import { Registry } from 'prom-client';
import { createVerifier, usesDefaultSecret } from '@gw/auth';
import type { TokenVerifier } from '@gw/auth';
import { whenConnected } from '@gw/bus';
import type { Bus } from '@gw/bus';
import type { SectionOutput } from '@gw/config';
import { sleep } from '@gw/core';
import type { Logger } from '@gw/core';
import { createPromMetrics } from '@gw/metrics';
import type { GatewayMetrics } from '@gw/metrics';
import { createBusFromConfig, defaultNodeId } from '@gw/runtime';
import { runSource } from '@gw/source';
import type { DataSource } from '@gw/source';
import { createConnectionPipeline } from '@gw/connections';
import type { AttachedAdapter, ClientRegistry, ProtocolAdapter } from '@gw/connections';
import { createAdmission, createSourceActivity, startBusProbe, startClusterView } from '@gw/node-services';
import { acquireUpgradeCork, assertNativeUws, closeApp, createApp, describeUwsBuild, listenAll, releaseUpgradeCork } from '@gw/uws';
import type { Listening } from '@gw/uws';
import type { GatewayConfig } from './config.js';
import { registerConsoleRoutes } from './console/index.js';
import { closePaced } from './drain.js';
import { registerSystemRoutes } from './system-routes.js';

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  /** Protocol adapters to attach, each on its own paths of the one uWS app. */
  adapters: readonly ProtocolAdapter[];
  /** Sources to run in this process, with their parsed configuration. */
  sources: readonly { source: DataSource; config: SectionOutput<DataSource['config']> }[];
  /** Bus to use instead of the one the configuration names (tests sharing a memory hub). */
  bus?: Bus;
  /** Prometheus registry; a fresh one by default (never prom-client's global registry). */
  registry?: Registry;
  /** The dashboard build served at `GET /` (default: apps/dashboard/dist). */
  dashboardDir?: string;
  /** Set when this gateway is one event loop of a node (`LOOPS` > 1): it shares the node's ports with its siblings. */
  loop?: LoopPlacement;
}

/** Where an event loop stands in its node (see loops/supervisor.ts). */
export interface LoopPlacement {
  /** The node's id; this loop's own id on the bus is `config.process.nodeId`. */
  nodeId: string;
  index: number;
  count: number;
  /**
   * This loop's own port on 127.0.0.1, bound exclusively: its siblings forward Socket.IO polling requests of
   * its sessions there (the public ports spread one session's requests over every loop).
   */
  privatePort: number;
  /** Every loop's private port, by index (this one's included). */
  privatePorts: readonly number[];
}

export interface Gateway {
  readonly nodeId: string;
  /** Bound ports, in the order of `PORT`. */
  readonly ports: readonly number[];
  readonly bus: Bus;
  readonly metrics: GatewayMetrics;
  readonly verifier: TokenVerifier;
  readonly clients: ClientRegistry;
  readonly draining: boolean;
  /**
   * Readiness 503 at once; new WebSocket upgrades refused; after `drainTimeoutMs` every open connection is
   * closed as "going away" (1001); then sources stop, the bus closes and the ports are released.
   * Idempotent: a second call returns the same promise.
   */
  shutdown(): Promise<void>;
}

/**
 * What a node says once when it starts, before it listens: the uWebSockets.js build it runs (refusing the JS
 * fallback unless allowed) and the settings that leave it open in development ways.
 */
export function announceNode(config: GatewayConfig, logger: Logger): void {
  const build = describeUwsBuild();
  logger.info({ uws: build }, build.native ? 'uWebSockets.js native build loaded' : 'uWebSockets.js FALLBACK build');
  assertNativeUws(build, config.server.uwsAllowFallback);
  if (usesDefaultSecret(config.auth)) {
    logger.warn('no JWT key configured: using the development secret (never in production)');
  }
  if (config.auth.adminToken === undefined) {
    logger.warn('ADMIN_TOKEN is not set: admin routes answer only requests from this machine (loopback); set ADMIN_TOKEN to manage the gateway remotely');
  }
}

/**
 * Starts one gateway process: uWS build check, verifier, bus, metrics, system routes, adapters, embedded
 * sources, then listens on every configured port. Everything it starts, `shutdown` stops.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const { config, logger } = options;
  // A node of several loops says this once, from its supervisor.
  announceNode(config, options.loop === undefined ? logger : logger.child({}, { level: 'error' }));

  const nodeId = config.process.nodeId ?? defaultNodeId();
  const registry = options.registry ?? new Registry();
  const metrics = createPromMetrics({ registry, labels: { node: nodeId } });
  const verifier = await createVerifier(config.auth);
  const bus = options.bus ?? createBusFromConfig(config.bus, nodeId, logger, metrics);
  try {
    // Adapters subscribe while attaching; a bus that is down at startup fails the start with a clear error
    // (a supervisor restarts the process), while an outage later is ridden out with reconnects.
    await whenConnected(bus, config.bus.connectTimeoutMs);
  } catch (error) {
    await bus.close();
    throw error;
  }
  const lifecycle = { draining: false };
  const startedAt = new Date().toISOString();
  const limits = config.limits;
  const admission = createAdmission({
    bus,
    nodeId,
    ratePerIp: limits.connectionRatePerIp,
    burstPerIp: limits.connectionBurstPerIp,
    maxConnectionsPerUser: limits.maxConnectionsPerUser,
  });
  const probe = await startBusProbe({ bus, metrics, intervalMs: limits.busProbeIntervalMs, maxLagMs: limits.busMaxLagMs });

  const tls =
    config.server.tlsCertFile !== undefined && config.server.tlsKeyFile !== undefined
      ? { certFile: config.server.tlsCertFile, keyFile: config.server.tlsKeyFile, passphrase: config.server.tlsPassphrase }
      : undefined;
  const app = createApp(tls);
  // WebSocket upgrades complete after the token check; this keeps uWS from cutting them (see upgrade-cork.ts).
  await acquireUpgradeCork();
  const connections = createConnectionPipeline({
    app,
    verifier,
    admission,
    metrics,
    logger,
    lifecycle,
    trustedProxies: config.clientTrust.trustedProxies,
    expiryNoticeMs: config.clientTrust.tokenExpiryNoticeS * 1000,
  });
  const { clientAddresses, adminAttempts } = connections;
  const clients = connections.clients;
  const cluster = await startClusterView({
    bus,
    // An event loop is a member of its node: the cluster views show the node once, whatever its loop count.
    nodeId: options.loop?.nodeId,
    logger,
    publishIntervalMs: limits.nodeSummaryIntervalMs,
    gatherTimeoutMs: limits.clusterGatherTimeoutMs,
    summary: () => ({
      started_at: startedAt,
      connections: clients.countByProtocol(),
      draining: lifecycle.draining,
      bus: bus.state,
    }),
  });

  const attached: AttachedAdapter[] = [];
  for (const adapter of options.adapters) {
    attached.push(
      await adapter.attach({
        app,
        bus,
        metrics,
        logger: logger.child({ protocol: adapter.protocol }),
        connections,
        adminToken: config.auth.adminToken,
        clientAddresses,
        adminAttempts,
        loops: options.loop === undefined ? undefined : { self: options.loop.index, privatePorts: options.loop.privatePorts },
      }),
    );
  }
  registerSystemRoutes(app, {
    bus,
    metrics,
    logger,
    lifecycle,
    adapters: attached,
    clients,
    probe,
    cluster,
    adminToken: config.auth.adminToken,
    clientAddresses,
    adminAttempts,
    dashboardDir: options.dashboardDir,
  });

  // The operator console's data route; it reports the sources this node runs with their activity.
  const sourceActivity = createSourceActivity();
  const consoleRoutes = await registerConsoleRoutes(app, {
    bus,
    metrics,
    logger,
    cluster,
    lifecycle,
    startedAt,
    sources: () => sourceActivity.statuses(),
    adminToken: config.auth.adminToken,
  });

  const sourcesAbort = new AbortController();
  const sourceRuns = options.sources.map(({ source, config: sourceConfig }) =>
    runSource(source, sourceConfig, sourceActivity.watch(source.name, { bus, logger, metrics }), sourcesAbort.signal),
  );

  let listening: Listening;
  try {
    listening = await listenAll(app, config.server.host, config.server.ports, { shared: options.loop !== undefined });
    if (options.loop !== undefined) {
      const shared = listening;
      // Shared with the supervisor's hold on it until this loop listens (see `reservePorts`).
      const own = await listenAll(app, '127.0.0.1', [options.loop.privatePort], { shared: true }).catch((error: unknown) => {
        shared.stopListening();
        throw error;
      });
      listening = {
        ...shared,
        stopListening: () => {
          shared.stopListening();
          own.stopListening();
        },
      };
    }
  } catch (error) {
    sourcesAbort.abort();
    await Promise.all(sourceRuns);
    await consoleRoutes.stop();
    releaseUpgradeCork();
    await bus.close();
    throw error;
  }
  // A loop's line: the node's "gateway listening" is its supervisor's, once every loop listens.
  logger.info(
    { ports: listening.ports, host: config.server.host, tls: tls !== undefined, bus: bus.kind, nodeId },
    options.loop === undefined ? 'gateway listening' : 'event loop listening',
  );

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    lifecycle.draining = true;
    logger.info({ drainTimeoutMs: config.server.drainTimeoutMs, connections: clients.size }, 'draining');
    const open = await closePaced(clients, config.server.drainTimeoutMs);
    // Give the close handshakes a moment, then cut whatever is left (keep-alive HTTP, unresponsive peers).
    for (let waited = 0; clients.size > 0 && waited < 1_000; waited += 20) {
      await sleep(20);
    }
    logger.info({ closed: open.length, unresponsive: clients.size }, 'connections closed (going away)');
    listening.stopListening();
    closeApp(app);
    releaseUpgradeCork();
    sourcesAbort.abort();
    await Promise.all(sourceRuns);
    await Promise.all(attached.map((a) => a.close()));
    connections.stop();
    admission.stop();
    await Promise.all([probe.stop(), cluster.stop(), consoleRoutes.stop()]);
    await bus.close();
    logger.info(options.loop === undefined ? 'gateway stopped' : 'event loop stopped');
  };

  return {
    nodeId,
    ports: listening.ports,
    bus,
    metrics,
    verifier,
    clients,
    get draining() {
      return lifecycle.draining;
    },
    shutdown() {
      shutdownPromise ??= shutdown();
      return shutdownPromise;
    },
  };
}
