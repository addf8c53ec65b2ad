import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBusHost } from '@gw/bus-loops';
import type { BusHost } from '@gw/bus-loops';
import type { Logger } from '@gw/core';
import { reservePorts } from '@gw/uws';
import type { PortReservation } from '@gw/uws';
import type { GatewayConfig } from '../config.js';
import { loopEnv, sourcesEnv } from './loop-env.js';
import { isSourcesRunning } from './sources-process.js';

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
  /**
   * The sources the node runs (names). They run once per node, in a process of their own that selects them
   * from the same configuration; none: no sources process.
   */
  sources: readonly string[];
}

export interface Supervisor {
  readonly ports: readonly number[];
  /** Each loop's own port on 127.0.0.1, by loop index. */
  readonly privatePorts: readonly number[];
  /** Whether the node runs its sources in a process of their own (it does when it runs any). */
  readonly sourcesProcess: boolean;
  /** SIGTERM to every loop (each drains its clients), then to the sources process, then the bus host closes. Idempotent. */
  shutdown(): Promise<void>;
}

/** When the node's children die this many times within a minute, none is started again: the node exits instead. */
const MAX_RESTARTS_PER_MINUTE = 5;
const CHILD_START_TIMEOUT_MS = 60_000;

/** A child of the supervisor: an event loop by index, or the sources process. */
type ChildSlot = number | 'sources';

/**
 * The node as several event-loop processes (node:cluster workers). Each loop is a whole gateway (uWS app,
 * adapters, connection pipeline) listening on the same ports — the kernel spreads connections over them
 * (SO_REUSEPORT) — and a member of the bus. The supervisor owns what must exist once per node: the embedded
 * bus (the loops reach it over a Unix socket, see @gw/bus-loops; with Redis every process connects itself)
 * and its children's lives: the loops and the sources process (see sources-process.ts), each started again
 * when it dies; SIGTERM drains every loop, then stops the sources. The supervisor's own loop does nothing but
 * relay bus messages, so a signal's way from its publisher to the loops never waits behind a source's work.
 */
export async function startSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  const { config, logger, loops, nodeId } = options;

  // With Redis every child connects itself; otherwise the supervisor hosts the node's embedded bus.
  let host: BusHost | undefined;
  if (config.bus.redisUrl === undefined) {
    const socketPath = join(tmpdir(), `gateway-bus-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    host = await createBusHost({ socketPath, interestTtlMs: config.bus.interestTtlMs, logger: logger.child({ component: 'bus-host' }) });
  }

  // The loops bind the ports shared (SO_REUSEPORT); a port another process holds must still be an error. The
  // supervisor holds every port (the node's, and each loop's own) from here until the loop that binds it listens:
  // released in between, a port is anyone's for the seconds a loop takes to start.
  let nodePorts: PortReservation;
  try {
    nodePorts = await reservePorts(config.server.host, config.server.ports);
  } catch (error) {
    await host?.close();
    throw error;
  }
  const loopPorts = new Map<number, PortReservation>();
  try {
    for (let index = 0; index < loops; index += 1) {
      loopPorts.set(index, await reservePorts('127.0.0.1', [0]));
    }
  } catch (error) {
    nodePorts.release();
    for (const reservation of loopPorts.values()) {
      reservation.release();
    }
    await host?.close();
    throw error;
  }
  const ports = [...nodePorts.ports];
  const privatePorts = Array.from({ length: loops }, (_, index) => loopPorts.get(index)?.ports[0] ?? 0);
  /** A loop listens on its own port: the supervisor holds it no longer. */
  const releaseLoopPort = (index: number): void => {
    loopPorts.get(index)?.release();
    loopPorts.delete(index);
  };

  // The node's children: its event loops, and its sources in a process of their own (when it runs any).
  const slots: ChildSlot[] = [...Array.from({ length: loops }, (_, index) => index), ...(options.sources.length > 0 ? ['sources' as const] : [])];
  const name = (slot: ChildSlot): string => (slot === 'sources' ? 'sources process' : `event loop ${String(slot)}`);

  let stopping = false;
  const restarts: number[] = [];
  const workers = new Map<ChildSlot, Worker>();
  const generations = new Map<ChildSlot, number>();
  const fork = (slot: ChildSlot): Promise<void> => {
    const generation = generations.get(slot) ?? 0;
    generations.set(slot, generation + 1);
    const worker = cluster.fork(
      slot === 'sources'
        ? sourcesEnv({ generation, nodeId, busSocket: host?.socketPath })
        : { ...loopEnv({ index: slot, count: loops, generation, nodeId, busSocket: host?.socketPath, privatePorts }), PORT: ports.join(',') },
    );
    workers.set(slot, worker);
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${name(slot)} did not start within ${String(CHILD_START_TIMEOUT_MS)} ms`));
      }, CHILD_START_TIMEOUT_MS);
      worker.on('message', (message: unknown) => {
        if (slot === 'sources' ? isSourcesRunning(message) : isLoopListening(message) && message.index === slot) {
          clearTimeout(timer);
          if (slot !== 'sources') {
            releaseLoopPort(slot);
          }
          resolve();
        }
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name(slot)} exited during startup (${signal || String(code)})`));
      });
    });
    worker.once('exit', (code, signal) => {
      if (workers.get(slot) === worker) {
        workers.delete(slot);
      }
      if (stopping) {
        return;
      }
      const now = Date.now();
      restarts.push(now);
      const recent = restarts.filter((at) => at >= now - 60_000);
      restarts.splice(0, restarts.length, ...recent);
      if (restarts.length > MAX_RESTARTS_PER_MINUTE) {
        logger.fatal({ child: slot, code, signal }, 'the node\'s processes keep dying: stopping the node');
        void shutdown().finally(() => process.exit(1));
        return;
      }
      logger.error({ child: slot, code, signal }, `${name(slot)} died: starting it again`);
      restart(slot).catch((error: unknown) => {
        logger.error({ err: error, child: slot }, `${name(slot)} did not start again`);
      });
    });
    return started;
  };
  /** A loop that died gets its own port held again until its successor listens on it. */
  const restart = async (slot: ChildSlot): Promise<void> => {
    if (slot !== 'sources' && !loopPorts.has(slot)) {
      try {
        const reservation = await reservePorts('127.0.0.1', [privatePorts[slot] ?? 0]);
        // A shutdown that began meanwhile released every hold and starts nothing again.
        if (stopping) {
          reservation.release();
          return;
        }
        loopPorts.set(slot, reservation);
      } catch (error) {
        logger.warn({ err: error, child: slot }, `${name(slot)}: its own port could not be held for its restart`);
      }
    }
    await fork(slot);
  };

  /** SIGTERM to the given children, resolved once each has exited. */
  const stopChildren = (which: (slot: ChildSlot) => boolean): Promise<void> =>
    Promise.all(
      [...workers.entries()]
        .filter(([slot]) => which(slot))
        .map(
          ([, worker]) =>
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
        ),
    ).then(() => undefined);

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shutdownPromise ??= (async () => {
      stopping = true;
      nodePorts.release();
      for (const index of [...loopPorts.keys()]) {
        releaseLoopPort(index);
      }
      // The loops drain their clients first; the sources keep publishing until then.
      await stopChildren((slot) => slot !== 'sources');
      await stopChildren((slot) => slot === 'sources');
      await host?.close();
    })();
    return shutdownPromise;
  };

  try {
    await Promise.all(slots.map((slot) => fork(slot)));
  } catch (error) {
    await shutdown();
    throw error;
  }
  // Every loop listens on the node's ports now: connections go to them alone.
  nodePorts.release();
  return { ports, privatePorts, sourcesProcess: slots.includes('sources'), shutdown };
}
