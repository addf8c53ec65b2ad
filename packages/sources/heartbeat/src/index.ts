import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { defineConfigSection, envMs } from '@gw/config';
import { sleep } from '@gw/core';
import { onBusReturn } from '@gw/source';
import type { DataSource } from '@gw/source';

/** The topic the heartbeat is published on (as a latest value). */
export const heartbeatTopic = 'system.heartbeat';

/** The heartbeat's payload, as declared to the conformance suite. */
export const heartbeatSchema = z.object({ runId: z.uuid(), seq: z.number().int().positive(), at: z.number().int().positive() });

export interface Heartbeat {
  /** Random per run, so a reader can tell a restarted publisher from a stalled one. */
  runId: string;
  seq: number;
  at: number;
}

export const heartbeatConfig = defineConfigSection({
  name: 'heartbeat',
  schema: z.object({ intervalMs: envMs(60_000).min(50).default(1_000) }),
  env: { HEARTBEAT_INTERVAL_MS: 'intervalMs' },
  docs: { intervalMs: 'How often the heartbeat source publishes on system.heartbeat.' },
});

/**
 * Publishes `{runId, seq, at}` on `system.heartbeat` every interval. A subscriber that stops receiving it
 * while the bus says "connected" knows the bus is wedged (the readiness check and the bus-lag gauge use it).
 * Also the smallest complete example of a source: config section, declared topics, run loop that ends on abort,
 * and failures left to the runner (a publish that fails while the bus is down is logged and retried next tick;
 * when the bus comes back, the next tick is at once: it may have lost the stored value).
 */
export const heartbeatSource: DataSource<typeof heartbeatConfig> = {
  name: 'heartbeat',
  description: 'Publishes a heartbeat on system.heartbeat (bus liveness).',
  config: heartbeatConfig,
  topics: [{ kind: 'data', pattern: heartbeatTopic, schema: heartbeatSchema }],
  async run({ config, bus, logger, metrics }, signal) {
    const runId = randomUUID();
    let seq = 0;
    // Each wait between ticks, ended early by the source's abort or by the bus coming back.
    let nap = new AbortController();
    const wake = (): void => {
      nap.abort();
    };
    signal.addEventListener('abort', wake, { once: true });
    const stopWatchingBus = onBusReturn(bus, wake, signal);
    while (!signal.aborted) {
      seq += 1;
      const startedAt = performance.now();
      try {
        await bus.publishLatest<Heartbeat>(heartbeatTopic, { runId, seq, at: Date.now() });
        metrics.sourcePoll('heartbeat', 'changed', (performance.now() - startedAt) / 1000);
      } catch (error) {
        metrics.sourcePoll('heartbeat', 'error', (performance.now() - startedAt) / 1000);
        logger.warn({ err: error }, 'heartbeat publish failed');
      }
      if (!nap.signal.aborted) {
        await sleep(config.intervalMs, nap.signal);
      }
      nap = new AbortController();
    }
    signal.removeEventListener('abort', wake);
    stopWatchingBus();
  },
};
