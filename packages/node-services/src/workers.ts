import type { Bus, Subscription } from '@gw/bus';
import type { Logger } from '@gw/core';
import { startPresence } from './presence.js';
import type { SourceStatus } from './source-activity.js';

/** Where workers announce themselves: `cluster.worker.<node id>` (a `cluster.` topic: its Redis keys expire). */
export const WORKER_TOPIC_PREFIX = 'cluster.worker.';

/** How often a worker republishes its summary unless told otherwise. */
export const WORKER_SUMMARY_INTERVAL_MS = 5_000;

/** One worker as it announces itself. */
export interface WorkerSummary {
  worker_id: string;
  started_at: string;
  /** Its bus connection state when it published this. */
  bus: string;
  /** Epoch milliseconds of this summary (its age says how fresh the source figures are). */
  published_at: number;
  sources: SourceStatus[];
}

export interface WorkerPresenceOptions {
  bus: Bus;
  logger: Logger;
  startedAt: string;
  sources: () => SourceStatus[];
  publishIntervalMs?: number;
}

/**
 * A worker process announcing itself and its sources like a gateway node does: interest in
 * `cluster.worker.<id>` (gone within the bus's interest TTL once the worker dies, at once on a clean stop) and
 * its summary as that topic's latest value, republished every interval.
 */
export async function startWorkerPresence(options: WorkerPresenceOptions): Promise<{ stop(): Promise<void> }> {
  const { bus } = options;
  return startPresence({
    bus,
    logger: options.logger,
    topic: `${WORKER_TOPIC_PREFIX}${bus.nodeId}`,
    publishIntervalMs: options.publishIntervalMs ?? WORKER_SUMMARY_INTERVAL_MS,
    summary: (): WorkerSummary => ({
      worker_id: bus.nodeId,
      started_at: options.startedAt,
      bus: bus.state,
      published_at: Date.now(),
      sources: options.sources(),
    }),
  });
}

/** A worker as a gateway lists it: up while its presence lives, down once it is gone. */
export interface WorkerListing {
  worker_id: string;
  state: 'up' | 'down';
  /** Epoch milliseconds when this gateway last saw it alive. */
  last_seen_at: number;
  /** Its last summary (kept after it went down, for its sources' last figures). */
  summary: WorkerSummary | null;
}

export interface WorkerRosterOptions {
  bus: Bus;
  /** How long a worker that went down stays listed (as down). */
  forgetAfterMs: number;
  now?: () => number;
}

export interface WorkerRoster {
  /** Workers up now and those that went down within `forgetAfterMs`, by id. */
  workers(): Promise<WorkerListing[]>;
  stop(): Promise<void>;
}

/**
 * The workers of the cluster as a gateway sees them. A live worker is one whose presence interest exists; a
 * worker this gateway saw and whose presence is gone (stopped, or expired after it died) is listed as down
 * for `forgetAfterMs`, so an operator sees it go rather than vanish. Interest changes are watched as well, so
 * a worker that came and went between two listings is not missed.
 */
export async function startWorkerRoster(options: WorkerRosterOptions): Promise<WorkerRoster> {
  const { bus } = options;
  const now = options.now ?? Date.now;
  const known = new Map<string, WorkerListing>();
  const idOf = (topic: string): string => topic.slice(WORKER_TOPIC_PREFIX.length);
  const seen = (id: string, summary: WorkerSummary | null): void => {
    const listing = known.get(id);
    known.set(id, { worker_id: id, state: 'up', last_seen_at: now(), summary: summary ?? listing?.summary ?? null });
  };
  const gone = (id: string): void => {
    const listing = known.get(id);
    if (listing !== undefined) {
      listing.state = 'down';
    }
  };

  const watch: Subscription = await bus.watchInterest(WORKER_TOPIC_PREFIX, (change) => {
    if (change.interested) {
      seen(idOf(change.topic), null);
    } else {
      gone(idOf(change.topic));
    }
  });

  return {
    workers: async () => {
      const topics = await bus.interestedTopics(WORKER_TOPIC_PREFIX);
      const summaries = await bus.latestMany<WorkerSummary>(topics);
      const alive = new Set<string>();
      topics.forEach((topic, index) => {
        const id = idOf(topic);
        alive.add(id);
        seen(id, summaries[index]?.data ?? null);
      });
      for (const [id, listing] of known) {
        if (!alive.has(id)) {
          gone(id);
          if (now() - listing.last_seen_at > options.forgetAfterMs) {
            known.delete(id);
          }
        }
      }
      return [...known.values()].sort((a, b) => a.worker_id.localeCompare(b.worker_id)).map((listing) => ({ ...listing }));
    },
    stop: () => watch.unsubscribe(),
  };
}
