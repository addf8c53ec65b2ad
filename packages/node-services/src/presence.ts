import type { Bus, InterestLease } from '@gw/bus';
import type { Logger } from '@gw/core';

export interface PresenceOptions {
  bus: Bus;
  logger: Logger;
  /** Where the process announces itself, under `cluster.` so its Redis keys expire once it stops. */
  topic: string;
  /** The summary published as the topic's latest value. */
  summary: () => unknown;
  publishIntervalMs: number;
}

export interface Presence {
  /** Publishes the summary now (the timer also does, every interval). */
  publishNow(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A process announcing itself on the bus: interest in its own topic (alive while the process renews it, gone
 * within the bus's interest TTL after it dies) and its summary as that topic's latest value, republished every
 * interval. Gateway nodes and workers announce themselves this way; the summary's key lives under `cluster.`,
 * which the Redis bus expires when the process stops publishing.
 */
export async function startPresence(options: PresenceOptions): Promise<Presence> {
  const { bus, logger, topic } = options;
  const publishNow = async (): Promise<void> => {
    try {
      await bus.publishLatest(topic, options.summary());
    } catch (error) {
      logger.debug({ err: error, topic }, 'presence summary not published (bus down)');
    }
  };
  const lease: InterestLease = await bus.declareInterest(topic);
  await publishNow();
  const timer = setInterval(() => void publishNow(), options.publishIntervalMs);
  timer.unref();
  return {
    publishNow,
    stop: async () => {
      clearInterval(timer);
      await lease.release().catch(() => undefined);
    },
  };
}
