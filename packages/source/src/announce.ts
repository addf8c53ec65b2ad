import type { Bus, InterestLease } from '@gw/bus';
import type { Logger } from '@gw/core';
import { sourceAnnouncement, sourceAnnouncementTopic } from '@gw/topics';
import type { TopicDeclaration } from '@gw/topics';

/** How often an announcement's latest value is written again (on Redis, `cluster.*` latest values expire after 60 s). */
export const ANNOUNCE_RENEW_MS = 20_000;

/** A running source's announcement; `stop` withdraws it (other processes see it go at once). */
export interface SourceAnnouncer {
  stop(): Promise<void>;
}

/**
 * Announces a source on the bus while it runs: interest in `cluster.source.<node>.<source>` is its presence,
 * kept alive by the bus and expired when this process stops renewing it; the topic's latest value is its
 * declarations (kinds and patterns), written again every `renewMs` so it outlives the 60 s expiry of
 * `cluster.*` values on Redis. A bus outage only delays it: the write is retried at the next renewal, the
 * interest is re-registered by the bus when it reconnects.
 */
export async function announceSource(
  source: { name: string; topics: readonly TopicDeclaration[] },
  deps: { bus: Bus; logger: Logger },
  renewMs = ANNOUNCE_RENEW_MS,
): Promise<SourceAnnouncer> {
  const { bus, logger } = deps;
  const topic = sourceAnnouncementTopic(bus.nodeId, source.name);
  const announcement = sourceAnnouncement(source, bus.nodeId, Date.now());
  const write = async (): Promise<void> => {
    try {
      await bus.publishLatest(topic, announcement);
    } catch (error) {
      logger.debug({ err: error }, 'source announcement not written (bus down); retrying at the next renewal');
    }
  };
  let lease: InterestLease | undefined;
  try {
    lease = await bus.declareInterest(topic);
  } catch (error) {
    logger.warn({ err: error }, 'source announcement: presence not declared; adapters will not see this source');
  }
  await write();
  const timer = setInterval(() => void write(), renewMs);
  timer.unref();
  const stopState = bus.onStateChange((state) => {
    if (state === 'connected') {
      void write();
    }
  });
  return {
    stop: async () => {
      clearInterval(timer);
      stopState();
      await lease?.release().catch(() => undefined);
    },
  };
}
