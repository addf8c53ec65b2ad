import type { Bus } from '@gw/bus';
import type { ConfigSection, SectionOutput } from '@gw/config';
import { sleep, toGatewayError } from '@gw/core';
import type { Logger } from '@gw/core';
import type { GatewayMetrics } from '@gw/metrics';
import { announceSource } from './announce.js';
import type { DataSource } from './types.js';

export interface RunSourceDeps {
  bus: Bus;
  logger: Logger;
  metrics: GatewayMetrics;
}

export interface RestartPolicy {
  /** First delay after a failure. @default 1000 */
  initialDelayMs: number;
  /** The delay doubles up to this. @default 30000 */
  maxDelayMs: number;
  /** A run that lasted this long resets the delay. @default 60000 */
  resetAfterMs: number;
}

const defaultPolicy: RestartPolicy = { initialDelayMs: 1_000, maxDelayMs: 30_000, resetAfterMs: 60_000 };

/**
 * Runs one source until `signal` aborts. A source that rejects (or returns early) is logged, counted as a
 * source error and restarted with exponential backoff plus jitter, so one broken source never takes the
 * process down and never spins. Resolves once the source has stopped after the abort.
 *
 * While it runs, the source is announced on the bus (`announceSource`): adapters on every node serve the
 * topics it declares. The announcement is withdrawn when it stops.
 */
export async function runSource<S extends ConfigSection>(
  source: DataSource<S>,
  config: SectionOutput<S>,
  deps: RunSourceDeps,
  signal: AbortSignal,
  policy: RestartPolicy = defaultPolicy,
): Promise<void> {
  const logger = deps.logger.child({ source: source.name });
  // A function, not the property: TypeScript would narrow `signal.aborted` to false inside the loop.
  const stopped = (): boolean => signal.aborted;
  const announcer = await announceSource(source, { bus: deps.bus, logger });
  try {
    await runWithRestarts(source, config, deps, signal, policy, logger, stopped);
  } finally {
    await announcer.stop();
  }
  logger.info('source stopped');
}

async function runWithRestarts<S extends ConfigSection>(
  source: DataSource<S>,
  config: SectionOutput<S>,
  deps: RunSourceDeps,
  signal: AbortSignal,
  policy: RestartPolicy,
  logger: Logger,
  stopped: () => boolean,
): Promise<void> {
  let delay = policy.initialDelayMs;
  while (!stopped()) {
    const startedAt = Date.now();
    try {
      logger.info({ topics: source.topics.map((t) => `${t.pattern} (${t.kind})`) }, 'source starting');
      await source.run({ config, bus: deps.bus, logger, metrics: deps.metrics }, signal);
      if (stopped()) {
        break;
      }
      logger.warn('source returned before shutdown; restarting');
    } catch (error) {
      if (stopped()) {
        break;
      }
      const gatewayError = toGatewayError(error);
      deps.metrics.sourceError(source.name, 'internal');
      logger.error({ err: error, code: gatewayError.code }, 'source failed; restarting');
    }
    if (Date.now() - startedAt >= policy.resetAfterMs) {
      delay = policy.initialDelayMs;
    }
    // Full jitter keeps several processes restarting the same source from hitting an upstream together.
    await sleep(delay / 2 + Math.random() * (delay / 2), signal);
    delay = Math.min(delay * 2, policy.maxDelayMs);
  }
}
