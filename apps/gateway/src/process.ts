import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { connectLoopBus } from '@gw/bus-loops';
import { describeUwsBuild } from '@gw/uws';
import { ConfigError, printableConfig } from '@gw/config';
import { createLogger } from '@gw/core';
import type { Logger } from '@gw/core';
import { builtInSources, defaultNodeId, selectSources, sourceSections } from '@gw/runtime';
import type { SectionOutput } from '@gw/config';
import type { DataSource } from '@gw/source';
import type { ProtocolAdapter } from '@gw/connections';
import { adapterSections } from './adapters.js';
import type { AdapterConfig } from './adapters.js';
import { gatewaySections, loadGatewayConfig } from './config.js';
import { announceNode, startGateway } from './gateway.js';
import type { GatewayConfig } from './config.js';
import { loopMemberId, nodeChildRole, readLoopEnv, readSourcesEnv } from './loops/loop-env.js';
import { usableCores } from './loops/cores.js';
import { startNodeSources } from './loops/sources-process.js';
import type { SourcesRunning } from './loops/sources-process.js';
import type { LoopListening } from './loops/supervisor.js';
import { startSupervisor } from './loops/supervisor.js';

const usage = `Usage: pnpm gateway [--print-config] [--help]

Starts the realtime gateway. Every setting comes from environment variables (see docs/configuration.md).
  --print-config  print the effective configuration (secrets masked) and exit
  --help          this text`;

export interface GatewayProcessOptions {
  /** The adapters to attach, built from the loaded configuration. */
  adapters: (config: AdapterConfig) => readonly ProtocolAdapter[];
  /**
   * Called once the gateway listens, with the process's own logger, so that what it logs follows "gateway
   * listening" in order and in the same format (one writer on standard output).
   */
  started?: (started: { logger: Logger; config: ReturnType<typeof loadGatewayConfig>; ports: readonly number[] }) => void;
}

/**
 * A stop signal repeated within this long of the first is the same request again, not a second one: a
 * terminal's Ctrl-C reaches every process of the group, and wrappers such as tsx (`pnpm start`) pass it on to
 * their child as well when they miss the child's acknowledgment. A signal after it exits at once.
 */
const SIGNAL_REPEAT_MS = 2_000;

/**
 * The gateway as a process: arguments, configuration from process.env (the only place the gateway reads it),
 * startup, and SIGTERM/SIGINT handling (drain, then exit 0). `main.ts` runs it with the built-in adapters.
 */
export async function runGatewayProcess(options: GatewayProcessOptions): Promise<void> {
  const { values } = parseArgs({
    options: { 'print-config': { type: 'boolean' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help === true) {
    console.log(usage);
    return;
  }
  const registry = builtInSources();
  const extraSections = { ...adapterSections, ...sourceSections(registry) };
  const config = loadGatewayConfig(process.env, extraSections);
  if (values['print-config'] === true) {
    const sections = { ...gatewaySections, ...extraSections };
    console.log(JSON.stringify(printableConfig(sections, config), null, 2));
    return;
  }

  const busKind = config.bus.redisUrl === undefined ? 'memory' : 'redis';
  const sources = selectSources(registry, config.process.sources, busKind).map((source) => ({
    source,
    config: (config as unknown as Record<string, SectionOutput<DataSource['config']>>)[source.name] ?? {},
  }));
  if (cluster.isWorker) {
    await (nodeChildRole(process.env) === 'sources' ? runSourcesProcess(config, sources) : runLoop(config, options.adapters));
    return;
  }
  const logger = createLogger({ level: config.process.logLevel, format: config.process.logFormat, name: 'gateway' });
  // A signal during startup is obeyed once the node has started (its children are then all there to drain).
  const run: { stoppingSince?: number; started?: { shutdown(): Promise<void> } } = {};
  const stop = (signal: NodeJS.Signals): void => {
    if (run.stoppingSince !== undefined) {
      if (Date.now() - run.stoppingSince < SIGNAL_REPEAT_MS) {
        logger.debug({ signal }, 'signal repeated at once (relayed by a wrapper): still draining');
        return;
      }
      logger.warn({ signal }, 'second signal during drain: exiting now');
      process.exit(1);
    }
    run.stoppingSince = Date.now();
    logger.info({ signal }, 'shutdown requested');
    if (run.started !== undefined) {
      exitAfter(run.started.shutdown(), logger);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  let loops = config.server.loops === 'auto' ? usableCores() : config.server.loops;
  if (loops > 1 && !describeUwsBuild().native && config.server.uwsAllowFallback) {
    // The JS fallback (allowed in development only) cannot share a listening port between processes.
    logger.warn({ loops }, 'the uWebSockets.js fallback build runs one event loop: LOOPS is ignored');
    loops = 1;
  }
  let gateway: { ports: readonly number[]; shutdown(): Promise<void> };
  if (loops > 1) {
    announceNode(config, logger);
    const nodeId = config.process.nodeId ?? defaultNodeId();
    const supervisor = await startSupervisor({ config, logger, loops, nodeId, sources: sources.map(({ source }) => source.name) });
    logger.info(
      {
        ports: supervisor.ports,
        host: config.server.host,
        tls: config.server.tlsCertFile !== undefined,
        bus: busKind,
        nodeId,
        loops,
        privatePorts: supervisor.privatePorts,
        sourcesProcess: supervisor.sourcesProcess,
      },
      'gateway listening',
    );
    gateway = {
      ports: supervisor.ports,
      shutdown: async () => {
        await supervisor.shutdown();
        logger.info('gateway stopped');
      },
    };
  } else {
    gateway = await startGateway({ config, logger, adapters: options.adapters(config), sources });
  }
  run.started = gateway;
  if (run.stoppingSince !== undefined) {
    exitAfter(gateway.shutdown(), logger);
    return;
  }
  options.started?.({ logger, config, ports: gateway.ports });
}

/**
 * One event loop of a node that runs several (`LOOPS` > 1), forked by the supervisor: a whole gateway on the
 * node's ports, on the supervisor's embedded bus (or on Redis itself), without sources (they run once, in the
 * supervisor). SIGTERM drains it; it stops too when the supervisor is gone.
 */
async function runLoop(config: GatewayConfig & AdapterConfig, adapters: GatewayProcessOptions['adapters']): Promise<void> {
  const loop = readLoopEnv(process.env);
  const memberId = loopMemberId(loop.nodeId, loop.index, loop.generation);
  const logger = createLogger({ level: config.process.logLevel, format: config.process.logFormat, name: 'gateway' }).child({ loop: loop.index });
  // The per-address rate is counted by each loop; connections from one address spread evenly over the loops.
  const share = (value: number): number => (value <= 0 ? value : Math.max(1, Math.ceil(value / loop.count)));
  const loopConfig: GatewayConfig & AdapterConfig = {
    ...config,
    process: { ...config.process, nodeId: memberId },
    limits: {
      ...config.limits,
      connectionRatePerIp: share(config.limits.connectionRatePerIp),
      connectionBurstPerIp: share(config.limits.connectionBurstPerIp),
    },
  };
  const bus =
    loop.busSocket === undefined
      ? undefined
      : await connectLoopBus({ socketPath: loop.busSocket, nodeId: memberId, interestTtlMs: config.bus.interestTtlMs });
  const gateway = await startGateway({
    config: loopConfig,
    logger,
    adapters: adapters(loopConfig),
    sources: [],
    loop: {
      nodeId: loop.nodeId,
      index: loop.index,
      count: loop.count,
      privatePort: loop.privatePorts[loop.index] ?? 0,
      privatePorts: loop.privatePorts,
    },
    ...(bus === undefined ? {} : { bus }),
  });
  const listening: LoopListening = { type: 'loop_listening', index: loop.index, ports: [...gateway.ports] };
  runAsChild(listening, gateway, logger);
}

/**
 * The sources process of a node that runs several loops, forked by the supervisor: every selected source, once
 * for the node, publishing on the node's bus. SIGTERM stops it; it stops too when the supervisor is gone.
 */
async function runSourcesProcess(config: GatewayConfig, sources: Parameters<typeof startNodeSources>[0]['sources']): Promise<void> {
  const assignment = readSourcesEnv(process.env);
  const memberId = loopMemberId(assignment.nodeId, 'sources', assignment.generation);
  const logger = createLogger({ level: config.process.logLevel, format: config.process.logFormat, name: 'gateway' }).child({ loop: 'sources' });
  const running = await startNodeSources({ config, logger, nodeId: assignment.nodeId, memberId, busSocket: assignment.busSocket, sources });
  const started: SourcesRunning = { type: 'sources_running' };
  runAsChild(started, { shutdown: () => running.stop() }, logger);
}

/**
 * A child of the node's supervisor, once started: tells the supervisor so, stops (then exits) on its SIGTERM,
 * and also when the supervisor is gone (nobody would restart it nor host its bus any more).
 */
function runAsChild(started: LoopListening | SourcesRunning, child: { shutdown(): Promise<void> }, logger: Logger): void {
  process.send?.(started);
  const stop = (): void => {
    exitAfter(child.shutdown(), logger);
  };
  process.on('SIGTERM', stop);
  // Ctrl-C reaches every process of the group; the supervisor's SIGTERM follows and is the one obeyed.
  process.on('SIGINT', () => undefined);
  process.on('disconnect', stop);
}

/** Exit 0 once `shutdown` is done, 1 (logged) if it failed. */
function exitAfter(shutdown: Promise<void>, logger: Logger): void {
  shutdown.then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
}

/** Startup errors are for a human at a terminal: a config error's own message lists every problem. */
export function exitOnStartupError(error: unknown): never {
  if (error instanceof ConfigError) {
    console.error(`gateway: ${error.message}`);
  } else {
    console.error('gateway: failed to start:', error instanceof Error ? error.message : error);
  }
  process.exit(1);
}
