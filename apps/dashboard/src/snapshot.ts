import { arrayAt, asObject, numberAt, stringAt } from './wire.js';
import type { JsonObject } from './wire.js';

/** A cumulative histogram: [upper bound in seconds (Infinity last), observations at or below it]. */
export type Buckets = readonly (readonly [number, number])[];

/** One protocol's figures (one node's, or the cluster's sum). Counters only grow; the page makes rates of them. */
export interface ProtocolFigures {
  readonly connections: number;
  readonly opened: number;
  readonly messagesSent: number;
  readonly messagesReceived: number;
  readonly subscriptions: number;
  readonly authFailures: ReadonlyMap<string, number>;
  readonly errors: ReadonlyMap<string, number>;
  readonly closes: ReadonlyMap<string, number>;
  readonly backpressureDropped: number;
  readonly backpressureDisconnects: number;
  readonly latency: { readonly count: number; readonly buckets: Buckets };
}

export interface NodeFigures {
  readonly nodeId: string;
  readonly startedAt: string | undefined;
  readonly draining: boolean;
  readonly bus: { kind: string; state: string; lagMs: number | undefined; reconnects: number; published: number };
  readonly protocols: ReadonlyMap<string, ProtocolFigures>;
}

export interface WorkerRow {
  readonly workerId: string;
  readonly state: 'up' | 'down';
  readonly lastSeenAgeMs: number | undefined;
}

export interface SourceRow {
  readonly name: string;
  readonly process: string;
  readonly nodeId: string;
  readonly health: string;
  readonly lastPublishAgeMs: number | undefined;
  readonly publishes: number;
  readonly errors: number;
  readonly lastErrorKind: string | undefined;
  /** `stream 480 · poll 20`, or undefined for a source without modes. */
  readonly modes: string | undefined;
}

/** `GET /api/console/snapshot`, read. */
export interface Snapshot {
  readonly generatedAt: number;
  readonly servedBy: string;
  readonly nodes: readonly NodeFigures[];
  readonly missingNodes: readonly string[];
  readonly totals: ReadonlyMap<string, ProtocolFigures>;
  readonly workers: readonly WorkerRow[];
  readonly sources: readonly SourceRow[];
}

/** The client-facing protocols, in the order the console shows them (others, such as `http`, follow). */
export const PROTOCOL_ORDER: readonly string[] = ['socketio', 'stock', 'signals'];

function counts(object: JsonObject | undefined): Map<string, number> {
  const entries = Object.entries(object ?? {}).flatMap(([key, value]) =>
    typeof value === 'number' && Number.isFinite(value) ? [[key, value] as const] : [],
  );
  return new Map(entries);
}

/** `{stream: 480, poll: 20}` → `stream 480 · poll 20` (undefined without modes). */
function modesText(object: JsonObject | undefined): string | undefined {
  const entries = [...counts(object)];
  return entries.length === 0 ? undefined : entries.map(([mode, n]) => `${mode} ${n}`).join(' · ');
}

function bucketsOf(object: JsonObject | undefined): Buckets {
  return [...counts(object)]
    .map(([le, count]) => [le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), count] as const)
    .filter(([le]) => !Number.isNaN(le))
    .sort((a, b) => a[0] - b[0]);
}

function protocolOf(value: unknown): ProtocolFigures {
  const p = asObject(value);
  const latency = asObject(p?.['latency']);
  return {
    connections: numberAt(p, 'connections') ?? 0,
    opened: numberAt(p, 'opened') ?? 0,
    messagesSent: numberAt(p, 'messages_sent') ?? 0,
    messagesReceived: numberAt(p, 'messages_received') ?? 0,
    subscriptions: numberAt(p, 'subscriptions') ?? 0,
    authFailures: counts(asObject(p?.['auth_failures'])),
    errors: counts(asObject(p?.['errors'])),
    closes: counts(asObject(p?.['closes'])),
    backpressureDropped: numberAt(p, 'backpressure_dropped') ?? 0,
    backpressureDisconnects: numberAt(p, 'backpressure_disconnects') ?? 0,
    latency: { count: numberAt(latency, 'count') ?? 0, buckets: bucketsOf(asObject(latency?.['buckets'])) },
  };
}

function protocolsOf(value: unknown): Map<string, ProtocolFigures> {
  const known = (name: string): number => {
    const index = PROTOCOL_ORDER.indexOf(name);
    return index === -1 ? PROTOCOL_ORDER.length : index;
  };
  return new Map(
    Object.entries(asObject(value) ?? {})
      .sort(([a], [b]) => known(a) - known(b) || a.localeCompare(b))
      .map(([name, figures]) => [name, protocolOf(figures)]),
  );
}

function nodeOf(value: unknown): NodeFigures | undefined {
  const node = asObject(value);
  const nodeId = stringAt(node, 'node_id');
  if (nodeId === undefined) {
    return undefined;
  }
  const bus = asObject(node?.['bus']);
  return {
    nodeId,
    startedAt: stringAt(node, 'started_at'),
    draining: node?.['draining'] === true,
    bus: {
      kind: stringAt(bus, 'kind') ?? '?',
      state: stringAt(bus, 'state') ?? '?',
      lagMs: numberAt(bus, 'lag_ms'),
      reconnects: numberAt(bus, 'reconnects') ?? 0,
      published: numberAt(bus, 'published') ?? 0,
    },
    protocols: protocolsOf(node?.['protocols']),
  };
}

/** Reads the snapshot; undefined when the body is not one (a proxy's error page, an older gateway). */
export function snapshotOf(body: JsonObject | undefined): Snapshot | undefined {
  const generatedAt = numberAt(body, 'generated_at');
  const servedBy = stringAt(body, 'served_by');
  if (generatedAt === undefined || servedBy === undefined) {
    return undefined;
  }
  return {
    generatedAt,
    servedBy,
    nodes: arrayAt(body, 'nodes').flatMap((n) => nodeOf(n) ?? []),
    missingNodes: arrayAt(body, 'missing_nodes').filter((n): n is string => typeof n === 'string'),
    totals: protocolsOf(body?.['totals']),
    workers: arrayAt(body, 'workers').flatMap((value) => {
      const w = asObject(value);
      const workerId = stringAt(w, 'worker_id');
      return workerId === undefined ? [] : [{ workerId, state: w?.['state'] === 'up' ? 'up' : 'down', lastSeenAgeMs: numberAt(w, 'last_seen_age_ms') } as const];
    }),
    sources: arrayAt(body, 'sources').flatMap((value) => {
      const s = asObject(value);
      const name = stringAt(s, 'name');
      return name === undefined
        ? []
        : [
            {
              name,
              process: stringAt(s, 'process') ?? '?',
              nodeId: stringAt(s, 'node_id') ?? '?',
              health: stringAt(s, 'health') ?? '?',
              lastPublishAgeMs: numberAt(s, 'last_publish_age_ms'),
              publishes: numberAt(s, 'publishes') ?? 0,
              errors: numberAt(s, 'errors') ?? 0,
              lastErrorKind: stringAt(s, 'last_error_kind'),
              modes: modesText(asObject(s?.['modes'])),
            },
          ];
    }),
  };
}

/**
 * The `q` quantile (0..1) of a cumulative histogram, as Prometheus' `histogram_quantile` estimates it: linear
 * within the bucket that holds it; the highest finite bound when it falls in the `+Inf` bucket. Undefined
 * without observations.
 */
export function quantile(buckets: Buckets, q: number): number | undefined {
  const total = buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) {
    return undefined;
  }
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [upper, count] of buckets) {
    if (count >= rank) {
      if (upper === Number.POSITIVE_INFINITY) {
        return lowerBound;
      }
      const inBucket = count - lowerCount;
      return inBucket <= 0 ? upper : lowerBound + ((upper - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = upper;
    lowerCount = count;
  }
  return lowerBound;
}

/**
 * The observations between two samples of one histogram (`now − before`, bucket by bucket): latency over the
 * last interval rather than since start. Undefined when a bucket went down (a node restarted or left).
 */
export function bucketsSince(now: Buckets, before: Buckets): Buckets | undefined {
  const earlier = new Map(before);
  const delta: [number, number][] = [];
  for (const [le, count] of now) {
    const difference = count - (earlier.get(le) ?? 0);
    if (difference < 0) {
      return undefined;
    }
    delta.push([le, difference]);
  }
  return delta;
}
