import type { Bus, InterestLease } from '@gw/bus';
import type { Admission, UserSlot } from './types.js';

export interface AdmissionOptions {
  bus: Bus;
  nodeId: string;
  /** New connections per second per remote address (token bucket refill); 0 disables the limit. */
  ratePerIp: number;
  /** Bucket size: how many connections an address may open at once. */
  burstPerIp: number;
  /** Open connections per user across the cluster; 0 means unlimited. */
  maxConnectionsPerUser: number;
}

/** Addresses tracked at most; past it the fullest buckets are forgotten first (they are the least useful). */
const MAX_TRACKED_ADDRESSES = 100_000;

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** Topic-safe text for a user id: dots would break the prefix structure of topics. */
function topicPart(value: string | number): string {
  return encodeURIComponent(String(value)).replace(/\./g, '%2E').replace(/\*/g, '%2A');
}

/**
 * Admission control for every handshake.
 *
 * Per address: a token bucket per remote address, checked before any token verification, so a flood of
 * connection attempts (good or bad tokens) costs a map lookup each. Local to this node on purpose: a load
 * balancer spreads one address over nodes, and a shared counter would put a Redis round trip in front of
 * every handshake.
 *
 * Per user: each open connection is one bus interest topic `conn.user.<user>.<slot>`, which the bus keeps
 * alive while this process runs and expires when it dies, so a crashed node's slots free themselves. A
 * handshake counts the user's slots cluster-wide, declares its own, then counts again: when two nodes admit the
 * same user at the same moment and the count went over the limit, the slots are ordered by name (their
 * creation time first) and only the first `max` stay, decided the same way on every node.
 */
export function createAdmission(options: AdmissionOptions): Admission & { stop(): void } {
  const buckets = new Map<string, Bucket>();
  let nextSlot = 0;

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [address, bucket] of buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * options.ratePerIp >= options.burstPerIp) {
        buckets.delete(address);
      }
    }
  }, 10_000);
  sweep.unref();

  const allowAttemptFrom = (remoteAddress: string): boolean => {
    if (options.ratePerIp <= 0) {
      return true;
    }
    const now = Date.now();
    let bucket = buckets.get(remoteAddress);
    if (bucket === undefined) {
      if (buckets.size >= MAX_TRACKED_ADDRESSES) {
        const oldest = buckets.keys().next();
        if (oldest.done !== true) {
          buckets.delete(oldest.value);
        }
      }
      bucket = { tokens: options.burstPerIp, updatedAt: now };
      buckets.set(remoteAddress, bucket);
    } else {
      bucket.tokens = Math.min(options.burstPerIp, bucket.tokens + ((now - bucket.updatedAt) / 1000) * options.ratePerIp);
      bucket.updatedAt = now;
    }
    if (bucket.tokens < 1) {
      return false;
    }
    bucket.tokens -= 1;
    return true;
  };

  const acquireUserSlot = async (userId: number | string): Promise<UserSlot | 'user_connection_limit'> => {
    const max = options.maxConnectionsPerUser;
    if (max <= 0) {
      return { release: () => undefined };
    }
    const prefix = `conn.user.${topicPart(userId)}.`;
    if ((await options.bus.interestedTopics(prefix)).length >= max) {
      return 'user_connection_limit';
    }
    nextSlot += 1;
    // Creation time first (fixed width, so names sort by it), then node and counter to make it unique.
    const slot = `${prefix}${Date.now().toString(36).padStart(10, '0')}-${topicPart(options.nodeId)}-${nextSlot}`;
    const lease: InterestLease = await options.bus.declareInterest(slot);
    const holders = (await options.bus.interestedTopics(prefix)).sort();
    if (holders.length > max && holders.indexOf(slot) >= max) {
      await lease.release();
      return 'user_connection_limit';
    }
    let released = false;
    return {
      release: () => {
        if (!released) {
          released = true;
          void lease.release().catch(() => undefined);
        }
      },
    };
  };

  return {
    allowAttemptFrom,
    acquireUserSlot,
    stop: () => {
      clearInterval(sweep);
    },
  };
}
